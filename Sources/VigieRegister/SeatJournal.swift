import Foundation
import GRDB

/// The seat's own journal: an append-only hash chain in SQLite.
///
/// ``append(_:)`` returns once the event is committed with `synchronous = FULL`
/// in WAL mode: the agent writes before it answers the console, so an event the
/// console saw is on disk even if the agent is killed with `kill -9` right after.
/// Events stay until the server has acknowledged them (``acknowledge(upTo:)``);
/// acknowledged rows are kept and can be pruned after some days.
///
/// One journal belongs to one (school, seat): opening it for another throws.
/// Thread-safe (all access goes through one GRDB `DatabaseQueue`).
public final class SeatJournal: @unchecked Sendable {
    /// The school id.
    public let school: String
    /// The seat id.
    public let seat: String
    /// The SQLite file.
    public let path: String
    private let queue: DatabaseQueue

    /// Opens (or creates, mode 0600) the journal at `path` for `seat` of `school`.
    public init(path: String, school: String, seat: String) throws {
        self.school = school
        self.seat = seat
        self.path = path
        try SQLiteFiles.prepare(path)
        queue = try DatabaseQueue(path: path, configuration: SQLiteFiles.configuration())
        try queue.writeWithoutTransaction { db in
            try SQLiteFiles.enableWAL(db)
            try db.execute(sql: "PRAGMA synchronous = FULL")
        }
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1") { db in
            try db.execute(sql: """
                CREATE TABLE meta (key TEXT PRIMARY KEY NOT NULL, value TEXT NOT NULL);
                CREATE TABLE journal (
                    seq INTEGER PRIMARY KEY NOT NULL,
                    time_utc TEXT NOT NULL,
                    prev_hash TEXT NOT NULL,
                    content_hash TEXT NOT NULL,
                    hash TEXT NOT NULL,
                    content TEXT,
                    acked INTEGER NOT NULL DEFAULT 0
                );
                CREATE INDEX journal_unacked ON journal(acked, seq);
                """)
        }
        try migrator.migrate(queue)
        try queue.write { db in
            let storedSchool = try String.fetchOne(db, sql: "SELECT value FROM meta WHERE key = 'school'")
            let storedSeat = try String.fetchOne(db, sql: "SELECT value FROM meta WHERE key = 'seat'")
            if storedSchool == nil && storedSeat == nil {
                try db.execute(sql: "INSERT INTO meta(key, value) VALUES ('school', ?), ('seat', ?), ('encoding', 'v1')", arguments: [school, seat])
            } else if storedSchool != school || storedSeat != seat {
                throw RegisterError(
                    .wrongFile,
                    "\(path) is the journal of seat \(storedSeat ?? "?") of school \(storedSchool ?? "?"), not of seat \(seat) of school \(school)")
            }
        }
    }

    /// Chains `event` after the last one and commits it durably.
    ///
    /// The event must name this journal's school and seat.
    @discardableResult
    public func append(_ event: RegisterEvent) throws -> ChainedEvent {
        guard event.school == school, event.seat == seat else {
            throw RegisterError(.invalidContent, "an event of seat \(event.seat) of school \(event.school) cannot go into the journal of seat \(seat) of school \(school)")
        }
        guard RegisterTime.parseUTC(event.timeUTC) != nil else {
            throw RegisterError(.invalidContent, "time \"\(event.timeUTC)\" is not of the form 2026-11-23T09:02:00.123Z")
        }
        return try queue.write { db in
            let previous = try Self.last(db)
            let chained = ChainedEvent.make(after: previous, school: school, seat: seat, event: event)
            try db.execute(
                sql: "INSERT INTO journal(seq, time_utc, prev_hash, content_hash, hash, content) VALUES (?, ?, ?, ?, ?, ?)",
                arguments: [chained.seq, chained.timeUTC, chained.prevHash, chained.contentHash, chained.hash, chained.content])
            return chained
        }
    }

    /// The oldest events the server has not acknowledged yet, in seq order.
    public func unacknowledged(limit: Int = 500) throws -> [ChainedEvent] {
        try queue.read { db in
            try Row.fetchAll(
                db, sql: "SELECT seq, time_utc, prev_hash, content_hash, hash, content FROM journal WHERE acked = 0 ORDER BY seq LIMIT ?",
                arguments: [limit]
            ).map(Self.chained)
        }
    }

    /// Marks every event up to `seq` as stored by the server. The rows stay.
    public func acknowledge(upTo seq: Int64) throws {
        try queue.write { db in
            try db.execute(sql: "UPDATE journal SET acked = 1 WHERE seq <= ? AND acked = 0", arguments: [seq])
        }
    }

    /// Deletes acknowledged events older than `date`, always keeping the last
    /// event (the next one links to it). Returns how many rows went.
    @discardableResult
    public func pruneAcknowledged(olderThan date: Date) throws -> Int {
        try queue.write { db in
            try db.execute(
                sql: "DELETE FROM journal WHERE acked = 1 AND time_utc < ? AND seq < (SELECT MAX(seq) FROM journal)",
                arguments: [RegisterTime.utc(date)])
            return db.changesCount
        }
    }

    /// The last event's seq and hash, nil for an empty journal.
    public var last: (seq: Int64, hash: String)? {
        (try? queue.read { db in try Self.last(db) }) ?? nil
    }

    /// How many events the journal holds (acknowledged ones not yet pruned included).
    public var count: Int {
        (try? queue.read { db in try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM journal") ?? 0 }) ?? 0
    }

    /// How many events wait for the server.
    public var unacknowledgedCount: Int {
        (try? queue.read { db in try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM journal WHERE acked = 0") ?? 0 }) ?? 0
    }

    /// Every event still in the journal, in seq order.
    public func all() throws -> [ChainedEvent] {
        try queue.read { db in
            try Row.fetchAll(db, sql: "SELECT seq, time_utc, prev_hash, content_hash, hash, content FROM journal ORDER BY seq").map(Self.chained)
        }
    }

    private static func last(_ db: Database) throws -> (seq: Int64, hash: String)? {
        guard let row = try Row.fetchOne(db, sql: "SELECT seq, hash FROM journal ORDER BY seq DESC LIMIT 1") else { return nil }
        return (row["seq"], row["hash"])
    }

    static func chained(_ row: Row) -> ChainedEvent {
        ChainedEvent(
            seq: row["seq"], timeUTC: row["time_utc"], prevHash: row["prev_hash"],
            contentHash: row["content_hash"], hash: row["hash"], content: row["content"])
    }
}
