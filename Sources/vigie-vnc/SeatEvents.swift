import CVNCServer
import CXCB
import Glibc
import VigieScreen

/// What vigie-vnc follows on the seat besides its pixels: the pointer (shape
/// and place) and, with `--clipboard`, the clipboard. On an X connection of
/// its own: the capture's DamageTracker reads every event of its connection
/// and drops those that are not DAMAGE's, so XFIXES and selection events would
/// be lost there, and the two streams never wait on each other.
final class SeatEvents {
    let x: XConnection
    /// First event code of XFIXES on this connection; nil when the server lacks it
    /// (no pointer shape, and the seat's copies do not reach the viewer).
    let xfixesEvent: UInt8?
    var cursor: CursorSource?
    var clipboard: Clipboard?

    init(display: String?) throws {
        x = try XConnection(display: display)
        xfixesEvent = Self.startXFixes(x)
    }

    /// Handles every queued event, then what is due once per turn of the loop.
    func poll(now: UInt64) {
        while let event = xcb_poll_for_event(x.connection) {
            if cursor?.handle(event) != true { clipboard?.handle(event) }
            free(event)
        }
        cursor?.tick(now: now)
        clipboard?.tick()
    }

    func close() { x.close() }

    /// The protocol wants QueryVersion before any other XFIXES request; version
    /// 2 has the selection and cursor notifications, 4 nothing we need more.
    private static func startXFixes(_ x: XConnection) -> UInt8? {
        let c = x.connection
        guard let ext = xcb_get_extension_data(c, cvnc_xfixes_extension()), ext.pointee.present != 0 else { return nil }
        guard let version = xcb_xfixes_query_version_reply(c, xcb_xfixes_query_version(c, 4, 0), nil) else { return nil }
        defer { free(version) }
        return version.pointee.major_version >= 2 ? ext.pointee.first_event : nil
    }
}

/// Monotonic time in nanoseconds.
func monotonicNow() -> UInt64 {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
}
