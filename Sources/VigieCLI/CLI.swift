import ArgumentParser
import Foundation
import VigieModel

// What the command-line executables share (`vigie`, `vigie-server`, `vigie-dev`):
// exit statuses, failures that end a command, output and signals. Small on
// purpose: the console links it, and the console starts on every command.

extension Language: ExpressibleByArgument {}

/// Exit statuses of `vigie`, `vigie-server` and `vigie-dev` (docs/COMMANDS.md).
public enum Exit {
    /// Every targeted seat did it.
    public static let ok: Int32 = 0
    /// At least one seat did not (refused, unreachable or failed).
    public static let someSeatsDidNot: Int32 = 1
    /// Bad command line (unknown room, missing option…): EX_USAGE.
    public static let usage: Int32 = 64
    /// Bad or missing configuration or identity: EX_CONFIG.
    public static let configuration: Int32 = 78
}

/// An error that ends a command with a documented exit status: its code
/// says which, its message what to do.
public typealias Failure = CodedError<FailureKind>

/// What a ``Failure`` can be, and so which exit status.
public enum FailureKind: String, Sendable {
    /// The command line is wrong (unknown room, missing option…): ``Exit/usage``.
    case usage
    /// The configuration or the identity is bad or missing: ``Exit/configuration``.
    case configuration
}

extension CodedError where Code == FailureKind {
    /// A wrong command line.
    public static func usage(_ message: String) -> Failure { Failure(.usage, message) }
    /// A bad or missing configuration or identity.
    public static func configuration(_ message: String) -> Failure { Failure(.configuration, message) }

    public var exitCode: Int32 {
        switch code {
        case .usage: return Exit.usage
        case .configuration: return Exit.configuration
        }
    }
}

/// Runs a console command body, turning failures into messages and exit statuses.
public func runConsole(_ body: () async throws -> Int32) async throws {
    let code: Int32
    do {
        code = try await body()
    } catch let failure as Failure {
        FileHandle.standardError.write(Data("vigie: \(failure.description)\n".utf8))
        code = failure.exitCode
    }
    if code != 0 { throw ExitCode(code) }
}

/// Writes a line to stdout as it comes (seats answer one by one). If the reader
/// has gone (`vigie status --all | head -3`), stop quietly: NIO ignores SIGPIPE,
/// so the write fails with EPIPE instead of ending the process.
public func writeLine(_ text: String) {
    var bytes = Array((text + "\n").utf8)
    var offset = 0
    while offset < bytes.count {
        let n = bytes.withUnsafeMutableBytes { write(1, $0.baseAddress! + offset, $0.count - offset) }
        if n < 0 {
            if errno == EINTR { continue }
            exit(errno == EPIPE ? Exit.someSeatsDidNot : 1)
        }
        offset += n
    }
}

/// Waits for Ctrl-C or SIGTERM.
public func waitForInterrupt() async {
    await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
        let once = OnceFlag()
        for sig in [SIGINT, SIGTERM] {
            signal(sig, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: sig, queue: .main)
            source.setEventHandler { if once.take() { continuation.resume() } }
            source.resume()
            OnceFlag.keep(source)
        }
    }
}

/// A flag that can be taken once, from any thread; keeps signal sources alive.
public final class OnceFlag: @unchecked Sendable {
    public init() {}
    private var taken = false
    private let lock = NSLock()
    nonisolated(unsafe) private static var kept: [DispatchSourceSignal] = []
    public func take() -> Bool {
        lock.lock()
        defer { lock.unlock() }
        if taken { return false }
        taken = true
        return true
    }
    public static func keep(_ s: DispatchSourceSignal) { kept.append(s) }
}

/// Creates (or truncates) `path` readable by its owner only, for what holds
/// personal data (register exports, intervention reports); a usage failure
/// naming the file when it cannot be written.
public func createPrivateFile(_ path: String) throws -> FileHandle {
    let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
    guard fd >= 0 else { throw Failure.usage("cannot write \(path): \(String(cString: strerror(errno)))") }
    fchmod(fd, 0o600)
    return FileHandle(fileDescriptor: fd, closeOnDealloc: true)
}
