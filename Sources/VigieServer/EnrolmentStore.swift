import Foundation
import GRDB
import VigieRegister

/// One-time enrolment tokens and the addresses seats were seen from, in a small
/// SQLite file next to the register store (the CLI that makes tokens and the
/// running server share it).
public final class EnrolmentStore: Sendable {
    let queue: DatabaseQueue

    /// The file for a register store at `storePath`.
    public static func path(forStore storePath: String) -> String {
        URL(fileURLWithPath: storePath).deletingLastPathComponent().appendingPathComponent("enrolment.sqlite").path
    }

    public init(path: String) throws {
        var config = Configuration()
        config.busyMode = .timeout(5)
        config.prepareDatabase { db in try db.execute(sql: "PRAGMA synchronous = FULL") }
        let fd = open(path, O_CREAT | O_RDWR | O_CLOEXEC, 0o600)
        if fd >= 0 { close(fd) }
        queue = try DatabaseQueue(path: path, configuration: config)
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1") { db in
            try db.execute(sql: """
                CREATE TABLE tokens (
                    hash TEXT PRIMARY KEY NOT NULL, school TEXT NOT NULL, seat TEXT NOT NULL,
                    created_utc TEXT NOT NULL, expires REAL NOT NULL, used_at REAL, used_from TEXT
                );
                CREATE TABLE seats_seen (
                    school TEXT NOT NULL, seat TEXT NOT NULL, address TEXT NOT NULL, last_seen REAL NOT NULL,
                    PRIMARY KEY (school, seat)
                );
                """)
        }
        // The help requests waiting (their codes as HMACs): a restart keeps them.
        migrator.registerMigration("v2-help-requests") { db in
            try db.execute(sql: """
                CREATE TABLE help_requests (
                    school TEXT NOT NULL, seat TEXT NOT NULL, room TEXT NOT NULL, user TEXT NOT NULL, description TEXT NOT NULL,
                    asked REAL NOT NULL, expires REAL NOT NULL, digest BLOB NOT NULL,
                    PRIMARY KEY (school, seat)
                );
                """)
        }
        try migrator.migrate(queue)
    }

    /// Keeps a help request (replacing the seat's earlier one).
    public func keepHelpRequest(school: String, _ p: HelpCodes.Pending) throws {
        try queue.write { db in
            try db.execute(sql: """
                INSERT OR REPLACE INTO help_requests (school, seat, room, user, description, asked, expires, digest)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                """, arguments: [school, p.seat, p.room, p.user, p.description, p.asked.timeIntervalSince1970,
                                 p.expires.timeIntervalSince1970, Data(p.digest)])
        }
    }

    /// Forgets a seat's help request (answered, withdrawn, voided).
    public func dropHelpRequest(school: String, seat: String) throws {
        try queue.write { db in
            try db.execute(sql: "DELETE FROM help_requests WHERE school = ? AND seat = ?", arguments: [school, seat])
        }
    }

    /// The help requests still valid (the expired ones are deleted).
    public func helpRequests(school: String, now: Date = Date()) throws -> [HelpCodes.Pending] {
        try queue.write { db in
            try db.execute(sql: "DELETE FROM help_requests WHERE expires <= ?", arguments: [now.timeIntervalSince1970])
            return try Row.fetchAll(db, sql: "SELECT * FROM help_requests WHERE school = ? ORDER BY asked", arguments: [school]).map { row in
                HelpCodes.Pending(seat: row["seat"], room: row["room"], user: row["user"], description: row["description"],
                                  asked: Date(timeIntervalSince1970: row["asked"]), expires: Date(timeIntervalSince1970: row["expires"]),
                                  digest: [UInt8](row["digest"] as Data))
            }
        }
    }

    /// The key of the help codes' HMACs, in a 0600 file of its own next to the store
    /// (made once, 32 random bytes): the kept requests can be checked after a restart,
    /// and a copy of the state file alone gives no code back.
    public static func helpKey(forStore storePath: String) throws -> [UInt8] {
        let path = URL(fileURLWithPath: storePath).deletingLastPathComponent().appendingPathComponent("help-codes.key").path
        if let data = FileManager.default.contents(atPath: path) {
            guard data.count == 32 else { throw ServerStartError(.helpKey, "\(path): not a help-code key (32 bytes); remove it to make a new one") }
            return [UInt8](data)
        }
        var key = [UInt8](repeating: 0, count: 32)
        var rng = SystemRandomNumberGenerator()
        for i in key.indices { key[i] = UInt8.random(in: 0...255, using: &rng) }
        let fd = open(path, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw ServerStartError(.helpKey, "\(path): \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        guard write(fd, key, key.count) == key.count, fsync(fd) == 0 else {
            throw ServerStartError(.helpKey, "\(path): \(String(cString: strerror(errno)))")
        }
        return key
    }

    /// Keeps a new token (its hash) for `seat`, valid `lifetime` seconds.
    public func addToken(hash: String, school: String, seat: String, createdUTC: String, lifetime: TimeInterval = 86_400) throws {
        try queue.write { db in
            try db.execute(sql: "INSERT INTO tokens (hash, school, seat, created_utc, expires) VALUES (?, ?, ?, ?, ?)",
                           arguments: [hash, school, seat, createdUTC, Date().addingTimeInterval(lifetime).timeIntervalSince1970])
        }
    }

    public enum TokenCheck: Equatable, Sendable {
        case accepted
        case unknown
        case used(from: String)
        case expired
        case otherSeat(String)
    }

    /// Uses a token once: the first caller gets `.accepted`, every later one `.used`.
    public func use(hash: String, school: String, seat: String, from address: String, now: Date = Date()) throws -> TokenCheck {
        try queue.write { db in
            guard let row = try Row.fetchOne(db, sql: "SELECT seat, expires, used_at, used_from FROM tokens WHERE hash = ? AND school = ?",
                                             arguments: [hash, school]) else { return .unknown }
            if let _: Double = row["used_at"] { return .used(from: row["used_from"] ?? "?") }
            let tokenSeat: String = row["seat"]
            guard tokenSeat == seat else { return .otherSeat(tokenSeat) }
            guard (row["expires"] as Double) > now.timeIntervalSince1970 else { return .expired }
            try db.execute(sql: "UPDATE tokens SET used_at = ?, used_from = ? WHERE hash = ?",
                           arguments: [now.timeIntervalSince1970, address, hash])
            return .accepted
        }
    }

    /// Records where a seat's certificate was seen; returns the previous address
    /// when it differs (another machine presenting the same seat's certificate?).
    public func seen(school: String, seat: String, address: String, now: Date = Date()) throws -> String? {
        try queue.write { db in
            let previous = try String.fetchOne(db, sql: "SELECT address FROM seats_seen WHERE school = ? AND seat = ?", arguments: [school, seat])
            try db.execute(sql: """
                INSERT INTO seats_seen (school, seat, address, last_seen) VALUES (?, ?, ?, ?)
                ON CONFLICT (school, seat) DO UPDATE SET address = excluded.address, last_seen = excluded.last_seen
                """, arguments: [school, seat, address, now.timeIntervalSince1970])
            return previous.flatMap { $0 == address ? nil : $0 }
        }
    }
}
