import CXCB
import Glibc

/// A message from a teacher: a normal top-level window centred on the
/// screen, kept above others, with the title, the word-wrapped text and an
/// OK button. Closes on OK, Enter, Escape, the window manager's close, a
/// signal, or a timeout.
public struct MessageWindow: Sendable {
    /// Background of the window (0xRRGGBB).
    public static let backgroundRGB: UInt32 = 0xF7F5EF
    /// Text colour.
    public static let textRGB: UInt32 = 0x1B1B1B
    /// Title band colour.
    public static let bandRGB: UInt32 = 0x14213D
    /// OK button colour.
    public static let buttonRGB: UInt32 = 0x2E6DA4

    /// Window title and heading (e.g. "Message de M. Dupont (professeur)").
    public var title: String
    /// Message body; wrapped at spaces, `\n` starts a new line.
    public var text: String
    /// Seconds before the window closes by itself; 0 keeps it until closed.
    public var timeout: Double
    /// Label of the button.
    public var buttonLabel: String
    /// More than one choice (a consent: « Refuser », « Accepter »), left to right;
    /// empty for the single OK button. The first is what Escape, the window
    /// manager's close and Enter on the window as it opens choose: a person typing
    /// in their work when it appears never picks the others by accident. Tab moves
    /// between them, Enter or Space picks the one outlined, a click the one clicked.
    public var choices: [String] = []
    /// Colours and name of the window: a teacher's message or a notice.
    var style = Style.message
    /// A line for the person to write (at most this many characters), under the
    /// text; Enter picks the last choice, Escape the first.
    public var fieldLength: Int?

    /// What tells a message window from a notice window.
    struct Style: Sendable {
        var bandRGB: UInt32
        var instance: String
        /// A click anywhere in the window closes it (not only on OK).
        var anyClickCloses: Bool
        /// Stays above the windows mapped after it (``StayOnTop``): the login notice
        /// opens as the session starts, before the session's own windows.
        var staysOnTop: Bool

        static let message = Style(bandRGB: MessageWindow.bandRGB, instance: "vigie-message", anyClickCloses: false, staysOnTop: false)
        static let notice = Style(bandRGB: NoticeWindow.bandRGB, instance: "vigie-notice", anyClickCloses: true, staysOnTop: true)
        static let consent = Style(bandRGB: ConsentWindow.bandRGB, instance: "vigie-consent", anyClickCloses: false, staysOnTop: true)
        static let help = Style(bandRGB: MessageWindow.bandRGB, instance: "vigie-help", anyClickCloses: false, staysOnTop: true)
    }

    /// The first window of « Demander de l’aide » (`vigie-ui help`): one line for the
    /// person to say what is wrong (optional), then `cancel` or `ask`.
    public static func helpForm(title: String, text: String, cancel: String, ask: String, timeout: Double) -> MessageWindow {
        var window = MessageWindow(title: title, text: text, timeout: timeout)
        window.style = .help
        window.choices = [cancel, ask]
        window.fieldLength = 200
        return window
    }

    /// The window of « Demander de l’aide » (`vigie-ui help`): the person's code stays
    /// above everything else Vigie shows until they close it.
    public static func helpCode(title: String, text: String, timeout: Double) -> MessageWindow {
        var window = MessageWindow(title: title, text: text, timeout: timeout)
        window.style = .help
        return window
    }

    /// A message window with `title`, `text`, closing after `timeout`
    /// seconds (0: until closed).
    public init(title: String, text: String, timeout: Double = 0, buttonLabel: String = "OK") {
        self.title = title
        self.text = text
        self.timeout = timeout
        self.buttonLabel = buttonLabel
    }

    /// How the window was closed.
    public enum Closed: Sendable, Equatable {
        /// OK clicked, Enter or Escape pressed, or closed by the window manager.
        case acknowledged
        /// The timeout passed.
        case timeout
        /// A signal arrived.
        case signal
        /// One of `choices` was picked (its index).
        case chose(Int)
    }

    /// Connects to `display`, shows the window, calls `onReady` once it is
    /// mapped and drawn, and returns when it is closed.
    /// - Throws: `ScreenError` `x11.connect`, `x11.connection-lost`.
    public func run(display: String?, signalFD: Int32, onReady: () -> Void) throws -> Closed {
        try runWindow(display: display, signalFD: signalFD, onReady: onReady).closed
    }

    /// As ``run(display:signalFD:onReady:)``, with what was written in the field (``fieldLength``).
    public func runWithField(display: String?, signalFD: Int32, onReady: () -> Void) throws -> (closed: Closed, text: String) {
        try runWindow(display: display, signalFD: signalFD, onReady: onReady)
    }

    func runWindow(display: String?, signalFD: Int32, onReady: () -> Void) throws -> (closed: Closed, text: String) {
        let x = try XConnection(display: display)
        defer { x.close() }
        let c = x.connection
        let bg = x.pixel(rgb: Self.backgroundRGB)
        let fgPixel = x.pixel(rgb: Self.textRGB)
        let bandPixel = x.pixel(rgb: style.bandRGB)
        let buttonPixel = x.pixel(rgb: Self.buttonRGB)
        let white = x.pixel(rgb: 0xFFFFFF)
        let bodyFont = try x.openUnicodeFont(pixels: x.height >= 1000 ? 27 : 20, bold: false)
        let titleFont = try x.openUnicodeFont(pixels: x.height >= 1000 ? 27 : 18, bold: true)

        // Layout.
        let pad = bodyFont.height
        let width = min(max(x.width / 2, 480), x.width - 40, 900)
        let inner = width - 2 * pad
        let titleLines = wrapText(title, font: titleFont, maxWidth: inner)
        let bodyLines = wrapText(text, font: bodyFont, maxWidth: inner)
        let bandH = titleLines.count * titleFont.height + pad
        let lineH = bodyFont.height * 5 / 4
        let labels = choices.isEmpty ? [buttonLabel] : choices
        let buttonW = max(labels.map { bodyFont.width(of: $0) }.max()! + 2 * pad, 120)
        let buttonH = bodyFont.height + pad / 2 + 8
        // The line to write, under the text.
        let fieldH = fieldLength == nil ? 0 : bodyFont.height + pad / 2 + 8
        let fieldY = bandH + pad + bodyLines.count * lineH
        var typed: [Character] = []
        var keyboard = fieldLength == nil ? nil : KeyboardMap(x)
        let height = min(bandH + pad + bodyLines.count * lineH + (fieldH > 0 ? fieldH + pad : 0) + pad + buttonH + pad, x.height - 40)
        // Right-aligned, left to right in the order given.
        let buttons = labels.indices.map { i in
            (x: width - pad - (labels.count - i) * buttonW - (labels.count - 1 - i) * pad / 2, y: height - pad - buttonH, w: buttonW, h: buttonH)
        }
        // With a line to write, Enter asks: the last choice is the one outlined.
        var focus = fieldLength == nil ? 0 : labels.count - 1

        let events = XCB_EVENT_MASK_EXPOSURE.rawValue | XCB_EVENT_MASK_KEY_PRESS.rawValue
            | XCB_EVENT_MASK_BUTTON_PRESS.rawValue | XCB_EVENT_MASK_STRUCTURE_NOTIFY.rawValue
        let winX = (x.width - width) / 2, winY = (x.height - height) / 2
        let win = x.createWindow(x: winX, y: winY, width: width, height: height, background: bg,
                                 overrideRedirect: false, events: events)
        x.setTitle(win, title, instance: style.instance)
        let wmDelete = x.atom("WM_DELETE_WINDOW")
        x.setProperty(win, x.atom("WM_PROTOCOLS"), type: xcb_atom_t(XCB_ATOM_ATOM.rawValue), values: [wmDelete])
        x.setProperty(win, x.atom("_NET_WM_STATE"), type: xcb_atom_t(XCB_ATOM_ATOM.rawValue),
                      values: [x.atom("_NET_WM_STATE_ABOVE")])
        x.setProperty(win, x.atom("_NET_WM_WINDOW_TYPE"), type: xcb_atom_t(XCB_ATOM_ATOM.rawValue),
                      values: [x.atom("_NET_WM_WINDOW_TYPE_DIALOG")])
        // WM_NORMAL_HINTS: program position and size, fixed size (flags PPosition|PSize|PMinSize|PMaxSize).
        var hints = [UInt32](repeating: 0, count: 18)
        hints[0] = 4 | 8 | 16 | 32
        hints[1] = UInt32(winX); hints[2] = UInt32(winY)
        hints[3] = UInt32(width); hints[4] = UInt32(height)
        hints[5] = UInt32(width); hints[6] = UInt32(height)
        hints[7] = UInt32(width); hints[8] = UInt32(height)
        x.setProperty(win, xcb_atom_t(XCB_ATOM_WM_NORMAL_HINTS.rawValue),
                      type: xcb_atom_t(XCB_ATOM_WM_SIZE_HINTS.rawValue), values: hints)

        let gc = x.makeGC(win, foreground: fgPixel, background: bg, font: bodyFont)
        func draw() {
            x.setForeground(gc, bg)
            x.fillRect(win, gc, x: 0, y: 0, width: width, height: height)
            x.setForeground(gc, bandPixel)
            x.fillRect(win, gc, x: 0, y: 0, width: width, height: bandH)
            let gcBand = gc
            var y = pad / 2 + titleFont.ascent
            // ImageText16 paints the GC background behind glyphs: switch it per area.
            var v: [UInt32] = [white, bandPixel]
            _ = xcb_change_gc(c, gcBand, XCB_GC_FOREGROUND.rawValue | XCB_GC_BACKGROUND.rawValue, &v)
            x.setFont(gc, titleFont)
            for line in titleLines {
                x.drawText(win, gc, line, font: titleFont, x: pad, y: y)
                y += titleFont.height
            }
            v = [fgPixel, bg]
            _ = xcb_change_gc(c, gc, XCB_GC_FOREGROUND.rawValue | XCB_GC_BACKGROUND.rawValue, &v)
            x.setFont(gc, bodyFont)
            y = bandH + pad + bodyFont.ascent
            for line in bodyLines {
                x.drawText(win, gc, line, font: bodyFont, x: pad, y: y)
                y += lineH
            }
            if fieldH > 0 {
                x.setForeground(gc, fgPixel)
                x.fillRect(win, gc, x: pad, y: fieldY, width: inner, height: fieldH)
                x.setForeground(gc, white)
                x.fillRect(win, gc, x: pad + 2, y: fieldY + 2, width: inner - 4, height: fieldH - 4)
                v = [fgPixel, white]
                _ = xcb_change_gc(c, gc, XCB_GC_FOREGROUND.rawValue | XCB_GC_BACKGROUND.rawValue, &v)
                // The end of the line when it is longer than the box, then the caret.
                var shown = String(typed)
                while !shown.isEmpty && bodyFont.width(of: shown + "|") > inner - pad { shown.removeFirst() }
                x.drawText(win, gc, shown + "|", font: bodyFont, x: pad + pad / 2, y: fieldY + (fieldH - bodyFont.height) / 2 + bodyFont.ascent)
                v = [fgPixel, bg]
                _ = xcb_change_gc(c, gc, XCB_GC_FOREGROUND.rawValue | XCB_GC_BACKGROUND.rawValue, &v)
            }
            for (i, button) in buttons.enumerated() {
                // The outlined one is what Enter picks (only shown when there is a choice).
                if labels.count > 1 && i == focus {
                    x.setForeground(gc, fgPixel)
                    x.fillRect(win, gc, x: button.x - 4, y: button.y - 4, width: button.w + 8, height: button.h + 8)
                }
                x.setForeground(gc, buttonPixel)
                x.fillRect(win, gc, x: button.x, y: button.y, width: button.w, height: button.h)
                v = [white, buttonPixel]
                _ = xcb_change_gc(c, gc, XCB_GC_FOREGROUND.rawValue | XCB_GC_BACKGROUND.rawValue, &v)
                x.drawText(win, gc, labels[i], font: bodyFont,
                           x: button.x + (button.w - bodyFont.width(of: labels[i])) / 2,
                           y: button.y + (button.h - bodyFont.height) / 2 + bodyFont.ascent)
            }
            v = [fgPixel, bg]
            _ = xcb_change_gc(c, gc, XCB_GC_FOREGROUND.rawValue | XCB_GC_BACKGROUND.rawValue, &v)
            x.flush()
        }

        // Return/KP_Enter/Escape keysyms; Escape, space and Tab for a choice.
        let closeKeys = x.keycodes(for: [0xFF0D, 0xFF8D, 0xFF1B])
        let escapeKeys = x.keycodes(for: [0xFF1B])
        let pickKeys = x.keycodes(for: [0xFF0D, 0xFF8D, 0x0020])
        let tabKeys = x.keycodes(for: [0xFF09])
        let enterKeys = x.keycodes(for: [0xFF0D, 0xFF8D])
        let backspaceKeys = x.keycodes(for: [0xFF08])
        let chose: (Int) -> Closed = { i in choices.isEmpty ? .acknowledged : .chose(i) }
        // A question answers every window but another question; the others do not fight indicators.
        let ignoring: Set<String> = StayOnTop.questions.contains(style.instance) ? StayOnTop.questions : ["vigie-indicator", style.instance]
        var onTop = style.staysOnTop ? StayOnTop(x, window: win, ignoring: ignoring) : nil
        xcb_map_window(c, win)
        x.restack(win, above: true)
        let deadline: Double? = timeout > 0 ? monotonicMs() + timeout * 1000 : nil
        var mapped = false
        while true {
            var wait: Int32 = -1
            if let deadline {
                let left = deadline - monotonicMs()
                if left <= 0 { return (.timeout, String(typed)) }
                wait = Int32(left.rounded(.up))
            }
            if !mapped { wait = wait < 0 ? 5000 : min(wait, 5000) }
            if let next = onTop?.tick(x, now: monotonicMs()).map({ Int32($0.rounded(.up)) }) { wait = wait < 0 ? next : min(wait, next) }
            switch x.waitForWake(signalFD: signalFD, timeoutMs: wait) {
            case .signal:
                return (.signal, String(typed))
            case .lost:
                throw ScreenError(code: "x11.connection-lost", detail: "X connection to \(x.displayName) lost")
            case .timeout, .input:
                continue
            case .event(let ev):
                defer { free(ev) }
                if onTop?.handle(x, ev) == true { continue }
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
                case XCB_KEY_PRESS:
                    let key = eventAs(ev, xcb_key_press_event_t.self).detail
                    if choices.isEmpty {
                        if closeKeys.contains(key) { return (.acknowledged, String(typed)) }
                    } else if escapeKeys.contains(key) {
                        return (.chose(0), String(typed))
                    } else if keyboard != nil {
                        // Writing: Enter picks the last choice, Backspace erases, the rest types.
                        let e = eventAs(ev, xcb_key_press_event_t.self)
                        if enterKeys.contains(key) { return (.chose(labels.count - 1), String(typed)) }
                        if backspaceKeys.contains(key) {
                            if !typed.isEmpty { typed.removeLast(); draw() }
                        } else if let scalar = keyboard.flatMap({ KeyboardMap.scalar($0.keysym(key, state: e.state)) }),
                                  typed.count < fieldLength ?? 0 {
                            typed.append(Character(scalar))
                            draw()
                        }
                    } else if pickKeys.contains(key) {
                        return (.chose(focus), String(typed))
                    } else if tabKeys.contains(key) {
                        focus = (focus + 1) % labels.count
                        draw()
                    }
                case XCB_BUTTON_PRESS:
                    let e = eventAs(ev, xcb_button_press_event_t.self)
                    let bx = Int(e.event_x), by = Int(e.event_y)
                    guard e.detail == 1 else { break }
                    if let i = buttons.firstIndex(where: { bx >= $0.x && bx < $0.x + $0.w && by >= $0.y && by < $0.y + $0.h }) {
                        return (chose(i), String(typed))
                    }
                    if style.anyClickCloses { return (.acknowledged, String(typed)) }
                case XCB_CLIENT_MESSAGE:
                    let e = eventAs(ev, xcb_client_message_event_t.self)
                    if e.data.data32.0 == wmDelete { return (chose(0), String(typed)) }
                case XCB_MAPPING_NOTIFY:
                    keyboard?.reload(x)
                default:
                    break
                }
            }
        }
    }
}
