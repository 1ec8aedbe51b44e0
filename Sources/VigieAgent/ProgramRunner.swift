import Foundation
import NIOConcurrencyHelpers
import Subprocess
#if canImport(System)
import System
#else
import SystemPackage
#endif
#if canImport(Glibc)
import Glibc
#endif

/// Who a program runs as.
struct RunAccount: Sendable, Equatable {
    var login: String
    var uid: uid_t
    var gid: gid_t
    var home: String

    /// The passwd entry of `login`, or nil if there is none.
    static func lookup(_ login: String) -> RunAccount? {
        var pwd = passwd()
        var result: UnsafeMutablePointer<passwd>?
        var buffer = [CChar](repeating: 0, count: 16384)
        guard getpwnam_r(login, &pwd, &buffer, buffer.count, &result) == 0, result != nil else { return nil }
        return RunAccount(login: login, uid: pwd.pw_uid, gid: pwd.pw_gid, home: String(cString: pwd.pw_dir))
    }

    /// The account's groups as login gives them (initgroups): its primary
    /// group and every group that lists it.
    var groups: [gid_t] {
        var count: Int32 = 64
        while true {
            var list = Array(repeating: gid_t(0), count: Int(count))
            let previous = count
            if getgrouplist(login, gid, &list, &count) >= 0 { return Array(list.prefix(Int(count))) }
            if count <= previous { count = previous * 2 }  // glibc sets the size needed; older ones may not
            if count > 65536 { return [gid] }
        }
    }

    /// The agent's own account.
    static var current: RunAccount {
        let uid = geteuid()
        var pwd = passwd()
        var result: UnsafeMutablePointer<passwd>?
        var buffer = [CChar](repeating: 0, count: 16384)
        if getpwuid_r(uid, &pwd, &buffer, buffer.count, &result) == 0, result != nil {
            return RunAccount(login: String(cString: pwd.pw_name), uid: uid, gid: getegid(), home: String(cString: pwd.pw_dir))
        }
        return RunAccount(login: String(uid), uid: uid, gid: getegid(), home: "/")
    }
}

/// What a finished (or killed) program left.
struct RunOutcome: Sendable {
    /// How it ended; nil when its end was not seen (the run was cut at the timeout).
    var termination: TerminationStatus?
    var stdout: [UInt8]
    var stderr: [UInt8]
    /// More output was written than kept (and was read and thrown away).
    var truncated: Bool
    /// Stopped because it outlived its timeout.
    var timedOut: Bool

    var exitCode: Int32? {
        if case .exited(let code) = termination { return code }
        return nil
    }

    var signal: Int32? {
        if case .signaled(let signal) = termination { return signal }
        return nil
    }
}

/// Runs one program through swift-subprocess: no shell, its own session and
/// process group, stdin on /dev/null, only descriptors 0–2, default signal
/// handling, and both outputs captured up to `limit` bytes each (output past
/// the limit is read and discarded, so a program that floods its output costs
/// the agent nothing but CPU). At the timeout the whole process group gets
/// SIGTERM, then SIGKILL two seconds later. The child is reaped through its
/// pidfd: nothing here waits for any other child of the agent.
enum ProgramRunner {
    /// Bytes kept of stdout and of stderr.
    static let defaultLimit = 64 * 1024

    /// Runs `argv` (argv[0] is what to execute, an absolute path) as `account`
    /// (nil: the agent's own identity). The switch of user, group and
    /// supplementary groups happens in the child before it executes the
    /// program: the agent itself never changes identity, and without the
    /// privilege to switch the program does not start (a thrown error).
    static func run(
        _ argv: [String], as account: RunAccount?, environment: [String: String], timeout: Duration,
        limit: Int = defaultLimit, workingDirectory: String? = nil
    ) async throws -> RunOutcome {
        var options = PlatformOptions()
        options.createSession = true
        options.teardownSequence = [.gracefulShutDown(toProcessGroup: true, allowedDurationToNextStep: .seconds(2))]
        if let account, account.uid != geteuid() || account.gid != getegid() {
            options.userID = account.uid
            options.groupID = account.gid
            options.supplementaryGroups = account.groups
        }
        var variables: [Environment.Key: String] = [:]
        for (key, value) in environment { variables[Environment.Key(stringLiteral: key)] = value }
        let configuration = Configuration(
            executable: .path(FilePath(argv[0])), arguments: Arguments(Array(argv.dropFirst())),
            environment: .custom(variables), workingDirectory: workingDirectory.map { FilePath($0) },
            platformOptions: options)

        let kept = NIOLockedValueBox(Captured())
        let timedOut = NIOLockedValueBox(false)
        let running = Task {
            try await Subprocess.run(configuration, input: .none, output: .sequence, error: .sequence) { execution in
                async let out: Void = collect(execution.standardOutput, into: kept, limit: limit, \.stdout)
                async let err: Void = collect(execution.standardError, into: kept, limit: limit, \.stderr)
                _ = try await (out, err)
            }
        }
        // Cancelling the run tears the program's group down (teardownSequence).
        let timer = Task {
            try await Task.sleep(for: timeout)
            timedOut.withLockedValue { $0 = true }
            running.cancel()
        }
        defer { timer.cancel() }
        let termination: TerminationStatus?
        do {
            termination = try await running.value.terminationStatus
        } catch where timedOut.withLockedValue({ $0 }) {
            termination = nil  // the reading was cut by the teardown
        }
        let captured = kept.withLockedValue { $0 }
        return RunOutcome(termination: termination, stdout: captured.stdout, stderr: captured.stderr,
                          truncated: captured.truncated, timedOut: timedOut.withLockedValue { $0 })
    }

    private struct Captured: Sendable {
        var stdout: [UInt8] = []
        var stderr: [UInt8] = []
        var truncated = false
    }

    /// Reads `output` to its end, keeping at most `limit` bytes in `box[keyPath]`.
    private static func collect(
        _ output: SubprocessOutputSequence, into box: NIOLockedValueBox<Captured>, limit: Int,
        _ keyPath: WritableKeyPath<Captured, [UInt8]> & Sendable
    ) async throws {
        for try await buffer in output {
            buffer.withUnsafeBytes { bytes in
                box.withLockedValue { captured in
                    let take = min(bytes.count, max(0, limit - captured[keyPath: keyPath].count))
                    captured[keyPath: keyPath].append(contentsOf: bytes.prefix(take))
                    if take < bytes.count { captured.truncated = true }
                }
            }
        }
    }
}
