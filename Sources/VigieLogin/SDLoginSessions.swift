import CSystemdLogin
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// The seat's sessions from logind, through sd-login (libsystemd).
///
/// sd-login reads logind's state files under `/run/systemd/` (no D-Bus round
/// trip) and watches them with inotify: `sd_login_monitor_new` gives a file
/// descriptor that becomes readable when a seat or session changes. Where
/// logind does not run (a container, a machine without systemd), every answer
/// is `.unavailable` with the reason, and `changes()` falls back to polling.
public struct SDLoginSessions: LoginSessions {
    /// The logind seat (`seat0` on every single-seat PC).
    public let seat: String
    /// Seconds between two looks when nothing was signalled (safety net, and
    /// the whole mechanism when the monitor cannot be created).
    public let pollInterval: Double

    public init(seat: String = "seat0", pollInterval: Double = 5) {
        self.seat = seat
        self.pollInterval = pollInterval
    }

    /// True when the machine was booted with systemd (`/run/systemd/system` exists).
    public static var systemdBooted: Bool { sd_booted() > 0 }

    public func activeSession() -> SessionLookup {
        var sessionPointer: UnsafeMutablePointer<CChar>?
        var uid: uid_t = 0
        let rc = sd_seat_get_active(seat, &sessionPointer, &uid)
        guard rc >= 0, let sessionPointer else {
            if !Self.systemdBooted {
                return .unavailable("logind is not running (sd_booted() = 0; sd_seat_get_active(\(seat)): \(Self.describe(rc)))")
            }
            // ENODATA: the seat has no active session; ENXIO/ENOENT: no such seat yet.
            if rc == -ENODATA || rc == -ENXIO || rc == -ENOENT { return .none }
            return .unavailable("sd_seat_get_active(\(seat)): \(Self.describe(rc))")
        }
        let id = String(cString: sessionPointer)
        free(sessionPointer)
        let kind = Self.string(id, sd_session_get_type).flatMap(SeatSession.Kind.init(rawValue:)) ?? .unspecified
        let sessionClass = Self.string(id, sd_session_get_class) ?? "user"
        let display = kind == .x11 ? Self.string(id, sd_session_get_display) : nil
        return .active(SeatSession(id: id, kind: kind, sessionClass: sessionClass, display: display, uid: uid, user: Self.login(of: uid)))
    }

    public func changes() -> AsyncStream<Void> {
        let stop = StopFlag()
        let (stream, continuation) = AsyncStream<Void>.makeStream(bufferingPolicy: .bufferingNewest(1))
        continuation.onTermination = { _ in stop.set() }
        let interval = pollInterval
        let thread = Thread {
            var monitor: OpaquePointer?
            // nil: every category (seats, sessions, users): an active session
            // that changes is written to the seat's file.
            if sd_login_monitor_new(nil, &monitor) < 0 { monitor = nil }
            defer { if let monitor { sd_login_monitor_unref(monitor) } }
            var last = Self.now()
            func tick() {
                if Self.now() - last >= interval {
                    last = Self.now()
                    continuation.yield()
                }
            }
            while !stop.isSet {
                if let monitor {
                    var pfd = pollfd(fd: sd_login_monitor_get_fd(monitor), events: Int16(truncatingIfNeeded: sd_login_monitor_get_events(monitor)), revents: 0)
                    // Wake at least every 250 ms to notice that nobody listens any more.
                    let r = poll(&pfd, 1, 250)
                    if r > 0 {
                        sd_login_monitor_flush(monitor)
                        last = Self.now()
                        continuation.yield()
                        continue
                    }
                    if r < 0 && errno != EINTR { break }
                    tick()
                } else {
                    usleep(250_000)
                    tick()
                }
            }
            continuation.finish()
        }
        thread.name = "vigie.logind"
        thread.start()
        return stream
    }

    /// Monotonic seconds.
    private static func now() -> Double {
        var t = timespec()
        clock_gettime(CLOCK_MONOTONIC, &t)
        return Double(t.tv_sec) + Double(t.tv_nsec) / 1e9
    }

    /// An `sd_session_get_*` string, freed; nil on error.
    private static func string(_ session: String, _ get: (UnsafePointer<CChar>?, UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> Int32) -> String? {
        var value: UnsafeMutablePointer<CChar>?
        guard get(session, &value) >= 0, let value else { return nil }
        defer { free(value) }
        return String(cString: value)
    }

    /// The login name of `uid` (`sd_session_get_username` only exists from systemd 254; Debian 12 has 252).
    static func login(of uid: uid_t) -> String? {
        var entry = passwd()
        var result: UnsafeMutablePointer<passwd>?
        var buffer = [CChar](repeating: 0, count: 4096)
        guard getpwuid_r(uid, &entry, &buffer, buffer.count, &result) == 0, result != nil, let name = entry.pw_name else { return nil }
        return String(cString: name)
    }

    static func describe(_ rc: Int32) -> String {
        "\(String(cString: strerror(-rc))) (\(rc))"
    }
}

/// Set once by the stream's consumer going away, read by the watching thread.
private final class StopFlag: @unchecked Sendable {
    private let lock = NSLock()
    private var value = false
    var isSet: Bool { lock.withLock { value } }
    func set() { lock.withLock { value = true } }
}
