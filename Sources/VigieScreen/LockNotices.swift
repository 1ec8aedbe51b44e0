import Glibc

/// The named pipe a running lock reads notices from, so that the lock draws
/// them itself and nothing has to fight it for the top of the screen.
///
/// Contract (one UTF-8 line per command, at most 4096 bytes, written in one
/// `write` so that lines from several writers never mix):
///
///     notice SECONDS TEXT    show TEXT at the top of the lock for SECONDS (0 < SECONDS ≤ 3600)
///     clear                  remove every notice shown
///
/// The lock creates the pipe (mode 0600) if it does not exist, accepts an
/// existing one only if it is a FIFO owned by its own user, and removes it
/// when it exits. A writer opens it with `O_WRONLY|O_NONBLOCK`: `ENXIO` means
/// no lock is reading. Bad lines are reported on stderr and ignored; a pipe
/// that cannot be used is reported and the lock holds without notices (the
/// lock itself never depends on it).
final class NoticeFeed {
    let path: String
    private(set) var readFD: Int32 = -1
    private var keepFD: Int32 = -1
    private var created = false
    private var buffer: [UInt8] = []
    static let maxLine = 4096

    /// A parsed command.
    enum Command: Equatable {
        case notice(seconds: Double, text: String)
        case clear
    }

    init(path: String) {
        self.path = path
        var st = stat()
        if lstat(path, &st) != 0 {
            guard mkfifo(path, 0o600) == 0 else {
                emitError("vigie-ui lock: warning: cannot create notice pipe \(path): \(String(cString: strerror(errno))); notices disabled")
                return
            }
            created = true
        } else if (st.st_mode & S_IFMT) != S_IFIFO || st.st_uid != getuid() {
            emitError("vigie-ui lock: warning: \(path) is not a named pipe owned by this user; notices disabled")
            return
        }
        readFD = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC)
        // Keep a writer open ourselves: without one, the pipe reports end of file after
        // each writer closes and poll() would never sleep.
        keepFD = open(path, O_WRONLY | O_NONBLOCK | O_CLOEXEC)
        if readFD < 0 || keepFD < 0 {
            emitError("vigie-ui lock: warning: cannot open notice pipe \(path): \(String(cString: strerror(errno))); notices disabled")
            close()
        }
    }

    /// Reads what is available and returns the complete commands in it.
    func read() -> [Command] {
        guard readFD >= 0 else { return [] }
        var chunk = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = chunk.withUnsafeMutableBytes { Glibc.read(readFD, $0.baseAddress, $0.count) }
            if n > 0 { buffer += chunk[0..<n] } else { break }
        }
        var commands: [Command] = []
        while let nl = buffer.firstIndex(of: 0x0A) {
            let line = String(decoding: buffer[..<nl], as: UTF8.self)
            buffer.removeSubrange(...nl)
            if let c = Self.parse(line) { commands.append(c) } else if !line.isEmpty {
                emitError("vigie-ui lock: warning: ignored notice line (expected `notice SECONDS TEXT` or `clear`): \(line.prefix(80))")
            }
        }
        if buffer.count > Self.maxLine {
            emitError("vigie-ui lock: warning: notice line longer than \(Self.maxLine) bytes ignored")
            buffer.removeAll()
        }
        return commands
    }

    /// `notice 8 Écran consulté par …` or `clear`; nil for anything else.
    static func parse(_ line: String) -> Command? {
        let trimmed = line.hasSuffix("\r") ? String(line.dropLast()) : line
        if trimmed == "clear" { return .clear }
        let parts = trimmed.split(separator: " ", maxSplits: 2, omittingEmptySubsequences: false)
        guard parts.count == 3, parts[0] == "notice", let s = Double(parts[1]), s.isFinite, s > 0, s <= 3600,
              !parts[2].allSatisfy({ $0 == " " }) else { return nil }
        return .notice(seconds: s, text: String(parts[2]))
    }

    /// Closes the pipe and removes it if this lock created it (or took it over).
    func close() {
        if readFD >= 0 { Glibc.close(readFD) }
        if keepFD >= 0 { Glibc.close(keepFD) }
        if readFD >= 0 || created { unlink(path) }
        readFD = -1
        keepFD = -1
    }
}

/// The notices a lock shows, newest first, each until its own time.
struct ActiveNotices {
    /// At most this many are drawn at once (the newest).
    static let maxShown = 3
    private(set) var items: [(text: String, until: Double)] = []

    mutating func apply(_ command: NoticeFeed.Command, now: Double) {
        switch command {
        case .clear: items.removeAll()
        case .notice(let seconds, let text): items.insert((text, now + seconds * 1000), at: 0)
        }
        if items.count > 16 { items.removeLast(items.count - 16) }
    }

    /// Drops expired notices; true when something changed.
    mutating func expire(now: Double) -> Bool {
        let before = items.count
        items.removeAll { $0.until <= now }
        return items.count != before
    }

    /// The texts to draw, newest first.
    var shown: [String] { items.prefix(Self.maxShown).map(\.text) }

    /// When the next notice expires (monotonic ms), if any.
    var nextExpiry: Double? { items.map(\.until).min() }
}
