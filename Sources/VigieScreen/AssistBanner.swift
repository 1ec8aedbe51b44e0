import CXCB
import Glibc

/// While someone helps the person at the seat (`vigie assist`): a banner at the
/// bottom of the screen naming the helper and what they do, with a button
/// « Arrêter » that ends the assistance at once. Like the indicator it never
/// takes the keyboard focus (override-redirect) and stays above the session's
/// windows; unlike it, it takes a click on its button, or the Pause key from
/// anywhere (grabbed on the root window, whatever the modifiers), which it
/// reports (`onStop`). The control colour (red) says someone has the keyboard
/// and mouse.
public struct AssistBanner: Sendable {
    public var text: String
    public var buttonLabel: String
    public var style: Indicator.Style

    public init(text: String, buttonLabel: String, style: Indicator.Style) {
        self.text = text
        self.buttonLabel = buttonLabel
        self.style = style
    }

    /// Connects to `display`, shows the banner, calls `onReady` once it is
    /// drawn, `onStop` at each click on the button, and returns on a signal.
    /// - Throws: `ScreenError` `x11.connect`, `x11.connection-lost`.
    public func run(display: String?, signalFD: Int32, onReady: () -> Void, onStop: () -> Void) throws {
        let x = try XConnection(display: display)
        defer { x.close() }
        let c = x.connection
        let font = try x.openUnicodeFont(pixels: x.height >= 1000 ? 27 : 20, bold: true)
        let pad = max(8, font.height / 2)
        let buttonW = font.width(of: buttonLabel) + 3 * pad
        let banner = BannerLayout(lines: [text], font: font, maxWidth: x.width - 40 - buttonW)
        let width = min(banner.width + buttonW + pad, x.width), height = max(banner.height, font.height + 2 * pad + 3)
        let colors = BannerColors(x, style: style)
        let win = x.createWindow(x: (x.width - width) / 2, y: x.height - height, width: width, height: height, background: colors.background,
                                 overrideRedirect: true,
                                 events: XCB_EVENT_MASK_EXPOSURE.rawValue | XCB_EVENT_MASK_STRUCTURE_NOTIFY.rawValue | XCB_EVENT_MASK_BUTTON_PRESS.rawValue)
        x.setTitle(win, text, instance: "vigie-assist")
        x.setProperty(win, x.atom("_NET_WM_WINDOW_TYPE"), type: xcb_atom_t(XCB_ATOM_ATOM.rawValue),
                      values: [x.atom("_NET_WM_WINDOW_TYPE_NOTIFICATION")])
        x.setProperty(win, xcb_atom_t(XCB_ATOM_WM_HINTS.rawValue), type: xcb_atom_t(XCB_ATOM_WM_HINTS.rawValue),
                      values: [1, 0, 0, 0, 0, 0, 0, 0, 0])
        let gc = x.makeGC(win, foreground: colors.background, background: colors.background, font: font)
        let button = (x: width - buttonW - pad / 2, y: pad / 2, w: buttonW, h: height - pad - 3)
        let buttonPixel = x.pixel(rgb: 0xFFFFFF)
        let buttonText = x.pixel(rgb: style == .control ? Indicator.controlBackgroundRGB : Indicator.textRGB)
        func draw() {
            banner.draw(x, win, gc, colors, y: 0, width: width - buttonW - pad)
            x.setForeground(gc, colors.background)
            x.fillRect(win, gc, x: width - buttonW - pad, y: 0, width: buttonW + pad, height: height - 3)
            x.setForeground(gc, colors.edge)
            x.fillRect(win, gc, x: width - buttonW - pad, y: height - 3, width: buttonW + pad, height: 3)
            x.setForeground(gc, buttonPixel)
            x.fillRect(win, gc, x: button.x, y: button.y, width: button.w, height: button.h)
            var v: [UInt32] = [buttonText, buttonPixel]
            _ = xcb_change_gc(c, gc, XCB_GC_FOREGROUND.rawValue | XCB_GC_BACKGROUND.rawValue, &v)
            x.drawText(win, gc, buttonLabel, font: font, x: button.x + (button.w - font.width(of: buttonLabel)) / 2,
                       y: button.y + (button.h - font.height) / 2 + font.ascent)
            x.flush()
        }
        // The Pause key stops it from the keyboard, wherever the focus is.
        let pauseKeys = x.keycodes(for: [0xFF13])
        for key in pauseKeys {
            xcb_grab_key(c, 1, x.root, UInt16(XCB_MOD_MASK_ANY.rawValue), key,
                         UInt8(XCB_GRAB_MODE_ASYNC.rawValue), UInt8(XCB_GRAB_MODE_ASYNC.rawValue))
        }
        var onTop = StayOnTop(x, window: win, ignoring: ["vigie-assist", "vigie-indicator"])
        xcb_map_window(c, win)
        x.restack(win, above: true)
        var mapped = false
        while true {
            var wait: Int32 = mapped ? -1 : 5000
            if let next = onTop.tick(x, now: monotonicMs()) { wait = wait < 0 ? Int32(next.rounded(.up)) : min(wait, Int32(next.rounded(.up))) }
            switch x.waitForWake(signalFD: signalFD, timeoutMs: wait) {
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
                case XCB_KEY_PRESS:
                    if pauseKeys.contains(eventAs(ev, xcb_key_press_event_t.self).detail) { onStop() }
                case XCB_BUTTON_PRESS:
                    let e = eventAs(ev, xcb_button_press_event_t.self)
                    let bx = Int(e.event_x), by = Int(e.event_y)
                    if e.detail == 1 && bx >= button.x && bx < button.x + button.w && by >= button.y && by < button.y + button.h {
                        onStop()
                    }
                default:
                    break
                }
            }
        }
    }
}
