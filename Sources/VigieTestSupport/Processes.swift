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
public final class ChildProcess: @unchecked Sendable {
    /// The underlying Foundation process.
    public let process: Process
    private let stdoutPipe = Pipe()
    private let stderrFile: URL
    private var buffer = Data()
    private var stdoutEOF = false
    private var transcript = Data()

    /// Starts `argv`.
    public init(_ argv: [String], environment: [String: String]? = nil, stdin: Data? = nil) throws {
        precondition(!argv.isEmpty)
        process = Process()
        if argv[0].contains("/") {
            process.executableURL = URL(fileURLWithPath: argv[0])
            process.arguments = Array(argv.dropFirst())
        } else {
            process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            process.arguments = argv
        }
        if let environment { process.environment = environment }
        stderrFile = FileManager.default.temporaryDirectory
            .appendingPathComponent("vigie-test-\(getpid())-\(UInt32.random(in: 0...UInt32.max)).stderr")
        _ = FileManager.default.createFile(atPath: stderrFile.path, contents: nil)
        process.standardOutput = stdoutPipe
        process.standardError = try FileHandle(forWritingTo: stderrFile)
        // The child inherits this thread's signal mask; test runners may block
        // SIGTERM/SIGINT in their threads, which would make children unkillable.
        var set = sigset_t()
        sigemptyset(&set)
        for s in [SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGCHLD, SIGALRM] { sigaddset(&set, s) }
        var saved = sigset_t()
        pthread_sigmask(SIG_UNBLOCK, &set, &saved)
        defer { pthread_sigmask(SIG_SETMASK, &saved, nil) }
        if let stdin {
            let p = Pipe()
            process.standardInput = p
            try Self.launch(process)
            p.fileHandleForWriting.write(stdin)
            try? p.fileHandleForWriting.close()
        } else {
            process.standardInput = FileHandle.nullDevice
            try Self.launch(process)
        }
    }

    /// Foundation's `Process.run()` on Linux crashed here (in its memcpy) when
    /// tests running in parallel launched children at the same moment: launches
    /// go one at a time.
    private static let launching = NSLock()
    private static func launch(_ process: Process) throws {
        launching.lock()
        defer { launching.unlock() }
        try process.run()
    }

    deinit {
        if process.isRunning { kill() ; _ = wait(timeout: 2) }
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
        process.waitUntilExit()
        return process.terminationReason == .uncaughtSignal ? 128 + process.terminationStatus : process.terminationStatus
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
        let fd = stdoutPipe.fileHandleForReading.fileDescriptor
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
