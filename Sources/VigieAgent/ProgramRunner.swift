import Foundation
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
    /// Raw wait status; nil if the program could not be reaped in time.
    var status: Int32?
    var stdout: [UInt8]
    var stderr: [UInt8]
    /// More output was written than kept (and was read and thrown away).
    var truncated: Bool
    /// Killed because it outlived its timeout.
    var timedOut: Bool

    var exitCode: Int32? { status.flatMap(WaitStatus.exitCode) }
    var signal: Int32? { status.flatMap(WaitStatus.signal) }
}

/// Runs one program without a shell, in its own session, with stdin on
/// /dev/null and both outputs captured up to `limit` bytes each: output past
/// the limit is read and discarded, so a program that floods its output costs
/// the agent nothing but CPU. At the timeout the whole process group gets
/// SIGTERM, then SIGKILL two seconds later.
enum ProgramRunner {
    /// Bytes kept of stdout and of stderr.
    static let defaultLimit = 64 * 1024

    /// `setpriv` (util-linux) switches user, group and supplementary groups,
    /// then executes the program: the agent itself never changes identity.
    static let setpriv = "/usr/bin/setpriv"

    /// Runs `argv` (argv[0] is what to execute, an absolute path) as `account`
    /// (nil: the agent's own identity). Blocks: call it off the async pool.
    static func run(
        _ argv: [String], as account: RunAccount?, environment: [String: String], timeout: Double,
        limit: Int = defaultLimit, workingDirectory: String? = nil
    ) throws -> RunOutcome {
        var full = argv
        if let account, account.uid != geteuid() || account.gid != getegid() {
            full = [setpriv, "--reuid=\(account.uid)", "--regid=\(account.gid)", "--init-groups", "--"] + argv
        }
        let (pipes, waiter) = try ChildReaper.shared.spawnAndWatch { () throws -> (pid_t, (out: Int32, err: Int32, pid: pid_t)) in
            let p = try spawn(full, environment: environment, workingDirectory: workingDirectory)
            return (p.pid, p)
        }
        defer {
            close(pipes.out)
            close(pipes.err)
        }
        let pid = pipes.pid
        let start = Date()
        let deadline = start.addingTimeInterval(timeout)
        var out: [UInt8] = [], err: [UInt8] = []
        var truncated = false
        var timedOut = false
        var open: [Int32] = [pipes.out, pipes.err]
        var exitedAt: Date?
        var scratch = [UInt8](repeating: 0, count: 65536)
        for fd in open { _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) }

        while !open.isEmpty {
            let now = Date()
            if now >= deadline {
                timedOut = true
                break
            }
            if exitedAt == nil, waiter.status != nil { exitedAt = now }
            // The program has ended but something it left behind holds its
            // outputs: stop reading shortly after.
            if let exitedAt, now.timeIntervalSince(exitedAt) > 1 { break }
            var fds = open.map { pollfd(fd: $0, events: Int16(POLLIN), revents: 0) }
            let wait = min(200, Int32(deadline.timeIntervalSince(now) * 1000) + 1)
            let n = poll(&fds, nfds_t(fds.count), wait)
            if n < 0 && errno != EINTR { break }
            if n <= 0 { continue }
            for pfd in fds where pfd.revents != 0 {
                let got = read(pfd.fd, &scratch, scratch.count)
                if got > 0 {
                    let isOut = pfd.fd == pipes.out
                    let kept = isOut ? out.count : err.count
                    let take = min(got, max(0, limit - kept))
                    if take > 0 {
                        if isOut { out.append(contentsOf: scratch[0..<take]) } else { err.append(contentsOf: scratch[0..<take]) }
                    }
                    if take < got { truncated = true }
                } else if got == 0 || (errno != EAGAIN && errno != EINTR) {
                    open.removeAll { $0 == pfd.fd }
                }
            }
        }

        var status: Int32?
        if timedOut {
            status = stopGroup(pid, waiter: waiter)
        } else {
            status = waiter.wait(timeout: max(0.5, deadline.timeIntervalSinceNow))
            if status == nil {
                timedOut = true
                status = stopGroup(pid, waiter: waiter)
            }
        }
        return RunOutcome(status: status, stdout: out, stderr: err, truncated: truncated, timedOut: timedOut)
    }

    /// SIGTERM to the program's process group, SIGKILL after two seconds.
    private static func stopGroup(_ pid: pid_t, waiter: ChildReaper.Waiter) -> Int32? {
        kill(-pid, SIGTERM)
        kill(pid, SIGTERM)
        if let status = waiter.wait(timeout: 2) {
            kill(-pid, SIGKILL)  // what it left behind in its group
            return status
        }
        kill(-pid, SIGKILL)
        kill(pid, SIGKILL)
        return waiter.wait(timeout: 5)
    }

    /// posix_spawn with stdin on /dev/null, stdout and stderr on pipes, a new
    /// session, default signal handling, only fds 0–2, and `environment` only.
    private static func spawn(_ argv: [String], environment: [String: String], workingDirectory: String?) throws -> (out: Int32, err: Int32, pid: pid_t) {
        var o: [Int32] = [0, 0], e: [Int32] = [0, 0]
        guard pipe(&o) == 0 else { throw SpawnError(description: "pipe: \(String(cString: strerror(errno)))") }
        guard pipe(&e) == 0 else {
            close(o[0]); close(o[1])
            throw SpawnError(description: "pipe: \(String(cString: strerror(errno)))")
        }
        for fd in o + e { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }

        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_adddup2(&actions, o[1], 1)
        posix_spawn_file_actions_adddup2(&actions, e[1], 2)
        if let closeFrom = Self.addCloseFrom { _ = closeFrom(&actions, 3) }
        if let workingDirectory, let chdir = Self.addChdir { _ = chdir(&actions, workingDirectory) }

        var attr = posix_spawnattr_t()
        posix_spawnattr_init(&attr)
        defer { posix_spawnattr_destroy(&attr) }
        var defaults = sigset_t()
        sigemptyset(&defaults)
        for s in [SIGCHLD, SIGPIPE, SIGTERM, SIGINT, SIGHUP] { sigaddset(&defaults, s) }
        posix_spawnattr_setsigdefault(&attr, &defaults)
        var empty = sigset_t()
        sigemptyset(&empty)
        posix_spawnattr_setsigmask(&attr, &empty)
        let setsid: Int32 = 0x80  // POSIX_SPAWN_SETSID: its own session and process group
        posix_spawnattr_setflags(&attr, Int16(Int32(POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK) | setsid))

        let cArgs = argv.map { strdup($0) } + [nil]
        defer { cArgs.forEach { free($0) } }
        let cEnv = environment.sorted { $0.key < $1.key }.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer { cEnv.forEach { free($0) } }
        var pid: pid_t = 0
        let rc = posix_spawn(&pid, argv[0], &actions, &attr, cArgs, cEnv)
        close(o[1])
        close(e[1])
        guard rc == 0 else {
            close(o[0]); close(e[0])
            throw SpawnError(description: "\(argv[0]): \(String(cString: strerror(rc)))")
        }
        return (o[0], e[0], pid)
    }

    private typealias FileActionsInt = @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32
    private typealias FileActionsPath = @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, UnsafePointer<CChar>) -> Int32

    /// glibc ≥ 2.34 (not exported by the Glibc module).
    private static let addCloseFrom: FileActionsInt? = {
        guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "posix_spawn_file_actions_addclosefrom_np") else { return nil }
        return unsafeBitCast(symbol, to: FileActionsInt.self)
    }()

    /// glibc ≥ 2.29.
    private static let addChdir: FileActionsPath? = {
        guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "posix_spawn_file_actions_addchdir_np") else { return nil }
        return unsafeBitCast(symbol, to: FileActionsPath.self)
    }()
}
