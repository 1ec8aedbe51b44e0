import Foundation
import Logging
import VigieLogin
import VigieModel

/// Follows the seat's active session as logind reports it, and says what
/// changed between two looks. Pure: the agent applies the changes.
struct SessionWatcher {
    enum Change: Equatable {
        /// A session became the seat's active one (a login, the greeter after a logout, a switch).
        case started(SeatSession)
        /// The active session is the same, its details changed (e.g. its display became known).
        case updated(SeatSession)
        /// The session that was active no longer is (logged out, or switched away from).
        case ended(SeatSession)
        /// logind cannot be asked; the agent keeps driving its fallback display.
        case unavailable(String)
    }

    private(set) var active: SeatSession?
    private var unavailableReported = false

    /// The changes since the previous look.
    mutating func update(_ lookup: SessionLookup) -> [Change] {
        switch lookup {
        case .unavailable(let why):
            defer { unavailableReported = true }
            var changes: [Change] = active.map { [.ended($0)] } ?? []
            active = nil
            if !unavailableReported { changes.append(.unavailable(why)) }
            return changes
        case .none:
            unavailableReported = false
            defer { active = nil }
            return active.map { [.ended($0)] } ?? []
        case .active(let session):
            unavailableReported = false
            defer { active = session }
            guard let old = active else { return [.started(session)] }
            if old.id != session.id { return [.ended(old), .started(session)] }
            return old == session ? [] : [.updated(session)]
        }
    }

    /// What the agent drives for a lookup; `fallback` (the `$DISPLAY` the agent
    /// was started with) when logind cannot be asked.
    static func target(for lookup: SessionLookup, fallback: SeatTarget.State) -> SeatTarget.State {
        switch lookup {
        case .unavailable:
            return fallback
        case .none:
            return SeatTarget.State(display: nil, sessionID: nil, sessionUser: nil,
                                    unavailable: Reason("session.none", ["detail": "no active session"]))
        case .active(let s):
            let user = s.isGreeter ? nil : s.user
            switch s.kind {
            case .x11:
                guard let display = s.display, !display.isEmpty else {
                    return SeatTarget.State(display: nil, sessionID: s.id, sessionUser: user,
                                            unavailable: Reason("session.none", ["detail": "X11 session \(s.id) has no display"]))
                }
                return SeatTarget.State(display: display, sessionID: s.id, sessionUser: user, unavailable: nil)
            case .wayland:
                return SeatTarget.State(display: nil, sessionID: s.id, sessionUser: user,
                                        unavailable: Reason("session.wayland", ["session": s.id]))
            case .tty, .mir, .unspecified:
                return SeatTarget.State(display: nil, sessionID: s.id, sessionUser: user,
                                        unavailable: Reason("session.none", ["detail": "\(s.kind.rawValue) session \(s.id)"]))
            }
        }
    }
}

extension SeatAgent {
    /// Follows logind until the task is cancelled: on every change of the
    /// seat's active session, points the agent at its display and user,
    /// re-applies a remembered lock there, and shows the login notice when a
    /// person's X11 session starts. Session starts and ends are logged, not
    /// journaled: the register records what Vigie does, not when pupils log in.
    func follow(_ sessions: any LoginSessions) async {
        var watcher = SessionWatcher()
        let fallback = target.current
        var first = true
        // The session the login notice was shown in: once per session, when its
        // X display is known (logind often reports it a moment after the start).
        var noticed: String?
        var notice: Task<Void, Never>?
        defer { notice?.cancel() }
        func look() async {
            let lookup = sessions.activeSession()
            let changes = watcher.update(lookup)
            defer { first = false }
            guard !changes.isEmpty else { return }
            target.current = SessionWatcher.target(for: lookup, fallback: fallback)
            var fallbackNotice = false
            for change in changes {
                switch change {
                case .started(let s):
                    logger.notice("session started", metadata: ["session": "\(s.id)", "type": "\(s.kind.rawValue)", "class": "\(s.sessionClass)",
                                                                 "display": "\(s.display ?? "-")", "user": "\(s.user ?? String(s.uid))"])
                    if s.kind == .wayland {
                        logger.warning("Wayland session: lock, messages, screenshots and notices answer failed session.wayland (use Xorg: docs/SEATS.md)",
                                       metadata: ["session": "\(s.id)"])
                    }
                case .updated(let s):
                    logger.info("session changed", metadata: ["session": "\(s.id)", "display": "\(s.display ?? "-")"])
                case .ended(let s):
                    logger.notice("session ended", metadata: ["session": "\(s.id)", "user": "\(s.user ?? String(s.uid))"])
                case .unavailable(let why):
                    logger.warning("logind unavailable; driving the display the agent was started with", metadata: ["why": "\(why)", "display": "\(fallback.display ?? "$DISPLAY")"])
                    // As without logind: the notice is shown when the agent starts.
                    fallbackNotice = first
                }
            }
            // The lock first, so that the notice is drawn by it when the seat is locked.
            await locks.refresh()
            var owed = fallbackNotice
            if case .active(let s) = lookup, s.isUser, s.kind == .x11, s.display != nil, noticed != s.id {
                noticed = s.id
                owed = true
            }
            if owed {
                // On its own task: a display that refuses the agent for a moment (its
                // access is granted as the session starts) is tried again without
                // holding up the next session change, which cancels it.
                notice?.cancel()
                notice = Task { await self.showLoginNotice() }
            }
        }
        // Subscribe before the first look, so that a change while it runs is not missed.
        let changes = sessions.changes()
        await look()
        for await _ in changes {
            if Task.isCancelled { break }
            await look()
        }
    }
}
