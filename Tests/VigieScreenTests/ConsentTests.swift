import Foundation
import Testing
import VigieScreen
import VigieTestSupport

/// The consent window (`vigie-ui consent`) on Xvfb, answered through X input
/// (xdotool) as a person would: only « Accepter » accepts, and only on purpose.
@Suite(.serialized) struct ConsentWindowTests {
    /// The question on `xvfb`, once it is on screen.
    static func ask(_ xvfb: Xvfb, timeout: Int = 60) throws -> ChildProcess {
        let child = try ChildProcess([ui, "consent", "--display", xvfb.display,
                                      "--title", "Assistance demandée par M. Leroy (technicien)",
                                      "--text", "M. Leroy demande à voir votre écran, pour : « l’imprimante n’apparaît pas ».",
                                      "--refuse", "Refuser", "--accept", "Accepter", "--timeout", String(timeout)])
        let ready = child.readLine(timeout: 15)
        guard ready == "ready" else { throw TestSupportError("no consent window: \(ready ?? "-") \(child.readAllStderr())") }
        return child
    }

    /// xdotool on `xvfb` (X input through XTEST, as a test drives a person's keyboard and mouse).
    static func xdo(_ xvfb: Xvfb, _ args: [String]) throws -> String {
        var env = ProcessInfo.processInfo.environment
        env["DISPLAY"] = xvfb.display
        let r = try run(["xdotool"] + args, environment: env)
        guard r.status == 0 else { throw TestSupportError("xdotool \(args): \(r)") }
        return r.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// The pointer over the window (keys go where the pointer is: no window manager).
    static func pointAt(_ xvfb: Xvfb, dx: Int? = nil, dy: Int? = nil) throws -> (x: Int, y: Int, w: Int, h: Int) {
        let window = try xdo(xvfb, ["search", "--classname", "vigie-consent"]).split(separator: "\n").first.map(String.init) ?? ""
        let geometry = try xdo(xvfb, ["getwindowgeometry", "--shell", window])
        var values: [String: Int] = [:]
        for line in geometry.split(separator: "\n") {
            let pair = line.split(separator: "=")
            if pair.count == 2 { values[String(pair[0])] = Int(pair[1]) }
        }
        let g = (x: values["X"] ?? 0, y: values["Y"] ?? 0, w: values["WIDTH"] ?? 0, h: values["HEIGHT"] ?? 0)
        _ = try xdo(xvfb, ["mousemove", String(g.x + (dx ?? g.w / 2)), String(g.y + (dy ?? g.h / 2))])
        return g
    }

    static func answer(_ child: ChildProcess) -> String? {
        child.readLine(timeout: 15)
    }

    @Test func escapeEnterAndNoAnswerRefuseOnlyAccepterAccepts() async throws {
        try await offThePool {
            let xvfb = try Xvfb(width: 1280, height: 800)
            defer { xvfb.stop() }
            let clock = try ChildProcess(["xclock", "-display", xvfb.display, "-geometry", "50x50+1200+700", "-update", "3600"])
            defer { clock.kill() }

            // Escape refuses; so does Enter pressed as the window appears (someone typing in their work).
            for key in ["Escape", "Return"] {
                let asked = try Self.ask(xvfb)
                _ = try Self.pointAt(xvfb)
                _ = try Self.xdo(xvfb, ["key", key])
                let said = Self.answer(asked)
                try Self.check(said == "refused", "\(key): \(said ?? "-")")
            }
            // Tab to « Accepter », then Space: accepted.
            let tabbed = try Self.ask(xvfb)
            _ = try Self.pointAt(xvfb)
            _ = try Self.xdo(xvfb, ["key", "Tab", "space"])
            let afterTab = Self.answer(tabbed)
            try Self.check(afterTab == "accepted", "Tab, Space: \(afterTab ?? "-")")
            // A click on « Accepter » (the right-hand button), and one on « Refuser ».
            let clicked = try Self.ask(xvfb)
            let g = try Self.pointAt(xvfb)
            _ = try Self.pointAt(xvfb, dx: g.w - 60, dy: g.h - 40)
            _ = try Self.xdo(xvfb, ["click", "1"])
            let afterClick = Self.answer(clicked)
            try Self.check(afterClick == "accepted", "click on Accepter: \(afterClick ?? "-")")
            let refused = try Self.ask(xvfb)
            let g2 = try Self.pointAt(xvfb)
            // « Refuser » is left of « Accepter », half a button's padding apart.
            _ = try Self.pointAt(xvfb, dx: g2.w - 60 - 160, dy: g2.h - 40)
            _ = try Self.xdo(xvfb, ["click", "1"])
            let afterRefuse = Self.answer(refused)
            try Self.check(afterRefuse == "refused", "click on Refuser: \(afterRefuse ?? "-")")
            // No answer: refused by the timeout.
            let ignored = try Self.ask(xvfb, timeout: 1)
            let timedOut = Self.answer(ignored)
            try Self.check(timedOut == "timeout", "no answer: \(timedOut ?? "-")")
        }
    }

    /// A failed check off the test's task: thrown, so the test fails with it.
    static func check(_ ok: Bool, _ message: @autoclosure () -> String) throws {
        if !ok { throw TestSupportError(message()) }
    }
}
