import CXCB
import Glibc

/// The monitoring indicator: a small banner at the top edge of the screen
/// saying who looked at the screen and when (« Écran consulté par Mme Martin
/// (CDI) à 10:02 »). It never takes the keyboard focus: the window is
/// override-redirect (no window manager focuses or decorates it), selects no
/// key or button events, never asks for focus and grabs nothing, so the user
/// keeps typing where they were. It stays above other windows for its
/// timeout, except a Vigie lock window, which draws notices itself.
public struct Indicator: Sendable {
    /// Banner colour (0xRRGGBB); tests look for it.
    public static let backgroundRGB: UInt32 = 0xFFD166
    /// Text colour.
    public static let textRGB: UInt32 = 0x14213D
    /// The line under the banner.
    public static let edgeRGB: UInt32 = 0xC98A00
    /// Someone has the keyboard and mouse: a banner of another colour (red),
    /// that nobody takes for the usual « consulté » notice.
    public static let controlBackgroundRGB: UInt32 = 0xC0392B
    public static let controlTextRGB: UInt32 = 0xFFFFFF
    public static let controlEdgeRGB: UInt32 = 0x7B241C

    /// The usual notice, or the one saying someone controls the seat.
    public enum Style: String, Sendable, CaseIterable {
        case notice
        case control

        var rgb: (background: UInt32, text: UInt32, edge: UInt32) {
            switch self {
            case .notice: (Indicator.backgroundRGB, Indicator.textRGB, Indicator.edgeRGB)
            case .control: (Indicator.controlBackgroundRGB, Indicator.controlTextRGB, Indicator.controlEdgeRGB)
            }
        }
    }

    /// The text of the banner.
    public var text: String
    /// Seconds the banner stays up (more than 0).
    public var timeout: Double
    /// Its colours.
    public var style: Style

    /// A banner showing `text` for `timeout` seconds.
    public init(text: String, timeout: Double, style: Style = .notice) {
        self.text = text
        self.timeout = timeout
        self.style = style
    }

    /// Connects to `display`, shows the banner, calls `onReady` once it is
    /// mapped and drawn, and returns after `timeout` seconds or a signal.
    /// - Throws: `ScreenError` `x11.connect`, `x11.connection-lost`.
    public func run(display: String?, signalFD: Int32, onReady: () -> Void) throws {
        let x = try XConnection(display: display)
        defer { x.close() }
        let c = x.connection
        let font = try x.openUnicodeFont(pixels: x.height >= 1000 ? 27 : 20, bold: true)
        let banner = BannerLayout(lines: [text], font: font, maxWidth: x.width - 40)
        let width = min(banner.width, x.width), height = banner.height
        let bg = x.pixel(rgb: style.rgb.background)
        let win = x.createWindow(x: (x.width - width) / 2, y: 0, width: width, height: height, background: bg,
                                 overrideRedirect: true,
                                 events: XCB_EVENT_MASK_EXPOSURE.rawValue | XCB_EVENT_MASK_STRUCTURE_NOTIFY.rawValue)
        x.setTitle(win, text, instance: "vigie-indicator")
        x.setProperty(win, x.atom("_NET_WM_WINDOW_TYPE"), type: xcb_atom_t(XCB_ATOM_ATOM.rawValue),
                      values: [x.atom("_NET_WM_WINDOW_TYPE_NOTIFICATION")])
        // WM_HINTS with input = False: should a window manager ever look, it must not focus us.
        x.setProperty(win, xcb_atom_t(XCB_ATOM_WM_HINTS.rawValue), type: xcb_atom_t(XCB_ATOM_WM_HINTS.rawValue),
                      values: [1, 0, 0, 0, 0, 0, 0, 0, 0])
        let gc = x.makeGC(win, foreground: bg, background: bg, font: font)
        let colors = BannerColors(x, style: style)
        func draw() {
            banner.draw(x, win, gc, colors, y: 0, width: width)
            x.flush()
        }
        // Above windows mapped or raised after it, never above a lock, not fighting another indicator.
        var onTop = StayOnTop(x, window: win, ignoring: ["vigie-indicator"])
        xcb_map_window(c, win)
        x.restack(win, above: true)
        let deadline = monotonicMs() + timeout * 1000
        var mapped = false
        while true {
            let now = monotonicMs()
            if now >= deadline { break }
            var wait = deadline - now
            if let next = onTop.tick(x, now: now) { wait = min(wait, next) }
            switch x.waitForWake(signalFD: signalFD, timeoutMs: Int32(wait.rounded(.up))) {
            case .signal:
                xcb_destroy_window(c, win)
                x.sync()
                return
            case .lost:
                throw ScreenError(code: "x11.connection-lost", detail: "X connection to \(x.displayName) lost")
            case .timeout, .input:
                continue
            case .event(let ev):
                defer { free(ev) }
                if onTop.handle(x, ev) { continue }
                switch Int32(eventType(ev)) {
                case XCB_MAP_NOTIFY:
                    if eventAs(ev, xcb_map_notify_event_t.self).window == win && !mapped {
                        mapped = true
                        draw()
                        x.sync()
                        onReady()
                    }
                case XCB_EXPOSE:
                    if mapped && eventAs(ev, xcb_expose_event_t.self).count == 0 { draw() }
                default:
                    break
                }
            }
        }
        xcb_destroy_window(c, win)
        x.sync()
    }
}

/// Colours of a notice banner, allocated on a connection.
struct BannerColors {
    let background: UInt32, text: UInt32, edge: UInt32
    init(_ x: XConnection, style: Indicator.Style = .notice) {
        background = x.pixel(rgb: style.rgb.background)
        text = x.pixel(rgb: style.rgb.text)
        edge = x.pixel(rgb: style.rgb.edge)
    }
}

/// A banner of one or more lines of text, centred, with padding: the
/// indicator's window and the notices drawn inside the lock share it.
struct BannerLayout {
    let lines: [String]
    let font: Font
    let pad: Int

    init(lines: [String], font: Font, maxWidth: Int) {
        self.font = font
        pad = max(8, font.height / 2)
        self.lines = lines.flatMap { wrapText($0, font: font, maxWidth: maxWidth - 2 * max(8, font.height / 2)) }
    }

    var width: Int { (lines.map { font.width(of: $0) }.max() ?? 0) + 2 * pad }
    var height: Int { lines.count * font.height + 2 * pad + 3 }

    /// Fills the band at `y` across `width` and draws the lines centred in it.
    func draw(_ x: XConnection, _ drawable: xcb_drawable_t, _ gc: xcb_gcontext_t, _ colors: BannerColors, y: Int, width: Int) {
        x.setForeground(gc, colors.background)
        x.fillRect(drawable, gc, x: 0, y: y, width: width, height: height - 3)
        x.setForeground(gc, colors.edge)
        x.fillRect(drawable, gc, x: 0, y: y + height - 3, width: width, height: 3)
        var v: [UInt32] = [colors.text, colors.background]
        _ = xcb_change_gc(x.connection, gc, XCB_GC_FOREGROUND.rawValue | XCB_GC_BACKGROUND.rawValue, &v)
        x.setFont(gc, font)
        var baseline = y + pad + font.ascent
        for line in lines {
            x.drawText(drawable, gc, line, font: font, x: (width - font.width(of: line)) / 2, y: baseline)
            baseline += font.height
        }
    }
}

extension XConnection {
    /// The instance part of a window's WM_CLASS (`vigie-lock`), or nil.
    func wmInstance(_ window: xcb_window_t) -> String? {
        let cookie = xcb_get_property(connection, 0, window, xcb_atom_t(XCB_ATOM_WM_CLASS.rawValue),
                                      xcb_atom_t(XCB_ATOM_STRING.rawValue), 0, 64)
        guard let reply = xcb_get_property_reply(connection, cookie, nil) else { return nil }
        defer { free(reply) }
        let n = Int(xcb_get_property_value_length(reply))
        guard n > 0, let p = xcb_get_property_value(reply) else { return nil }
        let bytes = UnsafeRawBufferPointer(start: p, count: n)
        return String(decoding: bytes.prefix { $0 != 0 }, as: UTF8.self)
    }
}
