import Foundation
#if canImport(Glibc)
import Glibc
#endif
import VigieModel

/// The lock a seat remembers (`STATE/lock.json`) until it is unlocked or
/// expires. The agent writes it before it starts the lock window and removes it
/// on unlock; `vigie-input-hold` reads it to know when to hold the keyboards and
/// pointers. One format, read and written here only.
public struct RememberedLock: Codable, Equatable, Sendable {
    public var by: Identity
    public var since: Date
    public var until: Date?
    /// The lock helper's pid, when one is running.
    public var pid: Int32?
    /// The display that helper was started on (nil: `$DISPLAY`).
    public var display: String?

    public init(by: Identity, since: Date, until: Date?, pid: Int32? = nil, display: String? = nil) {
        self.by = by
        self.since = since
        self.until = until
        self.pid = pid
        self.display = display
    }

    /// True once its `until` has passed.
    public func isExpired(at now: Date = Date()) -> Bool { until.map { $0 <= now } ?? false }

    /// What is on disk: nothing (unlocked), a lock, or something that cannot be
    /// read — never taken for "unlocked" by anyone.
    public enum Record: Sendable {
        case absent
        case found(RememberedLock)
        case unreadable(String)
    }

    /// Reads the record at `path`.
    public static func read(_ path: String) -> Record {
        switch SmallFile.read(path) {
        case .failure(let error) where error.code == ENOENT: return .absent
        case .failure(let error): return .unreadable(error.description)
        case .success(let bytes):
            do {
                return .found(try JSONDecoder().decode(RememberedLock.self, from: Data(bytes)))
            } catch {
                return .unreadable("\(error)")
            }
        }
    }

    /// Writes `lock` at `path` atomically and durably, or removes the record when nil.
    public static func write(_ lock: RememberedLock?, to path: String) throws {
        guard let lock else {
            if unlink(path) != 0 && errno != ENOENT { throw SmallFile.Error(path: path, code: errno) }
            return
        }
        try SmallFile.writeDurably(Array(try JSONEncoder().encode(lock)), to: path)
    }
}

/// Small files (a lock record, /proc entries) read and written with plain
/// descriptors: the errno survives (EMFILE is not ENOENT), and nothing is
/// allocated behind the caller's back.
public enum SmallFile {
    /// A failed read or write, with its errno.
    public struct Error: Swift.Error, CustomStringConvertible, Sendable {
        public let path: String
        public let code: Int32
        public var description: String { "\(path): \(String(cString: strerror(code)))" }
    }

    /// The whole file (at most `limit` bytes).
    public static func read(_ path: String, limit: Int = 1 << 20) -> Result<[UInt8], Error> {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return .failure(Error(path: path, code: errno)) }
        defer { close(fd) }
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while bytes.count < limit {
            let n = Glibc.read(fd, &buffer, buffer.count)
            if n < 0 {
                if errno == EINTR { continue }
                return .failure(Error(path: path, code: errno))
            }
            if n == 0 { break }
            bytes += buffer[0..<n]
        }
        return .success(bytes)
    }

    /// Writes atomically and durably: temporary file, fsync, rename, fsync of the folder.
    public static func writeDurably(_ bytes: [UInt8], to path: String) throws {
        let tmp = path + ".tmp"
        let fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw Error(path: tmp, code: errno) }
        let written = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) == $0.count }
        let synced = fsync(fd) == 0
        close(fd)
        guard written, synced, rename(tmp, path) == 0 else {
            let code = errno
            unlink(tmp)
            throw Error(path: path, code: code)
        }
        let dir = open(URL(fileURLWithPath: path).deletingLastPathComponent().path, O_RDONLY | O_DIRECTORY)
        if dir >= 0 {
            fsync(dir)
            close(dir)
        }
    }

    /// The names in a folder (without . and ..), or nil when it cannot be listed.
    public static func names(in directory: String) -> [String]? {
        guard let dir = opendir(directory) else { return nil }
        defer { closedir(dir) }
        var names: [String] = []
        let nameOffset = MemoryLayout<dirent>.offset(of: \dirent.d_name)!
        while let entry = readdir(dir) {
            // d_name ends at its NUL inside a record of d_reclen bytes: never copy the whole
            // 256-byte field (`entry.pointee.d_name`), which may read past glibc's buffer
            // (the crash of swift-corelibs-foundation #5472).
            let name = String(cString: (UnsafeRawPointer(entry) + nameOffset).assumingMemoryBound(to: CChar.self))
            if name != "." && name != ".." { names.append(name) }
        }
        return names
    }
}

/// What `vigie-input-hold` holds now (`/run/vigie-input-hold/state.json`),
/// written by the holder each time it changes and read by the agent, so that a
/// lock whose input is not held below X is reported, never claimed. One
/// format, read and written here only.
public struct InputHoldState: Codable, Equatable, Sendable {
    /// The evdev devices held (`event3`, …); empty while the seat is free or
    /// when no keyboard or pointer could be grabbed.
    public var devices: [String]
    /// Whether the holder follows a lock record that says locked.
    public var locked: Bool
    /// When this state began.
    public var since: Date

    public init(devices: [String], locked: Bool, since: Date) {
        self.devices = devices
        self.locked = locked
        self.since = since
    }

    /// True when the holder follows a lock and holds at least one device.
    public var holds: Bool { locked && !devices.isEmpty }

    /// Reads the state at `path`: nil when there is none (no holder running)
    /// or it cannot be read.
    public static func read(_ path: String) -> InputHoldState? {
        guard case .success(let bytes) = SmallFile.read(path, limit: 64 << 10) else { return nil }
        return try? JSONDecoder().decode(InputHoldState.self, from: Data(bytes))
    }

    /// Writes the state at `path` atomically.
    public func write(to path: String) throws {
        try SmallFile.writeDurably(Array(try JSONEncoder().encode(self)), to: path)
    }
}
