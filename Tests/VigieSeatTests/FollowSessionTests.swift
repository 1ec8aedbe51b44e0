import Foundation
import Logging
import Testing
import VigieConfig
import VigieLogin
import VigieModel
import VigiePKI
import VigieRegister
import VigieSeatState
import VigieTestSupport
import VigieWire
@testable import VigieAgent

/// A logind the test drives: the seat's active session is whatever the test says.
final class FakeLoginSessions: LoginSessions, @unchecked Sendable {
    private let lock = NSLock()
    private var lookup: SessionLookup
    private var continuations: [AsyncStream<Void>.Continuation] = []

    init(_ lookup: SessionLookup) { self.lookup = lookup }

    func activeSession() -> SessionLookup { lock.withLock { lookup } }

    func changes() -> AsyncStream<Void> {
        let (stream, continuation) = AsyncStream<Void>.makeStream(bufferingPolicy: .bufferingNewest(1))
        lock.withLock { continuations.append(continuation) }
        return stream
    }

    /// logind's view changes: the agent is told, as by sd-login's monitor.
    func set(_ new: SessionLookup) {
        let waiting = lock.withLock { () -> [AsyncStream<Void>.Continuation] in
            lookup = new
            return continuations
        }
        for c in waiting { c.yield() }
    }
}

/// An in-process agent on two Xvfb displays, following a fake logind: the
/// display switch, the lock that follows the session, the login notice, the
/// session user in the journal, and Wayland and no-session answers.
@Suite(.serialized) struct FollowSessionTests {
    let dir: String
    let config: SchoolConfig
    let seatIdentity: IdentityBundle
    let teacher: (identity: Identity, serial: String)

    init() throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("vigie-seat-\(getpid())-\(UUID().uuidString.prefix(8))").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let ca = try SchoolCA.create(schoolID: "0750001A", schoolName: "Lycée des sessions")
        let seat = Identity(schoolID: "0750001A", kind: .seat(id: "B204-01"), displayName: "B204-01")
        _ = try ca.issue(identity: seat, ipAddresses: ["127.0.0.1"]).save(to: dir + "/seat", caCertificatePEM: ca.certificatePEM)
        seatIdentity = try IdentityBundle.load(from: dir + "/seat")
        let person = Identity(schoolID: "0750001A", kind: .person(login: "pdupont", role: .teacher), displayName: "M. Dupont")
        _ = try ca.issue(identity: person).save(to: dir + "/teacher", caCertificatePEM: ca.certificatePEM)
        teacher = (person, try IdentityBundle.load(from: dir + "/teacher").serialHex)
        let text = """
            [school]
            id = "0750001A"
            name = "Lycée des sessions"
            language = "fr"

            [rooms.B204]
            purpose = "pedagogy"
            time_zone = "Europe/Paris"

            [[rooms.B204.seats]]
            id = "B204-01"
            address = "127.0.0.1:7443"

            [[grants]]
            role = "teacher"
            rooms = ["B204"]
            features = ["lock", "unlock", "message", "screenshot", "thumbnail", "status"]

            """
        try text.write(toFile: dir + "/school.toml", atomically: true, encoding: .utf8)
        config = try ConfigLoader.load(path: dir + "/school.toml")
    }

    func ask(_ agent: SeatAgent, _ feature: String, _ args: [String: String] = [:]) async -> Response {
        let frame = Frame.request(Request(id: 1, feature: feature, args: args))
        let response = await agent.answer(frame, from: teacher).response
        return response
    }

    /// The running `vigie-ui lock` helper's display, from its command line.
    func lockDisplay(_ agent: SeatAgent, stateDir: String) -> String? {
        guard case .found(let lock) = RememberedLock.read(stateDir + "/lock.json"), let pid = lock.pid,
              let argv = Spawn.commandLine(of: pid), argv.count > 1, argv[1] == "lock",
              let i = argv.firstIndex(of: "--display"), i + 1 < argv.count else { return nil }
        return argv[i + 1]
    }

    func until(_ seconds: Double = 30, _ condition: () -> Bool) async -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if condition() { return true }
            try? await Task.sleep(nanoseconds: 50_000_000)
        }
        return condition()
    }

    func events(_ agent: SeatAgent) throws -> [RegisterEvent] {
        try agent.journal.all().compactMap(\.event)
    }

    /// An agent following `fake` (its lock keeper and session follower, without
    /// its listener). `stop` ends it and any lock helper left.
    func followingAgent(_ fake: FakeLoginSessions, stateDir: String) throws -> (agent: SeatAgent, stop: () -> Void) {
        var options = AgentOptions(config: config, seatID: "B204-01", identity: seatIdentity, display: nil, stateDir: stateDir,
                                   uiPath: product("vigie-ui"), listenHost: "127.0.0.1", listenPort: 0)
        options.loginSessions = fake
        var logger = Logger(label: "test-agent")
        logger.logLevel = .warning
        let agent = try SeatAgent(options: options, logger: logger)
        agent.locks.start()
        let following = Task { await agent.follow(fake) }
        return (agent, {
            following.cancel()
            agent.locks.stop()
            if case .found(let lock) = RememberedLock.read(stateDir + "/lock.json"), let pid = lock.pid {
                Spawn.stop(pid, mode: "lock")
            }
        })
    }

    @Test func followsSessionsAcrossDisplays() async throws {
        let a = try Xvfb(width: 640, height: 480)
        let b = try Xvfb(width: 800, height: 600)
        defer { a.stop(); b.stop() }
        let greeter = SeatSession(id: "c1", kind: .x11, sessionClass: "greeter", display: a.display, uid: 110, user: "lightdm")
        let pupil = SeatSession(id: "c2", kind: .x11, sessionClass: "user", display: b.display, uid: 1001, user: "eleve1")
        let fake = FakeLoginSessions(.active(greeter))

        let stateDir = dir + "/state"
        let (agent, stop) = try followingAgent(fake, stateDir: stateDir)
        defer { stop() }

        // At the greeter: the agent drives its display, nobody is the session user, no login notice.
        #expect(await until { agent.target.display == a.display })
        #expect(agent.target.sessionUser == nil)
        let shotA = await ask(agent, "screenshot")
        #expect(shotA.status == .ok, "\(shotA.reason)")
        #expect(shotA.reason.params["width"] == "640")
        let locked = await ask(agent, "lock")
        #expect(locked.status == .ok, "\(locked.reason)")
        #expect(lockDisplay(agent, stateDir: stateDir) == a.display)

        // A pupil's session on another display: the lock follows it, the login
        // notice is drawn by the lock, events name the pupil.
        fake.set(.active(pupil))
        #expect(await until { agent.target.display == b.display })
        #expect(agent.target.sessionUser == "eleve1")
        #expect(await until { lockDisplay(agent, stateDir: stateDir) == b.display }, "the lock did not move to \(b.display)")
        #expect(await until {
            (try? events(agent))?.contains { $0.feature == "notice.login" && $0.sessionUser == "eleve1" } ?? false
        }, "no login notice journaled for eleve1")
        let notice = try events(agent).last { $0.feature == "notice.login" }
        #expect(notice?.code == "notice.lock")
        #expect(try events(agent).filter { $0.feature == "notice.login" }.count == 1, "no login notice at the greeter")
        let status = await ask(agent, "status")
        #expect(status.reason.code == "status.locked")
        #expect(try events(agent).last?.sessionUser == "eleve1")
        #expect(try events(agent).first { $0.feature == "lock" }?.sessionUser == nil, "the greeter has no session user")
        let unlocked = await ask(agent, "unlock")
        #expect(unlocked.reason.code == "unlock.done")
        let shotB = await ask(agent, "screenshot")
        #expect(shotB.reason.params["width"] == "800", "the capture follows the display")

        // Logout: back to the greeter; the pupil's name is gone from events.
        fake.set(.active(greeter))
        #expect(await until { agent.target.display == a.display && agent.target.sessionUser == nil })
        _ = await ask(agent, "status")
        #expect(try events(agent).last?.sessionUser == nil)

        // A Wayland session: every X feature fails with session.wayland, in the journal too.
        let wayland = SeatSession(id: "3", kind: .wayland, sessionClass: "user", display: nil, uid: 1002, user: "eleve2")
        fake.set(.active(wayland))
        #expect(await until { agent.target.unavailable?.code == "session.wayland" })
        for feature in ["lock", "message", "screenshot"] {
            let r = await ask(agent, feature, feature == "message" ? ["text": "Bonjour"] : [:])
            #expect(r.status == .failed && r.reason.code == "session.wayland", "\(feature): \(r.status) \(r.reason)")
        }
        let thumb = await ask(agent, "thumbnail", ["width": "160"])
        #expect(thumb.reason.code == "session.wayland")
        let last = try events(agent).last
        #expect(last?.code == "session.wayland" && last?.sessionUser == "eleve2" && last?.outcome == .failed)
        #expect(await ask(agent, "status").status == .ok, "status still answers")

        // Nobody's session: session.none.
        fake.set(.none)
        #expect(await until { agent.target.unavailable?.code == "session.none" })
        #expect(await ask(agent, "lock").reason.code == "session.none")
    }

    /// What LightDM does on a real seat (seen in the seat lab): logind reports the
    /// pupil's new session first with no type and no display, then with its X
    /// display a moment later. The login notice is shown then, once.
    @Test func aSessionWhoseDisplayComesLaterGetsTheLoginNoticeOnce() async throws {
        let x = try Xvfb(width: 640, height: 480)
        defer { x.stop() }
        let fake = FakeLoginSessions(.none)
        let (agent, stop) = try followingAgent(fake, stateDir: dir + "/state3")
        defer { stop() }
        func notices() -> [RegisterEvent] { ((try? events(agent)) ?? []).filter { $0.feature == "notice.login" } }

        let starting = SeatSession(id: "19", kind: .unspecified, sessionClass: "user", display: nil, uid: 1001, user: "eleve1")
        fake.set(.active(starting))
        #expect(await until { agent.target.current.sessionID == "19" })
        #expect(notices().isEmpty, "a notice before the session has a display")
        let withDisplay = SeatSession(id: "19", kind: .x11, sessionClass: "user", display: x.display, uid: 1001, user: "eleve1")
        fake.set(.active(withDisplay))
        #expect(await until { notices().count == 1 }, "no login notice once the display was known")
        #expect(notices().first?.code == "notice.window" && notices().first?.sessionUser == "eleve1", "\(notices())")
        #expect(await until(10) { (try? run(["xwininfo", "-root", "-tree", "-display", x.display]).stdout.contains("vigie-notice")) == true },
                "the notice window is not on the display")
        // The same session changing again (its class, say) does not show it twice.
        fake.set(.active(SeatSession(id: "19", kind: .x11, sessionClass: "user", display: x.display, uid: 1001, user: "eleve")))
        #expect(await until { agent.target.sessionUser == "eleve" })
        #expect(notices().count == 1)
    }

    /// A lock taken while the seat had no X session is not lost: remembered on
    /// disk, it comes back on the next X session, and a new session whose X
    /// server replaced the old one gets the lock again.
    @Test func rememberedLockComesBackOnTheNextSession() async throws {
        let a = try Xvfb(width: 640, height: 480)
        defer { a.stop() }
        let stateDir = dir + "/state2"
        let pupil = SeatSession(id: "c7", kind: .x11, sessionClass: "user", display: a.display, uid: 1001, user: "eleve1")
        let fake = FakeLoginSessions(.active(pupil))
        let (agent, stop) = try followingAgent(fake, stateDir: stateDir)
        defer { stop() }
        #expect(await until { agent.target.display == a.display })
        #expect(await ask(agent, "lock").status == .ok)
        // The display goes away with its session (logout with a new X server).
        fake.set(.none)
        #expect(await until { agent.target.unavailable != nil })
        a.stop()
        #expect(await until { lockDisplay(agent, stateDir: stateDir) == nil })
        #expect(agent.locks.lockedBy != nil, "the lock is remembered")
        // A new session on a new X server: locked again, and its notice is drawn by the lock.
        let c = try Xvfb(width: 640, height: 480)
        defer { c.stop() }
        var next = pupil
        next.id = "c8"
        next.display = c.display
        fake.set(.active(next))
        #expect(await until { lockDisplay(agent, stateDir: stateDir) == c.display }, "not locked again on \(c.display)")
        #expect(await until {
            (try? events(agent))?.contains { $0.feature == "notice.login" && $0.code == "notice.lock" } ?? false
        })
    }
}
