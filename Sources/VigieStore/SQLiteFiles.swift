import Foundation
import VigieRegister
import GRDB

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Opening the register's SQLite files: mode 0600 from the first byte, WAL,
/// `synchronous = FULL` (a commit is on disk when it returns).
enum SQLiteFiles {
    /// Creates `path` empty with mode 0600 if it does not exist, and narrows an
    /// existing file (and its -wal and -shm) to 0600. SQLite gives its -wal and
    /// -shm files the mode of the database file.
    static func prepare(_ path: String) throws {
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard fd >= 0 else {
            let e = errno
            throw RegisterError(.fileAccess, "\(path): cannot open: \(String(cString: strerror(e)))")
        }
        defer { close(fd) }
        guard fchmod(fd, 0o600) == 0 else {
            let e = errno
            throw RegisterError(.fileAccess, "\(path): cannot set mode 0600: \(String(cString: strerror(e)))")
        }
        for suffix in ["-wal", "-shm"] { _ = chmod(path + suffix, 0o600) }
    }

    static func configuration(readonly: Bool = false) -> Configuration {
        var config = Configuration()
        config.readonly = readonly
        config.busyMode = .timeout(10)
        config.prepareDatabase { db in
            try db.execute(sql: "PRAGMA synchronous = FULL")
        }
        return config
    }

    static func enableWAL(_ db: Database) throws {
        let mode = try String.fetchOne(db, sql: "PRAGMA journal_mode = WAL")
        guard mode?.lowercased() == "wal" else {
            throw RegisterError(.fileAccess, "cannot switch the database to WAL (journal_mode is \(mode ?? "?"))")
        }
    }
}
