import CXCB
import Glibc

/// Keeps a window above the windows mapped or raised after it (with no window
/// manager, the last window mapped is on top: a session's first windows would
/// cover a notice shown as it starts). Raises at most every 250 ms, so that two
/// clients that both keep themselves on top cannot spin; never above a Vigie
/// lock, which draws notices itself; never in answer to a window of the
/// instances in `ignoring` (two indicators do not fight); and never above a
/// question to the person (``questions``), which stays above them all.
public struct StayOnTop {
    /// The least time between two raises, in milliseconds: a window that would go
    /// above another has done so this long after it heard of it.
    public static let raiseIntervalMs = 250.0

    /// Windows that ask the person something (a consent question, their help code):
    /// whatever else stays on top (the login notice, an indicator, a banner) never
    /// goes above them, or the person could not answer.
    public static let questions: Set<String> = ["vigie-consent", "vigie-help"]

    let window: xcb_window_t
    let ignoring: Set<String>
    /// This window is itself a question (``questions``).
    let isQuestion: Bool
    private var lockWindows = Set<xcb_window_t>()
    /// Questions on screen now (for a window that is not one, its ceiling).
    private var questionWindows = Set<xcb_window_t>()
    private var pending = false
    private var lastRaise = 0.0

    /// Starts hearing about the root's children (map, configure, unmap, destroy).
    init(_ x: XConnection, window: xcb_window_t, ignoring: Set<String>) {
        self.window = window
        self.ignoring = ignoring
        isQuestion = !ignoring.isDisjoint(with: Self.questions)
        // A question already on screen when this window opens stays above it.
        if !isQuestion, let tree = xcb_query_tree_reply(x.connection, xcb_query_tree(x.connection, x.root), nil) {
            defer { free(tree) }
            let count = Int(xcb_query_tree_children_length(tree))
            if let children = xcb_query_tree_children(tree) {
                for child in UnsafeBufferPointer(start: children, count: count) where child != window {
                    if let name = x.wmInstance(child), Self.questions.contains(name) { questionWindows.insert(child) }
                }
            }
            pending = !questionWindows.isEmpty
        }
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
            let other = eventAs(ev, xcb_unmap_notify_event_t.self).window
            lockWindows.remove(other)
            questionWindows.remove(other)
        case XCB_DESTROY_NOTIFY:
            let other = eventAs(ev, xcb_destroy_notify_event_t.self).window
            lockWindows.remove(other)
            questionWindows.remove(other)
        default:
            return false
        }
        return true
    }

    private mutating func noticed(_ x: XConnection, _ other: xcb_window_t) {
        switch x.wmInstance(other) {
        case "vigie-lock": lockWindows.insert(other)
        case let name? where ignoring.contains(name): return
        case let name? where !isQuestion && Self.questions.contains(name):
            questionWindows.insert(other)
            return
        default: break
        }
        pending = lockWindows.isEmpty
    }

    /// Raises the window when a raise is due; returns the milliseconds until the
    /// next one may be, or nil when none waits.
    mutating func tick(_ x: XConnection, now: Double) -> Double? {
        guard pending else { return nil }
        if now - lastRaise >= Self.raiseIntervalMs {
            // Up to just below a question on screen, else to the top.
            if let question = questionWindows.first {
                x.restack(window, below: question)
            } else {
                x.restack(window, above: true)
            }
            pending = false
            lastRaise = now
            return nil
        }
        return max(1, lastRaise + Self.raiseIntervalMs - now)
    }
}
