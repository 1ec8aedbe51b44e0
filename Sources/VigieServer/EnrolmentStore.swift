import Foundation
import GRDB

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
        try migrator.migrate(queue)
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
