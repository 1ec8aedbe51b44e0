import Foundation
import Testing
import VigiePKI
import VigieScreen
import VigieTestSupport

/// The journal's events of `features` on a seat: outcome, code and parameters, in order.
func journalEvents(_ school: TestSchool, _ seat: String, features: Set<String>) throws -> [(outcome: String, code: String, params: [String: String])] {
    let path = school.seats[seat]!.stateDir + "/journal.sqlite"
    let r = try run(["python3", "-c", """
        import sqlite3, sys, json
        db = sqlite3.connect(sys.argv[1])
        wanted = set(sys.argv[2].split(","))
        for (content,) in db.execute("SELECT content FROM journal ORDER BY seq"):
            e = json.loads(content)
            if e["feature"] in wanted:
                print(json.dumps([e["outcome"], e["code"], e.get("params", {})]))
        """, path, features.sorted().joined(separator: ",")])
    return r.stdout.split(separator: "\n").compactMap { line in
        guard let a = (try? JSONSerialization.jsonObject(with: Data(line.utf8))) as? [Any], a.count == 3 else { return nil }
        return (a[0] as? String ?? "", a[1] as? String ?? "", a[2] as? [String: String] ?? [:])
    }
}

/// The journal's `watch` events on a seat.
func watchEvents(_ school: TestSchool, _ seat: String) throws -> [(outcome: String, code: String, params: [String: String])] {
    try journalEvents(school, seat, features: ["watch"])
}

/// A process's resident memory (VmRSS), in KiB; 0 when it cannot be read.
func residentKiB(_ pid: Int32) -> Int {
    guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8),
          let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmRSS:") }) else { return 0 }
    return Int(line.split(separator: " ").dropFirst().first ?? "") ?? 0
}

/// `vigie watch` running as a person of the school, its JSON Lines read as they come.
final class WatchProcess: @unchecked Sendable {
    let child: ChildProcess

    init(_ school: TestSchool, _ args: [String], as who: String = "teacher") throws {
        var env = ProcessInfo.processInfo.environment
        env["LANG"] = "fr_FR.UTF-8"
        child = try ChildProcess([product("vigie"), "watch", "--json", "--config", school.configPath, "--identity", school.people[who]!] + args,
                                 environment: env)
    }

    /// The next line whose state is one of `states`, within `timeout` seconds
    /// (read on a thread of its own: the concurrency pool stays free).
    func next(_ states: Set<String>, timeout: Double) async -> [String: Any]? {
        let child = self.child
        let line = try? await offThePool { () -> String? in
            let deadline = Date().addingTimeInterval(timeout)
            while Date() < deadline {
                guard let line = child.readLine(timeout: deadline.timeIntervalSinceNow) else { return nil }
                guard let object = (try? JSONSerialization.jsonObject(with: Data(line.utf8))) as? [String: Any] else { continue }
                if let state = object["state"] as? String, states.contains(state) { return line }
            }
            return nil
        }
        guard let line = line ?? nil else { return nil }
        return (try? JSONSerialization.jsonObject(with: Data(line.utf8))) as? [String: Any]
    }

    deinit {
        child.kill()
        _ = child.wait(timeout: 5)
    }
}

@Suite(.serialized) struct LiveOverview {
    static let stalledViewer = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures/stalled-viewer.py").path

    @Test func aWatchedSeatSendsAPictureWhenItsScreenChangesShowsWhoWatchesAndJournalsStartAndStop() async throws {
        let school = try await offThePool { try TestSchool(seats: [("B204-01", "B204")]) }
        let seat = school.seats["B204-01"]!
        let watch = try WatchProcess(school, ["--seat", "B204-01", "--interval", "0.2"])
        #expect(await watch.next(["open"], timeout: 10) != nil)
        let first = await watch.next(["picture"], timeout: 10)
        #expect(first?["width"] as? Int == 320, "\(String(describing: first))")
        #expect((first?["bytes"] as? Int ?? 0) > 100)
        // The person at the seat sees who watches, for as long as it lasts.
        let held1 = await eventually(5) { (try? indicatorShown(seat.xvfb)) == true }
        #expect(held1)
        let tree = try run(["xwininfo", "-root", "-tree", "-display", seat.display]).stdout
        #expect(tree.contains("vigie-indicator"), "\(tree)")
        // Once the screen is still (the banner and the login notice are drawn), no
        // picture comes for ten of the stream's ticks: a seat that sent at every tick
        // would never be quiet for that long.
        var quiet = false
        for _ in 0..<15 where !quiet { quiet = await watch.next(["picture"], timeout: 2) == nil }
        #expect(quiet, "a still screen sends no picture")
        // Something drawn on the seat arrives as a new picture.
        _ = try run(["xsetroot", "-solid", "#c0392b", "-display", seat.display])
        #expect(await watch.next(["picture"], timeout: 5) != nil, "a change on the screen makes a new picture")
        // The viewer leaves (Ctrl-C): the banner goes, the journal has the stop with its duration.
        watch.child.signal(SIGINT)
        #expect(watch.child.wait(timeout: 10) != nil)
        let held2 = await eventually(5) { (try? indicatorShown(seat.xvfb)) == false }
        #expect(held2, "the banner goes when the viewer leaves")
        let held3 = await eventually(5) { (try? watchEvents(school, "B204-01").last?.code) == "watch.stopped" }
        #expect(held3)
        let events = try watchEvents(school, "B204-01")
        #expect(events.count == 2, "one event at the start, one at the stop: \(events)")
        #expect(events.first?.outcome == "started" && events.first?.code == "watch.started")
        let stop = events.last!
        #expect(stop.params["why"] == "watch.viewer-ended")
        #expect(stop.params["started"] != nil)
        #expect(Int(stop.params["seconds"] ?? "") ?? -1 >= 1)
        #expect(Int(stop.params["frames"] ?? "") ?? 0 >= 2)
    }

    @Test func aConsoleThatVanishesEndsTheStreamAndTheBannerWithinSeconds() async throws {
        let school = try await offThePool { try TestSchool(seats: [("B204-01", "B204")]) }
        let seat = school.seats["B204-01"]!
        let watch = try WatchProcess(school, ["--seat", "B204-01"])
        #expect(await watch.next(["picture"], timeout: 10) != nil)
        let held4 = await eventually(5) { (try? indicatorShown(seat.xvfb)) == true }
        #expect(held4)
        // A laptop put to sleep: the connection stays open, nothing comes from it.
        watch.child.signal(SIGSTOP)
        defer { watch.child.signal(SIGCONT) }
        let held5 = await eventually(10) { (try? watchEvents(school, "B204-01").last?.params["why"]) == "watch.viewer-lost" }
        #expect(held5)
        let held6 = await eventually(5) { (try? indicatorShown(seat.xvfb)) == false }
        #expect(held6)
    }

    /// A console that stops reading (its window full) while it still heartbeats:
    /// the seat makes no picture it cannot send, so its memory does not grow with
    /// the pictures missed; when that console then falls silent too, the stream
    /// ends within seconds although a write is stuck in the connection.
    @Test func aViewerThatStopsReadingGetsNoQueueOfPicturesAndIsLetGoWhenSilent() async throws {
        let school = try await offThePool { try TestSchool(seats: [("B204-01", "B204")]) }
        let seat = school.seats["B204-01"]!
        let painter = try ChildProcess(["python3", Self.stalledViewer, "paint", seat.display])
        defer { painter.kill() }
        let viewer = try ChildProcess(["python3", Self.stalledViewer, "viewer", String(seat.port), school.people["teacher"]!,
                                       "--width", "640", "--interval", "200"])
        defer { viewer.kill() }
        let child = viewer
        let first = try await offThePool { child.readLine(timeout: 20) }
        #expect(first?.hasPrefix("watching") == true, "\(String(describing: first)) \(viewer.readAllStderr())")
        let pictureBytes = Int(first?.split(separator: " ").last ?? "") ?? 0
        #expect(pictureBytes > 20_000, "noise makes pictures that fill buffers: \(pictureBytes) bytes")
        // Fifteen seconds of a stream at five pictures a second that nobody reads,
        // the agent's resident memory sampled meanwhile.
        let agentPid = seat.agent!.pid
        let rssBefore = residentKiB(agentPid)
        var rssMost = rssBefore
        let window = Date().addingTimeInterval(15)
        while Date() < window {
            rssMost = max(rssMost, residentKiB(agentPid))
            try await Task.sleep(for: .milliseconds(250))
        }
        #expect(try watchEvents(school, "B204-01").map(\.code) == ["watch.started"], "a viewer that heartbeats is still watching")
        // Now it falls silent too: let go within the heartbeat limit and a little.
        let silentAt = Date()
        viewer.signal(SIGUSR1)
        let stopped = await eventually(10) { (try? watchEvents(school, "B204-01").last?.code) == "watch.stopped" }
        #expect(stopped, "the stream ends although its write is stuck")
        let took = Date().timeIntervalSince(silentAt)
        let stop = try watchEvents(school, "B204-01").last!
        #expect(stop.params["why"] == "watch.viewer-lost", "\(stop)")
        let seconds = Int(stop.params["seconds"] ?? "") ?? 0
        let frames = Int(stop.params["frames"] ?? "") ?? .max
        // At five a second the stream had some 75 ticks of a changing screen; it made
        // only the pictures the connection could take (a few buffers' worth): no
        // picture waits in the seat's memory for a reader.
        #expect(seconds >= 15)
        #expect(frames >= 2, "the screen changed at every tick and the seat sent until the connection was full: \(frames)")
        #expect(painter.process.isRunning, "the noise painter failed: \(painter.readAllStderr())")
        #expect(frames <= 30, "pictures made for a viewer that did not read: \(frames) in \(seconds) s")
        let gone = await eventually(5) { (try? indicatorShown(seat.xvfb)) == false }
        #expect(gone, "the banner goes")
        // For the record (the count of pictures above is the check).
        print("stalled viewer: \(frames) pictures in \(seconds) s, \(pictureBytes) bytes each; agent RSS \(rssBefore) → at most \(rssMost) KiB; ended \(String(format: "%.1f", took)) s after the viewer fell silent")
    }

    @Test func aLibraryStreamPausesAtTheEndOfItsWindowSayingWhenTheNextOpens() async throws {
        let school = try await offThePool { try TestSchool(seats: [("CDI-01", "CDI"), ("B204-01", "B204")], runAgents: false) }
        let monday = parisDateOfNextMonday()
        try school.startAgent("CDI-01", clock: "\(monday) 11:44:56")
        try school.startAgent("B204-01")
        // A teacher may not watch the library at all: refused, no stream.
        let teacher = try school.vigie(["watch", "--room", "CDI", "--once", "--out", school.dir + "/w"])
        #expect(teacher.status == 1)
        #expect(teacher.lines.first?["state"] as? String == "refused", "\(teacher)")
        // The librarian, just before the end of the morning window: pictures, then a pause at 11:45.
        let watch = try WatchProcess(school, ["--room", "CDI", "--interval", "0.5"], as: "librarian")
        #expect(await watch.next(["picture"], timeout: 10) != nil)
        let paused = await watch.next(["paused"], timeout: 15)
        #expect(paused?["code"] as? String == "policy.time-window", "\(String(describing: paused))")
        #expect((paused?["message"] as? String ?? "").contains("prochaine plage : lundi 13:15"), "\(String(describing: paused))")
        let events = try watchEvents(school, "CDI-01")
        #expect(events.contains { $0.outcome == "refused" && $0.code == "policy.time-window" && $0.params["started"] != nil }, "\(events)")
    }

    @Test func outsideItsWindowsALibraryStreamWaitsThenStartsOnTheSeatsOwnClock() async throws {
        let school = try await offThePool { try TestSchool(seats: [("CDI-01", "CDI")], runAgents: false) }
        try school.startAgent("CDI-01", clock: "\(parisDateOfNextMonday()) 13:14:57")
        let watch = try WatchProcess(school, ["--room", "CDI", "--interval", "0.5"], as: "librarian")
        let paused = await watch.next(["paused", "picture"], timeout: 10)
        #expect(paused?["state"] as? String == "paused", "no picture before the window: \(String(describing: paused))")
        #expect(await watch.next(["resumed"], timeout: 10) != nil)
        #expect(await watch.next(["picture"], timeout: 5) != nil, "pictures from 13:15")
    }

    @Test func aRevokedCertificatesStreamStopsWhenTheNewConfigArrives() async throws {
        let school = try await offThePool { try TestSchool(seats: [("B204-01", "B204")], withServer: true) }
        let watch = try WatchProcess(school, ["--seat", "B204-01"])
        #expect(await watch.next(["picture"], timeout: 10) != nil)
        // The admin revokes the teacher's certificate and publishes the signed config.
        let teacherSerial = try IdentityBundle.load(from: school.people["teacher"]!).serialHex
        let text = try String(contentsOfFile: school.configPath, encoding: .utf8)
            .replacingOccurrences(of: "revoked = [\"", with: "revoked = [\"\(teacherSerial)\", \"")
        try text.write(toFile: school.dir + "/v1.toml", atomically: true, encoding: .utf8)
        let signed = try run([product("vigie"), "config", "sign", school.dir + "/v1.toml", "--ca", school.dir + "/ca", "--version", "1", "--out", school.dir + "/v1.json"])
        #expect(signed.status == 0, "\(signed)")
        #expect(try school.vigie(["config", "publish", school.dir + "/v1.json"], as: "admin", json: false).status == 0)
        // The seat fetches it and ends the stream it was sending, saying why.
        let ended = await watch.next(["ended"], timeout: 15)
        #expect(ended?["code"] as? String == "auth.revoked", "\(String(describing: ended))")
        let held7 = await eventually(5) { (try? watchEvents(school, "B204-01").last?.params["why"]) == "auth.revoked" }
        #expect(held7)
    }

    @Test func aStreamCutByAnAgentCrashIsClosedInTheRegisterWhenTheAgentComesBack() async throws {
        let school = try await offThePool { try TestSchool(seats: [("B204-01", "B204")]) }
        let watch = try WatchProcess(school, ["--seat", "B204-01"])
        #expect(await watch.next(["picture"], timeout: 10) != nil)
        school.killAgent("B204-01")
        #expect(await watch.next(["ended"], timeout: 10) != nil, "the console sees the stream end")
        #expect(try watchEvents(school, "B204-01").map(\.code) == ["watch.started"], "nothing could say how it ended")
        try school.startAgent("B204-01")
        let held8 = await eventually(5) { (try? watchEvents(school, "B204-01").last?.params["why"]) == "watch.agent-restarted" }
        #expect(held8)
        let events = try watchEvents(school, "B204-01")
        #expect(events.count == 2, "\(events)")
        #expect(events.last?.params["seconds_at_most"] != nil)
        #expect(events.last?.params["started"] != nil)
    }

    @Test func theSeatNarrowsAViewersPictureToTheSchoolsBounds() async throws {
        let school = try await offThePool { try TestSchool(seats: [("B204-01", "B204")], extraConfig: "\n[watch]\nmax_width = 200\n") }
        let watch = try WatchProcess(school, ["--seat", "B204-01", "--width", "640"])
        let opened = await watch.next(["open"], timeout: 10)
        #expect((opened?["params"] as? [String: String])?["width"] == "200", "\(String(describing: opened))")
        // And the viewer is told so, in words.
        #expect(opened?["code"] as? String == "watch.started-narrowed", "\(String(describing: opened))")
        #expect((opened?["message"] as? String ?? "").contains("l’établissement limite ce qui était demandé (640 px"), "\(String(describing: opened))")
        #expect(await watch.next(["picture"], timeout: 10)?["width"] as? Int == 200)
    }
}

extension LiveOverview {
    /// While the seat is locked, the lock itself draws who watches (no window fights
    /// it for the top), and the notice goes when the viewer leaves, the lock staying.
    @Test func whileLockedTheLockDrawsWhoWatchesUntilTheViewerLeaves() async throws {
        let school = try await offThePool { try TestSchool(seats: [("B204-01", "B204")]) }
        let seat = school.seats["B204-01"]!
        let watch = try WatchProcess(school, ["--seat", "B204-01", "--interval", "0.2"])
        #expect(await watch.next(["picture"], timeout: 10) != nil)
        let windowFirst = await eventually(5) { (try? run(["xwininfo", "-root", "-tree", "-display", seat.display]).stdout.contains("vigie-indicator")) == true }
        #expect(windowFirst, "unlocked: the banner is a window of its own")
        #expect(try school.vigie(["lock", "--seat", "B204-01"]).status == 0)
        // The next ticks move the notice onto the lock.
        let onLock = await eventually(10) {
            let tree = (try? run(["xwininfo", "-root", "-tree", "-display", seat.display]).stdout) ?? ""
            return !tree.contains("vigie-indicator") && (try? indicatorShown(seat.xvfb)) == true
        }
        #expect(onLock, "locked: the lock draws who watches, and no other window is up")
        watch.child.signal(SIGINT)
        #expect(watch.child.wait(timeout: 10) != nil)
        let gone = await eventually(10) { (try? indicatorShown(seat.xvfb)) == false }
        #expect(gone, "the notice goes when the viewer leaves")
        #expect(try keyboardHeld(seat.display), "and the lock stays")
    }
}

/// The dashboard in a real browser: Chromium through Selenium and chromedriver
/// (Debian's `chromium`, `chromium-driver`, `python3-selenium`), driven by
/// Tests/Fixtures/dashboard-browser.py; the lock is checked on the X display.
@Suite(.serialized) struct DashboardInChromium {
    static let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures/dashboard-browser.py").path

    /// A browser is heavy on two cores: it runs when no other heavy test does.
    @Test func aTeacherSeesTheRoomLiveAndLocksASeatFromThePage() async throws {
        try await oneHeavyTestAtATime { try await teacherSeesTheRoomLiveAndLocksASeatFromThePage() }
    }

    /// Chromium and its driver are there (`make deps`); a missing one is a failure, not a skip.
    static func browserInstalled() -> Bool {
        for tool in ["/usr/bin/chromedriver", "/usr/bin/chromium"] where !FileManager.default.isExecutableFile(atPath: tool) {
            Issue.record("\(tool) is missing: apt-get install chromium chromium-driver python3-selenium (make deps)")
            return false
        }
        return true
    }

    /// `vigie watch --no-browser` as `who`, and the address it printed.
    static func dashboard(_ school: TestSchool, room: String, as who: String) async throws -> (ChildProcess, String) {
        var env = ProcessInfo.processInfo.environment
        env["LANG"] = "fr_FR.UTF-8"
        let watch = try ChildProcess([product("vigie"), "watch", "--room", room, "--no-browser", "--interval", "0.5", "--out", school.dir + "/shots",
                                      "--config", school.configPath, "--identity", school.people[who]!], environment: env)
        let first = try await offThePool { watch.readLine(timeout: 20) ?? "" }
        let address = first.split(separator: " ").last.map(String.init) ?? ""
        #expect(address.hasPrefix("http://127.0.0.1:"), "\(first) \(watch.readAllStderr())")
        return (watch, address)
    }

    /// The browser's steps, read on a thread of their own (the concurrency pool stays free).
    static func steps(of browser: ChildProcess, until last: String) async throws -> [String] {
        try await offThePool { () -> [String] in
            var steps: [String] = []
            while let line = browser.readLine(timeout: 90) {
                steps.append(line)
                if line.hasPrefix("fail") || line.hasPrefix(last) { break }
            }
            return steps
        }
    }

    /// The librarian's tile of a library seat shows pictures, then, when the morning
    /// window ends on the seat's own clock, no picture but why and the next window.
    @Test func aLibrariansTileSaysWhenTheWindowEndedAndWhenTheNextOpens() async throws {
        try await oneHeavyTestAtATime { try await librariansTileSaysWhenTheWindowEnded() }
    }

    func librariansTileSaysWhenTheWindowEnded() async throws {
        guard Self.browserInstalled() else { return }
        let school = try await offThePool { try TestSchool(seats: [("CDI-01", "CDI")], runAgents: false) }
        // Twenty-five seconds of the window left: time for Chromium to start and see a picture.
        try school.startAgent("CDI-01", clock: "\(parisDateOfNextMonday()) 11:44:35")
        let (watch, address) = try await Self.dashboard(school, room: "CDI", as: "librarian")
        defer {
            watch.signal(SIGINT)
            if watch.wait(timeout: 10) == nil { watch.kill() }
        }
        let browser = try ChildProcess(["/usr/bin/python3", Self.script, address, "--window", "CDI-01"], stdin: Data())
        defer {
            browser.kill()
            _ = browser.wait(timeout: 10)
        }
        let steps = try await Self.steps(of: browser, until: "ok tile-says-why")
        #expect(!steps.contains { $0.hasPrefix("fail") }, "\(steps) \(browser.readAllStderr())")
        #expect(steps.contains("ok tile-has-a-picture "), "\(steps)")
        let why = steps.last { $0.hasPrefix("ok tile-says-why") } ?? ""
        #expect(why.contains("prochaine plage : lundi 13:15"), "\(why)")
        #expect(why.contains("09:15–11:45"), "the posted hours: \(why)")
    }

    /// A click on a tile: the seat full size through noVNC (Debian's), its canvas
    /// the seat's screen; « Prendre la main » types on the seat; the seat cut off,
    /// the page says so.
    @Test func aTeacherOpensASeatFullSizeTakesControlAndIsToldWhenTheSeatIsLost() async throws {
        try await oneHeavyTestAtATime { try await remoteViewInThePage() }
    }

    func remoteViewInThePage() async throws {
        guard Self.browserInstalled(), RemoteViewHelper.clientInstalled() else { return }
        #expect(FileManager.default.fileExists(atPath: "/usr/share/novnc/core/rfb.js"), "apt-get install novnc (make deps)")
        let school = try await offThePool { try TestSchool(seats: [("B204-01", "B204")]) }
        let seat = school.seats["B204-01"]!
        // A window that prints the keys it gets, under the pointer's place (12, 470).
        let display = seat.display
        let xev = try await offThePool { try keyPrinter(on: display) }
        defer { xev.kill() }
        let (watch, address) = try await Self.dashboard(school, room: "B204", as: "teacher")
        defer {
            watch.signal(SIGINT)
            if watch.wait(timeout: 10) == nil { watch.kill() }
        }
        let dir = try TempDir()
        let browser = try ChildProcess(["/usr/bin/python3", Self.script, address, "--remote", "B204-01", seat.display,
                                        RemoteViewHelper.venv + "/python", RemoteViewHelper.fixtures + "/vnc-check.py", dir.path], stdin: Data())
        defer {
            browser.kill()
            _ = browser.wait(timeout: 10)
        }
        let steps = try await Self.steps(of: browser, until: "typed")
        #expect(steps.last == "typed", "\(steps) \(browser.readAllStderr())")
        for expected in ["remote-connected", "takeover-offered", "canvas-matches-the-seat", "control-connected"] {
            #expect(steps.contains { $0.hasPrefix("ok \(expected)") }, "\(expected): \(steps)")
        }
        // The keys typed in the page reached the seat's X display.
        let keys = try await offThePool { xevKeys(xev, until: ["4f", "6b"]) }
        #expect(keys.contains("4f") && keys.contains("6b"), "keys of 'Ok' typed in the page: \(keys)")
        // While controlled, the seat's notice has the control colour.
        let red = await eventually(10) {
            guard let shot = try? seat.xvfb.screenshot() else { return false }
            return stride(from: 0, to: shot.width, by: 8).contains { shot.pixel(x: $0, y: 4) == Indicator.controlBackgroundRGB }
        }
        #expect(red, "the seat shows that someone controls it, in the control colour")
        // The seat goes away: the page says the connection was lost.
        school.killAgent("B204-01")
        let lost = try await Self.steps(of: browser, until: "ok lost-reported")
        #expect(lost.last?.hasPrefix("ok lost-reported") == true && lost.last?.contains("Connexion au poste perdue") == true,
                "\(lost) \(browser.readAllStderr())")
        let events = try remoteEvents(school, "B204-01").map(\.code)
        #expect(events.contains("view.started") && events.contains("control.started"), "\(events)")
    }

    /// A technician's page lists the help request; the code the person gives opens
    /// their screen once they accept on it; control is asked and given there, the
    /// page types on the seat; closing it opens the intervention sheet, saved in the
    /// register from the page.
    @Test func aTechnicianHelpsFromThePageAndCompletesTheSheetThere() async throws {
        try await oneHeavyTestAtATime { try await technicianHelpsFromThePage() }
    }

    func technicianHelpsFromThePage() async throws {
        guard Self.browserInstalled(), RemoteViewHelper.clientInstalled() else { return }
        let school = try await offThePool {
            try TestSchool(seats: [("B204-01", "B204")], withServer: true, extraConfig: HelpRequests.grants,
                           agentArguments: ["--session-user", testSessionUser])
        }
        let seat = school.seats["B204-01"]!
        let xev = try await offThePool { try keyPrinter(on: seat.display) }
        defer { xev.kill() }
        // The person asks for help on the seat.
        let asked = try await offThePool { try HelpRequests.askHelp(school, seat: "B204-01", problem: "imprimante absente") }
        let code = try #require(asked.code, "\(asked.text)")
        asked.child.kill()
        let (watch, address) = try await Self.dashboard(school, room: "B204", as: "technician")
        defer {
            watch.signal(SIGINT)
            if watch.wait(timeout: 10) == nil { watch.kill() }
        }
        let dir = try TempDir()
        let go = dir.path + "/go"
        let shot = ProcessInfo.processInfo.environment["VIGIE_ASSIST_SHOT"]
        let browser = try ChildProcess(["/usr/bin/python3", Self.script, address, "--assist", "B204-01", code, "imprimante absente", go]
                                        + (shot.map { [$0] } ?? []), stdin: Data())
        defer {
            browser.kill()
            _ = browser.wait(timeout: 10)
        }
        var steps = try await Self.steps(of: browser, until: "ok assist-asked")
        // The person accepts on their screen, then gives the keyboard and mouse.
        try await offThePool { try Assistance.press(seat.display, ["Tab", "space"]) }
        steps += try await Self.steps(of: browser, until: "control-asked")
        try await offThePool { try Assistance.press(seat.display, ["Tab", "space"], name: "Prise en main") }
        steps += try await Self.steps(of: browser, until: "typed")
        #expect(steps.last == "typed", "\(steps) \(browser.readAllStderr())")
        let keys = try await offThePool { xevKeys(xev, until: ["4f", "6b"]) }
        #expect(keys.contains("4f") && keys.contains("6b"), "keys of 'Ok' typed in the page: \(keys)")
        FileManager.default.createFile(atPath: go, contents: Data())
        steps += try await Self.steps(of: browser, until: "ok sheet-saved")
        #expect(!steps.contains { $0.hasPrefix("fail") }, "\(steps) \(browser.readAllStderr())")
        for expected in ["help-listed", "assist-connected", "control-offered", "control-given", "sheet-opened"] {
            #expect(steps.contains { $0.hasPrefix("ok \(expected)") }, "\(expected): \(steps)")
        }
        let saved = steps.last ?? ""
        #expect(saved.hasPrefix("ok sheet-saved") && saved.contains("complétée"), "\(saved)")
        // The sheet, as the head exports it: what was written in the page, control given later.
        let csv = dir.path + "/interventions.csv"
        var row = ""
        let exported = await eventually(20) {
            _ = try? run([product("vigie"), "register", "export", "--kind", "interventions", "--format", "csv", "--out", csv,
                          "--config", school.configPath, "--identity", school.people["head"]!])
            row = ((try? String(contentsOfFile: csv, encoding: .utf8)) ?? "").split(separator: "\r\n").dropFirst().first.map(String.init) ?? ""
            return row.contains("Pilote réinstallé") && row.contains(",control,")
        }
        #expect(exported, "the sheet: \(row)")
    }

    func teacherSeesTheRoomLiveAndLocksASeatFromThePage() async throws {
        guard Self.browserInstalled() else { return }
        let school = try await offThePool { try TestSchool(seats: [("B204-01", "B204"), ("B204-02", "B204")]) }
        let (watch, address) = try await Self.dashboard(school, room: "B204", as: "teacher")
        defer {
            watch.signal(SIGINT)
            if watch.wait(timeout: 10) == nil { watch.kill() }
        }
        let seat = school.seats["B204-01"]!
        let browser = try ChildProcess(["/usr/bin/python3", Self.script, address, "B204-01", seat.display,
                                        ProcessInfo.processInfo.environment["VIGIE_DASHBOARD_SHOT"] ?? ""].filter { !$0.isEmpty },
                                       stdin: Data())
        defer {
            browser.kill()
            _ = browser.wait(timeout: 10)
        }
        let steps = try await Self.steps(of: browser, until: "ready-to-check-the-seat")
        #expect(!steps.contains { $0.hasPrefix("fail") }, "\(steps) \(browser.readAllStderr())")
        #expect(steps.last == "ready-to-check-the-seat", "\(steps) \(browser.readAllStderr())")
        for expected in ["no-cookie-refused", "wrong-token-refused", "other-origin-refused", "other-host-refused", "token-exchanged",
                         "every-tile-has-a-decoded-picture", "tile-changes-after-the-screen-changes", "token-works-once", "page-says-locked"] {
            #expect(steps.contains { $0.hasPrefix("ok \(expected)") }, "\(expected): \(steps)")
        }
        // The seat is locked: checked on its X display, not through Vigie.
        let held = await eventually(5) { (try? keyboardHeld(seat.display)) == true }
        #expect(held)
        #expect(try !keyboardHeld(school.seats["B204-02"]!.display), "only the selected seat")
    }
}

