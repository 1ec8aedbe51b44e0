import Foundation
import GRDB
import Synchronization
import Testing
import VigieTestSupport

@testable import VigieRegister
@testable import VigieStore

@Suite struct JournalTests {
    @Test func appendReopenSameChain() throws {
        let dir = try tempDir()
        let path = dir.sub("journal.sqlite")
        var chained: [ChainedEvent] = []
        do {
            let journal = try SeatJournal(path: path, school: school, seat: "B204-02")
            for i in 0..<20 { chained.append(try journal.append(sampleEvent("B204-02", i))) }
            #expect(journal.last?.seq == 20)
            #expect(try fileMode(path) == 0o600)
            #expect(try fileMode(path + "-wal") == 0o600)
        }
        let journal = try SeatJournal(path: path, school: school, seat: "B204-02")
        #expect(journal.count == 20)
        #expect(try journal.all() == chained)
        #expect(journal.last?.hash == chained.last?.hash)
        var previous: (seq: Int64, hash: String)?
        for e in chained {
            try e.check(after: previous, school: school, seat: "B204-02")
            previous = (e.seq, e.hash)
        }
        let next = try journal.append(sampleEvent("B204-02", 20))
        #expect(next.seq == 21 && next.prevHash == chained.last?.hash)
        // Durable settings on the connection that writes.
        let queue = try DatabaseQueue(path: path)
        #expect(try queue.read { try String.fetchOne($0, sql: "PRAGMA journal_mode") } == "wal")
    }

    @Test func belongsToOneSeat() throws {
        let dir = try tempDir()
        let path = dir.sub("journal.sqlite")
        _ = try SeatJournal(path: path, school: school, seat: "B204-02")
        #expect(throws: RegisterError.self) { try SeatJournal(path: path, school: school, seat: "B204-03") }
        let journal = try SeatJournal(path: path, school: school, seat: "B204-02")
        #expect(throws: RegisterError.self) { try journal.append(sampleEvent("B204-03", 0)) }
    }

    @Test func acknowledgeAndPrune() throws {
        let dir = try tempDir()
        let journal = try SeatJournal(path: dir.sub("j.sqlite"), school: school, seat: "B204-02")
        for i in 0..<10 { try journal.append(sampleEvent("B204-02", i, date: baseDate.addingTimeInterval(Double(i) * 86_400))) }
        #expect(try journal.unacknowledged(limit: 4).map(\.seq) == [1, 2, 3, 4])
        try journal.acknowledge(upTo: 6)
        #expect(try journal.unacknowledged(limit: 100).map(\.seq) == [7, 8, 9, 10])
        #expect(journal.count == 10)
        // Acked and older than day 4: seqs 1–4 lose their content; unacked ones never do.
        #expect(try journal.pruneAcknowledged(olderThan: baseDate.addingTimeInterval(3.5 * 86_400)) == 4)
        #expect(journal.count == 10 && journal.contentCount == 6)
        #expect(try journal.all().prefix(4).allSatisfy { $0.content == nil && !$0.hash.isEmpty })
        try journal.acknowledge(upTo: 10)
        try journal.pruneAcknowledged(olderThan: baseDate.addingTimeInterval(100 * 86_400))
        #expect(journal.contentCount == 0)
        // The links stay: the chain still verifies and the next event links to the last one.
        try journal.verifyChain()
        let next = try journal.append(sampleEvent("B204-02", 10))
        let tenth = try journal.all()[9]
        #expect(next.seq == 11 && next.prevHash == tenth.hash)
        try journal.verifyChain()
    }

    @Test func verifyChainNamesAnEditedJournalEvent() throws {
        let dir = try tempDir()
        let path = dir.sub("j.sqlite")
        let journal = try SeatJournal(path: path, school: school, seat: "B204-02")
        for i in 0..<5 { try journal.append(sampleEvent("B204-02", i)) }
        try journal.verifyChain()
        try tamper(path, "UPDATE journal SET content = replace(content, 'eleve', 'ELEVE') WHERE seq = 3")
        #expect(throws: RegisterError.self) { try journal.verifyChain() }
        do { try journal.verifyChain() } catch let error as RegisterError { #expect(error.message.contains("seq 3")) }
    }

    @Test func rewindResendsWhatTheServerLostWhileTheContentIsThere() throws {
        let dir = try tempDir()
        let journal = try SeatJournal(path: dir.sub("j.sqlite"), school: school, seat: "B204-02")
        for i in 0..<10 { try journal.append(sampleEvent("B204-02", i, date: baseDate.addingTimeInterval(Double(i) * 86_400))) }
        try journal.acknowledge(upTo: 8)
        // The server's store was restored: it has events 1–5 only.
        #expect(try journal.rewind(from: 6) == .resending(from: 6, to: 8))
        #expect(try journal.unacknowledged(limit: 100).map(\.seq) == [6, 7, 8, 9, 10])
        // Sent again, the server stores them and a whole chain results.
        let dir2 = try tempDir()
        let store = try SQLiteRegisterStore(path: dir2.sub("r.sqlite"))
        let seat = try TestSchool().seat("B204-02")
        let all = try journal.all()
        _ = try store.ingest(try Batch.sign(school: school, seat: "B204-02", events: Array(all[0..<5]), key: seat.key), certificateDER: seat.der)
        let resent = try journal.unacknowledged(limit: 100)
        #expect(try store.ingest(try Batch.sign(school: school, seat: "B204-02", events: resent, key: seat.key), certificateDER: seat.der) == .stored(lastSeq: 10))
        #expect(RegisterVerifier.verify(store: store, school: school).ok)

        // Once pruned, the seat says which run it cannot send again, and changes nothing.
        try journal.acknowledge(upTo: 10)
        try journal.pruneAcknowledged(olderThan: baseDate.addingTimeInterval(7.5 * 86_400))
        #expect(try journal.rewind(from: 6) == .pruned(from: 6, to: 8))
        #expect(journal.unacknowledgedCount == 0)
        #expect(try journal.rewind(from: 9) == .resending(from: 9, to: 10))
        #expect(try journal.rewind(from: 12) == .beyondEnd(last: 10))
    }

    @Test func backoffDoublesToAMinuteAndResetsAfterASuccess() {
        var backoff = ShippingBackoff(jitter: { 1 })
        let delays = (0..<8).map { _ in backoff.failed() }
        #expect(delays == [1, 2, 4, 8, 16, 32, 60, 60].map { Duration.seconds($0) })
        // One batch stored: the next blip costs a second again, not a minute.
        backoff.succeeded()
        #expect(backoff.failed() == .seconds(1))
        #expect(backoff.failed() == .seconds(2))
        // By default each delay is spread by ±20 % so that a school's seats do not all retry at once.
        var jittered = ShippingBackoff()
        #expect((Duration.milliseconds(800)...Duration.milliseconds(1200)).contains(jittered.failed()))
        #expect((Duration.milliseconds(1600)...Duration.milliseconds(2400)).contains(jittered.failed()))
    }

    @Test func concurrentAppendsMakeOneChain() throws {
        let dir = try tempDir()
        let journal = try SeatJournal(path: dir.sub("j.sqlite"), school: school, seat: "B204-02")
        // A failed append is a test failure, not a crash of the whole runner (no try!).
        let failures = Mutex<[String]>([])
        DispatchQueue.concurrentPerform(iterations: 4) { t in
            for i in 0..<25 {
                do { _ = try journal.append(sampleEvent("B204-02", t * 100 + i)) } catch { failures.withLock { $0.append("\(error)") } }
            }
        }
        #expect(failures.withLock { $0 }.isEmpty)
        let all = try journal.all()
        #expect(all.map(\.seq) == Array(1...100))
        for (a, b) in zip(all, all.dropFirst()) { #expect(b.prevHash == a.hash) }
    }

    /// A child appends in a loop and prints each seq once `append` has returned; we
    /// kill it with SIGKILL at a random moment, five times over: every printed event
    /// is in the journal with the printed hash, and the chain goes on unbroken.
    @Test func killNineLosesNothingAcknowledged() throws {
        let dir = try tempDir()
        let path = dir.sub("journal.sqlite")
        var acknowledged: [Int64: String] = [:]
        for round in 0..<5 {
            let child = try ChildProcess([product("vigie-register-helper"), "append", path, school, "B204-02", "100000"])
            // Let it write for a while, at least a few events.
            var lines = 0
            let target = 20 + round * 37
            while lines < target, let line = child.readLine(timeout: 20) {
                let parts = line.split(separator: " ")
                acknowledged[Int64(parts[0])!] = String(parts[1])
                lines += 1
            }
            usleep(UInt32.random(in: 0...20_000))
            child.kill()
            _ = child.wait(timeout: 10)
            for line in child.readAllStdout().split(separator: "\n") {
                let parts = line.split(separator: " ")
                if parts.count == 2, let seq = Int64(parts[0]) { acknowledged[seq] = String(parts[1]) }
            }
            #expect(lines == target, "round \(round): the helper printed only \(lines) lines")
        }
        let journal = try SeatJournal(path: path, school: school, seat: "B204-02")
        let stored = Dictionary(uniqueKeysWithValues: try journal.all().map { ($0.seq, $0.hash) })
        #expect(acknowledged.count >= 5 * 20)
        for (seq, hash) in acknowledged { #expect(stored[seq] == hash, "seq \(seq) was acknowledged but is not in the journal") }
        let all = try journal.all()
        #expect(all.map(\.seq) == Array(1...Int64(all.count)))
        var previous: (seq: Int64, hash: String)?
        for e in all {
            try e.check(after: previous, school: school, seat: "B204-02")
            previous = (e.seq, e.hash)
        }
    }
}
