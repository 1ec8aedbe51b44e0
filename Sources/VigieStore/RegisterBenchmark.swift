import Crypto
import Dispatch
import Foundation
import VigieRegister
import VigieModel
import VigiePKI
import X509

/// Figures for the README: ingest rate of signed seat batches, CSV export and
/// verify, on a temporary store. Call it from the CLI (`vigie register bench`).
public enum RegisterBenchmark {
    /// What was measured.
    public struct Result: Sendable, Codable, CustomStringConvertible {
        /// Seats that sent batches.
        public var seats: Int
        /// Events per seat.
        public var eventsPerSeat: Int
        /// Events per batch.
        public var batchSize: Int
        /// Events stored.
        public var events: Int
        /// Seconds to prepare the signed batches (seat side, not part of the rate).
        public var prepareSeconds: Double
        /// Wall-clock seconds to ingest every batch (seats in parallel, signature and chain checks included).
        public var ingestSeconds: Double
        /// Events per second stored.
        public var ingestRate: Double { Double(events) / ingestSeconds }
        /// Seconds to export every event to CSV.
        public var exportSeconds: Double
        /// Bytes of the CSV.
        public var csvBytes: Int64
        /// Seconds to verify every chain.
        public var verifySeconds: Double
        /// Whether verify found the register whole (it must).
        public var verifyOK: Bool
        /// Bytes of the SQLite store (with its WAL).
        public var storeBytes: Int64

        /// One line per figure.
        public var description: String {
            """
            \(seats) seats × \(eventsPerSeat) events = \(events) events, batches of \(batchSize)
            prepare (seat side): \(String(format: "%.2f", prepareSeconds)) s
            ingest: \(String(format: "%.2f", ingestSeconds)) s = \(Int(ingestRate)) events/s
            export CSV: \(String(format: "%.2f", exportSeconds)) s (\(csvBytes / 1_000_000) MB)
            verify: \(String(format: "%.2f", verifySeconds)) s (\(verifyOK ? "whole" : "NOT WHOLE"))
            store: \(storeBytes / 1_000_000) MB
            """
        }
    }

    /// Ingests `seats` × `eventsPerSeat` events in signed batches of `batchSize`
    /// (the seats in parallel), then exports them all to CSV and verifies them, in
    /// a temporary directory under `directory` that is removed afterwards.
    public static func run(
        seats: Int, eventsPerSeat: Int, batchSize: Int = 200, directory: String = NSTemporaryDirectory(),
        progress: (@Sendable (String) -> Void)? = nil
    ) throws -> Result {
        let dir = directory + "/vigie-register-bench-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let school = "0750001A"
        let ca = try SchoolCA.create(schoolID: school, schoolName: "Lycée Banc d’Essai")

        progress?("preparing \(seats * eventsPerSeat) events")
        let prepareStart = DispatchTime.now()
        struct SeatWork: @unchecked Sendable {
            var batches: [Batch]
            var certificateDER: [UInt8]
        }
        var work: [SeatWork] = []
        let base = Date(timeIntervalSince1970: 1_795_000_000)
        let paris = TimeZone(identifier: "Europe/Paris")!
        for s in 0..<seats {
            let seat = String(format: "B%03d-%02d", 200 + s / 30, s % 30 + 1)
            let issued = try ca.issue(identity: Identity(schoolID: school, kind: .seat(id: seat), displayName: seat))
            let key = try P256.Signing.PrivateKey(pemRepresentation: issued.privateKeyPEM!)
            var previous: (seq: Int64, hash: String)?
            var batches: [Batch] = []
            var pending: [ChainedEvent] = []
            for i in 0..<eventsPerSeat {
                let date = base.addingTimeInterval(Double(i) * 7.3 + Double(s) * 0.011)
                let event = sampleEvent(school: school, seat: seat, index: i, date: date, timeZone: paris)
                let chained = ChainedEvent.make(after: previous, school: school, seat: seat, event: event)
                previous = (chained.seq, chained.hash)
                pending.append(chained)
                if pending.count == batchSize || i == eventsPerSeat - 1 {
                    batches.append(try Batch.sign(school: school, seat: seat, events: pending, key: key))
                    pending.removeAll(keepingCapacity: true)
                }
            }
            work.append(SeatWork(batches: batches, certificateDER: try issued.certificate.serializeAsPEM().derBytes))
        }
        let prepareSeconds = seconds(since: prepareStart)

        let storePath = dir + "/register.sqlite"
        let store = try SQLiteRegisterStore(path: storePath)
        progress?("ingesting")
        let ingestStart = DispatchTime.now()
        let failures = Failures()
        let shared = work
        DispatchQueue.concurrentPerform(iterations: seats) { s in
            for batch in shared[s].batches {
                do {
                    guard case .stored = try store.ingest(batch, certificateDER: shared[s].certificateDER) else {
                        failures.add("seat \(batch.seat): gap")
                        return
                    }
                } catch {
                    failures.add("\(error)")
                    return
                }
            }
        }
        let ingestSeconds = seconds(since: ingestStart)
        if let failure = failures.first { throw RegisterError(.brokenChain, "benchmark ingest failed: \(failure)") }
        work = []

        progress?("exporting to CSV")
        let csvPath = dir + "/export.csv"
        let exportStart = DispatchTime.now()
        let handle = try RegisterExport.createFile(csvPath)
        try RegisterExport.csv(store: store, filter: RegisterFilter(school: school), to: handle)
        try handle.close()
        let exportSeconds = seconds(since: exportStart)
        let csvBytes = (try? FileManager.default.attributesOfItem(atPath: csvPath)[.size] as? NSNumber)??.int64Value ?? 0

        progress?("verifying")
        let verifyStart = DispatchTime.now()
        let report = RegisterVerifier.verify(store: store, school: school)
        let verifySeconds = seconds(since: verifyStart)

        var storeBytes: Int64 = 0
        for suffix in ["", "-wal"] {
            storeBytes += (try? FileManager.default.attributesOfItem(atPath: storePath + suffix)[.size] as? NSNumber)??.int64Value ?? 0
        }
        return Result(
            seats: seats, eventsPerSeat: eventsPerSeat, batchSize: batchSize, events: seats * eventsPerSeat,
            prepareSeconds: prepareSeconds, ingestSeconds: ingestSeconds, exportSeconds: exportSeconds, csvBytes: csvBytes,
            verifySeconds: verifySeconds, verifyOK: report.ok && report.eventsChecked == Int64(seats * eventsPerSeat),
            storeBytes: storeBytes)
    }

    /// A plausible event: locks, messages with accents and punctuation, screenshots, refusals.
    static func sampleEvent(school: String, seat: String, index i: Int, date: Date, timeZone: TimeZone) -> RegisterEvent {
        let room = String(seat.prefix(4))
        let teacher = "mmartin"
        var args: [String: String] = [:]
        let feature: Feature
        var outcome = RegisterEvent.Outcome.done
        var code = "done"
        var params: [String: String] = [:]
        switch i % 5 {
        case 0: feature = .lock; code = "lock.done"
        case 1: feature = .unlock; code = "unlock.done"
        case 2:
            feature = .message; code = "message.shown"
            args["text"] = "Rangez vos affaires, s’il vous plaît : « fin du cours », merci ! (\(i))"
        case 3:
            feature = .screenshot; code = "done"
            args = ["width": "1920", "height": "1080", "bytes": "412345"]
        default:
            feature = .thumbnail; outcome = .refused; code = "policy.window"
            params = ["room": room]
        }
        return RegisterEvent(
            school: school, seat: seat, date: date, timeZone: timeZone, room: room,
            actor: "vigie://\(school)/person/teacher/\(teacher)", actorName: "Mme Martin", actorRole: "teacher",
            feature: feature.rawValue, args: args, outcome: outcome, code: code, params: params,
            sessionUser: "eleve\(i % 30)", configVersion: "2026-09-01.3")
    }

    static func seconds(since start: DispatchTime) -> Double {
        Double(DispatchTime.now().uptimeNanoseconds - start.uptimeNanoseconds) / 1e9
    }

    final class Failures: @unchecked Sendable {
        private let lock = NSLock()
        private var items: [String] = []
        func add(_ s: String) { lock.lock(); items.append(s); lock.unlock() }
        var first: String? { lock.lock(); defer { lock.unlock() }; return items.first }
    }
}
