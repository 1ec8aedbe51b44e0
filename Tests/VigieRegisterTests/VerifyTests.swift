import Foundation
import VigieTestSupport
import Testing

@testable import VigieRegister
@testable import VigieStore

/// A store with two seats of 20 events (batches of 5) and 3 server events.
struct Fixture {
    let dir: TempDir
    let school: TestSchool
    let store: SQLiteRegisterStore
    var path: String { dir.sub("register.sqlite") }

    init(dates: ((Int) -> Date)? = nil) throws {
        dir = try tempDir()
        school = try TestSchool()
        store = try SQLiteRegisterStore(path: dir.sub("register.sqlite"))
        for id in ["B204-02", "B204-03"] {
            let seat = try school.seat(id)
            try ingestAll(store, try chain(seat, count: 20, batchSize: 5, dates: dates), seat)
        }
        for i in 0..<3 {
            _ = try store.appendServer(
                RegisterEvent(
                    school: VigieRegisterTests.school, seat: "@server", date: (dates?(i) ?? baseDate), timeZone: paris,
                    actor: "vigie://0750001A/person/head/proviseur", actorName: "M. le Proviseur", actorRole: "head",
                    feature: "register.export", args: ["format": "csv"], outcome: .done, code: "done"),
                school: VigieRegisterTests.school)
        }
    }

    func verify() -> VerifyReport { RegisterVerifier.verify(store: store, school: VigieRegisterTests.school, caCertificate: school.ca.certificate) }
}

@Suite struct VerifyTests {
    @Test func wholeRegisterVerifies() throws {
        let f = try Fixture()
        let report = f.verify()
        #expect(report.ok, "\(report.problems)")
        #expect(report.eventsChecked == 43 && report.chains.count == 3)
        #expect(report.text(.fr).hasPrefix("registre intègre"))
    }

    @Test func editedContentIsNamed() throws {
        let f = try Fixture()
        try tamper(f.path, "UPDATE events SET content = replace(content, 'Mme Martin', 'Mme Dupont') WHERE seat = 'B204-03' AND seq = 7")
        let report = f.verify()
        #expect(!report.ok)
        let p = try #require(report.problems.first)
        #expect(report.problems.count == 1)
        #expect(p.seat == "B204-03" && p.seq == 7 && p.kind == .edited)
        #expect(report.text(.en).contains("event 7 of B204-03 was edited"))
    }

    @Test func editedAndRehashedRowIsNamed() throws {
        // The intruder recomputes the content hash and the link of seq 7 (not the seat's signature).
        let f = try Fixture()
        let original = try #require(try f.store.event(school: school, seat: "B204-02", seq: 7))
        var event = try #require(original.event)
        event.sessionUser = "someone-else"
        let forged = ChainedEvent.make(after: (6, original.prevHash), school: school, seat: "B204-02", event: event)
        try tamper(f.path, "UPDATE events SET content = '\(forged.content!.replacingOccurrences(of: "'", with: "''"))', content_hash = '\(forged.contentHash)', hash = '\(forged.hash)' WHERE seat = 'B204-02' AND seq = 7")
        let p = try #require(f.verify().problems.first)
        #expect(p.seat == "B204-02" && p.seq == 7 && p.kind == .edited)
    }

    @Test func deletedRowIsNamed() throws {
        let f = try Fixture()
        try tamper(f.path, "DELETE FROM events WHERE seat = 'B204-02' AND seq = 12")
        let report = f.verify()
        let p = try #require(report.problems.first)
        #expect(report.problems.count == 1)
        #expect(p.seat == "B204-02" && p.seq == 12 && p.kind == .removed)
        #expect(p.text(.en).contains("12"))
    }

    @Test func deletedAndRenumberedRowsAreNamed() throws {
        let f = try Fixture()
        try tamper(f.path, "DELETE FROM events WHERE seat = 'B204-02' AND seq = 12")
        for seq in 13...20 { try tamper(f.path, "UPDATE events SET seq = \(seq - 1) WHERE seat = 'B204-02' AND seq = \(seq)") }
        let p = try #require(f.verify().problems.first)
        #expect(p.seat == "B204-02" && p.seq == 12 && p.kind == .removed)
    }

    @Test func swappedRowsAreNamed() throws {
        let f = try Fixture()
        try tamper(f.path, """
            UPDATE events SET seq = -1 WHERE seat = 'B204-03' AND seq = 9;
            UPDATE events SET seq = 9 WHERE seat = 'B204-03' AND seq = 10;
            UPDATE events SET seq = 10 WHERE seat = 'B204-03' AND seq = -1;
            """)
        let report = f.verify()
        let p = try #require(report.problems.first)
        #expect(report.problems.count == 1)
        #expect(p.seat == "B204-03" && p.seq == 9 && p.kind == .reordered)
    }

    @Test func forgedTailWithoutSeatSignatureIsNamed() throws {
        // The operator appends a well-chained event to a seat's chain: no seat signature covers it.
        let f = try Fixture()
        let last = try #require(try f.store.lastLinks(school: school).first { $0.seat == "B204-02" })
        let forged = ChainedEvent.make(after: (last.seq, last.hash), school: school, seat: "B204-02", event: sampleEvent("B204-02", 99))
        try tamper(f.path, """
            INSERT INTO events(school, seat, seq, time_utc, prev_hash, content_hash, hash, content)
            VALUES ('\(school)', 'B204-02', 21, '\(forged.timeUTC)', '\(forged.prevHash)', '\(forged.contentHash)', '\(forged.hash)', '\(forged.content!.replacingOccurrences(of: "'", with: "''"))')
            """)
        let p = try #require(f.verify().problems.first)
        #expect(p.seat == "B204-02" && p.seq == 21 && p.kind == .unsigned)
    }

    @Test func interventionsHaveTheirOwnRetention() throws {
        let f = try Fixture(dates: { baseDate.addingTimeInterval(Double($0) * 86_400) })
        // A helper's note, on day 0.
        _ = try f.store.appendServer(
            RegisterEvent(
                school: school, seat: "@server", date: baseDate, timeZone: paris, actor: "vigie://0750001A/person/technician/jlemaire",
                actorName: "M. Lemaire", actorRole: "technician", feature: "assist.note",
                args: ["intervention": "B204-01-1", "problem": "imprimante"], outcome: .done, code: "assist.noted"),
            school: school)
        // The register's retention passes; the intervention's does not yet.
        let events = try f.store.purge(school: school, olderThan: baseDate.addingTimeInterval(10 * 86_400), features: .except(Interventions.features))
        #expect(events.purgedEvents == 23)
        var notes = 0
        try f.store.events(RegisterFilter(school: school, features: ["assist.note"])) { _, e in if e != nil { notes += 1 } }
        #expect(notes == 1, "the note outlives the register's retention")
        let sheets = try f.store.purge(school: school, olderThan: baseDate.addingTimeInterval(10 * 86_400), features: .only(Interventions.features))
        #expect(sheets.purgedEvents == 1)
        #expect(f.verify().ok, "purged notes keep the chain provable")
    }

    @Test func purgeKeepsChainsProvable() throws {
        // Events i of each seat dated i days apart; server events too.
        let f = try Fixture(dates: { baseDate.addingTimeInterval(Double($0) * 86_400) })
        // A saved screenshot, old enough to go.
        _ = try f.store.appendServer(
            RegisterEvent(
                school: school, seat: "@server", date: baseDate, timeZone: paris, room: "CDI",
                actor: "vigie://0750001A/person/librarian/mlebrun", actorName: "Mme Lebrun", actorRole: "librarian",
                feature: "screenshot.saved", args: ["seat": "CDI-04", "file": "/var/lib/vigie/shots/CDI-04-1.png"],
                outcome: .done, code: "done"),
            school: school)
        let result = try f.store.purge(school: school, olderThan: baseDate.addingTimeInterval(10 * 86_400))
        // Seats: days 0–9 → 10 each; server: 3 exports (days 0–2) and the screenshot.
        #expect(result.purgedEvents == 24)
        #expect(result.screenshotFiles == ["/var/lib/vigie/shots/CDI-04-1.png"])
        let old = try #require(try f.store.event(school: school, seat: "B204-02", seq: 3))
        #expect(old.content == nil && old.event == nil)
        var purged = 0
        try f.store.events(RegisterFilter(school: school, includePurged: true)) { c, e in if e == nil { purged += 1; #expect(c.content == nil) } }
        #expect(purged == 24)
        // Purged events match no person filter any more.
        #expect(try f.store.subject(school: school, login: "mlebrun").isEmpty)
        let report = f.verify()
        #expect(report.ok, "\(report.problems)")
        #expect(report.chains.reduce(0) { $0 + $1.purged } == 24)
        // Purging again removes nothing more.
        #expect(try f.store.purge(school: school, olderThan: baseDate.addingTimeInterval(10 * 86_400)).purgedEvents == 0)
    }

    @Test func checkpointNamesACutTail() throws {
        let f = try Fixture()
        let server = try f.school.server()
        let checkpoint = try Checkpoint.make(store: f.store, school: school, privateKeyPEM: server.keyPEM, certificatePEM: server.certificatePEM)
        #expect(checkpoint.verifySignature(caCertificate: f.school.ca.certificate))
        #expect(checkpoint.seats.map(\.seat) == ["@server", "B204-02", "B204-03"])
        #expect(try f.store.checkpoints(school: school) == [checkpoint])
        let file = f.dir.sub("checkpoint.json")
        try checkpoint.write(to: file)
        let read = try Checkpoint.read(from: file)
        #expect(read == checkpoint && read.verifySignature())

        // The register grows: still fine against the checkpoint.
        let seat = try f.school.seat("B204-02")
        let last = try #require(try f.store.lastLinks(school: school).first { $0.seat == "B204-02" })
        try ingestAll(f.store, try chain(seat, count: 5, from: 20, after: (last.seq, last.hash)), seat)
        #expect(RegisterVerifier.verify(store: f.store, against: read, caCertificate: f.school.ca.certificate).ok)

        // Cut the newest events of B204-03 (and their batch signatures): the chain alone still looks whole.
        try tamper(f.path, "DELETE FROM events WHERE seat = 'B204-03' AND seq > 10; DELETE FROM batches WHERE seat = 'B204-03' AND last_seq > 10")
        // Routine verify checks the server's own checkpoints kept in the store.
        #expect(f.verify().problems.map(\.kind) == [.missingTail])
        let report = RegisterVerifier.verify(store: f.store, against: read, caCertificate: f.school.ca.certificate)
        let p = try #require(report.problems.first)
        #expect(report.problems.count == 1)
        #expect(p.seat == "B204-03" && p.seq == 11 && p.lastSeq == 20 && p.kind == .missingTail)
        #expect(p.text(.en) == "events 11–20 of B204-03 are missing (present at the checkpoint)")

        // A tampered checkpoint does not verify.
        var forged = read
        forged.seats[1].seq = 1
        #expect(!forged.verifySignature())
        #expect(RegisterVerifier.verify(store: f.store, against: forged).problems.contains { $0.kind == .invalidCheckpoint })
    }
}
