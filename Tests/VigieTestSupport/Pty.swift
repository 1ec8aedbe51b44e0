import Foundation

/// A child process on a pseudo-terminal, driven like a person at a keyboard:
/// `send` types, `waitFor` reads the screen output until some text shows up.
public final class PtyProcess: @unchecked Sendable {
    /// The running child: its pid and whether it still runs.
    public let process: SpawnedChild
    private let master: Int32
    private var bytes: [UInt8] = []
    private var mark = 0

    /// Starts `argv` with its stdin, stdout and stderr on a new terminal of `columns` × `rows`.
    public init(_ argv: [String], environment: [String: String]? = nil, columns: UInt16 = 120, rows: UInt16 = 50) throws {
        // posix_openpt, unlockpt and ptsname are not in Swift's Glibc module: the same
        // through /dev/ptmx and its ioctls (TIOCSPTLCK, TIOCGPTN; Linux).
        let master = open("/dev/ptmx", O_RDWR | O_NOCTTY)
        var unlock: Int32 = 0
        var number: UInt32 = 0
        guard master >= 0, ioctl(master, 0x4004_5431, &unlock) == 0, ioctl(master, 0x8004_5430, &number) == 0 else {
            throw TestSupportError("no pseudo-terminal: \(String(cString: strerror(errno)))")
        }
        let name = "/dev/pts/\(number)"
        var size = winsize(ws_row: rows, ws_col: columns, ws_xpixel: 0, ws_ypixel: 0)
        _ = ioctl(master, UInt(TIOCSWINSZ), &size)
        let slave = open(name, O_RDWR | O_NOCTTY)
        guard slave >= 0 else { throw TestSupportError("cannot open \(name)") }
        self.master = master
        var env = environment ?? ProcessInfo.processInfo.environment
        env["TERM"] = "xterm"
        // posix_spawn, not Foundation's Process (see ``ChildProcess``).
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        for fd: Int32 in [0, 1, 2] { posix_spawn_file_actions_adddup2(&actions, slave, fd) }
        posix_spawn_file_actions_addclose(&actions, master)
        posix_spawn_file_actions_addclose(&actions, slave)
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var defaults = sigset_t()
        sigemptyset(&defaults)
        for s in [SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGCHLD, SIGPIPE, SIGWINCH] { sigaddset(&defaults, s) }
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        var empty = sigset_t()
        sigemptyset(&empty)
        posix_spawnattr_setsigmask(&attributes, &empty)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK))
        let cArgs = argv.map { strdup($0) } + [nil]
        let cEnv = env.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            cArgs.forEach { free($0) }
            cEnv.forEach { free($0) }
        }
        var pid: pid_t = 0
        let rc = posix_spawn(&pid, argv[0], &actions, &attributes, cArgs, cEnv)
        close(slave)
        guard rc == 0 else {
            close(master)
            throw TestSupportError("\(argv[0]): \(String(cString: strerror(rc)))")
        }
        process = SpawnedChild(pid: pid)
        _ = fcntl(master, F_SETFL, fcntl(master, F_GETFL) | O_NONBLOCK)
    }

    deinit {
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        close(master)
    }

    /// Types `text` (use "\r" for Enter, "\u{1B}[A" for ↑, "\u{04}" for Ctrl-D).
    public func send(_ text: String) {
        let data = Array(text.utf8)
        _ = data.withUnsafeBytes { write(master, $0.baseAddress, $0.count) }
    }

    /// Everything the process printed so far, escape sequences included.
    public var output: String { String(decoding: bytes, as: UTF8.self) }

    /// The output since the last successful `waitFor`.
    public var recent: String { String(decoding: bytes[mark...], as: UTF8.self) }

    /// Reads until `text` appears after the previous match (which it then follows), or `timeout`.
    @discardableResult
    public func waitFor(_ text: String, timeout: Double = 20) -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        let needle = Array(text.utf8)
        while true {
            if let range = find(needle, from: mark) {
                mark = range
                return true
            }
            if Date() > deadline { return false }
            pump(0.05)
        }
    }

    /// Reads until every one of `texts` appeared after the previous match, in any
    /// order (seats answer in any order), or `timeout`; then the mark moves to the end.
    @discardableResult
    public func waitForAll(_ texts: [String], timeout: Double = 20) -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        while true {
            if texts.allSatisfy({ find(Array($0.utf8), from: mark) != nil }) {
                mark = bytes.count
                return true
            }
            if Date() > deadline { return false }
            pump(0.05)
        }
    }

    /// Waits for the process to exit; its status, or nil after `timeout`.
    public func wait(timeout: Double) -> Int32? {
        let deadline = Date().addingTimeInterval(timeout)
        while process.isRunning {
            if Date() > deadline { return nil }
            pump(0.05)
        }
        pump(0)
        return process.status
    }

    private func pump(_ seconds: Double) {
        var fds = pollfd(fd: master, events: Int16(POLLIN), revents: 0)
        _ = poll(&fds, 1, Int32(seconds * 1000))
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = read(master, &buffer, buffer.count)
            if n <= 0 { break }
            bytes += buffer[0..<n]
        }
    }

    private func find(_ needle: [UInt8], from start: Int) -> Int? {
        guard needle.count <= bytes.count - start else { return nil }
        var i = start
        while i + needle.count <= bytes.count {
            if bytes[i] == needle[0] && Array(bytes[i..<(i + needle.count)]) == needle { return i + needle.count }
            i += 1
        }
        return nil
    }
}
