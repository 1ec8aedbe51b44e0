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
        /// The VNC helper's pid.
        let helper: Int32

        init(display: String, mode: String, password: String, _ helperArgs: [String] = []) throws {
            process = try ChildProcess(["/usr/bin/python3", RemoteViewHelper.fixtures + "/vnc-check.py", "bridge", product("vigie-vnc"),
                                        display, mode, password] + helperArgs)
            let words = process.readLine(timeout: 20)?.split(separator: " ") ?? []
            guard words.count == 3, words[0] == "listening", let port = Int(words[1]), let helper = Int32(words[2]) else {
                throw TestSupportError("the VNC helper did not start: \(words) \(process.readAllStderr())")
            }
            self.port = port
            self.helper = helper
        }

        /// How the helper ended, once its viewer left.
        func exitLine() -> String? { process.readLine(timeout: 15) }

        deinit {
            process.kill()
            _ = process.wait(timeout: 5)
        }
    }

    /// A failed check in code that runs off the test's task (offThePool): thrown, so
    /// that the test fails with it (`#expect` there would not know which test it is).
    static func check(_ ok: Bool, _ message: @autoclosure () -> String) throws {
        if !ok { throw TestSupportError(message()) }
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
        try check(wrong.status != 0, "a wrong password was let in: \(wrong)")
        try check(!FileManager.default.fileExists(atPath: dir.path + "/wrong.png"), "a wrong password got a picture")
        // The right one: the client's picture is the display's, pixel for pixel.
        let bridge = try Bridge(display: xvfb.display, mode: "view", password: "k3y-0ne")
        // The helper listens on nothing: its only socket is the pair's end (and X's).
        let listening = listeningSockets(of: bridge.helper)
        try check(listening.isEmpty, "vigie-vnc listens on \(listening)")
        let shot = try vncdo(bridge.port, password: "k3y-0ne", ["capture", dir.path + "/shot.png"])
        try check(shot.status == 0, "capture failed: \(shot)")
        _ = try run(["xwd", "-root", "-display", xvfb.display, "-out", dir.path + "/root.xwd"])
        let compared = try run([venv + "/python", "-W", "ignore", fixtures + "/vnc-check.py", "compare", dir.path + "/shot.png", dir.path + "/root.xwd"])
        let words = compared.stdout.split(separator: " ")
        try check(words.first == "diff" && (Double(words.dropFirst().first ?? "") ?? 99) < 1.0, "the client's picture is not the display's: \(compared)")
        try check(compared.stdout.contains("size 640x480"), "\(compared)")
        // The viewer left: the helper ended with it.
        let exit = bridge.exitLine()
        try check(exit == "helper-exit 0", "the helper did not end with its viewer: \(exit ?? "-")")
    }

    @Test func inViewModeTheViewersKeysDoNotArriveInControlModeTheyDo() async throws {
        guard Self.clientInstalled() else { return }
        try await offThePool { try Self.keysFollowTheMode() }
    }

    static func keysFollowTheMode() throws {
        let xvfb = try Xvfb(width: 640, height: 480)
        defer { xvfb.stop() }
        // A window over the whole screen that prints the keys it receives.
        let xev = try keyPrinter(on: xvfb.display)
        defer { xev.kill() }
        // A view types "Vu", then a control types "Ok": xev's keys, read until "Ok" shows
        // (however late a loaded machine prints them), must hold no "Vu".
        for (mode, text) in [("view", "Vu"), ("control", "Ok")] {
            let bridge = try Bridge(display: xvfb.display, mode: mode, password: "k3y-0ne")
            let typed = try vncdo(bridge.port, password: "k3y-0ne", ["move", "320", "240", "type", text, "pause", "0.2"])
            try check(typed.status == 0, "vncdo failed: \(typed)")
            let exit = bridge.exitLine()
            try check(exit == "helper-exit 0", "the helper did not end with its viewer: \(exit ?? "-")")
        }
        let keys = xevKeys(xev, until: ["4f", "6b"])
        try check(keys.contains("4f") && keys.contains("6b"), "keys of 'Ok' in control mode: \(keys)")
        try check(!keys.contains("56") && !keys.contains("75"), "keys of 'Vu' reached the seat in view mode: \(keys)")
    }

    /// `body` on a display of its own (640×480, an xclock keeping the server from
    /// resetting), off the concurrency pool (it blocks on child processes).
    static func onADisplay(_ body: @escaping @Sendable (Xvfb) throws -> Void) async throws {
        try await offThePool {
            let xvfb = try Xvfb(width: 640, height: 480)
            defer { xvfb.stop() }
            let clock = try ChildProcess(["xclock", "-display", xvfb.display, "-geometry", "200x200+40+40", "-update", "3600"])
            defer { clock.kill() }
            try body(xvfb)
        }
    }

    /// `vnc-check.py SUBCOMMAND …` with the venv's python (python-xlib for the X side).
    static func fixture(_ args: [String]) throws -> ProcessResult {
        try run([venv + "/python", "-W", "ignore", fixtures + "/vnc-check.py"] + args, timeout: 90)
    }

    /// The pointer's shape and place reach the viewer (the capture has no cursor in it):
    /// RichCursor and PointerPos, checked against what XFIXES says on the display.
    @Test func theViewerGetsTheSeatsCursorShapeAndWhereItIs() async throws {
        guard Self.clientInstalled() else { return }
        try await Self.onADisplay { xvfb in
            let bridge = try Bridge(display: xvfb.display, mode: "view", password: "k3y-0ne")
            let r = try Self.fixture(["cursor", String(bridge.port), "k3y-0ne", xvfb.display])
            try Self.check(r.status == 0, "\(r)")
            for line in ["ok cursor ", "ok cursor-change ", "ok pointer "] {
                try Self.check(r.stdout.contains(line), "\(line): \(r.stdout)")
            }
        }
    }

    /// Copied text passes both ways only in control with the config's leave
    /// (`--clipboard`, from `[watch] control_clipboard`); never in a view.
    @Test func theClipboardPassesOnlyInAControlTheConfigAllows() async throws {
        guard Self.clientInstalled() else { return }
        try await Self.onADisplay { xvfb in
            for (mode, args, expect) in [("control", ["--clipboard"], "pass"), ("control", [], "none"), ("view", [], "none")] {
                let bridge = try Bridge(display: xvfb.display, mode: mode, password: "k3y-0ne", args)
                let r = try Self.fixture(["clipboard", String(bridge.port), "k3y-0ne", xvfb.display, expect])
                try Self.check(r.status == 0, "\(mode) \(args): \(r)")
                let wanted = expect == "pass" ? ["ok to-seat", "ok to-viewer", "ok big-to-seat-dropped", "ok utf8-to-seat", "ok utf8-to-viewer"]
                                              : ["ok none to-seat", "ok none to-viewer"]
                for line in wanted { try Self.check(r.stdout.contains(line), "\(mode) \(args) \(line): \(r.stdout)") }
            }
            // The helper refuses a clipboard in a view outright.
            let refused = try run([product("vigie-vnc"), "--display", xvfb.display, "--fd", "0", "--mode", "view", "--clipboard"], timeout: 10)
            try Self.check(refused.status != 0 && refused.stderr.contains("--clipboard"), "\(refused)")
        }
    }

    /// `--quality` bounds what a viewer asking the best JPEG gets: low < medium < high in bytes.
    @Test func aLowerQualitySendsFewerBytes() async throws {
        guard Self.clientInstalled() else { return }
        try await Self.onADisplay { xvfb in
            let r = try Self.fixture(["quality", product("vigie-vnc"), xvfb.display])
            try Self.check(r.status == 0 && r.stdout.contains("ok quality"), "\(r)")
        }
    }
}

/// xev over the whole of `display` (640×480), printing the keys it receives, once
/// its window is up. Started again if it could not connect (seen once, on a
/// display number just handed over from a server that had stopped).
func keyPrinter(on display: String) throws -> ChildProcess {
    let deadline = Date().addingTimeInterval(30)
    var tries: [String] = []
    while Date() < deadline {
        let xev = try ChildProcess(["stdbuf", "-oL", "xev", "-display", display, "-event", "keyboard", "-geometry", "640x480+0+0"])
        let up = eventually(max(1, deadline.timeIntervalSinceNow)) {
            !xev.process.isRunning || (try? run(["xwininfo", "-root", "-tree", "-display", display]).stdout.contains("Event Tester")) == true
        }
        if up && xev.process.isRunning { return xev }
        xev.kill()
        tries.append(xev.readAllStderr())
    }
    throw TestSupportError("xev's window did not appear on \(display): \(tries)")
}

/// The TCP sockets in LISTEN state that process `pid` holds ("address:port", hex as in /proc).
func listeningSockets(of pid: Int32) -> [String] {
    var inodes = Set<String>()
    for fd in (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/fd")) ?? [] {
        if let target = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(pid)/fd/\(fd)"), target.hasPrefix("socket:[") {
            inodes.insert(String(target.dropFirst(8).dropLast()))
        }
    }
    var found: [String] = []
    for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
        guard let data = FileHandle(forReadingAtPath: table)?.readDataToEndOfFile() else { continue }
        for line in String(decoding: data, as: UTF8.self).split(separator: "\n").dropFirst() {
            let f = line.split(separator: " ")
            // State 0A is LISTEN.
            if f.count > 9, f[3] == "0A", inodes.contains(String(f[9])) { found.append(String(f[1])) }
        }
    }
    return found
}

/// The keysyms (hex) xev printed, read until every one of `until` was seen, or 20 s.
func xevKeys(_ xev: ChildProcess, until wanted: Set<String>) -> [String] {
    var keys: [String] = []
    let deadline = Date().addingTimeInterval(20)
    while Date() < deadline, !wanted.isSubset(of: Set(keys)), let line = xev.readLine(timeout: deadline.timeIntervalSinceNow) {
        if let r = line.range(of: "(keysym 0x") { keys.append(String(line[r.upperBound...].prefix { $0 != "," })) }
    }
    return keys
}

/// `vigie view` and `vigie control` end to end: the console's local endpoint, the
/// person's mutual-TLS stream, the agent's policy and journal, the seat's helper;
/// a real VNC client (vncdotool) on the console's side, the seat checked on X.
@Suite(.serialized) struct RemoteView {
    /// `vigie view|control --no-viewer --json` as `who`: its first line (address, password).
    final class ViewProcess: @unchecked Sendable {
        let child: ChildProcess
        let first: [String: Any]

        init(_ school: TestSchool, _ mode: String, seat: String, as who: String) throws {
            var env = ProcessInfo.processInfo.environment
            env["LANG"] = "fr_FR.UTF-8"
            child = try ChildProcess([product("vigie"), mode, "--seat", seat, "--no-viewer", "--json", "--config", school.configPath,
                                      "--identity", school.people[who]!], environment: env)
            let line = child.readLine(timeout: 20) ?? ""
            first = (try? JSONSerialization.jsonObject(with: Data(line.utf8))) as? [String: Any] ?? ["line": line, "stderr": child.readAllStderr()]
        }

        var port: Int? { (first["address"] as? String)?.split(separator: ":").last.flatMap { Int($0) } }
        var password: String { first["password"] as? String ?? "" }

        deinit {
            child.kill()
            _ = child.wait(timeout: 5)
        }
    }

    @Test func aTeacherViewsASeatInAVNCClientTheSeatShowsItAndTheRegisterKeepsItWithoutThePassword() async throws {
        guard RemoteViewHelper.clientInstalled() else { return }
        let school = try await offThePool { try TestSchool(seats: [("B204-01", "B204")]) }
        let seat = school.seats["B204-01"]!
        let view = try await offThePool { try ViewProcess(school, "view", seat: "B204-01", as: "teacher") }
        #expect(view.first["status"] as? String == "ok" && view.first["code"] as? String == "view.started", "\(view.first)")
        let port = try #require(view.port, "\(view.first)")
        // The person at the seat is told, for as long as it lasts.
        let shown = await eventually(10) { (try? indicatorShown(seat.xvfb)) == true }
        #expect(shown, "the seat shows who views it")
        let dir = try TempDir()
        let shotPath = dir.path + "/shot.png"
        // The seat's screen by X (the notice on it: the viewer is connected), then by the viewer.
        _ = try run(["xwd", "-root", "-display", seat.display, "-out", dir.path + "/root.xwd"])
        let capture = try await offThePool { try RemoteViewHelper.vncdo(port, password: view.password, ["capture", shotPath]) }
        #expect(capture.status == 0, "\(capture)")
        let compared = try run([RemoteViewHelper.venv + "/python", "-W", "ignore", RemoteViewHelper.fixtures + "/vnc-check.py", "compare",
                                dir.path + "/shot.png", dir.path + "/root.xwd"])
        let words = compared.stdout.split(separator: " ")
        #expect(words.first == "diff" && (Double(words.dropFirst().first ?? "") ?? 99) < 2.0, "the viewer sees the seat's screen: \(compared)")
        // The viewer left: the console's view ends, the seat's notice goes, the register has both ends.
        let exit = try await offThePool { view.child.wait(timeout: 15) }
        #expect(exit == 0, "\(view.child.readAllStderr())")
        let gone = await eventually(10) { (try? indicatorShown(seat.xvfb)) == false }
        #expect(gone, "the notice goes with the viewer")
        let stopped = await eventually(10) { (try? remoteEvents(school, "B204-01").last?.code) == "view.stopped" }
        #expect(stopped)
        let events = try remoteEvents(school, "B204-01")
        #expect(events.first?.outcome == "started" && events.first?.code == "view.started", "\(events)")
        #expect(events.last?.params["why"] == "watch.viewer-ended", "\(events)")
        #expect(Int(events.last?.params["bytes"] ?? "") ?? 0 > 1000, "\(events)")
        // (The database and its write-ahead log, as bytes.)
        let journal = try ["", "-wal"].map { seat.stateDir + "/journal.sqlite" + $0 }.filter { FileManager.default.fileExists(atPath: $0) }
            .map { try String(contentsOfFile: $0, encoding: .isoLatin1) }.joined()
        #expect(journal.contains("view.started") && !journal.contains(view.password), "the one-time password is never journaled")
    }

    /// `vigie view` without `--no-viewer` on a console with a display: it starts
    /// TigerVNC's viewer (Debian's `tigervnc-viewer`), which asks the one-time
    /// password (typed into its dialog here, as a person would), shows the seat,
    /// and closing it ends the view on the seat.
    @Test func vigieViewStartsTigerVNCsViewerWhichShowsTheSeat() async throws {
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/xtigervncviewer"), FileManager.default.isExecutableFile(atPath: "/usr/bin/xdotool") else {
            Issue.record("xtigervncviewer or xdotool is missing: apt-get install tigervnc-viewer xdotool (make deps)")
            return
        }
        let school = try await offThePool { try TestSchool(seats: [("B204-01", "B204")]) }
        let seat = school.seats["B204-01"]!
        // The teacher's own screen.
        let console = try await offThePool { try Xvfb(width: 1280, height: 800) }
        defer { console.stop() }
        let clock = try ChildProcess(["xclock", "-display", console.display, "-geometry", "50x50+1200+700", "-update", "3600"])
        defer { clock.kill() }
        var env = ProcessInfo.processInfo.environment
        env["LANG"] = "fr_FR.UTF-8"
        env["DISPLAY"] = console.display
        let view = try ChildProcess([product("vigie"), "view", "--seat", "B204-01", "--json", "--config", school.configPath,
                                     "--identity", school.people["teacher"]!], environment: env)
        defer {
            view.kill()
            _ = view.wait(timeout: 5)
        }
        let first = try await offThePool { view.readLine(timeout: 20) ?? "" }
        let opened = (try? JSONSerialization.jsonObject(with: Data(first.utf8))) as? [String: Any] ?? [:]
        let password = try #require(opened["password"] as? String, "\(first) \(view.readAllStderr())")
        let xEnv = env
        @Sendable func window(_ name: String) -> String? {
            let r = try? run(["xdotool", "search", "--name", name], environment: xEnv)
            return r?.stdout.split(separator: "\n").first.map(String.init)
        }
        // The viewer's password dialog, then the seat in its window.
        let dialog = try await offThePool { () -> String? in
            var found: String?
            _ = eventually(20) { found = window("VNC authentication"); return found != nil }
            return found
        }
        let asking = try #require(dialog, "no TigerVNC password dialog on \(console.display): \(view.readAllStderr())")
        _ = try run(["xdotool", "windowfocus", "--sync", asking], environment: env)
        _ = try run(["xdotool", "type", "--window", asking, password], environment: env)
        _ = try run(["xdotool", "key", "--window", asking, "Return"], environment: env)
        let showing = await eventually(20) { window("Vigie - TigerVNC") != nil }
        #expect(showing, "the viewer shows the seat (its window is named after the seat's desktop)")
        let told = await eventually(10) { (try? indicatorShown(seat.xvfb)) == true }
        #expect(told, "the seat says who views it")
        // Closing the viewer ends the view on the seat.
        _ = try run(["pkill", "-f", "xtigervncviewer 127.0.0.1::"], environment: env)
        let exit = try await offThePool { view.wait(timeout: 15) }
        #expect(exit == 0, "\(view.readAllStderr())")
        let stopped = await eventually(10) { (try? remoteEvents(school, "B204-01").last?.code) == "view.stopped" }
        #expect(stopped)
    }

    @Test func controlTypesOnTheSeatViewDoesNotAndTheLibraryIsNeverControlled() async throws {
        guard RemoteViewHelper.clientInstalled() else { return }
        let school = try await offThePool { try TestSchool(seats: [("B204-01", "B204"), ("CDI-01", "CDI")], runAgents: false) }
        try school.startAgent("B204-01")
        // The library seat outside its windows (Monday 13:10).
        try school.startAgent("CDI-01", clock: "\(parisDateOfNextMonday()) 13:10:00")
        let seat = school.seats["B204-01"]!
        // A window over the whole screen that prints the keys it receives (the pointer is
        // put in its bottom-left corner, away from the seat's notices, which sit on top).
        let display = seat.display
        let xev = try await offThePool { try keyPrinter(on: display) }
        defer { xev.kill() }
        // A view types "Vu", then a control types "Ok" (see the helper's test).
        for (mode, text) in [("view", "Vu"), ("control", "Ok")] {
            let view = try await offThePool { try ViewProcess(school, mode, seat: "B204-01", as: "teacher") }
            let port = try #require(view.port, "\(view.first)")
            let r = try await offThePool { try RemoteViewHelper.vncdo(port, password: view.password, ["move", "12", "470", "type", text, "pause", "0.3"]) }
            #expect(r.status == 0, "\(r)")
            let exit = try await offThePool { view.child.wait(timeout: 15) }
            #expect(exit == 0)
        }
        let keys = try await offThePool { xevKeys(xev, until: ["4f", "6b"]) }
        #expect(keys.contains("4f") && keys.contains("6b"), "keys of 'Ok' through control: \(keys)")
        #expect(!keys.contains("56") && !keys.contains("75"), "keys reached the seat through a view: \(keys)")
        let events = try remoteEvents(school, "B204-01").map(\.code)
        #expect(events.contains("control.started") && events.contains("control.stopped"), "\(events)")
        // What the seat gave: the default quality, and no clipboard unless the config allows it.
        let started = try remoteEvents(school, "B204-01").first { $0.code == "control.started" }
        #expect(started?.params["quality"] == "medium" && started?.params["clipboard"] == "false", "\(String(describing: started))")
        // The library: nobody takes control, a librarian by the grants, an admin (who may
        // do everything) by the room's purpose; and no view outside its windows.
        let librarianControl = try await offThePool { try ViewProcess(school, "control", seat: "CDI-01", as: "librarian") }
        #expect(librarianControl.first["code"] as? String == "policy.feature", "\(librarianControl.first)")
        let adminControl = try await offThePool { try ViewProcess(school, "control", seat: "CDI-01", as: "admin") }
        #expect(adminControl.first["code"] as? String == "policy.control-room", "\(adminControl.first)")
        let librarianView = try await offThePool { try ViewProcess(school, "view", seat: "CDI-01", as: "librarian") }
        #expect(librarianView.first["code"] as? String == "policy.time-window", "\(librarianView.first)")
        let teacherView = try await offThePool { try ViewProcess(school, "view", seat: "CDI-01", as: "teacher") }
        #expect(teacherView.first["status"] as? String == "refused", "\(teacherView.first)")
    }
}

/// Who needs the person's consent: an admin's `*` grant does not see a pupil's
/// screen; with nobody logged in, the admin's view is maintenance, journaled so.
@Suite(.serialized) struct RemoteViewConsent {
    @Test func anAdminDoesNotSeeTheScreenOfSomeoneLoggedInButMayMaintainAnEmptySeat() async throws {
        let school = try await offThePool {
            try TestSchool(seats: [("B204-01", "B204"), ("B204-02", "B204")], runAgents: false)
        }
        try school.startAgent("B204-02")
        // B204-01 has a pupil logged in.
        school.agentArgumentsBySeat["B204-01"] = ["--session-user", testSessionUser]
        try school.startAgent("B204-01")
        for mode in ["view", "control"] {
            let admin = try await offThePool { try RemoteView.ViewProcess(school, mode, seat: "B204-01", as: "admin") }
            #expect(admin.first["status"] as? String == "refused" && admin.first["code"] as? String == "consent.required", "\(admin.first)")
            #expect((admin.first["message"] as? String)?.contains("demande son accord") == true, "\(admin.first)")
        }
        // The head of school: no role grant on seats at all.
        let head = try await offThePool { try RemoteView.ViewProcess(school, "view", seat: "B204-01", as: "head") }
        #expect(head.first["status"] as? String == "refused" && head.first["code"] as? String == "policy.role", "\(head.first)")
        // The room's teacher: the posters announce it, no consent asked.
        let teacher = try await offThePool { try RemoteView.ViewProcess(school, "view", seat: "B204-01", as: "teacher") }
        #expect(teacher.first["status"] as? String == "ok", "\(teacher.first)")
        teacher.child.signal(SIGINT)
        _ = try await offThePool { teacher.child.wait(timeout: 15) }
        // Nobody at B204-02: the admin's view is maintenance.
        let maintenance = try await offThePool { try RemoteView.ViewProcess(school, "view", seat: "B204-02", as: "admin") }
        #expect(maintenance.first["status"] as? String == "ok", "\(maintenance.first)")
        maintenance.child.signal(SIGINT)
        _ = try await offThePool { maintenance.child.wait(timeout: 15) }
        let started = try remoteEvents(school, "B204-02").first { $0.code == "view.started" }
        #expect(started?.params["maintenance"] == "true", "\(String(describing: started))")
        let refused = try remoteEvents(school, "B204-01").filter { $0.code == "consent.required" }
        #expect(refused.count == 2 && refused.allSatisfy { $0.outcome == "refused" }, "\(refused)")
    }
}

/// `vigie assist`: the person at the seat is asked in a window on their screen;
/// only their « Accepter » opens anything, and the register keeps the consent.
@Suite(.serialized) struct Assistance {
    /// `vigie assist --reason …` as `who`, its first JSON line once the seat answered.
    final class AssistProcess: @unchecked Sendable {
        let child: ChildProcess
        init(_ school: TestSchool, seat: String, as who: String, control: Bool = false) throws {
            var env = ProcessInfo.processInfo.environment
            env["LANG"] = "fr_FR.UTF-8"
            child = try ChildProcess([product("vigie"), "assist", "--seat", seat, "--reason", "l’imprimante n’apparaît pas", "--no-viewer", "--json",
                                      "--config", school.configPath, "--identity", school.people[who]!] + (control ? ["--control"] : []),
                                     environment: env)
        }
        /// The seat's answer: the JSON line's fields as text.
        func answer() -> [String: String] {
            let line = child.readLine(timeout: 90) ?? ""
            guard let object = (try? JSONSerialization.jsonObject(with: Data(line.utf8))) as? [String: Any] else {
                return ["line": line, "stderr": child.readAllStderr()]
            }
            return object.mapValues { "\($0)" }
        }
        deinit {
            child.kill()
            _ = child.wait(timeout: 5)
        }
    }

    /// xdotool on the seat's display: the person's keyboard (X input, as a test has it).
    /// `name`: the window's title holds it (the second question, control, is titled « Prise en main … »).
    @discardableResult
    static func press(_ display: String, _ keys: [String], name: String? = nil) throws -> String {
        var env = ProcessInfo.processInfo.environment
        env["DISPLAY"] = display
        // Keys go where the pointer is: over the consent window.
        let how = name.map { ["--name", $0] } ?? ["--classname", "vigie-consent"]
        // A window shown (not one still being made, nor the last question's going away).
        var window: Substring?
        var last: ProcessResult?
        _ = eventually(20) {
            last = try? run(["xdotool", "search", "--onlyvisible"] + how, timeout: 5, environment: env)
            window = last?.status == 0 ? last?.stdout.split(separator: "\n").first : nil
            return window != nil
        }
        guard let window else { throw TestSupportError("no consent window on \(display): \(String(describing: last))") }
        _ = try run(["xdotool", "mousemove", "--window", String(window), "20", "20"], environment: env)
        if !keys.isEmpty { _ = try run(["xdotool", "key"] + keys, environment: env) }
        return String(window)
    }

    /// `[assistance] max_minutes`: an accepted assistance ends by itself, the helper
    /// is told why, the seat says it is over.
    @Test func anAssistanceEndsAtItsLongestTime() async throws {
        let school = try await offThePool {
            try TestSchool(seats: [("B204-01", "B204")], extraConfig: "\n[assistance]\nmax_minutes = 0.05\nconsent_seconds = 30\nextend_minutes = 0\n",
                           agentArguments: ["--session-user", testSessionUser])
        }
        let seat = school.seats["B204-01"]!
        let helping = try AssistProcess(school, seat: "B204-01", as: "admin")
        try await offThePool { try Self.press(seat.display, ["Tab", "space"]) }
        let started = try await offThePool { helping.answer() }
        #expect(started["code"] == "assist.started", "\(started)")
        let ended = try await offThePool { helping.answer() }
        #expect(ended["state"] == "ended" && ended["code"] == "assist.time-limit", "\(ended)")
        #expect(ended["message"]?.contains("durée maximale (0.05 min)") == true, "\(ended)")
        let endNotice = await eventually(10) {
            (try? run(["xwininfo", "-root", "-tree", "-display", seat.display]).stdout.contains("L’assistance est terminée")) == true
        }
        #expect(endNotice, "the seat says the assistance is over")
    }

    @Test func thePersonRefusesThenAcceptsAndOnlyTheAcceptanceOpensTheirScreen() async throws {
        guard RemoteViewHelper.clientInstalled() else { return }
        let school = try await offThePool { try TestSchool(seats: [("B204-01", "B204"), ("B204-02", "B204")], runAgents: false) }
        school.agentArgumentsBySeat["B204-01"] = ["--session-user", testSessionUser]
        try school.startAgent("B204-01")
        try school.startAgent("B204-02")
        let seat = school.seats["B204-01"]!
        // « Refuser » (Escape): a clear refusal, no stream.
        let refused = try AssistProcess(school, seat: "B204-01", as: "admin")
        try await offThePool { try Self.press(seat.display, ["Escape"]) }
        let no = try await offThePool { refused.answer() }
        #expect(no["status"] == "refused" && no["code"] == "assist.refused", "\(no)")
        #expect(no["message"]?.contains("a refusé l’assistance") == true, "\(no)")
        // « Accepter » (Tab, then Space): the view opens, a real VNC client sees the screen.
        let accepted = try AssistProcess(school, seat: "B204-01", as: "admin")
        try await offThePool { try Self.press(seat.display, ["Tab", "space"]) }
        let yes = try await offThePool { accepted.answer() }
        #expect(yes["status"] == "ok" && yes["code"] == "assist.started", "\(yes)")
        let port = try #require(yes["address"]?.split(separator: ":").last.flatMap { Int($0) }, "\(yes)")
        let password = yes["password"] ?? ""
        let told = await eventually(10) { (try? indicatorShown(seat.xvfb)) == true }
        #expect(told, "the seat says who sees it")
        let dir = try TempDir()
        let shotPath = dir.path + "/shot.png"
        let shot = try await offThePool { try RemoteViewHelper.vncdo(port, password: password, ["capture", shotPath]) }
        #expect(shot.status == 0, "\(shot)")
        let exit = try await offThePool { accepted.child.wait(timeout: 15) }
        #expect(exit == 0)
        let stopped = await eventually(10) { (try? journalEvents(school, "B204-01", features: ["assist"]).last?.code) == "assist.stopped" }
        #expect(stopped)
        let events = try journalEvents(school, "B204-01", features: ["assist"])
        #expect(Array(events.map(\.code).prefix(3)) == ["assist.refused", "assist.started", "assist.stopped"], "\(events)")
        let started = events.first { $0.code == "assist.started" }
        #expect(started?.params["consent"] == "accepted" && started?.params["mode"] == "view", "\(String(describing: started))")
        // A control, accepted, then « Arrêter » on the seat's banner: it ends at once,
        // the helper is told why, and the seat says it is over.
        // Control is its own question, after the view's: refused, the view alone opens.
        let viewOnly = try AssistProcess(school, seat: "B204-01", as: "admin", control: true)
        try await offThePool {
            try Self.press(seat.display, ["Tab", "space"])
            try Self.press(seat.display, ["Escape"], name: "Prise en main")
        }
        let seeing = try await offThePool { viewOnly.answer() }
        #expect(seeing["code"] == "assist.started-view-only", "\(seeing)")
        viewOnly.child.signal(SIGINT)
        _ = try await offThePool { viewOnly.child.wait(timeout: 15) }
        let helping = try AssistProcess(school, seat: "B204-01", as: "admin", control: true)
        try await offThePool {
            try Self.press(seat.display, ["Tab", "space"])
            try Self.press(seat.display, ["Tab", "space"], name: "Prise en main")
        }
        let controlling = try await offThePool { helping.answer() }
        #expect(controlling["code"] == "assist.started", "\(controlling)")
        try await offThePool {
            var env = ProcessInfo.processInfo.environment
            env["DISPLAY"] = seat.display
            let found = try run(["xdotool", "search", "--sync", "--onlyvisible", "--classname", "vigie-assist"], timeout: 20, environment: env)
            guard let window = found.stdout.split(separator: "\n").first.map(String.init) else { throw TestSupportError("no banner: \(found)") }
            let geometry = try run(["xdotool", "getwindowgeometry", "--shell", window], environment: env).stdout
            var g: [String: Int] = [:]
            for line in geometry.split(separator: "\n") {
                let pair = line.split(separator: "=")
                if pair.count == 2 { g[String(pair[0])] = Int(pair[1]) }
            }
            // The button is at the banner's right end.
            _ = try run(["xdotool", "mousemove", String((g["X"] ?? 0) + (g["WIDTH"] ?? 0) - 25), String((g["Y"] ?? 0) + (g["HEIGHT"] ?? 0) / 2)], environment: env)
            _ = try run(["xdotool", "click", "1"], environment: env)
        }
        let ended = try await offThePool { helping.answer() }
        #expect(ended["state"] == "ended" && ended["code"] == "assist.ended-by-person", "\(ended)")
        let endNotice = await eventually(10) {
            (try? run(["xwininfo", "-root", "-tree", "-display", seat.display]).stdout.contains("L’assistance est terminée")) == true
        }
        #expect(endNotice, "the seat says the assistance is over")
        let last = try journalEvents(school, "B204-01", features: ["assist"]).last
        #expect(last?.code == "assist.stopped" && last?.params["why"] == "assist.ended-by-person", "\(String(describing: last))")
        // The same from the keyboard: the Pause key, wherever the focus is.
        let again = try AssistProcess(school, seat: "B204-01", as: "admin")
        try await offThePool { try Self.press(seat.display, ["Tab", "space"]) }
        let viewing = try await offThePool { again.answer() }
        #expect(viewing["code"] == "assist.started", "\(viewing)")
        try await offThePool {
            var env = ProcessInfo.processInfo.environment
            env["DISPLAY"] = seat.display
            _ = try run(["xdotool", "search", "--sync", "--onlyvisible", "--classname", "vigie-assist"], timeout: 20, environment: env)
            _ = try run(["xdotool", "key", "Pause"], environment: env)
        }
        let paused = try await offThePool { again.answer() }
        #expect(paused["state"] == "ended" && paused["code"] == "assist.ended-by-person", "\(paused)")
        // Nobody at B204-02: nobody to ask. A teacher has no `assist` grant.
        let nobody = try AssistProcess(school, seat: "B204-02", as: "admin")
        let none = try await offThePool { nobody.answer() }
        #expect(none["code"] == "assist.nobody", "\(none)")
        let teacher = try AssistProcess(school, seat: "B204-01", as: "teacher")
        let notGranted = try await offThePool { teacher.answer() }
        #expect(notGranted["code"] == "policy.feature", "\(notGranted)")
    }
}

extension Assistance {
    /// One VNC viewer through the whole assistance (the console takes one): types
    /// "x" at once, then "ok" once `go` exists (vncdotool's API, in the venv).
    static func viewerTypingLater(port: Int, password: String, go: String) throws -> ChildProcess {
        let script = """
            import os, sys, time
            from vncdotool import api
            c = api.connect("127.0.0.1::" + sys.argv[1], password=sys.argv[2])
            c.mouseMove(12, 470)
            c.keyPress("x")
            print("typed", flush=True)
            while not os.path.exists(sys.argv[3]):
                time.sleep(0.1)
            c.mouseMove(12, 470)
            c.keyPress("o")
            c.keyPress("k")
            time.sleep(0.5)
            print("typed", flush=True)
            c.disconnect()
            api.shutdown()
            """
        return try ChildProcess([RemoteViewHelper.venv + "/python3", "-c", script, String(port), password, go])
    }

    /// `vigie assist control ID` as `who`: the seat's answer line.
    static func askControl(_ school: TestSchool, _ intervention: String, as who: String) throws -> ChildProcess {
        var env = ProcessInfo.processInfo.environment
        env["LANG"] = "fr_FR.UTF-8"
        return try ChildProcess([product("vigie"), "assist", "control", intervention, "--json", "--config", school.configPath,
                                 "--identity", school.people[who]!], environment: env)
    }

    /// Control inside a running assistance is a question of its own: refused, the view
    /// goes on; accepted, the viewer already open controls. Only the assistance's
    /// helper may ask. A question whose helper left before the answer is taken down.
    @Test func controlAskedInsideAViewIsItsOwnQuestionAndAQuestionGoesWithItsHelper() async throws {
        guard RemoteViewHelper.clientInstalled() else { return }
        let school = try await offThePool {
            try TestSchool(seats: [("B204-01", "B204")], withServer: true, extraConfig: HelpRequests.grants + "\n[assistance]\nconsent_seconds = 30\n",
                           agentArguments: ["--session-user", testSessionUser])
        }
        let seat = school.seats["B204-01"]!
        let xev = try await offThePool { try keyPrinter(on: seat.display) }
        defer { xev.kill() }
        var env = ProcessInfo.processInfo.environment
        env["DISPLAY"] = seat.display
        let display = env

        // A view, accepted.
        let viewing = try AssistProcess(school, seat: "B204-01", as: "admin")
        try await offThePool { try Self.press(seat.display, ["Tab", "space"]) }
        let opened = try await offThePool { HelpRequests.firstJSON(viewing.child) }
        #expect(opened["code"] == "assist.started", "\(opened)")
        let intervention = try #require(opened["intervention"], "\(opened)")
        let port = try #require(opened["address"]?.split(separator: ":").last.flatMap { Int($0) }, "\(opened)")
        let dir = try TempDir()
        let go = dir.path + "/go"
        let viewer = try Self.viewerTypingLater(port: port, password: opened["password"] ?? "", go: go)
        defer { viewer.kill() }
        #expect(try await offThePool { viewer.readLine(timeout: 20) } == "typed", "\(viewer.readAllStderr())")

        // Another helper may not ask in this assistance.
        let stranger = try await offThePool { try Self.askControl(school, intervention, as: "technician") }
        let notYours = try await offThePool { stranger.readLine(timeout: 30) ?? "" }
        #expect(notYours.contains("assist.not-yours"), "\(notYours)")

        // Asked, refused: the view goes on.
        let first = try Self.askControl(school, intervention, as: "admin")
        try await offThePool { try Self.press(seat.display, ["Escape"], name: "Prise en main") }
        let no = try await offThePool { first.readLine(timeout: 30) ?? "" }
        #expect(no.contains("assist.control-refused"), "\(no)")
        #expect(try journalEvents(school, "B204-01", features: ["assist"]).last?.code == "assist.control-refused")

        // Asked again, accepted: the banner says so and the open viewer's keys reach the seat.
        let second = try Self.askControl(school, intervention, as: "admin")
        try await offThePool { try Self.press(seat.display, ["Tab", "space"], name: "Prise en main") }
        let yes = try await offThePool { second.readLine(timeout: 30) ?? "" }
        #expect(yes.contains("assist.control-given"), "\(yes)")
        let banner = await eventually(10) {
            (try? run(["xdotool", "search", "--onlyvisible", "--name", "a la main sur le clavier"], timeout: 5, environment: display).status) == 0
        }
        #expect(banner, "the banner says the helper has the keyboard and mouse")
        // Asked again while it controls (the viewer still connected): nothing to ask.
        let asked = try await offThePool { try Self.askControl(school, intervention, as: "admin") }
        let already = try await offThePool { asked.readLine(timeout: 30) ?? "" }
        #expect(already.contains("assist.already-control"), "\(already)")
        FileManager.default.createFile(atPath: go, contents: Data())
        let keys = try await offThePool { xevKeys(xev, until: ["6f", "6b"]) }
        #expect(keys.contains("6f") && keys.contains("6b"), "the viewer types once control is given: \(keys) \(viewer.readAllStderr())")
        #expect(!keys.contains("78"), "nothing typed while it only viewed: \(keys)")
        viewing.child.signal(SIGINT)
        _ = try await offThePool { viewing.child.wait(timeout: 15) }
        let ended = try journalEvents(school, "B204-01", features: ["assist"])
        let given = ended.first { $0.code == "assist.control-given" }
        #expect(given?.params["id"] == intervention && given?.params["user"] == testSessionUser, "\(ended)")
        // The intervention's sheet says control was given later, and when.
        let csv = dir.path + "/interventions.csv"
        var row = ""
        let exported = await eventually(20) {
            _ = try? run([product("vigie"), "register", "export", "--kind", "interventions", "--format", "csv", "--out", csv,
                          "--config", school.configPath, "--identity", school.people["head"]!])
            row = ((try? String(contentsOfFile: csv, encoding: .utf8)) ?? "").split(separator: "\r\n")
                .first { $0.hasPrefix(intervention + ",") }.map(String.init) ?? ""
            return row.contains(",control,")
        }
        #expect(exported && !row.hasSuffix(","), "the sheet: \(row)")

        // A helper who leaves before the person answers: the question is taken off the screen.
        let leaving = try AssistProcess(school, seat: "B204-01", as: "admin")
        _ = try await offThePool { try run(["xdotool", "search", "--sync", "--onlyvisible", "--classname", "vigie-consent"], timeout: 20, environment: display) }
        leaving.child.kill()
        let gone = await eventually(10) {
            (try? run(["xdotool", "search", "--onlyvisible", "--classname", "vigie-consent"], timeout: 5, environment: display).status) != 0
        }
        #expect(gone, "the question left with its helper")
        let withdrawn = await eventually(10) {
            (try? journalEvents(school, "B204-01", features: ["assist"]).last?.code) == "assist.withdrawn"
        }
        #expect(withdrawn, "\(String(describing: try? journalEvents(school, "B204-01", features: ["assist"]).last))")
    }
}

/// The journal's `view` and `control` events on a seat.
func remoteEvents(_ school: TestSchool, _ seat: String) throws -> [(outcome: String, code: String, params: [String: String])] {
    try journalEvents(school, seat, features: ["view", "control"])
}
