import Foundation
import VigieRegister
import GRDB
import VigieModel
import VigiePKI
import X509

/// The register in one SQLite file (GRDB `DatabasePool`, WAL, `synchronous = FULL`, mode 0600).
///
/// Tables (`docs/REGISTER.md`): `events` keyed by (school, seat, seq) with the
/// chain fields, the canonical content and denormalised, indexed columns for the
/// filters (NULL once purged); `batches` with each seat batch's signature and the
/// seat certificate (DER); `checkpoints`.
public final class SQLiteRegisterStore: RegisterStore {
    /// The SQLite file.
    public let path: String
    private let pool: DatabasePool

    /// Opens (or creates, mode 0600) the store at `path`.
    public init(path: String) throws {
        self.path = path
        try SQLiteFiles.prepare(path)
        pool = try DatabasePool(path: path, configuration: SQLiteFiles.configuration())
        try pool.writeWithoutTransaction { db in
            // GRDB sets NORMAL when it switches to WAL; a register commit must be on disk.
            try db.execute(sql: "PRAGMA synchronous = FULL")
        }
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1") { db in
            try db.execute(sql: """
                CREATE TABLE events (
                    school TEXT NOT NULL,
                    seat TEXT NOT NULL,
                    seq INTEGER NOT NULL,
                    time_utc TEXT NOT NULL,
                    prev_hash TEXT NOT NULL,
                    content_hash TEXT NOT NULL,
                    hash TEXT NOT NULL,
                    content TEXT,
                    room TEXT,
                    actor TEXT,
                    actor_name TEXT,
                    actor_login TEXT,
                    session_user TEXT,
                    feature TEXT,
                    outcome TEXT,
                    PRIMARY KEY (school, seat, seq)
                ) WITHOUT ROWID;
                CREATE INDEX events_time ON events(school, time_utc);
                CREATE INDEX events_room ON events(school, room, time_utc) WHERE room IS NOT NULL;
                CREATE INDEX events_actor ON events(school, actor_login) WHERE actor_login IS NOT NULL;
                CREATE INDEX events_actor_name ON events(school, actor_name) WHERE actor_name IS NOT NULL;
                CREATE INDEX events_session_user ON events(school, session_user) WHERE session_user IS NOT NULL;
                CREATE TABLE batches (
                    school TEXT NOT NULL,
                    seat TEXT NOT NULL,
                    last_seq INTEGER NOT NULL,
                    last_hash TEXT NOT NULL,
                    signature TEXT NOT NULL,
                    certificate BLOB NOT NULL,
                    received_utc TEXT NOT NULL,
                    PRIMARY KEY (school, seat, last_seq)
                ) WITHOUT ROWID;
                CREATE TABLE checkpoints (
                    school TEXT NOT NULL,
                    created_utc TEXT NOT NULL,
                    json TEXT NOT NULL
                );
                CREATE INDEX checkpoints_school ON checkpoints(school, created_utc);
                CREATE TABLE meta (key TEXT PRIMARY KEY NOT NULL, value TEXT NOT NULL);
                INSERT INTO meta(key, value) VALUES ('encoding', 'v1');
                """)
        }
        migrator.registerMigration("v2-batch-links") { db in
            // The chain fields of each batch as the seat sent them (see `BatchLinks`).
            try db.execute(sql: "ALTER TABLE batches ADD COLUMN links TEXT")
        }
        try migrator.migrate(pool)
    }

    static let columns = "school, seat, seq, time_utc, prev_hash, content_hash, hash, content"

    // MARK: Ingest

    public func ingest(_ batch: Batch, certificateDER: [UInt8]) throws -> IngestResult {
        let school = batch.school
        let seat = batch.seat
        let who = "seat \(seat) of school \(school)"
        guard let first = batch.events.first, let last = batch.events.last else {
            throw RegisterError(.invalidBatch, "\(who): the batch has no event")
        }
        guard seat != RegisterEvent.serverSeat else {
            throw RegisterError(.invalidBatch, "\(who): a seat cannot send events of the server's chain")
        }
        // Who signed: the certificate must name this seat of this school, and its key must verify.
        let certificate: Certificate
        do {
            certificate = try Certificate(derEncoded: certificateDER)
        } catch {
            throw RegisterError(.badSignature, "\(who): the certificate cannot be decoded: \(error)")
        }
        let identity = try? CertificateIdentity.identity(of: certificate)
        guard let identity, identity.schoolID == school, identity.seatID == seat else {
            throw RegisterError(.badSignature, "\(who): the batch came with the certificate of \(identity?.uri ?? "no Vigie identity"), not of this seat")
        }
        guard batch.verify(certificate: certificate) else {
            throw RegisterError(.badSignature, "\(who): the batch signature (events \(first.seq)–\(last.seq)) is not valid for the seat's certificate")
        }
        // The batch must link by itself (checked outside the write lock).
        var previous: (seq: Int64, hash: String)? = first.seq == 1 ? nil : (first.seq - 1, first.prevHash)
        var rows: [(ChainedEvent, RegisterEvent)] = []
        rows.reserveCapacity(batch.events.count)
        for event in batch.events {
            try event.check(after: previous, school: school, seat: seat)
            rows.append((event, try RegisterEvent(json: event.content!)))
            previous = (event.seq, event.hash)
        }
        let received = RegisterTime.utc(Date())

        return try pool.write { db in
            let stored = try Self.lastLink(db, school: school, seat: seat)
            let storedSeq = stored?.seq ?? 0
            if first.seq > storedSeq + 1 { return .gap(expected: storedSeq + 1) }
            // Events we already hold must be the same ones.
            if first.seq <= storedSeq {
                let upTo = min(storedSeq, last.seq)
                let hashes = try Row.fetchAll(
                    db, sql: "SELECT seq, hash FROM events WHERE school = ? AND seat = ? AND seq BETWEEN ? AND ? ORDER BY seq",
                    arguments: [school, seat, first.seq, upTo])
                var known: [Int64: String] = [:]
                for row in hashes { known[row["seq"]] = row["hash"] }
                for (event, _) in rows where event.seq <= upTo {
                    guard let hash = known[event.seq] else {
                        throw RegisterError(.chainConflict, "\(who): seq \(event.seq) is missing from the store although later events are there")
                    }
                    guard hash == event.hash else {
                        throw RegisterError(
                            .chainConflict,
                            "\(who): the event at seq \(event.seq) differs from the one already stored (stored hash \(hash.prefix(16))…, received \(event.hash.prefix(16))…)")
                    }
                }
                // The new events link inside the batch to the event at storedSeq, which matched.
            } else if let stored, first.prevHash != stored.hash {
                throw RegisterError(
                    .chainConflict,
                    "\(who): the event at seq \(first.seq) does not link to the stored event at seq \(stored.seq) (prevHash differs)")
            }
            for (event, content) in rows where event.seq > storedSeq {
                try Self.insert(db, school: school, seat: seat, event: event, content: content)
            }
            try db.execute(
                sql: """
                    INSERT OR IGNORE INTO batches(school, seat, last_seq, last_hash, signature, certificate, received_utc, links)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                    """,
                arguments: [school, seat, last.seq, last.hash, batch.signature, Data(certificateDER), received, BatchLinks(batch.events).text])
            return .stored(lastSeq: max(storedSeq, last.seq))
        }
    }

    static func insert(_ db: Database, school: String, seat: String, event: ChainedEvent, content: RegisterEvent) throws {
        try db.execute(
            sql: """
                INSERT INTO events(school, seat, seq, time_utc, prev_hash, content_hash, hash, content,
                                   room, actor, actor_name, actor_login, session_user, feature, outcome)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """,
            arguments: [
                school, seat, event.seq, event.timeUTC, event.prevHash, event.contentHash, event.hash, event.content,
                content.room, content.actor, content.actorName, content.actorLogin, content.sessionUser,
                content.feature, content.outcome.rawValue,
            ])
    }

    static func lastLink(_ db: Database, school: String, seat: String) throws -> (seq: Int64, hash: String)? {
        guard let row = try Row.fetchOne(
            db, sql: "SELECT seq, hash FROM events WHERE school = ? AND seat = ? ORDER BY seq DESC LIMIT 1",
            arguments: [school, seat])
        else { return nil }
        return (row["seq"], row["hash"])
    }

    // MARK: Server chain

    public func appendServer(_ event: RegisterEvent, school: String) throws -> ChainedEvent {
        let seat = RegisterEvent.serverSeat
        guard event.school == school, event.seat == seat else {
            throw RegisterError(.invalidContent, "a server event must name school \(school) and seat \(seat), not seat \(event.seat) of school \(event.school)")
        }
        guard RegisterTime.parseUTC(event.timeUTC) != nil else {
            throw RegisterError(.invalidContent, "time \"\(event.timeUTC)\" is not of the form 2026-11-23T09:02:00.123Z")
        }
        return try pool.write { db in
            let previous = try Self.lastLink(db, school: school, seat: seat)
            let chained = ChainedEvent.make(after: previous, school: school, seat: seat, event: event)
            try Self.insert(db, school: school, seat: seat, event: chained, content: event)
            return chained
        }
    }

    // MARK: Reading

    public func placedEvents(
        _ filter: RegisterFilter, _ visit: (_ school: String, _ seat: String, ChainedEvent, RegisterEvent?) throws -> Void
    ) throws {
        var conditions: [String] = []
        var arguments: StatementArguments = []
        if let school = filter.school { conditions.append("school = ?"); arguments += [school] }
        if let from = filter.from { conditions.append("time_utc >= ?"); arguments += [RegisterTime.utc(from)] }
        if let to = filter.to { conditions.append("time_utc < ?"); arguments += [RegisterTime.utc(to)] }
        if let room = filter.room { conditions.append("room = ?"); arguments += [room] }
        if let seat = filter.seat { conditions.append("seat = ?"); arguments += [seat] }
        if let actor = filter.actor {
            conditions.append("(actor = ? OR actor_name = ? OR actor_login = ?)")
            arguments += [actor, actor, actor]
        }
        if let user = filter.sessionUser { conditions.append("session_user = ?"); arguments += [user] }
        if let subject = filter.subject {
            conditions.append("(session_user = ? OR actor_login = ?)")
            arguments += [subject, subject]
        }
        if !filter.includePurged { conditions.append("content IS NOT NULL") }
        if let features = filter.features {
            conditions.append("feature IN (\(features.map { _ in "?" }.joined(separator: ", ")))")
            arguments += StatementArguments(features)
        }
        let whereClause = conditions.isEmpty ? "" : "WHERE " + conditions.joined(separator: " AND ")
        let sql = "SELECT \(Self.columns) FROM events \(whereClause) ORDER BY time_utc, school, seat, seq"
        try pool.read { db in
            let cursor = try Row.fetchCursor(db, sql: sql, arguments: arguments)
            while let row = try cursor.next() {
                let chained = Self.chained(row)
                let event = try chained.content.map { try RegisterEvent(json: $0) }
                let school: String = row["school"], seat: String = row["seat"]
                // The indexed columns only pre-select: the (hashed) content decides.
                guard filter.matches(school: school, seat: seat, chained, event) else { continue }
                try visit(school, seat, chained, event)
            }
        }
    }

    public func chain(school: String, seat: String, from seq: Int64 = 1, _ visit: (ChainedEvent) throws -> Void) throws {
        try pool.read { db in
            let cursor = try Row.fetchCursor(
                db, sql: "SELECT \(Self.columns) FROM events WHERE school = ? AND seat = ? AND seq >= ? ORDER BY seq",
                arguments: [school, seat, seq])
            while let row = try cursor.next() { try visit(Self.chained(row)) }
        }
    }

    public func event(school: String, seat: String, seq: Int64) throws -> ChainedEvent? {
        try pool.read { db in
            try Row.fetchOne(
                db, sql: "SELECT \(Self.columns) FROM events WHERE school = ? AND seat = ? AND seq = ?",
                arguments: [school, seat, seq]
            ).map(Self.chained)
        }
    }

    public func schools() throws -> [String] {
        try pool.read { db in try String.fetchAll(db, sql: "SELECT DISTINCT school FROM events ORDER BY school") }
    }

    public func lastLink(school: String, seat: String) throws -> ChainLink? {
        try pool.read { db in try Self.lastLink(db, school: school, seat: seat).map { ChainLink(seat: seat, seq: $0.seq, hash: $0.hash) } }
    }

    public func lastLinks(school: String) throws -> [ChainLink] {
        try pool.read { db in
            let seats = try String.fetchAll(db, sql: "SELECT DISTINCT seat FROM events WHERE school = ? ORDER BY seat", arguments: [school])
            return try seats.compactMap { seat in
                try Self.lastLink(db, school: school, seat: seat).map { ChainLink(seat: seat, seq: $0.seq, hash: $0.hash) }
            }
        }
    }

    public func signatures(school: String, seat: String) throws -> [StoredSignature] {
        try pool.read { db in
            try Row.fetchAll(
                db, sql: "SELECT school, seat, last_seq, last_hash, signature, certificate, links FROM batches WHERE school = ? AND seat = ? ORDER BY last_seq",
                arguments: [school, seat]
            ).map { row in
                let der: Data = row["certificate"]
                let lastSeq: Int64 = row["last_seq"]
                let links = (row["links"] as String?).flatMap { BatchLinks(text: $0, lastSeq: lastSeq) }
                return StoredSignature(
                    school: row["school"], seat: row["seat"], lastSeq: lastSeq, lastHash: row["last_hash"],
                    signature: row["signature"], certificateDER: Array(der), links: links)
            }
        }
    }

    public func signedSeats(school: String) throws -> [String] {
        try pool.read { db in
            try String.fetchAll(db, sql: "SELECT DISTINCT seat FROM batches WHERE school = ? ORDER BY seat", arguments: [school])
        }
    }

    public func indexedColumns(school: String, seat: String, _ visit: (_ seq: Int64, _ content: String?, IndexedColumns) throws -> Void) throws {
        try pool.read { db in
            let cursor = try Row.fetchCursor(
                db, sql: """
                    SELECT seq, content, room, actor, actor_name, actor_login, session_user, feature, outcome
                    FROM events WHERE school = ? AND seat = ? ORDER BY seq
                    """,
                arguments: [school, seat])
            while let row = try cursor.next() {
                try visit(
                    row["seq"], row["content"],
                    IndexedColumns(
                        room: row["room"], actor: row["actor"], actorName: row["actor_name"], actorLogin: row["actor_login"],
                        sessionUser: row["session_user"], feature: row["feature"], outcome: row["outcome"]))
            }
        }
    }

    static func chained(_ row: Row) -> ChainedEvent {
        ChainedEvent(
            seq: row["seq"], timeUTC: row["time_utc"], prevHash: row["prev_hash"],
            contentHash: row["content_hash"], hash: row["hash"], content: row["content"])
    }

    // MARK: Retention

    public func purge(school: String, olderThan date: Date, features: FeatureScope) throws -> PurgeResult {
        let cutoff = RegisterTime.utc(date)
        var scope = ""
        var arguments: StatementArguments = [school, cutoff]
        switch features {
        case .all: break
        case .only(let names):
            scope = " AND feature IN (\(names.map { _ in "?" }.joined(separator: ", ")))"
            arguments += StatementArguments(names)
        case .except(let names):
            scope = " AND (feature IS NULL OR feature NOT IN (\(names.map { _ in "?" }.joined(separator: ", "))))"
            arguments += StatementArguments(names)
        }
        return try pool.write { db in
            var files: [String] = []
            let cursor = try String.fetchCursor(
                db, sql: """
                    SELECT content FROM events
                    WHERE school = ? AND time_utc < ? AND content IS NOT NULL\(scope)
                    """,
                arguments: arguments)
            // The content says what was saved, not the `feature` column (a copy that verify checks).
            while let content = try cursor.next() {
                guard let event = try? RegisterEvent(json: content), event.feature == "screenshot.saved" else { continue }
                if let file = event.args["file"], !file.isEmpty { files.append(file) }
            }
            try db.execute(
                sql: """
                    UPDATE events SET content = NULL, room = NULL, actor = NULL, actor_name = NULL, actor_login = NULL,
                                      session_user = NULL, feature = NULL, outcome = NULL
                    WHERE school = ? AND time_utc < ? AND content IS NOT NULL\(scope)
                    """,
                arguments: arguments)
            return PurgeResult(purgedEvents: db.changesCount, screenshotFiles: files, cutoffUTC: cutoff)
        }
    }

    // MARK: Checkpoints

    public func saveCheckpoint(_ checkpoint: Checkpoint) throws {
        let json = try checkpoint.jsonString()
        try pool.write { db in
            try db.execute(
                sql: "INSERT INTO checkpoints(school, created_utc, json) VALUES (?, ?, ?)",
                arguments: [checkpoint.school, checkpoint.createdUTC, json])
        }
    }

    public func checkpoints(school: String) throws -> [Checkpoint] {
        try pool.read { db in
            try String.fetchAll(db, sql: "SELECT json FROM checkpoints WHERE school = ? ORDER BY created_utc, rowid", arguments: [school])
        }.map { try Checkpoint(json: $0) }
    }

    /// Runs raw SQL on the store's file: for tests and repairs, never for the register's normal work.
    public func unsafeExecute(_ sql: String) throws {
        try pool.writeWithoutTransaction { db in try db.execute(sql: sql) }
    }
}
