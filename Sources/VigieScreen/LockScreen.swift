import CXCB
import Glibc

/// The full-screen lock: an override-redirect window over the whole screen,
/// keyboard and pointer grabbed, kept on top, until a signal or a deadline.
///
/// It fails closed: if a grab cannot be taken it throws, and the caller must
/// not report the seat as locked.
public struct LockScreen: Sendable {
    /// Background colour of the lock window (0xRRGGBB); tests look for it.
    public static let backgroundRGB: UInt32 = 0x14213D
    /// Colour of the title.
    public static let titleRGB: UInt32 = 0xFFFFFF
    /// Colour of the lines below the title.
    public static let lineRGB: UInt32 = 0xC9D3E0
    /// Colour of the padlock and the rule under the title.
    public static let accentRGB: UInt32 = 0xF2A541

    /// Title, drawn large in the middle (e.g. "Poste verrouillé").
    public var title: String
    /// Lines drawn under the title (who locked the seat, when).
    public var lines: [String]
    /// Unix time at which the lock lifts itself, or nil for never.
    public var until: Double?
    /// How long each grab is retried before giving up, in milliseconds.
    public var grabRetryMs: Int = 1000
    /// How often grabs and stacking are re-checked, in milliseconds.
    public var recheckMs: Int32 = 1000
    /// A named pipe to read notices from while locked (see `NoticeFeed` for
    /// the line format); nil for none. Notices are drawn as banners at the top
    /// of the lock window.
    public var noticePipe: String?

    /// A lock screen showing `title` and `lines`, lifting itself at `until`.
    public init(title: String, lines: [String], until: Double? = nil, noticePipe: String? = nil) {
        self.title = title
        self.lines = lines
        self.until = until
        self.noticePipe = noticePipe
    }

    /// Connects to `display`, locks, calls `onReady` once the window is
    /// mapped, drawn and both grabs are held, then runs until a signal
    /// arrives on `signalFD` or `until` passes, and unlocks cleanly.
    ///
    /// - Throws: `ScreenError` `x11.connect`, `x11.grab-pointer`,
    ///   `x11.grab-keyboard` (before `onReady`), `x11.connection-lost`.
    public func run(display: String?, signalFD: Int32, onReady: () -> Void) throws {
        let x = try XConnection(display: display)
        defer { x.close() }
        let c = x.connection
        let bg = x.pixel(rgb: Self.backgroundRGB)
        let events = XCB_EVENT_MASK_EXPOSURE.rawValue | XCB_EVENT_MASK_KEY_PRESS.rawValue
            | XCB_EVENT_MASK_BUTTON_PRESS.rawValue | XCB_EVENT_MASK_VISIBILITY_CHANGE.rawValue
            | XCB_EVENT_MASK_STRUCTURE_NOTIFY.rawValue
        func makeWindow() -> xcb_window_t {
            let w = x.createWindow(x: 0, y: 0, width: x.width, height: x.height, background: bg,
                                   overrideRedirect: true, events: events)
            x.setTitle(w, title, instance: "vigie-lock")
            return w
        }
        var win = makeWindow()
        // Hear about every top-level window mapped, moved or raised, to stay above them.
        var rootMask = XCB_EVENT_MASK_SUBSTRUCTURE_NOTIFY.rawValue
        _ = xcb_change_window_attributes(c, x.root, XCB_CW_EVENT_MASK.rawValue, &rootMask)
        xcb_map_window(c, win)
        x.restack(win, above: true)
        x.sync()

        let painter = try LockPainter(x: x, window: win, title: title, lines: lines, background: bg)
        do {
            try grabBoth(x, win)
        } catch {
            xcb_destroy_window(c, win)
            x.sync()
            throw error
        }
        painter.draw()
        x.sync()
        // Notices are opened only once the seat is locked: the lock never waits on them.
        let feed = noticePipe.map { NoticeFeed(path: $0) }
        defer { feed?.close() }
        onReady()

        var lastCheck = monotonicMs()
        loop: while true {
            var timeout = Int32(recheckMs)
            if let until {
                let left = (until - wallClock()) * 1000
                if left <= 0 { break loop }
                timeout = min(timeout, Int32(left.rounded(.up)))
            }
            if let expiry = painter.notices.nextExpiry {
                timeout = min(timeout, Int32(max(1, (expiry - monotonicMs()).rounded(.up))))
            }
            switch x.waitForWake(signalFD: signalFD, timeoutMs: timeout, inputFD: feed?.readFD ?? -1) {
            case .signal:
                break loop
            case .lost:
                throw ScreenError(code: "x11.connection-lost", detail: "X connection to \(x.displayName) lost")
            case .input:
                let commands = feed?.read() ?? []
                for command in commands { painter.notices.apply(command, now: monotonicMs()) }
                if !commands.isEmpty { painter.draw() }
            case .timeout:
                break
            case .event(let ev):
                defer { free(ev) }
                switch Int32(eventType(ev)) {
                case XCB_EXPOSE:
                    if eventAs(ev, xcb_expose_event_t.self).count == 0 { painter.draw() }
                case XCB_MAP_NOTIFY:
                    if eventAs(ev, xcb_map_notify_event_t.self).window != win { x.restack(win, above: true) }
                case XCB_CONFIGURE_NOTIFY:
                    let e = eventAs(ev, xcb_configure_notify_event_t.self)
                    if e.window != win { x.restack(win, above: true) }
                case XCB_CIRCULATE_NOTIFY, XCB_REPARENT_NOTIFY:
                    x.restack(win, above: true)
                case XCB_VISIBILITY_NOTIFY:
                    let e = eventAs(ev, xcb_visibility_notify_event_t.self)
                    if e.state != UInt8(XCB_VISIBILITY_UNOBSCURED.rawValue) { x.restack(win, above: true) }
                case XCB_DESTROY_NOTIFY:
                    // Any client may destroy our window: put a new one up and take the grabs back.
                    if eventAs(ev, xcb_destroy_notify_event_t.self).window == win {
                        emitError("vigie-ui lock: warning: lock window destroyed by another client, recreating")
                        win = makeWindow()
                        painter.window = win
                        xcb_map_window(c, win)
                        x.restack(win, above: true)
                        painter.draw()
                        lastCheck = 0
                    }
                case XCB_UNMAP_NOTIFY:
                    // Another client unmapped the lock: map it again and take the grabs back.
                    if eventAs(ev, xcb_unmap_notify_event_t.self).window == win {
                        xcb_map_window(c, win)
                        x.restack(win, above: true)
                        lastCheck = 0
                    }
                default:
                    break  // key and button presses are swallowed; errors ignored
                }
            }
            if painter.notices.expire(now: monotonicMs()) { painter.draw() }
            if monotonicMs() - lastCheck >= Double(recheckMs) {
                lastCheck = monotonicMs()
                x.restack(win, above: true)
                // Re-grabbing a grab we hold just refreshes it; if it was lost, this takes it back.
                if x.grabPointer(window: win) != 0 { emitError("vigie-ui lock: warning: pointer grab lost, retrying") }
                if x.grabKeyboard(window: win) != 0 { emitError("vigie-ui lock: warning: keyboard grab lost, retrying") }
            }
        }
        x.ungrabKeyboard()
        x.ungrabPointer()
        xcb_destroy_window(c, win)
        x.sync()
    }

    /// i3lock's grab_pointer_and_keyboard: retry each grab for a while, since
    /// a menu or a drag may hold it briefly.
    private func grabBoth(_ x: XConnection, _ win: xcb_window_t) throws {
        var status = retry { x.grabPointer(window: win) }
        if status != 0 {
            throw ScreenError(code: "x11.grab-pointer",
                              detail: "pointer grab refused for \(grabRetryMs) ms (\(grabStatusName(status)))")
        }
        status = retry { x.grabKeyboard(window: win) }
        if status != 0 {
            x.ungrabPointer()
            throw ScreenError(code: "x11.grab-keyboard",
                              detail: "keyboard grab refused for \(grabRetryMs) ms (\(grabStatusName(status)))")
        }
    }

    private func retry(_ attempt: () -> UInt8) -> UInt8 {
        let deadline = monotonicMs() + Double(grabRetryMs)
        var status = attempt()
        while status != 0 && monotonicMs() < deadline {
            sleepMs(20)
            status = attempt()
        }
        return status
    }
}

/// Name of an X grab status, for error details.
func grabStatusName(_ s: UInt8) -> String {
    switch s {
    case 0: return "Success"
    case 1: return "AlreadyGrabbed: another client holds it"
    case 2: return "InvalidTime"
    case 3: return "NotViewable"
    case 4: return "Frozen"
    default: return "no reply"
    }
}

/// Draws the lock window's content.
final class LockPainter {
    let x: XConnection
    var window: xcb_window_t
    let title: String
    let lines: [String]
    let titleFont: Font
    let lineFont: Font
    let gc: xcb_gcontext_t
    let bg: UInt32, fg: UInt32, lineColor: UInt32, accent: UInt32
    /// Notices drawn as banners at the top (see `NoticeFeed`).
    var notices = ActiveNotices()
    let noticeFont: Font
    let bannerColors: BannerColors

    init(x: XConnection, window: xcb_window_t, title: String, lines: [String], background: UInt32) throws {
        self.x = x
        self.window = window
        self.title = title
        self.lines = lines
        bg = background
        fg = x.pixel(rgb: LockScreen.titleRGB)
        lineColor = x.pixel(rgb: LockScreen.lineRGB)
        accent = x.pixel(rgb: LockScreen.accentRGB)
        // Title: a multiple of the native 18 px size so the scaled glyphs stay crisp.
        var px = max(18, x.height / 13 / 18 * 18)
        var tf = try x.openUnicodeFont(pixels: px, bold: true)
        while tf.width(of: title) > x.width * 9 / 10 && px > 18 {
            xcb_close_font(x.connection, tf.id)
            px -= 18
            tf = try x.openUnicodeFont(pixels: px, bold: true)
        }
        titleFont = tf
        lineFont = try x.openUnicodeFont(pixels: max(18, x.height / 30 / 9 * 9), bold: false)
        noticeFont = try x.openUnicodeFont(pixels: x.height >= 1000 ? 27 : 20, bold: true)
        bannerColors = BannerColors(x)
        gc = x.makeGC(window, foreground: fg, background: bg, font: titleFont)
    }

    func draw() {
        let c = x.connection
        let w = x.width, h = x.height
        x.setForeground(gc, bg)
        x.fillRect(window, gc, x: 0, y: 0, width: w, height: h)

        // Padlock above the title.
        let unit = max(titleFont.height / 2, 12)
        let lockW = unit * 2, lockH = unit * 3 / 2
        let titleBaseline = h * 2 / 5 + titleFont.ascent / 2
        let lockX = (w - lockW) / 2
        let lockY = titleBaseline - titleFont.ascent - unit - lockH
        x.setForeground(gc, accent)
        var lw = UInt32(max(4, unit / 4))
        _ = xcb_change_gc(c, gc, XCB_GC_LINE_WIDTH.rawValue, &lw)
        var arc = xcb_arc_t(x: Int16(clamping: lockX + lockW / 5), y: Int16(clamping: lockY - lockH * 3 / 5),
                            width: UInt16(clamping: lockW * 3 / 5), height: UInt16(clamping: lockH * 6 / 5),
                            angle1: 0, angle2: 180 * 64)
        _ = xcb_poly_arc(c, window, gc, 1, &arc)
        x.fillRect(window, gc, x: lockX + lockW / 5, y: lockY, width: Int(lw), height: lockH / 5)
        x.fillRect(window, gc, x: lockX + lockW * 4 / 5 - Int(lw), y: lockY, width: Int(lw), height: lockH / 5)
        x.fillRect(window, gc, x: lockX, y: lockY, width: lockW, height: lockH)

        // Title.
        x.setForeground(gc, fg)
        x.setFont(gc, titleFont)
        let tw = titleFont.width(of: title)
        x.drawText(window, gc, title, font: titleFont, x: (w - tw) / 2, y: titleBaseline)

        // Rule.
        let ruleY = titleBaseline + titleFont.descent + unit / 2
        x.setForeground(gc, accent)
        x.fillRect(window, gc, x: (w - min(w * 2 / 3, max(tw, w / 4))) / 2, y: ruleY,
                   width: min(w * 2 / 3, max(tw, w / 4)), height: max(2, unit / 8))

        // Lines.
        x.setForeground(gc, lineColor)
        x.setFont(gc, lineFont)
        var y = ruleY + unit + lineFont.ascent
        for line in lines {
            for part in wrapText(line, font: lineFont, maxWidth: w * 9 / 10) {
                x.drawText(window, gc, part, font: lineFont, x: (w - lineFont.width(of: part)) / 2, y: y)
                y += lineFont.height * 3 / 2
            }
        }

        // Notices, newest on top, as full-width banners over the top of the lock.
        var top = 0
        for text in notices.shown {
            let banner = BannerLayout(lines: [text], font: noticeFont, maxWidth: w - 40)
            banner.draw(x, window, gc, bannerColors, y: top, width: w)
            top += banner.height
        }
        var v: [UInt32] = [fg, bg]  // the banners changed the GC's colours
        _ = xcb_change_gc(c, gc, XCB_GC_FOREGROUND.rawValue | XCB_GC_BACKGROUND.rawValue, &v)
        x.flush()
    }
}
