import Foundation
import Logging
import NIOConcurrencyHelpers
import VigieModel

/// Where a notice was shown to the person at the seat (journaled as `notice.window`, `notice.lock`).
public enum NoticePlacement: String, Sendable {
    /// A window of its own, on top, without the keyboard focus.
    case window
    /// Drawn by the lock process, which owns the top of the screen while locked.
    case onLock = "lock"
}

/// Tells the person at the seat what is happening: the login notice, and the
/// indicator that the screen was looked at. While the seat is locked, the lock
/// process draws them itself (through its notice pipe), so nothing fights the
/// lock for the top of the screen.
struct NoticeShower: Sendable {
    let uiPath: String
    let target: SeatTarget
    let locks: LockKeeper
    let settings: SignageSettings
    let logger: Logger
    /// The lasting notice of live viewers, when shown in its own window.
    let banner = NIOLockedValueBox<pid_t?>(nil)
    /// Whether that notice is drawn by the lock process instead.
    let bannerOnLock = NIOLockedValueBox(false)

    typealias Shown = NoticePlacement

    /// The login notice (agent start, new session); nil if it could not be shown.
    func loginNotice(title: String, text: String) async -> Shown? {
        if locks.postNotice(seconds: max(settings.loginNoticeSeconds, 10), text: "\(title) — \(text.replacingOccurrences(of: "\n", with: " "))") {
            return .onLock
        }
        if target.unavailable != nil { return nil }
        var argv = [uiPath, "notice"]
        if let display = target.display { argv += ["--display", display] }
        argv += ["--title", title, "--text", text, "--timeout", String(Int(settings.loginNoticeSeconds))]
        return await start(argv) ? .window : nil
    }

    /// « Écran consulté par Mme Martin (professeur documentaliste) à 10:02 », on top
    /// for a few seconds, without taking the keyboard focus.
    func indicator(_ text: String) async -> Shown? {
        if locks.postNotice(seconds: settings.indicatorSeconds, text: text) { return .onLock }
        if target.unavailable != nil { return nil }
        var argv = [uiPath, "indicator"]
        if let display = target.display { argv += ["--display", display] }
        argv += ["--text", text, "--timeout", String(Int(settings.indicatorSeconds.rounded(.up)))]
        return await start(argv) ? .window : nil
    }

    /// The lasting notice naming who watches live: replaces the one shown, or
    /// removes it (nil). While the seat is locked, the lock process shows it.
    func watchers(_ text: String?, control: Bool = false) async {
        let previous = banner.withLockedValue { pid -> pid_t? in
            defer { pid = nil }
            return pid
        }
        if let previous {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                DispatchQueue.global().async {
                    _ = Spawn.stop(previous, mode: "indicator")
                    continuation.resume()
                }
            }
        }
        // While locked, the lock process draws it (an hour at most; shown again by
        // the streams' ticks) and `clear` removes it.
        let onLock = bannerOnLock.withLockedValue { was -> Bool in
            defer { was = false }
            return was
        }
        guard let text else {
            if onLock { _ = locks.clearNotices() }
            return
        }
        if locks.postNotice(seconds: 3600, text: text) {
            bannerOnLock.withLockedValue { $0 = true }
            return
        }
        if target.unavailable != nil { return }
        var argv = [uiPath, "indicator"]
        if let display = target.display { argv += ["--display", display] }
        // Lasting: removed when the last viewer leaves (12 hours at most).
        argv += ["--text", text, "--timeout", String(12 * 3600)]
        if control { argv += ["--style", "control"] }
        let pid = await spawn(argv)
        banner.withLockedValue { $0 = pid }
    }

    /// The consent window: the person's answer, or `unavailable` if it could not be shown.
    func ask(title: String, text: String, refuse: String, accept: String, timeout: Double) async -> ConsentAnswer {
        if target.unavailable != nil || locks.lockedBy != nil { return .unavailable }
        var command = [uiPath, "consent"]
        if let display = target.display { command += ["--display", display] }
        command += ["--title", title, "--text", text, "--refuse", refuse, "--accept", accept, "--timeout", String(Int(timeout.rounded(.up)))]
        let argv = command
        // A question withdrawn (the task cancelled: the one asking left) takes its window down.
        let window = NIOLockedValueBox<(pid: pid_t?, withdrawn: Bool)>((nil, false))
        let takeDown: @Sendable (pid_t) -> Void = { pid in DispatchQueue.global().async { _ = Spawn.stop(pid, mode: "consent") } }
        return await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                DispatchQueue.global().async {
                    // A busy seat's question may take a few seconds to show: the person still gets it.
                    let asked = Spawn.ask(argv, timeout: timeout + 5, startWait: min(10, timeout)) { pid in
                        if window.withLockedValue({ $0.pid = pid; return $0.withdrawn }) { takeDown(pid) }
                    }
                    switch asked {
                    case .success(let line): continuation.resume(returning: ConsentAnswer(rawValue: line) ?? .unavailable)
                    case .failure(let reason):
                        if !window.withLockedValue({ $0.withdrawn }) {
                            logger.warning("consent window did not open", metadata: ["code": "\(reason.code)"])
                        }
                        continuation.resume(returning: .unavailable)
                    }
                }
            }
        } onCancel: {
            if let pid = window.withLockedValue({ $0.withdrawn = true; return $0.pid }) { takeDown(pid) }
        }
    }

    /// The banner of an assistance, with its « Arrêter » button: calls `stopped`
    /// when the person clicks it. Returns how to take it down; nil if it did not open.
    func assistBanner(text: String, button: String, control: Bool, stopped: @escaping @Sendable () -> Void) async -> (@Sendable () -> Void)? {
        if target.unavailable != nil { return nil }
        var command = [uiPath, "assist-banner"]
        if let display = target.display { command += ["--display", display] }
        command += ["--text", text, "--button", button]
        if control { command += ["--style", "control"] }
        let argv = command
        let logger = logger
        return await withCheckedContinuation { continuation in
            DispatchQueue.global().async {
                let process: SpawnedProcess
                do {
                    process = try Spawn.start(argv, newSession: true)
                } catch {
                    logger.warning("assistance banner did not open", metadata: ["error": "\(error)"])
                    continuation.resume(returning: nil)
                    return
                }
                guard Spawn.readLine(process.stdout, timeout: Spawn.helperStartWait) == "ready" else {
                    _ = Spawn.stop(process.pid, mode: "assist-banner")
                    close(process.stdout)
                    continuation.resume(returning: nil)
                    return
                }
                continuation.resume(returning: { _ = Spawn.stop(process.pid, mode: "assist-banner") })
                // Each click is a line; the banner ending (taken down) closes the pipe.
                while let line = Spawn.readLine(process.stdout, timeout: 24 * 3600) {
                    if line == "stop" { stopped() }
                }
                close(process.stdout)
            }
        }
    }

    /// Starts a helper window and waits until it says `ready`.
    func start(_ argv: [String]) async -> Bool {
        await spawn(argv) != nil
    }

    /// Starts a helper window, waits until it says `ready` (off the concurrency
    /// pool: the wait blocks), and returns its pid; nil, logged, when it did not open.
    private func spawn(_ argv: [String]) async -> pid_t? {
        await withCheckedContinuation { continuation in
            DispatchQueue.global().async {
                switch Spawn.startHelper(argv) {
                case .success(let pid):
                    continuation.resume(returning: pid)
                case .failure(let reason):
                    logger.warning("notice window did not open", metadata: ["helper": "\(argv[1])", "code": "\(reason.code)"])
                    continuation.resume(returning: nil)
                }
            }
        }
    }
}

extension SeatTexts {
    /// The monitoring indicator's words.
    public func indicator(by identity: Identity, at date: Date) -> String {
        switch language {
        case .fr: return "Écran consulté par \(actor(identity)) à \(time(date))"
        case .en: return "Screen viewed by \(actor(identity)) at \(time(date))"
        }
    }

    /// When the signage templates are missing: the login notice in plain words.
    public func fallbackLoginNotice(room: Room) -> (title: String, text: String) {
        switch (language, room.purpose) {
        case (.fr, .pedagogy):
            return ("Information", "Ce poste peut être pris en main à distance depuis le poste enseignant à des fins pédagogiques.")
        case (.fr, .surveillance):
            return ("Information", "L’utilisation de ce poste peut faire l’objet d’un contrôle visuel aux heures affichées dans la salle.")
        case (.en, .pedagogy):
            return ("Notice", "This computer may be controlled remotely from the teacher’s computer for teaching.")
        case (.en, .surveillance):
            return ("Notice", "The use of this computer may be visually checked during the hours posted in the room.")
        }
    }
}
