import Foundation
import Logging
import VigieModel

/// Keeps the seat's pending power action (off, reboot, log off): shows the
/// countdown helper, runs the configured command when the time comes, or
/// forgets it on cancel.
///
/// The pending action lives in memory only: an agent that restarts before
/// the time has come forgets it (the countdown window then closes at its end
/// without anything happening). The pending action and its countdown window
/// are kept on one serial queue; the command itself runs off it.
final class PowerKeeper: @unchecked Sendable {
    struct Pending {
        var action: PowerAction
        var at: Date
        var by: Identity
        var helper: pid_t?
        var token: UInt64
    }

    private let queue = DispatchQueue(label: "vigie.power")
    private let commands: PowerCommands
    private let uiPath: String
    /// The display of the countdown, the session and user of `{session}` and `{user}`.
    private let target: SeatTarget
    private let texts: SeatTexts
    private let logger: Logger
    private var pending: Pending?
    private var nextToken: UInt64 = 0
    /// Told when a scheduled action runs at the end of its countdown (the journal).
    var onFired: (@Sendable (PowerAction, Identity, SeatStatus, Reason) -> Void)?

    init(commands: PowerCommands, uiPath: String, target: SeatTarget, texts: SeatTexts, logger: Logger) {
        self.commands = commands
        self.uiPath = uiPath
        self.target = target
        self.texts = texts
        self.logger = logger
    }

    /// Schedules `action` in `delay` seconds (0: now), replacing a pending one.
    func schedule(_ action: PowerAction, delay: Int, by identity: Identity) async -> (SeatStatus, Reason) {
        guard delay > 0 else {
            await onQueue { self.forgetPending() }
            return await execute(action)
        }
        return await onQueue { self.doSchedule(action, delay: delay, by: identity) }
    }

    private func onQueue<T: Sendable>(_ body: @escaping @Sendable () -> T) async -> T {
        await withCheckedContinuation { continuation in
            queue.async { continuation.resume(returning: body()) }
        }
    }

    /// Forgets the pending action and closes its countdown (on the queue).
    private func forgetPending() {
        if let old = pending, let pid = old.helper { Spawn.stop(pid, mode: "countdown") }
        pending = nil
    }

    /// Stops the pending countdown, if any.
    func cancel(by identity: Identity) async -> (SeatStatus, Reason) {
        await onQueue {
            guard let p = self.pending else { return (.ok, Reason("power.nothing-pending")) }
            self.forgetPending()
            self.logger.notice("power action cancelled", metadata: ["action": "\(p.action.rawValue)", "by": "\(identity.uri)", "asked-by": "\(p.by.uri)"])
            return (.ok, Reason("power.cancelled", [
                "action": p.action.rawValue, "at": self.texts.timeWithSeconds(p.at), "by": p.by.displayName,
            ]))
        }
    }

    private func doSchedule(_ action: PowerAction, delay: Int, by identity: Identity) -> (SeatStatus, Reason) {
        forgetPending()
        let now = Date()
        let at = now.addingTimeInterval(Double(delay))
        nextToken += 1
        var p = Pending(action: action, at: at, by: identity, helper: nil, token: nextToken)
        var params = ["action": action.rawValue, "at": texts.timeWithSeconds(at), "by": identity.displayName,
                      "epoch": String(Int(at.timeIntervalSince1970))]
        var code = "power.scheduled"
        switch showCountdown(action, at: at, by: identity, since: now) {
        case .success(let pid): p.helper = pid
        case .failure(let reason):
            // The action still happens: the teacher is told nobody saw the countdown.
            code = "power.scheduled-unseen"
            params["detail"] = reason.params["detail"].map { "\(reason.code) \($0)" } ?? reason.code
        }
        pending = p
        let token = p.token
        queue.asyncAfter(deadline: .now() + .milliseconds(Int(at.timeIntervalSinceNow * 1000))) { [weak self] in
            self?.fire(token)
        }
        logger.notice("power action scheduled", metadata: ["action": "\(action.rawValue)", "at": "\(at)", "by": "\(identity.uri)"])
        return (.ok, Reason(code, params))
    }

    private func fire(_ token: UInt64) {
        guard let p = pending, p.token == token else { return }
        pending = nil
        if let pid = p.helper { Spawn.stop(pid, mode: "countdown") }
        Task {
            let (status, reason) = await execute(p.action)
            onFired?(p.action, p.by, status, reason)
            logger.notice("power action \(status.rawValue)", metadata: ["action": "\(p.action.rawValue)", "by": "\(p.by.uri)", "code": "\(reason.code)", "params": "\(reason.params)"])
        }
    }

    /// Starts `vigie-ui countdown` in its own session and waits for `ready`.
    private func showCountdown(_ action: PowerAction, at: Date, by identity: Identity, since: Date) -> Result<pid_t, Reason> {
        if let why = target.unavailable { return .failure(why) }
        var argv = [uiPath, "countdown"]
        if let display = target.display { argv += ["--display", display] }
        argv += ["--title", texts.countdownTitle(action, at: at), "--text", texts.countdownText(by: identity, at: since),
                 "--until", String(Int(at.timeIntervalSince1970.rounded(.up))), "--remaining", texts.countdownRemaining]
        return Spawn.startHelper(argv)
    }

    /// Runs the configured command of `action` now (at most 30 s).
    private func execute(_ action: PowerAction) async -> (SeatStatus, Reason) {
        guard var argv = commands.command(for: action) else { return (.ok, Reason("power.nothing-pending")) }
        if argv.contains(where: { $0.contains("{session}") }) {
            let known = target.current.sessionID
            let session: Result<String, Reason> = if let known { .success(known) } else { await Self.graphicalSession() }
            switch session {
            case .success(let id): argv = argv.map { $0.replacingOccurrences(of: "{session}", with: id) }
            case .failure(let reason): return (.failed, reason)
            }
        }
        if argv.contains(where: { $0.contains("{user}") }) {
            guard let user = target.sessionUser else { return (.failed, Reason("power.no-session", ["detail": "session user unknown"])) }
            argv = argv.map { $0.replacingOccurrences(of: "{user}", with: user) }
        }
        let environment = ["PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C.UTF-8"]
        do {
            let outcome = try await ProgramRunner.run(argv, as: nil, environment: environment, timeout: .seconds(30), limit: 4096)
            if outcome.exitCode == 0 { return (.ok, Reason("power.done", ["action": action.rawValue])) }
            let why = outcome.timedOut ? "timeout" : outcome.exitCode.map { "exit \($0)" } ?? outcome.signal.map { "signal \($0)" } ?? "?"
            let err = String(decoding: outcome.stderr, as: UTF8.self).split(separator: "\n").first.map { ": \($0)" } ?? ""
            return (.failed, Reason("power.failed", ["action": action.rawValue, "detail": "\(argv[0]) \(why)\(err)"]))
        } catch {
            return (.failed, Reason("power.failed", ["action": action.rawValue, "detail": "\(error)"]))
        }
    }

    /// The seat's active graphical session, from logind (`seat0`).
    static func graphicalSession() async -> Result<String, Reason> {
        let argv = ["/usr/bin/loginctl", "show-seat", "seat0", "--property=ActiveSession", "--value"]
        do {
            let outcome = try await ProgramRunner.run(argv, as: nil, environment: ["PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"], timeout: .seconds(5), limit: 4096)
            let id = String(decoding: outcome.stdout, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
            if outcome.exitCode == 0, !id.isEmpty { return .success(id) }
            let err = String(decoding: outcome.stderr, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
            return .failure(Reason("power.no-session", ["detail": err.isEmpty ? "logind names no active session on seat0" : err]))
        } catch {
            return .failure(Reason("power.no-session", ["detail": "\(error)"]))
        }
    }
}
