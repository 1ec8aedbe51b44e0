import CXCB
import Glibc

/// A desktop-like picture for demos and tests: a full-screen window at the
/// bottom of the stack with a coloured background, a taskbar, a fake
/// application window and the seat name in large letters.
public struct Backdrop: Sendable {
    /// Main background colour (0xRRGGBB); tests tell it from the lock's.
    public static let backgroundRGB: UInt32 = 0x3A7CA5

    /// Text drawn large in the middle (e.g. the seat name "B204-01").
    public var title: String

    /// A backdrop showing `title`.
    public init(title: String) { self.title = title }

    /// Connects to `display`, draws, calls `onReady` and runs until a signal
    /// arrives on `signalFD`.
    /// - Throws: `ScreenError` `x11.connect`, `x11.connection-lost`.
    public func run(display: String?, signalFD: Int32, onReady: () -> Void) throws {
        let x = try XConnection(display: display)
        defer { x.close() }
        let c = x.connection
        let w = x.width, h = x.height
        let bg = x.pixel(rgb: Self.backgroundRGB)
        let win = x.createWindow(x: 0, y: 0, width: w, height: h, background: bg, overrideRedirect: true,
                                 events: XCB_EVENT_MASK_EXPOSURE.rawValue)
        x.setTitle(win, title, instance: "vigie-backdrop")
        let big = try x.openUnicodeFont(pixels: max(18, h / 8 / 18 * 18), bold: true)
        let small = try x.openUnicodeFont(pixels: 18, bold: false)
        let gc = x.makeGC(win, foreground: bg, background: bg, font: big)
        let colors = [0xF6F1E9, 0x20242A, 0xE4572E, 0x76B041, 0xFFC914, 0x17BEBB, 0x4A4E69, 0x5B8DB8].map {
            x.pixel(rgb: UInt32($0))
        }
        func draw() {
            x.setForeground(gc, bg)
            x.fillRect(win, gc, x: 0, y: 0, width: w, height: h)
            // Diagonal bands for texture (so the picture is not a flat colour).
            x.setForeground(gc, colors[7])
            for i in stride(from: -h, to: w, by: 160) {
                var pts = [xcb_point_t(x: Int16(clamping: i), y: 0), xcb_point_t(x: Int16(clamping: i + 60), y: 0),
                           xcb_point_t(x: Int16(clamping: i + 60 + h / 2), y: Int16(clamping: h)),
                           xcb_point_t(x: Int16(clamping: i + h / 2), y: Int16(clamping: h))]
                _ = xcb_fill_poly(c, win, gc, UInt8(XCB_POLY_SHAPE_CONVEX.rawValue),
                                  UInt8(XCB_COORD_MODE_ORIGIN.rawValue), 4, &pts)
            }
            // Fake application window.
            let fw = w / 3, fh = h / 3
            x.setForeground(gc, colors[0])
            x.fillRect(win, gc, x: w / 12, y: h / 10, width: fw, height: fh)
            x.setForeground(gc, colors[6])
            x.fillRect(win, gc, x: w / 12, y: h / 10, width: fw, height: 28)
            for (i, color) in [colors[2], colors[4], colors[3]].enumerated() {
                x.setForeground(gc, color)
                var arc = xcb_arc_t(x: Int16(clamping: w / 12 + fw - 26 - i * 22), y: Int16(clamping: h / 10 + 7),
                                    width: 14, height: 14, angle1: 0, angle2: 360 * 64)
                _ = xcb_poly_fill_arc(c, win, gc, 1, &arc)
            }
            // Coloured shapes.
            for (i, color) in [colors[2], colors[3], colors[4], colors[5]].enumerated() {
                x.setForeground(gc, color)
                var arc = xcb_arc_t(x: Int16(clamping: w * 6 / 10 + i * (w / 12)), y: Int16(clamping: h / 6 + (i % 2) * h / 10),
                                    width: UInt16(clamping: w / 14), height: UInt16(clamping: w / 14), angle1: 0, angle2: 360 * 64)
                _ = xcb_poly_fill_arc(c, win, gc, 1, &arc)
            }
            // Taskbar.
            x.setForeground(gc, colors[1])
            x.fillRect(win, gc, x: 0, y: h - 40, width: w, height: 40)
            var v: [UInt32] = [colors[0], colors[1]]
            _ = xcb_change_gc(c, gc, XCB_GC_FOREGROUND.rawValue | XCB_GC_BACKGROUND.rawValue, &v)
            x.setFont(gc, small)
            x.drawText(win, gc, "Menu    Navigateur    Traitement de texte    Fichiers", font: small,
                       x: 16, y: h - 20 + small.ascent / 2)
            // Seat name.
            v = [colors[0], bg]
            _ = xcb_change_gc(c, gc, XCB_GC_FOREGROUND.rawValue | XCB_GC_BACKGROUND.rawValue, &v)
            x.setFont(gc, big)
            x.drawText(win, gc, title, font: big, x: (w - big.width(of: title)) / 2, y: h * 2 / 3)
            x.flush()
        }
        xcb_map_window(c, win)
        x.restack(win, above: false)
        draw()
        x.sync()
        onReady()
        while true {
            switch x.waitForWake(signalFD: signalFD, timeoutMs: -1) {
            case .signal:
                xcb_destroy_window(c, win)
                x.sync()
                return
            case .lost:
                throw ScreenError(code: "x11.connection-lost", detail: "X connection to \(x.displayName) lost")
            case .timeout, .input:
                continue
            case .event(let ev):
                if Int32(eventType(ev)) == XCB_EXPOSE && eventAs(ev, xcb_expose_event_t.self).count == 0 { draw() }
                free(ev)
            }
        }
    }
}
