import CXCB
import Glibc

/// Keeps a window above the windows mapped or raised after it (with no window
/// manager, the last window mapped is on top: a session's first windows would
/// cover a notice shown as it starts). Raises at most every 250 ms, so that two
/// clients that both keep themselves on top cannot spin; never above a Vigie
/// lock, which draws notices itself; and never in answer to a window of the
/// instances in `ignoring` (two indicators do not fight).
public struct StayOnTop {
    /// The least time between two raises, in milliseconds: a window that would go
    /// above another has done so this long after it heard of it.
    public static let raiseIntervalMs = 250.0

    let window: xcb_window_t
    let ignoring: Set<String>
    private var lockWindows = Set<xcb_window_t>()
    private var pending = false
    private var lastRaise = 0.0

    /// Starts hearing about the root's children (map, configure, unmap, destroy).
    init(_ x: XConnection, window: xcb_window_t, ignoring: Set<String>) {
        self.window = window
        self.ignoring = ignoring
        var rootMask = XCB_EVENT_MASK_SUBSTRUCTURE_NOTIFY.rawValue
        _ = xcb_change_window_attributes(x.connection, x.root, XCB_CW_EVENT_MASK.rawValue, &rootMask)
    }

    /// Takes the events about other windows; false for the others.
    mutating func handle(_ x: XConnection, _ ev: UnsafeMutablePointer<xcb_generic_event_t>) -> Bool {
        switch Int32(eventType(ev)) {
        case XCB_MAP_NOTIFY:
            let other = eventAs(ev, xcb_map_notify_event_t.self).window
            if other == window { return false }
            noticed(x, other)
        case XCB_CONFIGURE_NOTIFY:
            let other = eventAs(ev, xcb_configure_notify_event_t.self).window
            if other == window { return false }
            noticed(x, other)
        case XCB_UNMAP_NOTIFY:
            lockWindows.remove(eventAs(ev, xcb_unmap_notify_event_t.self).window)
        case XCB_DESTROY_NOTIFY:
            lockWindows.remove(eventAs(ev, xcb_destroy_notify_event_t.self).window)
        default:
            return false
        }
        return true
    }

    private mutating func noticed(_ x: XConnection, _ other: xcb_window_t) {
        switch x.wmInstance(other) {
        case "vigie-lock": lockWindows.insert(other)
        case let name? where ignoring.contains(name): return
        default: break
        }
        pending = lockWindows.isEmpty
    }

    /// Raises the window when a raise is due; returns the milliseconds until the
    /// next one may be, or nil when none waits.
    mutating func tick(_ x: XConnection, now: Double) -> Double? {
        guard pending else { return nil }
        if now - lastRaise >= Self.raiseIntervalMs {
            x.restack(window, above: true)
            pending = false
            lastRaise = now
            return nil
        }
        return max(1, lastRaise + Self.raiseIntervalMs - now)
    }
}
