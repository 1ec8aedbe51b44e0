/// What a console can ask a seat to do. The raw value is the name used on the
/// wire, in the config's grants and in the register.
public enum Feature: String, Sendable, Codable, CaseIterable, Comparable {
    case lock
    case unlock
    case message
    case screenshot
    case thumbnail
    /// Asks a seat for its state (locked or not, session, versions). Every role that
    /// may use any feature in a room may ask it.
    case status
    /// Power off, reboot or log off after a countdown, or cancel it (argument `action`).
    case power
    /// Runs a program without a shell and returns its exit status and output.
    case run
    /// Wake-on-LAN: sent by the console (the seats are off), checked against the grants there.
    case wake
    /// A live thumbnail stream (the overview): frames while the policy allows,
    /// one register event when it starts and one when it stops.
    case watch
    /// One seat's screen at full size over VNC, without input (the remote view).
    case view
    /// One seat's screen over VNC with keyboard and mouse (remote control).
    case control
    /// Help for the person at the seat through their screen (argument `mode`:
    /// view or control, and `reason`): only once that person has accepted, on
    /// the seat, whatever the grants; not a monitoring feature.
    case assist

    /// Features that let someone look at a pupil's screen. In a surveillance room
    /// they are allowed only inside the posted windows.
    public var isMonitoring: Bool {
        switch self {
        case .screenshot, .thumbnail, .watch, .view, .control: return true
        default: return false
        }
    }

    /// Features whose accepted request opens a stream on the connection (docs/WIRE.md, "Streams").
    public var opensStream: Bool {
        switch self {
        case .watch, .view, .control, .assist: return true
        default: return false
        }
    }

    public static func < (a: Feature, b: Feature) -> Bool { a.rawValue < b.rawValue }
}

/// How a seat answered, as the console reports it.
public enum SeatStatus: String, Sendable, Codable {
    /// The seat did it.
    case ok
    /// The seat's policy said no (role, room, revoked certificate, time window).
    case refused
    /// The console could not reach the seat within the deadline (down, no route, TLS refused).
    case unreachable
    /// The seat tried and could not (no display, grab not held, capture error).
    case failed
}

/// The picture quality of a remote view (`vigie view --quality`, the `quality`
/// argument of a `view` or `control` request). The seat's VNC helper bounds the
/// JPEG quality a viewer asks for to this level: lower costs fewer bytes.
public enum RemoteQuality: String, Sendable, Codable, CaseIterable {
    case low
    case medium
    case high

    /// What a request without `quality` gets.
    public static let standard = RemoteQuality.medium
}
