import Foundation
import VigieTestSupport
import Testing

@testable import VigieRegister
@testable import VigieStore

@Suite struct StoreTests {
    @Test func ingestStoresEachEventOnce() throws {
        let dir = try tempDir()
        let s = try TestSchool()
        let seat = try s.seat("B204-02")
        let store = try SQLiteRegisterStore(path: dir.sub("register.sqlite"))
        #expect(try fileMode(dir.sub("register.sqlite")) == 0o600)
        let batches = try chain(seat, count: 30, batchSize: 10)
        #expect(try store.ingest(batches[0], certificateDER: seat.der) == .stored(lastSeq: 10))
        // The same batch again (the agent never saw the acknowledgement): nothing twice.
        #expect(try store.ingest(batches[0], certificateDER: seat.der) == .stored(lastSeq: 10))
        // A batch re-signed over events 5–20 that overlaps what is stored.
        let overlap = try Batch.sign(school: school, seat: seat.id, events: Array(batches[0].events[4...]) + batches[1].events, key: seat.key)
        #expect(try store.ingest(overlap, certificateDER: seat.der) == .stored(lastSeq: 20))
        // A gap: events 21–30 are skipped, 31… would come later.
        let later = try chain(seat, count: 5, from: 30, after: (30, batches[2].events.last!.hash))
        #expect(try store.ingest(later[0], certificateDER: seat.der) == .gap(expected: 21))
        try ingestAll(store, [batches[2], later[0]], seat)
        var seqs: [Int64] = []
        try store.chain(school: school, seat: seat.id, from: 1) { seqs.append($0.seq) }
        #expect(seqs == Array(1...35))
        #expect(try store.lastLinks(school: school) == [ChainLink(seat: seat.id, seq: 35, hash: later[0].events.last!.hash)])
        #expect(RegisterVerifier.verify(store: store, school: school, caCertificate: s.ca.certificate).ok)
    }

    @Test func forgedOrMisattributedBatchesAreRefused() throws {
        let dir = try tempDir()
        let s = try TestSchool()
        let seat = try s.seat("B204-02")
        let other = try s.seat("B204-03")
        let store = try SQLiteRegisterStore(path: dir.sub("register.sqlite"))
        let batch = try chain(seat, count: 5)[0]
        // Signed by another seat's key, presented with this seat's certificate.
        let forged = try Batch.sign(school: school, seat: seat.id, events: batch.events, key: other.key)
        #expect(!forged.verify(certificate: seat.certificate))
        #expect(batch.verify(certificate: seat.certificate))
        #expect { try store.ingest(forged, certificateDER: seat.der) } throws: { ($0 as? RegisterError)?.code == .badSignature }
        // Another seat's certificate for this seat's batch.
        #expect { try store.ingest(batch, certificateDER: other.der) } throws: { ($0 as? RegisterError)?.code == .badSignature }
        // An edited event under the original signature.
        var edited = batch
        edited.events[4].content = edited.events[4].content!.replacingOccurrences(of: "Mme Martin", with: "M. Nobody")
        #expect { try store.ingest(edited, certificateDER: seat.der) } throws: { ($0 as? RegisterError)?.code == .brokenChain }
        // An edited event, re-chained and re-signed by someone without the seat key.
        var rebuilt: [ChainedEvent] = []
        var previous: (seq: Int64, hash: String)?
        for e in batch.events {
            var content = e.event!
            content.actorName = "M. Nobody"
            let c = ChainedEvent.make(after: previous, school: school, seat: seat.id, event: content)
            rebuilt.append(c)
            previous = (c.seq, c.hash)
        }
        let resigned = try Batch.sign(school: school, seat: seat.id, events: rebuilt, key: other.key)
        #expect { try store.ingest(resigned, certificateDER: seat.der) } throws: { ($0 as? RegisterError)?.code == .badSignature }
        #expect(try store.lastLinks(school: school).isEmpty)
    }

    @Test func conflictingHistoryNamesSeatAndSeq() throws {
        let dir = try tempDir()
        let s = try TestSchool()
        let seat = try s.seat("B204-02")
        let store = try SQLiteRegisterStore(path: dir.sub("register.sqlite"))
        try ingestAll(store, try chain(seat, count: 10), seat)
        // The seat lost its journal and started over: seq 1–5 again, other contents.
        let restarted = try chain(seat, count: 5, from: 100)
        #expect { try store.ingest(restarted[0], certificateDER: seat.der) } throws: { error in
            let e = error as? RegisterError
            return e?.code == .chainConflict && e!.message.contains("B204-02") && e!.message.contains("seq 1")
        }
    }

    @Test func serverChainFiltersAndSubject() throws {
        let dir = try tempDir()
        let s = try TestSchool()
        let store = try SQLiteRegisterStore(path: dir.sub("register.sqlite"))
        let a = try s.seat("B204-02"), b = try s.seat("C101-01")
        try ingestAll(store, try chain(a, count: 20), a)
        try ingestAll(store, try chain(b, count: 20), b)
        let wol = RegisterEvent(
            school: school, seat: RegisterEvent.serverSeat, date: baseDate, timeZone: paris, room: "B204",
            actor: "vigie://\(school)/person/teacher/mmartin", actorName: "Mme Martin", actorRole: "teacher",
            feature: "wake-on-lan", args: ["seats": "B204-01,B204-02"], outcome: .done, code: "done")
        let first = try store.appendServer(wol, school: school)
        let second = try store.appendServer(wol, school: school)
        #expect(first.seq == 1 && second.prevHash == first.hash)
        #expect(throws: RegisterError.self) { try store.appendServer(sampleEvent("B204-02", 0), school: school) }

        func count(_ f: RegisterFilter) throws -> Int {
            var n = 0
            try store.events(f) { _, _ in n += 1 }
            return n
        }
        #expect(try count(RegisterFilter(school: school)) == 42)
        #expect(try count(RegisterFilter(school: "other")) == 0)
        #expect(try count(RegisterFilter(school: school, room: "C101")) == 20)
        #expect(try count(RegisterFilter(school: school, seat: "@server")) == 2)
        #expect(try count(RegisterFilter(school: school, actor: "pdurand")) == 20)
        #expect(try count(RegisterFilter(school: school, actor: "M. Durand")) == 20)
        #expect(try count(RegisterFilter(school: school, actor: "vigie://\(school)/person/teacher/mmartin")) == 22)
        #expect(try count(RegisterFilter(school: school, sessionUser: "eleve1")) == 14)
        // Minutes 0–9 of each seat: 20 events from baseDate inclusive to +10 min exclusive.
        #expect(try count(RegisterFilter(school: school, from: baseDate, to: baseDate.addingTimeInterval(600))) == 22)
        var times: [String] = []
        try store.events(RegisterFilter(school: school)) { c, _ in times.append(c.timeUTC) }
        #expect(times == times.sorted())

        let about = try store.subject(school: school, login: "eleve2")
        #expect(about.count == 12 && about.allSatisfy { $0.1.sessionUser == "eleve2" })
        #expect(try store.subject(school: school, login: "mmartin").count == 22)
    }
}
