import Foundation
import Logging
import NIOConcurrencyHelpers
import VigieModel
import VigieWire

/// The real seat's effects: the lock helper, message and notice windows, X11
/// capture, power through polkit, programs as the session user.
struct AgentEffects: SeatEffects {
    let locks: LockKeeper
    let screen: ScreenKeeper
    let messages: MessageShower
    let notices: NoticeShower
    let power: PowerKeeper
    /// The display, session and user the agent drives now.
    let target: SeatTarget
    let logger: Logger

    var sessionUser: String? { target.sessionUser }
    var sessionUnavailable: Reason? { target.unavailable }
    var lockedBy: Identity? { locks.lockedBy }
    var inputHeld: Bool? { locks.inputHeld() }

    func lock(by identity: Identity, until: Date?, wait: Double) async -> LockOutcome {
        await locks.lock(by: identity, until: until, wait: wait)
    }

    func unlock() async -> Bool { await locks.unlock() }

    func showMessage(title: String, text: String, expireAfter: Double, maxOpen: Int) async -> Result<Void, Reason> {
        await messages.show(title: title, text: text, expireAfter: expireAfter, maxOpen: maxOpen)
    }

    func capture(thumbnailWidth: Int?) async -> Result<Shot, Reason> { await screen.capture(thumbnailWidth: thumbnailWidth) }

    func showIndicator(_ text: String) async -> NoticePlacement? { await notices.indicator(text) }

    func schedulePower(_ action: PowerAction, delay: Int, by identity: Identity) async -> (SeatStatus, Reason) {
        await power.schedule(action, delay: delay, by: identity)
    }

    func cancelPower(by identity: Identity) async -> (SeatStatus, Reason) { await power.cancel(by: identity) }

    func thumbnails() async -> Result<any ThumbnailSource, Reason> {
        if let why = target.unavailable { return .failure(why) }
        return .success(ScreenThumbnails(target: target))
    }

    func showWatchers(_ text: String?, control: Bool) async { await notices.watchers(text, control: control) }

    func assistBanner(text: String, button: String, control: Bool, stopped: @escaping @Sendable () -> Void) async -> (@Sendable () -> Void)? {
        await notices.assistBanner(text: text, button: button, control: control, stopped: stopped)
    }

    func askConsent(title: String, text: String, refuse: String, accept: String, timeout: Double) async -> ConsentAnswer {
        await notices.ask(title: title, text: text, refuse: refuse, accept: accept, timeout: timeout)
    }

    func remoteScreen(_ options: RemoteOptions) async -> Result<RemoteScreen, Reason> {
        if let why = target.unavailable { return .failure(why) }
        let helper = URL(fileURLWithPath: notices.uiPath).deletingLastPathComponent().appendingPathComponent("vigie-vnc").path
        guard FileManager.default.isExecutableFile(atPath: helper) else {
            return .failure(Reason("view.unavailable", ["detail": "\(helper) is not installed"]))
        }
        var pair: [Int32] = [-1, -1]
        guard socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0, &pair) == 0 else {
            return .failure(Reason("view.unavailable", ["detail": "socketpair: \(String(cString: strerror(errno)))"]))
        }
        var argv = [helper, "--fd", "3", "--mode", options.control ? "control" : "view", "--quality", options.quality.rawValue]
        if options.mayControl { argv.append("--may-control") }
        if options.clipboard { argv.append("--clipboard") }
        if let display = target.display { argv += ["--display", display] }
        do {
            let child = try Spawn.start(argv, newSession: false, passing: pair[1], stdin: Array((options.password + "\n").utf8),
                                        keepStdin: options.control || options.mayControl)
            close(pair[1])
            let pid = child.pid
            guard options.control || options.mayControl else {
                close(child.stdout)
                return .success(RemoteScreen(socket: pair[0], stop: { _ = kill(pid, SIGTERM) }))
            }
            // In control the agent writes `h` (hold the controller's input) or `f` (inject again)
            // on the helper's stdin, and `c` to turn a view to control; the helper acknowledges
            // each on its stdout.
            let out = child.stdout, input = child.stdin
            let closed = NIOLockedValueBox(false)
            let tell: @Sendable (UInt8, String) -> Bool = { (command: UInt8, acknowledgement: String) -> Bool in
                closed.withLockedValue { (isClosed: inout Bool) -> Bool in
                    var byte = command
                    guard !isClosed, write(input, &byte, 1) == 1 else { return false }
                    return Spawn.readLine(out, timeout: 2) == acknowledgement
                }
            }
            let stop: @Sendable () -> Void = {
                _ = kill(pid, SIGTERM)
                closed.withLockedValue { if !$0 { $0 = true; close(out); close(input) } }
            }
            let hold: @Sendable (Bool) -> Bool = { on in
                on ? tell(UInt8(ascii: "h"), "held") : tell(UInt8(ascii: "f"), "free")
            }
            let turnToControl: @Sendable () -> Bool = { tell(UInt8(ascii: "c"), "control") }
            let takeControl: (@Sendable () -> Bool)? = options.mayControl ? turnToControl : nil
            return .success(RemoteScreen(socket: pair[0], stop: stop, hold: hold, takeControl: takeControl))
        } catch {
            close(pair[0])
            close(pair[1])
            return .failure(Reason("view.unavailable", ["detail": "\(error)"]))
        }
    }

    func run(_ command: [String], program: String, privileged: Bool, timeout: Int, by identity: Identity) async -> (SeatStatus, Reason, [UInt8]) {
        // Who it runs as.
        var account: RunAccount?
        if !privileged {
            guard let login = target.sessionUser else { return (.failed, Reason("run.no-session-user"), []) }
            guard let a = RunAccount.lookup(login) else { return (.failed, Reason("run.unknown-user", ["user": login]), []) }
            if a.uid != geteuid() && geteuid() != 0 { return (.failed, Reason("run.cannot-switch-user", ["user": login]), []) }
            account = a
        }
        let runAs = account ?? RunAccount.current
        var environment = ["PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": runAs.home, "USER": runAs.login, "LOGNAME": runAs.login,
                           "LANG": ProcessInfo.processInfo.environment["LANG"] ?? "C.UTF-8"]
        if let display = target.display ?? ProcessInfo.processInfo.environment["DISPLAY"] { environment["DISPLAY"] = display }
        let home = FileManager.default.fileExists(atPath: runAs.home) ? runAs.home : "/"
        logger.notice("run", metadata: ["argv": "\(command)", "as": "\(runAs.login)", "actor": "\(identity.uri)", "timeout": "\(timeout)"])

        let outcome: Result<RunOutcome, Error>
        do {
            outcome = .success(try await ProgramRunner.run(command, as: account, environment: environment, timeout: .seconds(timeout), workingDirectory: home))
        } catch {
            outcome = .failure(error)
        }
        switch outcome {
        case .failure(let error):
            return (.failed, Reason("run.start", ["program": program, "detail": "\(error)"]), [])
        case .success(let o):
            var params = ["program": program, "user": runAs.login, "truncated": o.truncated ? "true" : "false",
                          "timed_out": o.timedOut ? "true" : "false", "limit": String(ProgramRunner.defaultLimit)]
            if let code = o.exitCode { params["exit"] = String(code) }
            if let signal = o.signal { params["signal"] = String(signal) }
            let body = RunOutput(stdout: o.stdout, stderr: o.stderr).encoded
            if o.timedOut {
                params["seconds"] = String(timeout)
                return (.failed, Reason("run.timeout", params), body)
            }
            if let code = o.exitCode { return (code == 0 ? .ok : .failed, Reason(code == 0 ? "run.done" : "run.exit", params), body) }
            if o.signal != nil { return (.failed, Reason("run.signal", params), body) }
            return (.failed, Reason("run.start", params.merging(["detail": "no exit status"]) { $1 }), body)
        }
    }
}
