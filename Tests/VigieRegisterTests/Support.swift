import Crypto
import Foundation
import VigieTestSupport
import GRDB
import VigieModel
import VigiePKI
import X509

@testable import VigieRegister
@testable import VigieStore

let school = "0750001A"
let paris = TimeZone(identifier: "Europe/Paris")!

/// A fresh temporary directory for this target's tests.
func tempDir() throws -> TempDir { try TempDir("vigie-register") }

/// A seat with its key and certificate.
struct TestSeat {
    let id: String
    let key: P256.Signing.PrivateKey
    let keyPEM: String
    let certificate: Certificate
    let der: [UInt8]
}

/// A school CA issuing seats and a server.
struct TestSchool {
    let ca: SchoolCA
    init() throws { ca = try SchoolCA.create(schoolID: school, schoolName: "Lycée Exemple") }

    func seat(_ id: String) throws -> TestSeat {
        let issued = try ca.issue(identity: Identity(schoolID: school, kind: .seat(id: id), displayName: id))
        return TestSeat(
            id: id, key: try P256.Signing.PrivateKey(pemRepresentation: issued.privateKeyPEM!), keyPEM: issued.privateKeyPEM!,
            certificate: issued.certificate, der: try issued.certificate.serializeAsPEM().derBytes)
    }

    func server() throws -> (keyPEM: String, certificatePEM: String) {
        let issued = try ca.issue(identity: Identity(schoolID: school, kind: .server(name: "srv"), displayName: "srv"))
        return (issued.privateKeyPEM!, issued.certificatePEM)
    }
}

let baseDate = Date(timeIntervalSince1970: 1_795_424_520.123)  // 2026-11-23T09:02:00.123Z

/// The i-th test event of a seat: varied features, rooms, actors and users.
func sampleEvent(_ seat: String, _ i: Int, date: Date? = nil) -> RegisterEvent {
    let features = ["lock", "message", "screenshot", "unlock", "thumbnail"]
    let feature = features[i % features.count]
    var args: [String: String] = [:]
    if feature == "message" { args["text"] = "Message n° \(i) : « rangez, SVP », \"vite\"\nmerci ; à bientôt" }
    if feature == "screenshot" { args = ["width": "1920", "height": "1080"] }
    return RegisterEvent(
        school: school, seat: seat, date: date ?? baseDate.addingTimeInterval(Double(i) * 60), timeZone: paris,
        room: String(seat.prefix(4)), actor: "vigie://\(school)/person/teacher/\(i % 2 == 0 ? "mmartin" : "pdurand")",
        actorName: i % 2 == 0 ? "Mme Martin" : "M. Durand", actorRole: "teacher", feature: feature, args: args,
        outcome: i % 7 == 6 ? .refused : .done, code: i % 7 == 6 ? "policy.window" : "done",
        params: i % 7 == 6 ? ["room": String(seat.prefix(4))] : [:], sessionUser: "eleve\(i % 3)", configVersion: "3")
}

/// A chain of `count` events for `seat`, in signed batches of `batchSize`.
func chain(_ seat: TestSeat, count: Int, batchSize: Int = 10, from start: Int = 0, after previous: (seq: Int64, hash: String)? = nil,
           dates: ((Int) -> Date)? = nil) throws -> [Batch] {
    var previous = previous
    var events: [ChainedEvent] = []
    for i in start..<(start + count) {
        let e = ChainedEvent.make(after: previous, school: school, seat: seat.id, event: sampleEvent(seat.id, i, date: dates?(i)))
        previous = (e.seq, e.hash)
        events.append(e)
    }
    return try stride(from: 0, to: events.count, by: batchSize).map {
        try Batch.sign(school: school, seat: seat.id, events: Array(events[$0..<min($0 + batchSize, events.count)]), key: seat.key)
    }
}

/// Ingests every batch, expecting each to be stored.
func ingestAll(_ store: SQLiteRegisterStore, _ batches: [Batch], _ seat: TestSeat) throws {
    for batch in batches {
        let result = try store.ingest(batch, certificateDER: seat.der)
        guard case .stored = result else { throw RegisterError(.brokenChain, "unexpected \(result)") }
    }
}

/// Raw SQL on the store's file through a separate connection, as an intruder would.
func tamper(_ path: String, _ sql: String) throws {
    let queue = try DatabaseQueue(path: path)
    try queue.writeWithoutTransaction { db in try db.execute(sql: sql) }
}
