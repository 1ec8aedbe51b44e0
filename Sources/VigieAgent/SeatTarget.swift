import Foundation
import NIOConcurrencyHelpers
import VigieModel

/// What the agent drives now: the X display of the seat's active graphical
/// session, that session's id and user. One place, read by every part that
/// opens a window or a connection (lock, messages, notices, countdown,
/// capture, `run`, journal events); written by the session watcher when
/// logind's active session changes. With `--display`, it never changes.
final class SeatTarget: Sendable {
    struct State: Sendable, Equatable {
        /// X display (`:0`); nil means `$DISPLAY`.
        var display: String?
        /// logind's session id, when known (`{session}` in power commands).
        var sessionID: String?
        /// The login of the session's user (journal events, `vigie run`); nil at the greeter.
        var sessionUser: String?
        /// Set when there is no X display to drive (a Wayland session, a text
        /// console, nobody's session): every X feature fails with this reason.
        var unavailable: Reason?
    }

    private let state: NIOLockedValueBox<State>

    init(_ state: State) {
        self.state = NIOLockedValueBox(state)
    }

    var current: State {
        get { state.withLockedValue { $0 } }
        set { state.withLockedValue { $0 = newValue } }
    }

    /// The display to drive now (nil: `$DISPLAY`).
    var display: String? { current.display }
    var sessionUser: String? { current.sessionUser }
    /// Why X features cannot run now, if they cannot.
    var unavailable: Reason? { current.unavailable }
}
