import CXCB
import Glibc

/// A pending power action announced on the seat: a banner at the top of the
/// screen with a title (what and when), a text (who asked) and the remaining
/// time, redrawn every second until `until`, when it closes by itself.
///
/// It is override-redirect (no window manager decoration, never takes the
/// focus: the person at the seat keeps typing) and raised once when shown. It
/// does not fight for the top: while the seat is locked, the lock window
/// re-raises itself and the countdown stays underneath it.
public struct CountdownWindow: Sendable {
    /// Banner background (0xRRGGBB); tests look for it.
    public static let backgroundRGB: UInt32 = 0x8C1C13
    /// Text colour.
    public static let textRGB: UInt32 = 0xFFFFFF
    /// Colour of the remaining time.
    public static let accentRGB: UInt32 = 0xFFD166

    /// What will happen and when (e.g. "Extinction du poste à 16:45").
    public var title: String
    /// Who asked, and what to do (save your work).
    public var text: String
    /// Unix time of the action.
    public var until: Double
    /// The remaining-time line; `{remaining}` becomes `M:SS` (or `H:MM:SS`).
    public var remaining: String

    public init(title: String, text: String, until: Double, remaining: String = "{remaining}") {
        self.title = title
        self.text = text
        self.until = until
        self.remaining = remaining
    }

    /// `M:SS`, or `H:MM:SS` from an hour on; never negative.
    public static func format(seconds: Int) -> String {
        let s = max(0, seconds)
        func two(_ n: Int) -> String { n < 10 ? "0\(n)" : "\(n)" }
        if s >= 3600 { return "\(s / 3600):\(two(s / 60 % 60)):\(two(s % 60))" }
        return "\(s / 60):\(two(s % 60))"
    }

    /// The remaining-time line at Unix time `now`.
    public func remainingLine(at now: Double) -> String {
        let left = Int((until - now).rounded(.up))
        return remaining.replacingAll("{remaining}", with: Self.format(seconds: left))
    }

    /// Connects to `display`, shows the banner, calls `onReady` once it is
    /// mapped and drawn, and returns at `until` or on a signal.
    /// - Throws: `ScreenError` `x11.connect`, `x11.connection-lost`.
    public func run(display: String?, signalFD: Int32, onReady: () -> Void) throws {
        let x = try XConnection(display: display)
        defer { x.close() }
        let c = x.connection
        let bg = x.pixel(rgb: Self.backgroundRGB)
        let fg = x.pixel(rgb: Self.textRGB)
        let accent = x.pixel(rgb: Self.accentRGB)
        let titleFont = try x.openUnicodeFont(pixels: x.height >= 1000 ? 27 : 18, bold: true)
        let bodyFont = try x.openUnicodeFont(pixels: x.height >= 1000 ? 27 : 18, bold: false)
        let bigFont = try x.openUnicodeFont(pixels: x.height >= 1000 ? 54 : 36, bold: true)

        let pad = bodyFont.height / 2 + 4
        let width = min(max(x.width / 2, 420), x.width - 20, 900)
        let inner = width - 2 * pad
        let titleLines = wrapText(title, font: titleFont, maxWidth: inner)
        let bodyLines = wrapText(text, font: bodyFont, maxWidth: inner)
        let height = min(pad + titleLines.count * titleFont.height + pad / 2 + bodyLines.count * bodyFont.height
                         + pad / 2 + bigFont.height + pad, x.height - 20)
        let winX = (x.width - width) / 2, winY = 10
        let events = XCB_EVENT_MASK_EXPOSURE.rawValue | XCB_EVENT_MASK_STRUCTURE_NOTIFY.rawValue
        let win = x.createWindow(x: winX, y: winY, width: width, height: height, background: bg,
                                 overrideRedirect: true, events: events)
        x.setTitle(win, title, instance: "vigie-countdown")
        let gc = x.makeGC(win, foreground: fg, background: bg, font: titleFont)
        let bigY = height - pad - bigFont.descent

        func drawRemaining() {
            x.setForeground(gc, bg)
            x.fillRect(win, gc, x: 0, y: bigY - bigFont.ascent, width: width, height: bigFont.height)
            var v: [UInt32] = [accent, bg]
            _ = xcb_change_gc(c, gc, XCB_GC_FOREGROUND.rawValue | XCB_GC_BACKGROUND.rawValue, &v)
            x.setFont(gc, bigFont)
            let line = remainingLine(at: wallClock())
            x.drawText(win, gc, line, font: bigFont, x: (width - bigFont.width(of: line)) / 2, y: bigY)
            x.flush()
        }
        func draw() {
            x.setForeground(gc, bg)
            x.fillRect(win, gc, x: 0, y: 0, width: width, height: height)
            var v: [UInt32] = [fg, bg]
            _ = xcb_change_gc(c, gc, XCB_GC_FOREGROUND.rawValue | XCB_GC_BACKGROUND.rawValue, &v)
            x.setFont(gc, titleFont)
            var y = pad + titleFont.ascent
            for line in titleLines {
                x.drawText(win, gc, line, font: titleFont, x: pad, y: y)
                y += titleFont.height
            }
            y += pad / 2 - titleFont.ascent + bodyFont.ascent
            x.setFont(gc, bodyFont)
            for line in bodyLines {
                x.drawText(win, gc, line, font: bodyFont, x: pad, y: y)
                y += bodyFont.height
            }
            drawRemaining()
        }

        xcb_map_window(c, win)
        x.restack(win, above: true)
        var mapped = false
        while true {
            let now = wallClock()
            if now >= until { return }
            // Wake at the next whole second before `until`, to redraw the time.
            let fraction = (until - now).truncatingRemainder(dividingBy: 1)
            var wait = Int32(((fraction == 0 ? 1 : fraction) * 1000).rounded(.up))
            if !mapped { wait = min(wait, 5000) }
            switch x.waitForWake(signalFD: signalFD, timeoutMs: max(1, wait)) {
            case .signal:
                return
            case .lost:
                throw ScreenError(code: "x11.connection-lost", detail: "X connection to \(x.displayName) lost")
            case .timeout, .input:
                if mapped { drawRemaining() }
            case .event(let ev):
                defer { free(ev) }
                switch Int32(eventType(ev)) {
                case XCB_MAP_NOTIFY:
                    if !mapped && eventAs(ev, xcb_map_notify_event_t.self).window == win {
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
    }
}

extension String {
    /// Replaces every occurrence of `target` (no Foundation here).
    func replacingAll(_ target: String, with replacement: String) -> String {
        guard !target.isEmpty else { return self }
        var result = ""
        var rest = Substring(self)
        while let range = rest.firstRange(of: target) {
            result += rest[..<range.lowerBound]
            result += replacement
            rest = rest[range.upperBound...]
        }
        return result + rest
    }
}
