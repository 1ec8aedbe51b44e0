import Foundation
import GRDB
import Logging
import Testing
import VigieController
import VigieHarness
import VigieModel
import VigiePKI
import VigieRegister
import VigieTestSupport
import VigieWire

/// Open file descriptors of this process.
func openDescriptors() -> Int {
    (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd").count) ?? -1
}

/// This process's TCP sockets (listening or connected) with a local or remote port in `ports`:
/// /proc/self/fd gives the socket inodes, /proc/self/net/tcp their addresses. Exact even
/// while other test suites of this process open and close descriptors.
func ownSockets(ports: Set<Int>) -> Int {
    var inodes = Set<String>()
    for fd in (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd")) ?? [] {
        if let target = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/fd/\(fd)"), target.hasPrefix("socket:[") {
            inodes.insert(String(target.dropFirst(8).dropLast()))
        }
    }
    var count = 0
    for table in ["/proc/self/net/tcp", "/proc/self/net/tcp6"] {
        // procfs files have no size: read to the end, not one page.
        guard let data = FileHandle(forReadingAtPath: table)?.readDataToEndOfFile() else { continue }
        let text = String(decoding: data, as: UTF8.self)
        for line in text.split(separator: "\n").dropFirst() {
            let f = line.split(separator: " ")
            guard f.count > 9, inodes.contains(String(f[9])) else { continue }
            let local = Int(f[1].split(separator: ":").last ?? "", radix: 16) ?? -1
            let remote = Int(f[2].split(separator: ":").last ?? "", radix: 16) ?? -1
            if ports.contains(local) || ports.contains(remote) { count += 1 }
        }
    }
    return count
}

@Suite(.serialized) struct HarnessTests {
    func startHarness(_ seats: Int, in dir: String, journals: String? = nil) async throws -> Harness {
        let files = try HarnessFiles.prepare(stateDir: dir, seatCount: seats)
        var logger = Logger(label: "test.harness")
        logger.logLevel = .critical
        let harness = Harness(files: files, journalDirectory: journals, logger: logger)
        try await harness.start()
        return harness
    }

    @Test func aThousandSimulatedSeatsStartAnswerAndStopWithoutLeakingDescriptors() async throws {
        try await oneHeavyTestAtATime { try await thousandSimulatedSeats() }
    }

    func thousandSimulatedSeats() async throws {
        #expect(OpenFileLimit.raise(needed: 3100, what: "this test") == nil)
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("vigie-harness-\(getpid())").path
        defer { try? FileManager.default.removeItem(atPath: dir) }

        // Warm up the event loops, the thread pool and their descriptors first.
        let small = try await startHarness(2, in: dir + "/warm")
        let warmSession = try ConsoleSession(identity: try IdentityBundle.load(from: small.files.people["teacher"]!), schoolID: HarnessFiles.schoolID)
        for await _ in warmSession.send(.status, to: small.files.config.seats, timeout: .seconds(60)) {}
        await warmSession.close()
        await small.stop()
        // Counted once the warm-up's own sockets are closed.
        let smallPorts = Set(small.files.config.seats.map(\.port))
        #expect(await eventually(10) { ownSockets(ports: smallPorts) == 0 }, "the warm-up harness left sockets open")
        let before = openDescriptors()

        let harness = try await startHarness(1000, in: dir + "/big")
        #expect(harness.seatCount == 1000)
        // One listener per seat (counted among this process's own sockets: the
        // total of open descriptors moves with the suites running alongside).
        #expect(ownSockets(ports: Set(harness.files.config.seats.map(\.port))) == 1000)
        let teacher = try IdentityBundle.load(from: harness.files.people["teacher"]!)
        let session = try ConsoleSession(identity: teacher, schoolID: HarnessFiles.schoolID)
        let seats = harness.files.config.seats
        var answers: [String: SeatResult] = [:]
        for await result in session.send(.lock, to: seats, timeout: .seconds(60)) { answers[result.seat.id] = result }
        #expect(answers.count == 1000)
        #expect(answers.values.allSatisfy { $0.status == .ok && $0.reason.code == "lock.done" })
        // Same connections, second request: the seats remember the lock.
        var again: [SeatResult] = []
        for await result in session.send(.status, to: seats, timeout: .seconds(60)) { again.append(result) }
        #expect(again.count == 1000)
        #expect(again.allSatisfy { $0.reason.code == "status.locked" && $0.reason.params["by"] == "M. Charge" })
        let ports = Set(harness.files.config.seats.map(\.port))
        // A listener, the seat's end and the console's end of each connection. Awaited: on
        // a loaded machine a link may have recycled its idle connection (25 s) or replaced a
        // slow one between the rounds, and the old pair takes a moment to close.
        var sockets = ownSockets(ports: ports)
        let settled = await eventually(20) { sockets = ownSockets(ports: ports); return sockets == 3000 }
        #expect(settled, "sockets on the harness's ports: \(sockets), not 3000")
        let states = await session.states()
        #expect(states.filter { $0.connection == .online }.count == 1000)
        // The agent's pipeline and journal: per seat, the lock's start, then its outcome
        // naming it, then the status (read-only: one event); every chain verifies.
        #expect(harness.journaled == 3000)
        for journal in harness.journals.prefix(20) {
            #expect(throws: Never.self) { try journal.verifyChain() }
            let events = try journal.all().compactMap(\.event)
            #expect(events.map { "\($0.feature) \($0.outcome.rawValue) \($0.code)" } == ["lock started request.started", "lock done lock.done", "status done status.locked"])
            #expect(events[1].params["started"] == "1")
        }

        await session.close()
        await harness.stop()
        var left = ownSockets(ports: ports)
        for _ in 0..<50 where left > 0 {
            try await Task.sleep(for: .milliseconds(100))
            left = ownSockets(ports: ports)
        }
        #expect(left == 0, "sockets of the harness left open: \(left)")
        // And in all: no thousand-sized leak elsewhere (other suites running alongside
        // open and close pipes and sockets of their own, hence the margin; the exact
        // count is the harness's own sockets above).
        let after = openDescriptors()
        #expect(after <= before + 64, "descriptors before \(before), after \(after)")
    }

    @Test func aSimulatedSeatAppliesThePolicyAndAThumbnailIsAPNG() async throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("vigie-harness-policy-\(getpid())").path
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let harness = try await startHarness(3, in: dir)
        defer { Task { await harness.stop() } }
        let teacher = try IdentityBundle.load(from: harness.files.people["teacher"]!)
        let session = try ConsoleSession(identity: teacher, schoolID: HarnessFiles.schoolID)
        let seats = harness.files.config.seats
        var shots: [SeatResult] = []
        for await r in session.send(.thumbnail, args: ["width": "320"], to: seats, timeout: .seconds(60)) { shots.append(r) }
        #expect(shots.count == 3)
        // (Roomy deadlines: the answers are the point, and the whole suite shares two cores.)
        #expect(shots.allSatisfy { $0.status == .ok && $0.body.starts(with: [0x89, 0x50, 0x4E, 0x47]) && $0.reason.params["width"] == "320" },
                "\(shots.map { "\($0.seat.id) \($0.status) \($0.reason.code)" })")
        // Teachers may not run programs or power off here (grants): refused by the seat itself.
        var power: [SeatResult] = []
        for await r in session.send(.power, args: ["action": "off"], to: [seats[0]], timeout: .seconds(60)) { power.append(r) }
        #expect(power.count == 1, "one answer for one seat")
        #expect(power.first?.status == .refused)
        #expect(power.first?.reason.code == "policy.feature")
        await session.close()
        await harness.stop()
    }

    @Test func aSimulatedSeatWhoseJournalCannotBeWrittenDoesNothing() async throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("vigie-harness-journal-\(getpid())").path
        defer { try? FileManager.default.removeItem(atPath: dir) }
        // Journals on files, as on a real seat; another connection holds the first seat's write lock.
        let harness = try await startHarness(2, in: dir, journals: dir + "/journals")
        let seats = harness.files.config.seats
        var configuration = Configuration()
        configuration.allowsUnsafeTransactions = true
        let holder = try DatabaseQueue(path: dir + "/journals/\(seats[0].id).sqlite", configuration: configuration)
        try await holder.writeWithoutTransaction { try $0.execute(sql: "BEGIN IMMEDIATE") }
        let session = try ConsoleSession(identity: try IdentityBundle.load(from: harness.files.people["teacher"]!), schoolID: HarnessFiles.schoolID)
        var answers: [String: SeatResult] = [:]
        for await r in session.send(.lock, to: seats, timeout: .seconds(60)) { answers[r.seat.id] = r }
        #expect(answers[seats[0].id]?.status == .failed)
        #expect(answers[seats[0].id]?.reason.code == "journal.unavailable")
        #expect(answers[seats[1].id]?.reason.code == "lock.done", "the other seat's journal is its own")
        try await holder.writeWithoutTransaction { try $0.execute(sql: "ROLLBACK") }
        var status: [String: String] = [:]
        for await r in session.send(.status, to: seats, timeout: .seconds(60)) { status[r.seat.id] = r.reason.code }
        #expect(status == [seats[0].id: "status.unlocked", seats[1].id: "status.locked"], "the seat that could not record did not lock")
        let journals = harness.journals
        #expect(try journals[0].all().compactMap(\.event).map(\.feature) == ["status"])
        #expect(try journals[1].all().compactMap(\.event).map(\.feature) == ["lock", "lock", "status"])
        await session.close()
        await harness.stop()
    }
}
