import Foundation
import Testing
import VigieTestSupport

/// The seat's VNC helper (`vigie-vnc`) under a real third-party VNC client,
/// vncdotool (PyPI, in .build-venv: `make deps`), through a socket pair as the
/// agent hands it one, relayed to 127.0.0.1 by Tests/Fixtures/vnc-check.py.
@Suite(.serialized) struct RemoteViewHelper {
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures").path
    static let venv = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent(".build-venv/bin").path

    /// vncdotool is there (`make deps`); missing is a failure, not a skip.
    static func clientInstalled() -> Bool {
        guard FileManager.default.isExecutableFile(atPath: venv + "/vncdo") else {
            Issue.record("\(venv)/vncdo is missing: make deps (python3 -m venv .build-venv; .build-venv/bin/pip install vncdotool)")
            return false
        }
        return true
    }

    /// The helper for one viewer, its VNC side on 127.0.0.1:`port`.
    final class Bridge: @unchecked Sendable {
        let process: ChildProcess
        let port: Int

        init(display: String, mode: String, password: String) throws {
            process = try ChildProcess(["/usr/bin/python3", RemoteViewHelper.fixtures + "/vnc-check.py", "bridge", product("vigie-vnc"), display, mode, password])
            guard let line = process.readLine(timeout: 20), line.hasPrefix("listening "), let port = Int(line.dropFirst(10)) else {
                throw TestSupportError("the VNC helper did not start: \(process.readAllStderr())")
            }
            self.port = port
        }

        /// How the helper ended, once its viewer left.
        func exitLine() -> String? { process.readLine(timeout: 15) }

        deinit {
            process.kill()
            _ = process.wait(timeout: 5)
        }
    }

    /// `vncdo` against the bridge, with its arguments.
    static func vncdo(_ port: Int, password: String, _ args: [String]) throws -> ProcessResult {
        try run([venv + "/vncdo", "-s", "127.0.0.1::\(port)", "-p", password] + args, timeout: 30)
    }

    @Test func aVNCClientSeesTheSeatsScreenAsXwdDoesAndNeedsThePassword() async throws {
        guard Self.clientInstalled() else { return }
        // Blocking reads of child processes: on a thread of their own, not the test pool's.
        try await offThePool { try Self.seesTheScreen() }
    }

    static func seesTheScreen() throws {
        let xvfb = try Xvfb(width: 640, height: 480)
        defer { xvfb.stop() }
        // A client that stays (the display keeps what is drawn), and something on the screen.
        let clock = try ChildProcess(["xclock", "-display", xvfb.display, "-geometry", "200x200+40+40", "-update", "3600"])
        defer { clock.kill() }
        _ = try run(["xsetroot", "-solid", "#204080", "-display", xvfb.display])
        let dir = try TempDir()
        // The wrong password: nothing.
        let refused = try Bridge(display: xvfb.display, mode: "view", password: "k3y-0ne")
        let wrong = try vncdo(refused.port, password: "guess", ["capture", dir.path + "/wrong.png"])
        #expect(wrong.status != 0, "\(wrong)")
        #expect(!FileManager.default.fileExists(atPath: dir.path + "/wrong.png"))
        // The right one: the client's picture is the display's, pixel for pixel.
        let bridge = try Bridge(display: xvfb.display, mode: "view", password: "k3y-0ne")
        let shot = try vncdo(bridge.port, password: "k3y-0ne", ["capture", dir.path + "/shot.png"])
        #expect(shot.status == 0, "\(shot)")
        _ = try run(["xwd", "-root", "-display", xvfb.display, "-out", dir.path + "/root.xwd"])
        let compared = try run([venv + "/python", "-W", "ignore", fixtures + "/vnc-check.py", "compare", dir.path + "/shot.png", dir.path + "/root.xwd"])
        let words = compared.stdout.split(separator: " ")
        #expect(words.first == "diff" && (Double(words.dropFirst().first ?? "") ?? 99) < 1.0, "\(compared)")
        #expect(compared.stdout.contains("size 640x480"), "\(compared)")
        // The viewer left: the helper ended with it.
        #expect(bridge.exitLine() == "helper-exit 0")
    }

    @Test func inViewModeTheViewersKeysDoNotArriveInControlModeTheyDo() async throws {
        guard Self.clientInstalled() else { return }
        try await offThePool { try Self.keysFollowTheMode() }
    }

    static func keysFollowTheMode() throws {
        let xvfb = try Xvfb(width: 640, height: 480)
        defer { xvfb.stop() }
        // A window over the whole screen that prints the keys it receives.
        let xev = try ChildProcess(["stdbuf", "-oL", "xev", "-display", xvfb.display, "-event", "keyboard", "-geometry", "640x480+0+0"])
        defer { xev.kill() }
        let mapped = eventually(10) { (try? run(["xwininfo", "-root", "-tree", "-display", xvfb.display]).stdout.contains("Event Tester")) == true }
        #expect(mapped)
        let typedIn = { (mode: String) throws -> [String] in
            let bridge = try Bridge(display: xvfb.display, mode: mode, password: "k3y-0ne")
            let typed = try vncdo(bridge.port, password: "k3y-0ne", ["move", "320", "240", "type", "Vu", "pause", "0.2"])
            #expect(typed.status == 0, "\(typed)")
            #expect(bridge.exitLine() == "helper-exit 0")
            _ = try run(["xwininfo", "-root", "-display", xvfb.display])  // a round trip: what was sent is handled
            var keys: [String] = []
            while let line = xev.readLine(timeout: 0.5) {
                if let r = line.range(of: "(keysym 0x") { keys.append(String(line[r.upperBound...].prefix { $0 != "," })) }
            }
            return keys
        }
        let viewed = try typedIn("view")
        #expect(viewed.isEmpty, "keys reached the seat in view mode: \(viewed)")
        let controlled = try typedIn("control")
        // "V" (Shift held for it), then "u": each pressed and released.
        #expect(controlled.contains("56") && controlled.contains("75"), "keys of 'Vu' in control mode: \(controlled)")
    }
}
