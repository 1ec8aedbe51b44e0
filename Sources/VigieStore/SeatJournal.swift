import Foundation
import VigieRegister
import GRDB

/// The seat's own journal: an append-only hash chain in SQLite.
///
/// ``append(_:durability:)`` returns once the event is committed (by default with `synchronous = FULL`)
/// in WAL mode: the agent writes before it answers the console, so an event the
/// console saw is on disk even if the agent is killed with `kill -9` right after.
/// Events stay until the server has acknowledged them (``acknowledge(upTo:)``);
/// acknowledged events keep their content for the seat retention (so that a server
/// store restored from a backup can be refilled, ``rewind(from:)``), then
/// ``pruneAcknowledged(olderThan:)`` removes the content and keeps the links.
///
/// One journal belongs to one (school, seat): opening it for another throws.
/// Thread-safe (all access goes through one GRDB `DatabaseQueue`).
public final class SeatJournal: @unchecked Sendable {
    /// The school id.
    public let school: String
    /// The seat id.
    public let seat: String
    /// The SQLite file (`:memory:` for ``init(inMemoryFor:seat:)``).
    public let path: String
    private let queue: DatabaseQueue

    /// How long an append waits for a write lock held by another connection before
    /// it fails: well inside a console's deadline, so that a seat whose journal is
    /// held elsewhere answers `journal.unavailable` instead of going silent.
    public static let busyWait: TimeInterval = 1

    /// Opens (or creates, mode 0600) the journal at `path` for `seat` of `school`.
    public convenience init(path: String, school: String, seat: String) throws {
        try SQLiteFiles.prepare(path)
        var configuration = SQLiteFiles.configuration()
        configuration.busyMode = .timeout(Self.busyWait)
        let queue = try DatabaseQueue(path: path, configuration: configuration)
        try queue.writeWithoutTransaction { db in
            try SQLiteFiles.enableWAL(db)
            try db.execute(sql: "PRAGMA synchronous = FULL")
        }
        try self.init(queue: queue, path: path, school: school, seat: seat)
        synchronous = .disk
    }

    /// A journal in SQLite's own in-memory mode: the same schema, chain and code
    /// as on a file, gone with the process (the simulated seats of the scale harness).
    public convenience init(inMemoryFor school: String, seat: String) throws {
        try self.init(queue: try DatabaseQueue(), path: ":memory:", school: school, seat: seat)
    }

    private init(queue: DatabaseQueue, path: String, school: String, seat: String) throws {
        self.school = school
        self.seat = seat
        self.path = path
        self.queue = queue
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

    /// How far a commit has gone when ``append(_:durability:)`` returns.
    public enum Durability: Sendable {
        /// On the disk: the WAL is synced at commit (`synchronous = FULL`). A power
        /// cut right after cannot lose it.
        case disk
        /// Written to the operating system (`synchronous = NORMAL`): it survives the
        /// agent being killed (`kill -9`, a crash), not a power cut before the next
        /// sync. The next `.disk` commit syncs it too (the WAL is written in order).
        case process
    }

    /// The connection's `synchronous` setting (only read and changed inside the queue);
    /// nil in memory, where there is no disk to sync.
    private var synchronous: Durability?

    /// Chains `event` after the last one and commits it, on the disk unless told otherwise.
    ///
    /// The event must name this journal's school and seat.
    @discardableResult
    public func append(_ event: RegisterEvent, durability: Durability = .disk) throws -> ChainedEvent {
        guard event.school == school, event.seat == seat else {
            throw RegisterError(.invalidContent, "an event of seat \(event.seat) of school \(event.school) cannot go into the journal of seat \(seat) of school \(school)")
        }
        guard RegisterTime.parseUTC(event.timeUTC) != nil else {
            throw RegisterError(.invalidContent, "time \"\(event.timeUTC)\" is not of the form 2026-11-23T09:02:00.123Z")
        }
        // One INSERT in SQLite's own autocommit transaction (durable when it returns, with
        // `synchronous = FULL`); reading the last link and appending are serialized by the
        // queue, and a writer in another process that appended meanwhile makes the INSERT
        // fail on the seq key instead of forking the chain.
        return try queue.writeWithoutTransaction { db in
            if let current = synchronous, durability != current {
                try db.execute(sql: durability == .disk ? "PRAGMA synchronous = FULL" : "PRAGMA synchronous = NORMAL")
                synchronous = durability
            }
            let previous = try Self.last(db)
            let chained = ChainedEvent.make(after: previous, school: school, seat: seat, event: event)
            // Prepared once per connection: appends are on every request's path.
            try db.cachedStatement(sql: "INSERT INTO journal(seq, time_utc, prev_hash, content_hash, hash, content) VALUES (?, ?, ?, ?, ?, ?)")
                .execute(arguments: [chained.seq, chained.timeUTC, chained.prevHash, chained.contentHash, chained.hash, chained.content])
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

    /// Removes the content of acknowledged events older than `date`; their seq, time
    /// and hashes stay, so the seat's chain still verifies (``verifyChain()``) and the
    /// next event links to the last one. Unacknowledged events are never touched.
    /// Returns how many events lost their content now.
    @discardableResult
    public func pruneAcknowledged(olderThan date: Date) throws -> Int {
        try queue.write { db in
            try db.execute(
                sql: "UPDATE journal SET content = NULL WHERE acked = 1 AND time_utc < ? AND content IS NOT NULL",
                arguments: [RegisterTime.utc(date)])
            return db.changesCount
        }
    }

    /// What ``rewind(from:)`` did.
    public enum Rewind: Sendable, Equatable {
        /// Events `from`…`to` are to be sent again (they were acknowledged before).
        case resending(from: Int64, to: Int64)
        /// Events `from`…`to` were acknowledged and their content is pruned: they cannot be sent again.
        case pruned(from: Int64, to: Int64)
        /// The server expects an event this journal never wrote (`last` is the journal's last seq).
        case beyondEnd(last: Int64)
        /// Nothing acknowledged from there: the events are already waiting to be sent.
        case nothing
    }

    /// The server says its chain of this seat ends before `seq` although it had
    /// acknowledged more (its store was restored from an older copy): marks every
    /// event from `seq` on as not acknowledged, so they are sent again, if the journal
    /// still holds their content. Otherwise changes nothing and says which run is lost.
    public func rewind(from seq: Int64) throws -> Rewind {
        try queue.write { db in
            let last = try Int64.fetchOne(db, sql: "SELECT MAX(seq) FROM journal") ?? 0
            guard seq <= last else { return .beyondEnd(last: last) }
            guard let ackedUpTo = try Int64.fetchOne(db, sql: "SELECT MAX(seq) FROM journal WHERE acked = 1 AND seq >= ?", arguments: [seq]) else {
                return .nothing
            }
            // Every event of the run must be there with its content.
            let present = try Int64.fetchOne(
                db, sql: "SELECT COUNT(*) FROM journal WHERE seq BETWEEN ? AND ? AND content IS NOT NULL", arguments: [seq, ackedUpTo]) ?? 0
            guard present == ackedUpTo - seq + 1 else {
                let lastGone = try Int64.fetchOne(
                    db, sql: "SELECT MAX(seq) FROM journal WHERE seq BETWEEN ? AND ? AND content IS NULL", arguments: [seq, ackedUpTo])
                return .pruned(from: seq, to: lastGone ?? ackedUpTo)
            }
            try db.execute(sql: "UPDATE journal SET acked = 0 WHERE seq >= ?", arguments: [seq])
            return .resending(from: seq, to: ackedUpTo)
        }
    }

    /// Checks the journal's chain: consecutive seqs from the first kept, each prevHash
    /// the previous hash (genesis for seq 1), each hash its link, each content present
    /// its content hash. Pruned events (no content) pass. Throws ``RegisterError``
    /// (`.brokenChain`) naming the first event that does not hold.
    public func verifyChain() throws {
        try queue.read { db in
            let cursor = try Row.fetchCursor(db, sql: "SELECT seq, time_utc, prev_hash, content_hash, hash, content FROM journal ORDER BY seq")
            var previous: (seq: Int64, hash: String)?
            while let row = try cursor.next() {
                let event = Self.chained(row)
                let whereText = "journal of seat \(seat), seq \(event.seq)"
                if let previous {
                    guard event.seq == previous.seq + 1 else { throw RegisterError(.brokenChain, "\(whereText): expected seq \(previous.seq + 1)") }
                    guard event.prevHash == previous.hash else { throw RegisterError(.brokenChain, "\(whereText): prevHash does not match the previous event's hash") }
                } else if event.seq == 1 {
                    guard event.prevHash == ChainHash.genesis(school: school, seat: seat) else {
                        throw RegisterError(.brokenChain, "\(whereText): it does not start from the chain's genesis")
                    }
                }
                guard event.linkHolds else { throw RegisterError(.brokenChain, "\(whereText): hash does not match its fields") }
                guard event.contentHolds else { throw RegisterError(.brokenChain, "\(whereText): contentHash does not match the content") }
                previous = (event.seq, event.hash)
            }
        }
    }

    /// The last event's seq and hash, nil for an empty journal.
    public var last: (seq: Int64, hash: String)? {
        (try? queue.read { db in try Self.last(db) }) ?? nil
    }

    /// How many events still hold their content (not yet pruned).
    public var contentCount: Int {
        (try? queue.read { db in try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM journal WHERE content IS NOT NULL") ?? 0 }) ?? 0
    }

    /// How many events the journal holds (pruned ones included: their links stay).
    public var count: Int {
        (try? queue.read { db in try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM journal") ?? 0 }) ?? 0
    }

    /// The highest seq the server has acknowledged, nil when none.
    public var lastAcknowledged: Int64? {
        (try? queue.read { db in try Int64.fetchOne(db, sql: "SELECT MAX(seq) FROM journal WHERE acked = 1") }) ?? nil
    }

    /// How many events wait for the server.
    public var unacknowledgedCount: Int {
        (try? queue.read { db in try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM journal WHERE acked = 0") ?? 0 }) ?? 0
    }

    /// The `started` events of `feature` that no later event closes (none names
    /// them in `params.started` with `endCode`): the streams a seat was running
    /// when it stopped without saying so (a crash, a kill), oldest first.
    public func unfinished(feature: String, endCode: String) throws -> [(seq: Int64, event: RegisterEvent)] {
        try queue.read { db in
            let rows = try Row.fetchAll(db, sql: """
                SELECT seq, content FROM journal
                WHERE content IS NOT NULL AND json_extract(content, '$.feature') = ? AND json_extract(content, '$.outcome') = 'started'
                  AND CAST(seq AS TEXT) NOT IN (
                    SELECT json_extract(content, '$.params.started') FROM journal
                    WHERE content IS NOT NULL AND json_extract(content, '$.feature') = ? AND json_extract(content, '$.code') = ?)
                ORDER BY seq
                """, arguments: [feature, feature, endCode])
            return try rows.map { row in
                let content: String = row["content"]
                return (row["seq"], try JSONDecoder().decode(RegisterEvent.self, from: Data(content.utf8)))
            }
        }
    }

    /// Every event still in the journal, in seq order.
    public func all() throws -> [ChainedEvent] {
        try queue.read { db in
            try Row.fetchAll(db, sql: "SELECT seq, time_utc, prev_hash, content_hash, hash, content FROM journal ORDER BY seq").map(Self.chained)
        }
    }

    private static func last(_ db: Database) throws -> (seq: Int64, hash: String)? {
        guard let row = try Row.fetchOne(db.cachedStatement(sql: "SELECT seq, hash FROM journal ORDER BY seq DESC LIMIT 1")) else { return nil }
        return (row["seq"], row["hash"])
    }

    static func chained(_ row: Row) -> ChainedEvent {
        ChainedEvent(
            seq: row["seq"], timeUTC: row["time_utc"], prevHash: row["prev_hash"],
            contentHash: row["content_hash"], hash: row["hash"], content: row["content"])
    }
}
