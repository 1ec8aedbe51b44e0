import Foundation

/// The directory holding the built products of this package (the running
/// test binary's directory), where `vigie`, `vigie-agent` and `vigie-ui` are.
public var productsDirectory: URL {
    let exe = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
    return URL(fileURLWithPath: exe).deletingLastPathComponent()
}

/// The path of a built executable of this package, e.g. `product("vigie-ui")`.
public func product(_ name: String) -> String {
    productsDirectory.appendingPathComponent(name).path
}

/// The outcome of `run(_:timeout:)`.
public struct ProcessResult: Sendable, CustomStringConvertible {
    /// Exit status, or 128 + signal number when killed by a signal.
    public var status: Int32
    /// Everything written on stdout.
    public var stdout: String
    /// Everything written on stderr.
    public var stderr: String
    /// True when the process was killed because it outlived the timeout.
    public var timedOut: Bool

    /// Status, stdout and stderr, for test failure messages.
    public var description: String {
        "status \(status)\(timedOut ? " (timed out)" : "")\n--- stdout\n\(stdout)--- stderr\n\(stderr)"
    }
}

/// An error starting or talking to a child process.
public struct TestSupportError: Error, CustomStringConvertible {
    /// What went wrong.
    public var description: String
    /// Creates an error with a description.
    public init(_ description: String) { self.description = description }
}

/// Runs `argv` (argv[0] is a path, or a name looked up in `PATH`) to
/// completion, capturing stdout, stderr and the exit status; the process is
/// killed after `timeout` seconds.
public func run(_ argv: [String], timeout: Double = 30, environment: [String: String]? = nil,
                stdin: Data? = nil) throws -> ProcessResult {
    let child = try ChildProcess(argv, environment: environment, stdin: stdin)
    let status = child.wait(timeout: timeout)
    var timedOut = false
    let final: Int32
    if let status {
        final = status
    } else {
        timedOut = true
        child.kill()
        final = child.wait(timeout: 5) ?? -1
    }
    return ProcessResult(status: final, stdout: child.readAllStdout(), stderr: child.readAllStderr(), timedOut: timedOut)
}

/// A child process whose stdout can be read line by line while it runs
/// (e.g. to wait for `ready`), then signalled and reaped with a timeout.
/// Stderr goes to a temporary file. The process is killed in `deinit`.
///
/// Started with posix_spawn, not Foundation's `Process`: on Linux (Swift 6.3.1)
/// `Process.run()` over-reads a `dirent` while it lists /proc/self/fd and
/// crashes now and then, the more descriptors the test process holds
/// (swift-corelibs-foundation #5472).
public final class ChildProcess: @unchecked Sendable {
    /// The running child: its pid and whether it still runs.
    public let process: SpawnedChild
    private let stdoutFD: Int32
    private let stderrFile: URL
    private var buffer = Data()
    private var stdoutEOF = false
    private var transcript = Data()

    /// Starts `argv` (argv[0] is a path, or a name looked up in `PATH`).
    public init(_ argv: [String], environment: [String: String]? = nil, stdin: Data? = nil) throws {
        precondition(!argv.isEmpty)
        stderrFile = FileManager.default.temporaryDirectory
            .appendingPathComponent("vigie-test-\(getpid())-\(UInt32.random(in: 0...UInt32.max)).stderr")
        var out: [Int32] = [0, 0]
        var input: [Int32] = [-1, -1]
        guard pipe(&out) == 0 else { throw TestSupportError("pipe: \(String(cString: strerror(errno)))") }
        if stdin != nil, pipe(&input) != 0 { throw TestSupportError("pipe: \(String(cString: strerror(errno)))") }
        for fd in out + input where fd >= 0 { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }

        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        if stdin != nil {
            posix_spawn_file_actions_adddup2(&actions, input[0], 0)
        } else {
            posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        }
        posix_spawn_file_actions_adddup2(&actions, out[1], 1)
        posix_spawn_file_actions_addopen(&actions, 2, stderrFile.path, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        // Nothing else of the test process (sockets, X connections) reaches the child.
        if let closeFrom = Self.addCloseFrom { _ = closeFrom(&actions, 3) }

        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        // Test runners may block or ignore signals in their threads; children start with defaults.
        var defaults = sigset_t()
        sigemptyset(&defaults)
        for s in [SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGCHLD, SIGALRM, SIGPIPE] { sigaddset(&defaults, s) }
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        var empty = sigset_t()
        sigemptyset(&empty)
        posix_spawnattr_setsigmask(&attributes, &empty)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK))

        let env = (environment ?? ProcessInfo.processInfo.environment).map { "\($0.key)=\($0.value)" }
        let cArgs = argv.map { strdup($0) } + [nil]
        let cEnv = env.map { strdup($0) } + [nil]
        defer {
            cArgs.forEach { free($0) }
            cEnv.forEach { free($0) }
        }
        var pid: pid_t = 0
        let rc = argv[0].contains("/")
            ? posix_spawn(&pid, argv[0], &actions, &attributes, cArgs, cEnv)
            : posix_spawnp(&pid, argv[0], &actions, &attributes, cArgs, cEnv)
        close(out[1])
        if input[0] >= 0 { close(input[0]) }
        guard rc == 0 else {
            close(out[0])
            if input[1] >= 0 { close(input[1]) }
            throw TestSupportError("\(argv[0]): \(String(cString: strerror(rc)))")
        }
        stdoutFD = out[0]
        process = SpawnedChild(pid: pid)
        if let stdin {
            stdin.withUnsafeBytes { raw in
                var offset = 0
                while offset < raw.count {
                    let n = write(input[1], raw.baseAddress! + offset, raw.count - offset)
                    if n < 0 && errno == EINTR { continue }
                    if n <= 0 { break }
                    offset += n
                }
            }
            close(input[1])
        }
    }

    /// glibc ≥ 2.34's posix_spawn_file_actions_addclosefrom_np (not exported by the Glibc module).
    private static let addCloseFrom: (@convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32)? = {
        guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "posix_spawn_file_actions_addclosefrom_np") else { return nil }
        return unsafeBitCast(symbol, to: (@convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32).self)
    }()

    deinit {
        if process.isRunning { kill() ; _ = wait(timeout: 2) }
        close(stdoutFD)
        try? FileManager.default.removeItem(at: stderrFile)
    }

    /// The process id.
    public var pid: Int32 { process.processIdentifier }

    /// Sends `signal` (SIGTERM by default).
    public func signal(_ signal: Int32 = SIGTERM) {
        if process.isRunning { Foundation.kill(process.processIdentifier, signal) }
    }

    /// Sends SIGKILL.
    public func kill() { signal(SIGKILL) }

    /// Waits up to `timeout` seconds for the process to end; returns its
    /// status (128 + signal when killed by one), or nil if still running.
    public func wait(timeout: Double) -> Int32? {
        let deadline = Date().addingTimeInterval(timeout)
        while process.isRunning {
            if Date() >= deadline { return nil }
            usleep(10_000)
        }
        return process.status
    }

    /// The next line of stdout (without the newline), or nil on end of file
    /// or after `timeout` seconds.
    public func readLine(timeout: Double) -> String? {
        let deadline = Date().addingTimeInterval(timeout)
        while true {
            if let nl = buffer.firstIndex(of: 0x0A) {
                let line = buffer[buffer.startIndex..<nl]
                buffer.removeSubrange(buffer.startIndex...nl)
                return String(decoding: line, as: UTF8.self)
            }
            if stdoutEOF { return nil }
            let left = deadline.timeIntervalSinceNow
            if left <= 0 { return nil }
            fill(timeout: left)
        }
    }

    /// Reads what is available on stdout within `timeout` seconds.
    private func fill(timeout: Double) {
        let fd = stdoutFD
        var pfd = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        let n = poll(&pfd, 1, Int32(max(0, min(timeout, 1)) * 1000) + 1)
        if n <= 0 { return }
        var chunk = [UInt8](repeating: 0, count: 4096)
        let got = Foundation.read(fd, &chunk, chunk.count)
        if got <= 0 {
            stdoutEOF = true
        } else {
            buffer.append(contentsOf: chunk[0..<got])
            transcript.append(contentsOf: chunk[0..<got])
        }
    }

    /// Everything the process wrote on stdout, including lines already
    /// returned by `readLine`; reads until end of file (at most `timeout` s).
    public func readAllStdout(timeout: Double = 5) -> String {
        let deadline = Date().addingTimeInterval(timeout)
        while !stdoutEOF && Date() < deadline { fill(timeout: deadline.timeIntervalSinceNow) }
        return String(decoding: transcript, as: UTF8.self)
    }

    /// Everything written on stderr so far.
    public func readAllStderr() -> String {
        (try? String(contentsOf: stderrFile, encoding: .utf8)) ?? ""
    }
}

/// Polls `condition` every 100 ms until it holds or `seconds` pass; true if it held.
public func eventually(_ seconds: Double, _ condition: () throws -> Bool) rethrows -> Bool {
    let deadline = Date().addingTimeInterval(seconds)
    repeat {
        if try condition() { return true }
        usleep(100_000)
    } while Date() < deadline
    return false
}

/// ``eventually(_:_:)`` for async tests: waits with `Task.sleep`, so that the
/// concurrency pool (two threads on a two-core machine) stays free for the
/// in-process clients the test is waiting for.
public func eventually(_ seconds: Double, _ condition: () async throws -> Bool) async rethrows -> Bool {
    let deadline = ContinuousClock.now + .milliseconds(Int64(seconds * 1000))
    repeat {
        if try await condition() { return true }
        try? await Task.sleep(for: .milliseconds(100))
    } while ContinuousClock.now < deadline
    return false
}

/// Tests that load the whole machine (a thousand connections, a thousand
/// simulated seats) take turns within the test process: run side by side on two
/// cores they would time each other out rather than test what they mean to.
public actor HeavyTestTurns {
    public static let shared = HeavyTestTurns()
    private var busy = false
    private var waiting: [CheckedContinuation<Void, Never>] = []

    func acquire() async {
        guard busy else {
            busy = true
            return
        }
        await withCheckedContinuation { waiting.append($0) }
    }

    func release() {
        if waiting.isEmpty { busy = false } else { waiting.removeFirst().resume() }
    }
}

/// Runs `body` when no other heavy test runs (see ``HeavyTestTurns``).
public func oneHeavyTestAtATime<T>(_ body: () async throws -> T) async rethrows -> T {
    await HeavyTestTurns.shared.acquire()
    do {
        let result = try await body()
        await HeavyTestTurns.shared.release()
        return result
    } catch {
        await HeavyTestTurns.shared.release()
        throw error
    }
}

/// A child started by ``ChildProcess``: reaped with `waitpid` on this pid only.
public final class SpawnedChild: @unchecked Sendable {
    /// The process id.
    public let processIdentifier: Int32
    private let lock = NSLock()
    private var exit: Int32?

    /// A child this process started (posix_spawn) and has not reaped.
    public init(pid: Int32) { processIdentifier = pid }

    /// True until the process has ended (and been reaped).
    public var isRunning: Bool { reap() == nil }

    /// The exit status (128 + signal when killed by one), once ended; -1 when
    /// someone else reaped it.
    public var status: Int32? { reap() }

    private func reap() -> Int32? {
        lock.lock()
        defer { lock.unlock() }
        if let exit { return exit }
        var raw: Int32 = 0
        let r = waitpid(processIdentifier, &raw, WNOHANG)
        if r == processIdentifier {
            let signal = raw & 0x7f
            exit = signal == 0 ? (raw >> 8) & 0xff : 128 + signal
        } else if r < 0 && errno == ECHILD {
            exit = -1
        }
        return exit
    }
}

/// Runs a test body that blocks (reading a child's output, polling with sleeps)
/// on a thread of its own rather than on Swift's concurrency pool: on a 2-core
/// machine the pool has two threads, and a blocked one starves every other test
/// in the process (their timers, their consoles' heartbeats).
public func offThePool<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        let thread = Thread {
            continuation.resume(with: Result { try body() })
        }
        thread.stackSize = 8 << 20
        thread.start()
    }
}
