import Foundation
import GRDB
import NIOCore
import Testing
import VigieAgent
import VigieModel
import VigiePKI
import VigieRegister
import VigieStore
import VigieTestSupport
import VigieWire

/// A seat's journal as the agent keeps it (read beside the running agent: WAL).
func seatJournal(_ school: TestSchool, _ id: String) throws -> [ChainedEvent] {
    try SeatJournal(path: school.seats[id]!.stateDir + "/journal.sqlite", school: TestSchool.schoolID, seat: id).all()
}

/// The bytes of one request frame.
func requestBytes(_ request: Request) -> [UInt8] {
    var buffer = ByteBuffer()
    FrameEncoder.encode(.request(request), into: &buffer)
    return Array(buffer.readableBytesView)
}

/// The seat's pipeline: the durable record comes before the effect, and what cannot be
/// recorded, or would end after the console stopped waiting, is not done.
@Suite(.serialized) struct SeatPipelineRecords {
    @Test func aSeatThatCannotWriteItsJournalDoesNothingAndSaysSo() throws {
        let school = try TestSchool(seats: [("B204-01", "B204")])
        let rig = school.seats["B204-01"]!
        // Another process holds the journal's write lock: every append the agent tries
        // fails (after SeatJournal.busyWait), as on a full disk, without privileges.
        var configuration = Configuration()
        configuration.allowsUnsafeTransactions = true
        // The agent may be writing its own start-up records right now: wait for it.
        configuration.busyMode = .timeout(30)
        let holder = try DatabaseQueue(path: rig.stateDir + "/journal.sqlite", configuration: configuration)
        try holder.writeWithoutTransaction { try $0.execute(sql: "BEGIN IMMEDIATE") }
        let shots = school.dir + "/shots"
        for command in [["lock"], ["message", "Rangez vos affaires"], ["screenshot", "--out", shots]] {
            let run = try school.vigie([command[0], "--seat", "B204-01"] + command.dropFirst())
            #expect(run.status == 1, "\(run)")
            #expect(run.status(of: "B204-01") == "failed", "\(run)")
            #expect(run.code(of: "B204-01") == "journal.unavailable", "\(run)")
        }
        #expect(try !keyboardHeld(rig.display), "the seat locked although its journal refused the record")
        #expect(try !lockCovers(rig.xvfb), "a lock window is up although the journal refused the record")
        #expect(((try? FileManager.default.contentsOfDirectory(atPath: shots)) ?? []).isEmpty, "a screenshot was taken")
        try holder.writeWithoutTransaction { try $0.execute(sql: "ROLLBACK") }

        // Nothing of it in the journal, and the seat was not locked meanwhile.
        #expect(try !seatJournal(school, "B204-01").contains { ["lock", "message", "screenshot"].contains($0.event?.feature ?? "") })
        let status = try school.vigie(["status", "--seat", "B204-01"])
        #expect(status.code(of: "B204-01") == "status.unlocked", "\(status)")

        // The journal writable again, the same lock is recorded first, then done.
        let lock = try school.vigie(["lock", "--seat", "B204-01"])
        #expect(lock.code(of: "B204-01") == "lock.done", "\(lock)")
        #expect(try keyboardHeld(rig.display))
        let locks = try seatJournal(school, "B204-01").filter { $0.event?.feature == "lock" }
        #expect(locks.map { $0.event?.outcome } == [.started, .done])
        #expect(locks.first?.event?.code == "request.started")
        #expect(locks.last?.event?.params["started"] == locks.first.map { String($0.seq) }, "the outcome names its start")
    }

    /// Timing matters here: it runs when no heavy test (a thousand peers, a browser) loads the machine.
    @Test func aRequestWhoseDeadlinePassedIsNotPerformed() async throws {
        try await oneHeavyTestAtATime { try await Self.aRequestWhoseDeadlinePassedIsNotPerformedBody() }
    }

    static func aRequestWhoseDeadlinePassedIsNotPerformedBody() async throws {
        let school = try TestSchool(seats: [("B204-01", "B204")])
        let rig = school.seats["B204-01"]!
        let teacher = try IdentityBundle.load(from: school.people["teacher"]!)
        // A deadline of 0 ms has passed by the time the seat would act.
        let late = try #require(try await rawExchange(port: rig.port, identity: teacher,
                                                      bytes: requestBytes(Request(id: 7, feature: "lock", deadlineMillis: 0))))
        #expect(late.id == 7)
        #expect(late.status == .failed)
        #expect(late.code == "request.expired")
        #expect(try !keyboardHeld(rig.display), "an expired lock was carried out")
        #expect(try !lockCovers(rig.xvfb))
        let status = try school.vigie(["status", "--seat", "B204-01"])
        #expect(status.code(of: "B204-01") == "status.unlocked", "\(status)")
        let recorded = try seatJournal(school, "B204-01").compactMap(\.event).filter { $0.feature == "lock" }
        #expect(recorded.map(\.outcome) == [.failed], "one event, no start: nothing was begun")
        #expect(recorded.first?.code == "request.expired")

        // The same request with time to spare locks: it was the deadline that stopped it.
        let inTime = try await rawExchange(port: rig.port, identity: teacher,
                                           bytes: requestBytes(Request(id: 8, feature: "lock", deadlineMillis: 10_000)))
        #expect(inTime?.code == "lock.done")
        #expect(try keyboardHeld(rig.display))
    }

    @Test func helpersWaitLessThanTheConsolesDefaultDeadline() {
        // A helper that starts slowly fails before the console gives up, so a console never
        // reports `unreachable net.timeout` for a seat that then locks.
        #expect(Spawn.helperStartWait + 1 <= SchoolConfig.defaultConsoleTimeout)
        #expect(SeatJournal.busyWait + Spawn.helperStartWait < SchoolConfig.defaultConsoleTimeout)
    }
}
