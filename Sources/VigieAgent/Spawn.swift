import Foundation
import NIOConcurrencyHelpers
import VigieModel
import VigieSeatState
#if canImport(Glibc)
import Glibc
#endif

/// A helper process started by the agent, with a pipe on its standard output.
public struct SpawnedProcess: Sendable {
    public let pid: pid_t
    /// Read end of the child's stdout (close-on-exec in the agent).
    public let stdout: Int32
    /// Write end of the child's stdin, when kept open (`keepStdin`); else -1.
    public var stdin: Int32 = -1
}

/// A process that could not be started, or did not come up.
public typealias SpawnError = CodedError<SpawnFailure>

/// What a ``SpawnError`` can be.
public enum SpawnFailure: String, Sendable {
    /// No pipe for its output (out of descriptors).
    case pipe = "spawn.pipe"
    /// posix_spawn failed (not found, not executable, out of processes).
    case start = "spawn.start"
    /// It started but did not say it was ready (see its log).
    case notUp = "spawn.not-up"
    /// A program it needs is not installed.
    case missing = "spawn.missing"
    /// No free port for it.
    case noPort = "spawn.no-port"
}

/// Starting helper processes without a shell (posix_spawn).
public enum Spawn {
    /// Starts `argv` without a shell. With `newSession`, the child gets its own
    /// session (setsid) so that stopping or killing the agent does not stop it:
    /// a lock must outlive the networked part of the agent.
    /// With `logPath`, the child's stderr is appended to that file (stdout stays a pipe).
    /// With `passing`, that descriptor is the child's 3 (a socket pair's end);
    /// with `stdin`, the child reads it on its standard input (never its argv).
    public static func start(_ argv: [String], newSession: Bool, logPath: String? = nil,
                             passing: Int32? = nil, stdin input: [UInt8]? = nil, keepStdin: Bool = false) throws -> SpawnedProcess {
        var fds: [Int32] = [0, 0]
        guard pipe(&fds) == 0 else { throw SpawnError(.pipe, "pipe: \(String(cString: strerror(errno)))") }
        // Neither end may leak into other helpers (pipe2 is not exported by Glibc's module).
        _ = fcntl(fds[0], F_SETFD, FD_CLOEXEC)
        _ = fcntl(fds[1], F_SETFD, FD_CLOEXEC)

        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        var inputFDs: [Int32] = [-1, -1]
        if let input {
            // A pipe holds 64 KiB: a password is written whole before the child starts.
            guard input.count < 65536, pipe(&inputFDs) == 0 else {
                close(fds[0]); close(fds[1])
                throw SpawnError(.pipe, "pipe: \(String(cString: strerror(errno)))")
            }
            _ = fcntl(inputFDs[0], F_SETFD, FD_CLOEXEC)
            _ = fcntl(inputFDs[1], F_SETFD, FD_CLOEXEC)
            _ = input.withUnsafeBytes { write(inputFDs[1], $0.baseAddress, input.count) }
            if !keepStdin { close(inputFDs[1]); inputFDs[1] = -1 }
            posix_spawn_file_actions_adddup2(&actions, inputFDs[0], 0)
        } else {
            posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        }
        defer { if inputFDs[0] >= 0 { close(inputFDs[0]) } }
        posix_spawn_file_actions_adddup2(&actions, fds[1], 1)
        if let passing { posix_spawn_file_actions_adddup2(&actions, passing, 3) }
        // Only 0, 1 and 2 (and the descriptor passed) reach the child: a helper must never
        // hold the agent's listening socket or connections (it would keep the port after the agent dies).
        if let closeFrom = Self.addCloseFrom { _ = closeFrom(&actions, passing == nil ? 3 : 4) }
        if let logPath {
            posix_spawn_file_actions_addopen(&actions, 2, logPath, O_WRONLY | O_CREAT | O_APPEND, 0o600)
        }

        var attr = posix_spawnattr_t()
        posix_spawnattr_init(&attr)
        defer { posix_spawnattr_destroy(&attr) }
        // Children start with default signal handling and an empty mask, whatever the agent set.
        var defaults = sigset_t()
        sigemptyset(&defaults)
        for s in [SIGCHLD, SIGPIPE, SIGTERM, SIGINT, SIGHUP] { sigaddset(&defaults, s) }
        posix_spawnattr_setsigdefault(&attr, &defaults)
        var empty = sigset_t()
        sigemptyset(&empty)
        posix_spawnattr_setsigmask(&attr, &empty)
        let setsid: Int32 = 0x80  // POSIX_SPAWN_SETSID (glibc ≥ 2.26)
        var flags = Int32(POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK)
        if newSession { flags |= setsid }
        posix_spawnattr_setflags(&attr, Int16(flags))

        let cArgs = argv.map { strdup($0) } + [nil]
        defer { cArgs.forEach { free($0) } }
        var pid: pid_t = 0
        let rc = posix_spawn(&pid, argv[0], &actions, &attr, cArgs, environ)
        close(fds[1])
        guard rc == 0 else {
            close(fds[0])
            if inputFDs[1] >= 0 { close(inputFDs[1]) }
            throw SpawnError(.start, "\(argv[0]): \(String(cString: strerror(rc)))")
        }
        reapWhenItEnds(pid)
        var spawned = SpawnedProcess(pid: pid, stdout: fds[0])
        spawned.stdin = inputFDs[1]
        return spawned
    }

    /// Exit watches of the children started here, by pid, until they end.
    private static let exits = NIOLockedValueBox(ExitWatches())
    private struct ExitWatches: @unchecked Sendable {  // the sources are only touched under the lock
        var sources: [pid_t: DispatchSourceRead] = [:]
    }
    private static let exitQueue = DispatchQueue(label: "vigie.spawn.exits")

    /// Reaps `pid`, a child started by ``start(_:newSession:logPath:)``, when it
    /// ends, so that it never stays a zombie. Only that pid is waited for: other
    /// code's children (swift-subprocess's, a test's) are never taken from it.
    /// Helpers outlive the agent in their own session; nobody else waits for
    /// them, and their end is told to whoever watches it by their pid (a pidfd
    /// stays readable after the reaping).
    private static func reapWhenItEnds(_ pid: pid_t) {
        let fd = pidfdOpen?(pid, 0) ?? -1
        guard fd >= 0 else {
            // No pidfd (an old kernel, a seccomp filter): a thread that waits for that pid only.
            let thread = Thread {
                var status: Int32 = 0
                while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
            }
            thread.name = "vigie.reap"
            thread.start()
            return
        }
        let source = DispatchSource.makeReadSource(fileDescriptor: fd, queue: exitQueue)
        source.setEventHandler {
            var status: Int32 = 0
            while waitpid(pid, &status, WNOHANG) < 0 && errno == EINTR {}
            exits.withLockedValue { $0.sources.removeValue(forKey: pid) }?.cancel()
        }
        source.setCancelHandler { close(fd) }
        exits.withLockedValue { $0.sources[pid] = source }
        source.resume()
    }

    /// glibc ≥ 2.36's pidfd_open(2) (Linux ≥ 5.3; not exported by the Glibc module).
    static let pidfdOpen: (@convention(c) (pid_t, UInt32) -> Int32)? = {
        guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "pidfd_open") else { return nil }
        return unsafeBitCast(symbol, to: (@convention(c) (pid_t, UInt32) -> Int32).self)
    }()

    /// glibc ≥ 2.34's posix_spawn_file_actions_addclosefrom_np (not exported by the Glibc module).
    private static let addCloseFrom: (@convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32)? = {
        guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "posix_spawn_file_actions_addclosefrom_np") else { return nil }
        return unsafeBitCast(symbol, to: (@convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32).self)
    }()

    /// Reads the first line the child writes, waiting at most `timeout` seconds.
    /// Returns nil on timeout or if the child closed its output first.
    public static func readLine(_ fd: Int32, timeout: Double) -> String? {
        var bytes: [UInt8] = []
        let deadline = Date().addingTimeInterval(timeout)
        var buffer = [UInt8](repeating: 0, count: 512)
        while true {
            let remaining = deadline.timeIntervalSinceNow
            if remaining <= 0 { return nil }
            var pfd = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            let r = poll(&pfd, 1, Int32(remaining * 1000) + 1)
            if r < 0 && errno == EINTR { continue }
            if r <= 0 { return nil }
            let n = read(fd, &buffer, buffer.count)
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { return bytes.isEmpty ? nil : String(decoding: bytes, as: UTF8.self) }
            for b in buffer[0..<n] {
                if b == 0x0A { return String(decoding: bytes, as: UTF8.self) }
                bytes.append(b)
            }
            if bytes.count > 4096 { return String(decoding: bytes, as: UTF8.self) }
        }
    }

    /// How long a helper window may take to say `ready`, in seconds: shorter than the
    /// console's default deadline (``SchoolConfig/defaultConsoleTimeout``), so that a
    /// console never reports a seat `unreachable` that then locks.
    public static let helperStartWait: Double = 3

    /// Starts a `vigie-ui` helper (`argv[1]` is its mode) in its own session and
    /// waits until it says `ready`; a helper that says anything else, or nothing
    /// within `timeout`, is stopped and its words become the reason.
    /// `started` runs once the pid is known, before the wait (the lock keeper
    /// remembers the pid on disk first, so a crash in between leaves the seat locked).
    public static func startHelper(_ argv: [String], timeout: Double = helperStartWait, started: (pid_t) -> Void = { _ in }) -> Result<pid_t, Reason> {
        let process: SpawnedProcess
        do {
            process = try start(argv, newSession: true)
        } catch {
            return .failure(Reason("ui.start", ["detail": "\(error)"]))
        }
        defer { close(process.stdout) }
        started(process.pid)
        let line = readLine(process.stdout, timeout: timeout)
        if line == "ready" { return .success(process.pid) }
        stop(process.pid, mode: argv[1])
        return .failure(line.map(reason(fromHelperLine:)) ?? Reason("ui.timeout"))
    }

    /// Starts a helper that asks something (`vigie-ui consent`), waits until it
    /// says `ready`, then for its answer line (`timeout` seconds at most: then it
    /// is stopped, and the answer is `timeout`). `started` gets the pid first (a
    /// question withdrawn stops it). The window may take `startWait` seconds to
    /// show (a busy seat); that time counts in `timeout`.
    public static func ask(_ argv: [String], timeout: Double, startWait: Double = helperStartWait,
                           started: (pid_t) -> Void = { _ in }) -> Result<String, Reason> {
        let deadline = Date().addingTimeInterval(timeout)
        let process: SpawnedProcess
        do {
            process = try start(argv, newSession: true)
        } catch {
            return .failure(Reason("ui.start", ["detail": "\(error)"]))
        }
        defer { close(process.stdout) }
        started(process.pid)
        let ready = readLine(process.stdout, timeout: min(startWait, timeout))
        guard ready == "ready" else {
            stop(process.pid, mode: argv[1])
            return .failure(ready.map(reason(fromHelperLine:)) ?? Reason("ui.timeout"))
        }
        guard let answer = readLine(process.stdout, timeout: max(0.1, deadline.timeIntervalSinceNow)) else {
            stop(process.pid, mode: argv[1])
            return .success("timeout")
        }
        return .success(answer)
    }

    /// `error x11.grab-keyboard detail…` → Reason.
    public static func reason(fromHelperLine line: String) -> Reason {
        let parts = line.split(separator: " ", maxSplits: 2).map(String.init)
        if parts.count >= 2, parts[0] == "error" {
            return Reason(parts[1], ["detail": parts.count > 2 ? parts[2] : ""])
        }
        return Reason("ui.start", ["detail": line])
    }

    /// What can be told of a process: its command line, that it is gone, or
    /// nothing (the agent is out of descriptors, /proc cannot be read). "Cannot
    /// tell" is never "gone": a lock whose helper cannot be looked at still holds.
    public enum ProcessState: Equatable, Sendable {
        case running([String])
        case gone
        case unknown(errno: Int32)
    }

    /// Looks at `pid` through /proc with plain descriptors (the errno tells EMFILE from "gone").
    public static func probe(_ pid: pid_t) -> ProcessState {
        guard pid > 0 else { return .gone }
        if kill(pid, 0) != 0 && errno == ESRCH { return .gone }
        switch SmallFile.read("/proc/\(pid)/cmdline") {
        case .failure(let error):
            return error.code == ENOENT || error.code == ESRCH ? .gone : .unknown(errno: error.code)
        case .success(let data):
            // A zombie (or a kernel thread) has an empty command line: not a running helper.
            if data.isEmpty { return .gone }
            return .running(data.split(separator: 0, omittingEmptySubsequences: false).dropLast(data.last == 0 ? 1 : 0)
                .map { String(decoding: $0, as: UTF8.self) })
        }
    }

    /// The command line of a running process (nil if it is gone, a zombie, or cannot be read).
    public static func commandLine(of pid: pid_t) -> [String]? {
        if case .running(let args) = probe(pid) { return args }
        return nil
    }

    /// True when `pid` runs a `vigie-ui` helper in `mode` (guards against pid reuse).
    public static func isHelper(_ pid: pid_t, mode: String) -> Bool {
        guard let args = commandLine(of: pid), args.count >= 2 else { return false }
        return args[0].hasSuffix("vigie-ui") && args[1] == mode
    }

    /// Whether `pid` runs a `vigie-ui` helper in `mode`: yes, no, or nil (cannot tell).
    public static func helperState(_ pid: pid_t, mode: String) -> Bool? {
        switch probe(pid) {
        case .running(let args): return args.count >= 2 && args[0].hasSuffix("vigie-ui") && args[1] == mode
        case .gone: return false
        case .unknown: return nil
        }
    }

    /// Every running `vigie-ui` helper in `mode` whose command line has `option value`
    /// (a lock's `--notice-pipe`, unique to its seat), with its command line; nil
    /// when /proc cannot be read (cannot tell). Processes of other users that
    /// cannot be read are not ours and are skipped.
    public static func findHelpers(mode: String, option: String, value: String) -> [pid_t: [String]]? {
        guard let names = SmallFile.names(in: "/proc") else { return nil }
        var found: [pid_t: [String]] = [:]
        for name in names {
            guard let pid = pid_t(name) else { continue }
            switch probe(pid) {
            case .running(let args):
                guard args.count >= 2, args[0].hasSuffix("vigie-ui"), args[1] == mode,
                      let i = args.firstIndex(of: option), i + 1 < args.count, args[i + 1] == value else { continue }
                found[pid] = args
            case .gone:
                continue
            case .unknown(let e):
                if e == EACCES || e == EPERM { continue }
                return nil
            }
        }
        return found
    }

    /// Stops a `vigie-ui` helper; true when it is gone.
    @discardableResult
    public static func stop(_ pid: pid_t, mode: String, grace: Double = 2) -> Bool {
        stop(pid, grace: grace) { args in args.count >= 2 && args[0].hasSuffix("vigie-ui") && args[1] == mode }
    }

    /// Stops `pid` with SIGTERM, then SIGKILL after `grace` seconds, if its command
    /// line still matches `expected` (pids are reused); true when it is gone.
    @discardableResult
    public static func stop(_ pid: pid_t, grace: Double = 2, expected: ([String]) -> Bool) -> Bool {
        // A pid we started that cannot be looked at (no descriptors left) is taken as still ours.
        func running() -> Bool {
            switch probe(pid) {
            case .running(let args): return expected(args)
            case .gone: return false
            case .unknown: return true
            }
        }
        guard running() else { return true }
        kill(pid, SIGTERM)
        let deadline = Date().addingTimeInterval(grace)
        while Date() < deadline {
            if !running() { return true }
            usleep(2_000)
        }
        kill(pid, SIGKILL)
        usleep(50_000)
        return !running()
    }
}

extension CommandLine {
    /// The running executable's path (from /proc, whatever argv[0] says); the
    /// helpers (`vigie-ui`, `vigie-agent`) are installed next to it.
    public static var executablePath: String {
        (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? arguments[0]
    }
}
