import Foundation
import Testing

@testable import VigieRegister

/// Rewrites a seat's events from `seq` on as an intruder who knows the format would:
/// `edit` changes the content of the event at `seq`, then every later link is
/// recomputed so the chain holds by itself; the indexed columns follow the content.
func rewrite(_ f: Fixture, seat: String, from seq: Int64, edit: (inout RegisterEvent) -> Void) throws {
    var events: [ChainedEvent] = []
    try f.store.chain(school: school, seat: seat, from: 1) { events.append($0) }
    var previous = (seq: seq - 1, hash: events[Int(seq) - 1].prevHash)
    for original in events where original.seq >= seq {
        var content = try #require(original.event)
        if original.seq == seq { edit(&content) }
        let made = ChainedEvent.make(after: previous, school: school, seat: seat, event: content)
        let quoted = made.content!.replacingOccurrences(of: "'", with: "''")
        func text(_ s: String?) -> String { s.map { "'\($0.replacingOccurrences(of: "'", with: "''"))'" } ?? "NULL" }
        try tamper(f.path, """
            UPDATE events SET content = '\(quoted)', content_hash = '\(made.contentHash)', prev_hash = '\(made.prevHash)', hash = '\(made.hash)',
                session_user = \(text(content.sessionUser)), actor = \(text(content.actor)), actor_name = \(text(content.actorName)),
                actor_login = \(text(content.actorLogin))
            WHERE seat = '\(seat)' AND seq = \(original.seq)
            """)
        previous = (made.seq, made.hash)
    }
}

@Suite struct ProofTests {
    // MARK: Indexed columns

    @Test func anEditedActorColumnIsNamedAndNoLongerHidesTheEventFromItsActor() throws {
        let f = try Fixture()
        // Event 5 of B204-02 is by Mme Martin; its actor_login column is changed.
        let before = try f.store.subject(school: school, login: "mmartin").filter { $0.0.seq == 5 }
        #expect(before.count == 2, "event 5 of each seat")
        try tamper(f.path, "UPDATE events SET actor_login = 'pdurand' WHERE seat = 'B204-02' AND seq = 5")
        let report = f.verify()
        let p = try #require(report.problems.first)
        #expect(report.problems.count == 1)
        #expect(p.seat == "B204-02" && p.seq == 5 && p.kind == .edited)
        #expect(p.text(.en).contains("actor_login"))
        #expect(report.text(.fr).contains("l’événement 5 de B204-02 a été modifié"))
        // A column changed to pull an event into someone else's access request: the content decides.
        try tamper(f.path, "UPDATE events SET session_user = 'eleve9', actor_login = 'eleve9' WHERE seat = 'B204-03' AND seq = 2")
        #expect(try f.store.subject(school: school, login: "eleve9").isEmpty)
        var byDurand: [Int64] = []
        try f.store.events(RegisterFilter(school: school, seat: "B204-02", actor: "pdurand")) { c, _ in byDurand.append(c.seq) }
        #expect(!byDurand.contains(5), "the export by actor follows the content, not the edited column")
        #expect(byDurand.contains(4))
    }

    @Test func everyIndexedColumnIsCovered() throws {
        for column in ["room", "actor", "actor_name", "actor_login", "session_user", "feature", "outcome"] {
            let f = try Fixture()
            try tamper(f.path, "UPDATE events SET \(column) = 'x' WHERE seat = 'B204-03' AND seq = 12")
            let p = try #require(f.verify().problems.first, "\(column)")
            #expect(p.seat == "B204-03" && p.seq == 12 && p.kind == .edited && p.detail.contains(column), "\(column): \(p)")
        }
    }

    // MARK: Where an edit starts

    @Test func aRecomputedEditIsNamedWhereItStartsNotAtTheBatchEnd() throws {
        // Batches of 5: 1–5, 6–10, … The intruder edits event 7 and recomputes 7–20.
        let f = try Fixture()
        try rewrite(f, seat: "B204-02", from: 7) { $0.sessionUser = "quelquun" }
        let report = f.verify()
        #expect(report.problems.count == 1, "\(report.problems)")
        let p = try #require(report.problems.first)
        #expect(p.seat == "B204-02" && p.seq == 7 && p.kind == .edited, "\(p)")
        #expect(p.text(.en).hasPrefix("event 7 of B204-02 was edited"))
    }

    @Test func withoutItsBatchLinksARecomputedEditIsNamedByItsBatch() throws {
        let f = try Fixture()
        try rewrite(f, seat: "B204-02", from: 7) { $0.sessionUser = "quelquun" }
        // The intruder also alters the kept links: they no longer give the signed hash.
        try tamper(f.path, "UPDATE batches SET links = replace(links, substr(links, 1, 8), '00000000') WHERE seat = 'B204-02' AND last_seq = 10")
        let p = try #require(f.verify().problems.first)
        #expect(p.seat == "B204-02" && p.seq == 6 && p.lastSeq == 10 && p.kind == .edited, "\(p)")
        #expect(p.text(.en).hasPrefix("one of events 6–10 of B204-02 was edited"))
    }

    // MARK: Seats of the config and the server's own checkpoints

    @Test func aSeatOfTheConfigThatNeverShippedIsListedNotReported() throws {
        let f = try Fixture()
        let report = RegisterVerifier.verify(store: f.store, school: school, caCertificate: f.school.ca.certificate, seats: ["B204-02", "B204-03", "B204-09"])
        #expect(report.ok, "\(report.problems)")
        #expect(report.silentSeats == ["B204-09"])
        #expect(report.text(.fr).contains("postes sans aucun événement reçu (jamais versé) : B204-09"))
    }

    @Test func aWholeSeatDeletedIsNamed() throws {
        // Its events go; its batch signatures remain: they show what the seat sent.
        let f = try Fixture()
        try tamper(f.path, "DELETE FROM events WHERE seat = 'B204-03'")
        let report = f.verify()
        let p = try #require(report.problems.first)
        #expect(report.problems.count == 1)
        #expect(p.seat == "B204-03" && p.seq == 1 && p.lastSeq == 20 && p.kind == .removed, "\(p)")
        #expect(p.text(.fr) == "les événements 1–20 de B204-03 ont été supprimés")

        // Signatures deleted too: the server's last signed checkpoint still names the seat.
        let g = try Fixture()
        let server = try g.school.server()
        _ = try Checkpoint.make(store: g.store, school: school, privateKeyPEM: server.keyPEM, certificatePEM: server.certificatePEM)
        try tamper(g.path, "DELETE FROM events WHERE seat = 'B204-03'; DELETE FROM batches WHERE seat = 'B204-03'")
        let q = try #require(g.verify().problems.first)
        #expect(q.seat == "B204-03" && q.seq == 1 && q.lastSeq == 20 && q.kind == .missingTail, "\(q)")
    }

    @Test func aSeatTailCutAtABatchBoundaryIsCaughtByTheServersCheckpoint() throws {
        let f = try Fixture()
        let server = try f.school.server()
        _ = try Checkpoint.make(store: f.store, school: school, privateKeyPEM: server.keyPEM, certificatePEM: server.certificatePEM)
        try tamper(f.path, "DELETE FROM events WHERE seat = 'B204-03' AND seq > 15; DELETE FROM batches WHERE seat = 'B204-03' AND last_seq > 15")
        let report = f.verify()
        #expect(report.problems.count == 1)
        let p = try #require(report.problems.first)
        #expect(p.seat == "B204-03" && p.seq == 16 && p.lastSeq == 20 && p.kind == .missingTail, "\(p)")
        #expect(report.text(.en).contains("events 16–20 of B204-03 are missing"))
    }

    @Test func aCutOfTheServersOwnChainIsCaught() throws {
        let f = try Fixture()
        let server = try f.school.server()
        _ = try Checkpoint.make(store: f.store, school: school, privateKeyPEM: server.keyPEM, certificatePEM: server.certificatePEM)
        try tamper(f.path, "DELETE FROM events WHERE seat = '@server' AND seq = 3")
        let p = try #require(f.verify().problems.first)
        #expect(p.seat == "@server" && p.seq == 3 && p.kind == .missingTail, "\(p)")
    }

    @Test func aForgedCheckpointInTheStoreIsReported() throws {
        let f = try Fixture()
        let server = try f.school.server()
        var point = try Checkpoint.make(store: f.store, school: school, privateKeyPEM: server.keyPEM, certificatePEM: server.certificatePEM)
        point.seats[1].seq = 1
        try f.store.saveCheckpoint(point)
        let report = f.verify()
        #expect(report.problems.contains { $0.kind == .invalidCheckpoint })
    }

    @Test func theRegisterGrowingAfterACheckpointStaysWhole() throws {
        let f = try Fixture()
        let server = try f.school.server()
        _ = try Checkpoint.make(store: f.store, school: school, privateKeyPEM: server.keyPEM, certificatePEM: server.certificatePEM)
        let seat = try f.school.seat("B204-02")
        let last = try #require(try f.store.lastLinks(school: school).first { $0.seat == "B204-02" })
        try ingestAll(f.store, try chain(seat, count: 5, from: 20, after: (last.seq, last.hash)), seat)
        let report = f.verify()
        #expect(report.ok, "\(report.problems)")
        #expect(report.storedCheckpointUTC != nil)
    }
}
