import Foundation
import VigieModel
import VigieWire

/// The `power` and `run` features of the seat agent.
extension SeatAgent {
    /// Longest `vigie run` timeout a console may ask for, in seconds.
    static let maximumRunTimeout = 3600
    /// `vigie run` timeout when the console gives none, in seconds.
    static let defaultRunTimeout = 30

    /// `power` with `action` = off | reboot | logoff | cancel and `delay` in seconds.
    func performPower(_ args: [String: String], by identity: Identity) async -> (SeatStatus, Reason, [UInt8]) {
        guard let text = args["action"], let action = PowerAction(rawValue: text) else {
            return (.failed, Reason("request.bad-argument", ["name": "action", "detail": "off, reboot, logoff or cancel"]), [])
        }
        if action == .cancel {
            let (status, reason) = await power.cancel(by: identity)
            return (status, reason, [])
        }
        var delay = options.config.power.defaultDelay
        if let d = args["delay"] {
            guard let seconds = Int(d), (0...86_400).contains(seconds) else {
                return (.failed, Reason("request.bad-argument", ["name": "delay", "detail": "0 to 86400 seconds"]), [])
            }
            delay = seconds
        }
        let (status, reason) = await power.schedule(action, delay: delay, by: identity)
        return (status, reason, [])
    }

    /// `run` with `argv` (a JSON array of strings), `timeout` in seconds and
    /// `privileged` = "1" to run as the agent's own identity (admins only).
    ///
    /// A teacher's request runs only an allowlisted program, and only as the
    /// seat's session user: a teacher's key never runs anything as the agent.
    func performRun(_ args: [String: String], by identity: Identity) async -> (SeatStatus, Reason, [UInt8]) {
        guard let json = args["argv"], let argv = try? JSONDecoder().decode([String].self, from: Data(json.utf8)),
              let program = argv.first, !program.isEmpty else {
            return (.failed, Reason("request.bad-argument", ["name": "argv", "detail": "a non-empty list: program and arguments"]), [])
        }
        var timeout = Self.defaultRunTimeout
        if let t = args["timeout"] {
            guard let seconds = Int(t), (1...Self.maximumRunTimeout).contains(seconds) else {
                return (.failed, Reason("request.bad-argument", ["name": "timeout", "detail": "1 to \(Self.maximumRunTimeout) seconds"]), [])
            }
            timeout = seconds
        }
        let role = identity.role
        let privileged = args["privileged"] == "1"
        if privileged && role != .admin {
            return (.refused, Reason("policy.privileged", ["role": role?.rawValue ?? "-"]), [])
        }
        let verdict = ProgramPolicy.check(program, allowed: options.config.programs.allowed, mayRunAnything: role == .admin, resolve: Self.realPath)
        guard case .allow(let path) = verdict else {
            if case .refuse(let why) = verdict {
                logger.notice("program refused", metadata: ["argv": "\(argv)", "actor": "\(identity.uri)", "why": "\(why.rawValue)"])
                return (.refused, Reason("policy.program", ["program": program, "why": why.rawValue]), [])
            }
            return (.failed, Reason("agent.internal"), [])
        }

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
        let command = [path] + argv.dropFirst()
        let (runAccount, runEnvironment, runTimeout) = (account, environment, Double(timeout))
        logger.notice("run", metadata: ["argv": "\(argv)", "as": "\(runAs.login)", "actor": "\(identity.uri)", "timeout": "\(timeout)"])

        let outcome: Result<RunOutcome, Error> = await withCheckedContinuation { continuation in
            let thread = Thread {
                continuation.resume(returning: Result {
                    try ProgramRunner.run(command, as: runAccount, environment: runEnvironment, timeout: runTimeout, workingDirectory: home)
                })
            }
            thread.name = "vigie.run"
            thread.start()
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

    /// The canonical absolute path (symlinks resolved), or nil if it does not exist.
    static func realPath(_ path: String) -> String? {
        guard let resolved = realpath(path, nil) else { return nil }
        defer { free(resolved) }
        return String(cString: resolved)
    }
}
