import Foundation
import NIOConcurrencyHelpers
import Testing
import Logging
import VigieAgent
import VigieController
import VigieModel
import VigiePKI
import VigieTestSupport
import VigieWire

/// The console session's kept connections against a real agent.
@Suite struct ConsoleSessionTests {
    /// The local ports of the established TCP connections to `port` (from
    /// /proc/net/tcp and tcp6: a dual-stack listener's are in the second).
    static func connections(to port: Int) -> Set<Int> {
        // Read to the end: /proc files say they are empty, and a one-read reader stops at a page.
        let text = ["/proc/net/tcp", "/proc/net/tcp6"].compactMap { FileHandle(forReadingAtPath: $0)?.readDataToEndOfFile() }
            .map { String(decoding: $0, as: UTF8.self) }.joined(separator: "\n")
        var ports = Set<Int>()
        for line in text.split(separator: "\n") {
            let fields = line.split(separator: " ")
            guard fields.count > 3, fields[3] == "01" else { continue }  // ESTABLISHED
            let local = fields[1].split(separator: ":"), remote = fields[2].split(separator: ":")
            guard local.count == 2, remote.count == 2, Int(remote[1], radix: 16) == port, let mine = Int(local[1], radix: 16) else { continue }
            ports.insert(mine)
        }
        return ports
    }

    /// An idle connection is closed and opened again before the agent's idle
    /// limit would close it: a new connection, no "offline" for the teacher, and
    /// the next command answers on it.
    /// Timing matters here: it runs when no heavy test (a thousand peers, a browser) loads the machine.
    @Test func anIdleConnectionIsRecycledWithoutTheSeatGoingOffline() async throws {
        try await oneHeavyTestAtATime { try await Self.anIdleConnectionIsRecycledWithoutTheSeatGoingOfflineBody() }
    }

    static func anIdleConnectionIsRecycledWithoutTheSeatGoingOfflineBody() async throws {
        let school = try await offThePool { try TestSchool(seats: [("B204-01", "B204")]) }
        defer { school.stopAll() }
        let rig = school.seats["B204-01"]!
        let events = NIOLockedValueBox<[SeatLinkState.Connection]>([])
        var options = ConsoleSession.Options()
        options.recycleAfter = .seconds(2)
        // A loaded machine (the whole suite at once on two cores) may take more than the
        // default 5 s to reconnect: that would be a real offline, not the recycle's.
        options.connectTimeout = .seconds(60)
        let session = try ConsoleSession(identity: try IdentityBundle.load(from: school.people["teacher"]!), schoolID: TestSchool.schoolID,
                                         options: options, onEvent: { event in events.withLockedValue { $0.append(event.connection) } })
        let seat = Seat(id: "B204-01", room: "B204", host: "127.0.0.1", port: rig.port, mac: nil)
        var first: [SeatResult] = []
        for await result in session.send(.status, to: [seat], timeout: .seconds(30)) { first.append(result) }
        #expect(first.first?.status == .ok, "\(first)")
        // (A loaded machine may delay this look past a recycle: the connection seen first is "before".)
        var before = Set<Int>()
        #expect(await eventually(30) { before = Self.connections(to: rig.port); return before.count == 1 }, "one connection to the seat: \(before)")

        // Past the recycle time, the connection is another one. (Roomy: the session's
        // timers resume on this process's concurrency pool, which the whole suite's
        // tests may hold for many seconds.)
        #expect(await eventually(60) { let now = Self.connections(to: rig.port); return now.count == 1 && now.isDisjoint(with: before) },
                "the idle connection was replaced: before \(before), now \(Self.connections(to: rig.port))")
        var second: [SeatResult] = []
        for await result in session.send(.status, to: [seat], timeout: .seconds(120)) { second.append(result) }
        #expect(second.first?.status == .ok, "\(second) \(events.withLockedValue { $0 })")
        #expect(events.withLockedValue { $0 } == [.online], "the teacher saw the seat online once, never offline")
        await session.close()
        #expect(await eventually(30) { Self.connections(to: rig.port).isEmpty }, "closing the session closes its connections")
    }
}

extension ConsoleSessionTests {
    /// A live stream and ordinary requests share the seat's one connection; while the
    /// stream is open the session sends its heartbeat and does not recycle the connection.
    /// Timing matters here: it runs when no heavy test (a thousand peers, a browser) loads the machine.
    @Test func aStreamAndRequestsShareOneConnectionWhichIsNotRecycledWhileItRuns() async throws {
        try await oneHeavyTestAtATime { try await Self.aStreamAndRequestsShareOneConnectionWhichIsNotRecycledWhileItRunsBody() }
    }

    static func aStreamAndRequestsShareOneConnectionWhichIsNotRecycledWhileItRunsBody() async throws {
        let school = try await offThePool { try TestSchool(seats: [("B204-01", "B204")]) }
        defer { school.stopAll() }
        let rig = school.seats["B204-01"]!
        var options = ConsoleSession.Options()
        options.recycleAfter = .seconds(1)
        options.connectTimeout = .seconds(60)
        let session = try ConsoleSession(identity: try IdentityBundle.load(from: school.people["teacher"]!), schoolID: TestSchool.schoolID, options: options)
        let seat = Seat(id: "B204-01", room: "B204", host: "127.0.0.1", port: rig.port, mac: nil)
        let pictures = NIOLockedValueBox(0)
        let ended = NIOLockedValueBox<Reason?>(nil)
        // Roomy deadlines: the whole suite on two cores may hold this process's tasks for long.
        let id = await session.openStream(.watch, args: ["interval": "200"], on: seat, timeout: .seconds(120)) { event in
            switch event {
            case .picture: pictures.withLockedValue { $0 += 1 }
            case .ended(let why), .notOpened(_, let why): ended.withLockedValue { $0 = why }
            default: break
            }
        }
        #expect(await eventually(120) { pictures.withLockedValue { $0 } >= 1 }, "the first picture")
        var connection = Set<Int>()
        #expect(await eventually(60) { connection = Self.connections(to: rig.port); return connection.count == 1 })
        // Requests go through between the stream's frames, on the same connection.
        for feature in [Feature.status, .lock, .status, .unlock] {
            var results: [SeatResult] = []
            for await result in session.send(feature, to: [seat], timeout: .seconds(120)) { results.append(result) }
            #expect(results.first?.status == .ok, "\(feature): \(results)")
        }
        // The lock window changed the screen: a new picture came on the stream.
        #expect(await eventually(60) { pictures.withLockedValue { $0 } >= 2 })
        // Well past the 1-s recycle time, the connection is still the same one and the stream runs.
        let before = pictures.withLockedValue { $0 }
        _ = try run(["xsetroot", "-solid", "#2e86de", "-display", rig.display])
        #expect(await eventually(60) { pictures.withLockedValue { $0 } > before })
        #expect(Self.connections(to: rig.port) == connection, "not recycled while a stream runs")
        #expect(ended.withLockedValue { $0 } == nil, "\(String(describing: ended.withLockedValue { $0 }))")
        await session.endStream(id, on: seat)
        await session.close()
    }
}

extension ConsoleSessionTests {
    /// A seat whose agent predates streams answers `watch` as an unknown feature:
    /// the console says so for that seat, and every other request keeps working on
    /// the same connection (no stream frame is ever sent to it).
    @Test func aSeatThatDoesNotKnowStreamsRefusesOnlyThatRequest() async throws {
        let school = try await offThePool { try TestSchool(seats: [("B204-01", "B204")], runAgents: false) }
        defer { school.stopAll() }
        let rig = school.seats["B204-01"]!
        let identity = try IdentityBundle.load(from: rig.identityDir)
        let caPEM = try String(contentsOfFile: school.dir + "/ca/ca.pem", encoding: .utf8)
        let seen = NIOLockedValueBox<[UInt8]>([])
        // The seat, as agents of the first protocol version answered: the listener's
        // TLS checks, then requests in order; a feature it does not know is answered
        // `protocol.unknown-feature` and the connection closed, as is any frame that
        // is not a request.
        let server = try await GuardedListener.bind(
            host: "127.0.0.1", port: rig.port, tls: try VigieTLS.serverContext(identity.tlsMaterial), gate: PeerGate(limits: .seat),
            verifier: try PeerVerifier(caPEM: caPEM) { _, _ in nil })
        let serving = Task {
            try await server.executeThenClose { inbound in
                for try await connection in inbound {
                    try? await connection.executeThenClose { frames, outbound in
                        for try await frame in frames {
                            seen.withLockedValue { $0.append(frame.kind.rawValue) }
                            guard frame.kind == .request, let request = try? frame.decodeHeader(Request.self) else {
                                try await outbound.write(.response(Response(id: 0, status: .failed, reason: Reason("protocol.malformed"))))
                                return
                            }
                            guard request.feature == "status" else {
                                try await outbound.write(.response(Response(id: request.id, status: .failed,
                                                                            reason: Reason("protocol.unknown-feature", ["feature": request.feature]))))
                                return
                            }
                            try await outbound.write(.response(Response(id: request.id, status: .ok, reason: Reason("status.unlocked"))))
                        }
                    }
                }
            }
        }
        defer { serving.cancel() }
        let session = try ConsoleSession(identity: try IdentityBundle.load(from: school.people["teacher"]!), schoolID: TestSchool.schoolID)
        let seat = Seat(id: "B204-01", room: "B204", host: "127.0.0.1", port: rig.port, mac: nil)
        let answer = NIOLockedValueBox<StreamEvent?>(nil)
        _ = await session.openStream(.watch, on: seat, timeout: .seconds(60)) { event in answer.withLockedValue { $0 = event } }
        let answered = await eventually(60) { answer.withLockedValue { $0 } != nil }
        #expect(answered)
        guard case .notOpened(let status, let reason) = answer.withLockedValue({ $0 }) else {
            Issue.record("expected the stream not to open: \(String(describing: answer.withLockedValue { $0 }))")
            return
        }
        #expect(status == .failed)
        #expect(reason.code == "protocol.unknown-feature")
        var results: [SeatResult] = []
        for await result in session.send(.status, to: [seat], timeout: .seconds(60)) { results.append(result) }
        #expect(results.first?.status == .ok, "\(results)")
        // A few heartbeats' time: still nothing but requests reached the seat.
        try await Task.sleep(for: .seconds(2))
        #expect(seen.withLockedValue { $0 } == [1, 1], "only requests reached the seat: no stream frame, no heartbeat")
        await session.close()
    }
}
