/// A session of a seat, as logind sees it.
public struct SeatSession: Sendable, Equatable, CustomStringConvertible {
    /// logind's session type.
    public enum Kind: String, Sendable {
        case x11, wayland, mir, tty, unspecified
    }

    /// logind's session id (e.g. `c2`, `3`).
    public var id: String
    public var kind: Kind
    /// logind's session class: `user`, `greeter`, `lock-screen`, `background`.
    public var sessionClass: String
    /// The X11 display (`:0`) of an X11 session; nil for Wayland and tty sessions.
    public var display: String?
    public var uid: UInt32
    /// The login name of `uid` (nil when the account cannot be found).
    public var user: String?

    public init(id: String, kind: Kind, sessionClass: String, display: String?, uid: UInt32, user: String?) {
        self.id = id
        self.kind = kind
        self.sessionClass = sessionClass
        self.display = display
        self.uid = uid
        self.user = user
    }

    /// The display manager's login screen (LightDM's greeter, GDM's login window).
    public var isGreeter: Bool { sessionClass == "greeter" }
    /// A person's session (not the greeter, not a background session).
    public var isUser: Bool { sessionClass == "user" }

    public var description: String {
        "session \(id) (\(kind.rawValue), \(sessionClass), display \(display ?? "-"), user \(user ?? String(uid)))"
    }
}

/// What logind says about a seat now.
public enum SessionLookup: Sendable, Equatable {
    /// The seat's active session.
    case active(SeatSession)
    /// logind runs, and nobody's session is active on the seat.
    case none
    /// logind cannot be asked (not running, as in a container); the reason.
    case unavailable(String)
}

/// The seat's sessions, from logind or from a test double.
public protocol LoginSessions: Sendable {
    /// The seat's active session now.
    func activeSession() -> SessionLookup
    /// Yields whenever the seat's sessions may have changed (and now and then
    /// anyway, as a safety net); ask `activeSession()` again then. Ends when
    /// the consumer stops iterating.
    func changes() -> AsyncStream<Void>
}
