/// A small line editor (no GNU readline): the state of one line being typed, fed
/// one byte at a time from a terminal in raw mode, with history.
///
/// Keys: ←/→ Ctrl-B/F, Home/End Ctrl-A/E, Alt-B/F (word), ↑/↓ Ctrl-P/N (history),
/// Backspace, Delete, Ctrl-D (delete, or end of input on an empty line), Ctrl-K/U
/// (kill to end/start), Ctrl-W (word back), Ctrl-L (clear screen), Ctrl-C (drop the
/// line), Enter. Bytes are UTF-8; each Unicode scalar is one column.
public struct LineEditor: Sendable {
    /// What a byte did.
    public enum Event: Equatable, Sendable {
        /// Nothing to show yet (inside an escape sequence or a UTF-8 character).
        case none
        /// The line changed: draw it again.
        case redraw
        /// Enter: the line, added to the history when not empty.
        case line(String)
        /// Ctrl-D on an empty line.
        case endOfInput
        /// Ctrl-C: the line was dropped.
        case interrupt
        /// Ctrl-L.
        case clearScreen
        /// A key with nothing to do (bell).
        case bell
    }

    /// The line being typed.
    public private(set) var text: [Unicode.Scalar] = []
    /// Cursor position in `text` (0…count).
    public private(set) var cursor = 0
    /// Previous lines, oldest first.
    public private(set) var history: [String] = []
    /// Most lines kept in the history.
    public var historyLimit = 500
    private var browsing: Int?
    private var draft: [Unicode.Scalar] = []
    private var escape: [UInt8] = []
    private var utf8: [UInt8] = []

    public init(history: [String] = []) {
        self.history = history
    }

    /// The line as a string.
    public var line: String { String(String.UnicodeScalarView(text)) }

    /// Feeds one byte read from the terminal.
    public mutating func feed(_ byte: UInt8) -> Event {
        if !escape.isEmpty { return continueEscape(byte) }
        if !utf8.isEmpty || byte >= 0x80 { return continueUTF8(byte) }
        switch byte {
        case 0x1B: escape = [byte]; return .none
        case 0x0D, 0x0A: return enter()
        case 0x01: return move(to: 0)
        case 0x05: return move(to: text.count)
        case 0x02: return move(to: cursor - 1)
        case 0x06: return move(to: cursor + 1)
        case 0x7F, 0x08: return backspace()
        case 0x04:
            if text.isEmpty { return .endOfInput }
            return deleteForward()
        case 0x0B:
            guard cursor < text.count else { return .bell }
            text.removeSubrange(cursor...)
            return .redraw
        case 0x15:
            guard cursor > 0 else { return .bell }
            text.removeSubrange(..<cursor)
            cursor = 0
            return .redraw
        case 0x17:
            let start = wordStart(before: cursor)
            guard start < cursor else { return .bell }
            text.removeSubrange(start..<cursor)
            cursor = start
            return .redraw
        case 0x0C: return .clearScreen
        case 0x03:
            text = []
            cursor = 0
            browsing = nil
            return .interrupt
        case 0x10: return historyUp()
        case 0x0E: return historyDown()
        case 0x09: return insert(" ")
        case 0x20...0x7E: return insert(Unicode.Scalar(byte))
        default: return .bell
        }
    }

    /// Feeds several bytes; returns the events that are not `.none`.
    public mutating func feed<S: Sequence>(_ bytes: S) -> [Event] where S.Element == UInt8 {
        bytes.map { feed($0) }.filter { $0 != .none }
    }

    /// Forgets the line (after Enter, or when starting a new prompt).
    public mutating func reset() {
        text = []
        cursor = 0
        browsing = nil
        escape = []
        utf8 = []
    }

    // MARK: Editing

    private mutating func insert(_ scalar: Unicode.Scalar) -> Event {
        text.insert(scalar, at: cursor)
        cursor += 1
        return .redraw
    }

    private mutating func move(to position: Int) -> Event {
        let p = max(0, min(text.count, position))
        guard p != cursor else { return .bell }
        cursor = p
        return .redraw
    }

    private mutating func backspace() -> Event {
        guard cursor > 0 else { return .bell }
        text.remove(at: cursor - 1)
        cursor -= 1
        return .redraw
    }

    private mutating func deleteForward() -> Event {
        guard cursor < text.count else { return .bell }
        text.remove(at: cursor)
        return .redraw
    }

    private mutating func enter() -> Event {
        let line = self.line
        if !line.allSatisfy({ $0 == " " }) && history.last != line {
            history.append(line)
            if history.count > historyLimit { history.removeFirst(history.count - historyLimit) }
        }
        reset()
        return .line(line)
    }

    private func wordStart(before position: Int) -> Int {
        var i = position
        while i > 0 && text[i - 1] == " " { i -= 1 }
        while i > 0 && text[i - 1] != " " { i -= 1 }
        return i
    }

    private func wordEnd(after position: Int) -> Int {
        var i = position
        while i < text.count && text[i] == " " { i += 1 }
        while i < text.count && text[i] != " " { i += 1 }
        return i
    }

    private mutating func historyUp() -> Event {
        guard !history.isEmpty else { return .bell }
        let index: Int
        if let browsing {
            guard browsing > 0 else { return .bell }
            index = browsing - 1
        } else {
            draft = text
            index = history.count - 1
        }
        browsing = index
        text = Array(history[index].unicodeScalars)
        cursor = text.count
        return .redraw
    }

    private mutating func historyDown() -> Event {
        guard let browsing else { return .bell }
        if browsing + 1 < history.count {
            self.browsing = browsing + 1
            text = Array(history[browsing + 1].unicodeScalars)
        } else {
            self.browsing = nil
            text = draft
        }
        cursor = text.count
        return .redraw
    }

    // MARK: Escape sequences and UTF-8

    private mutating func continueEscape(_ byte: UInt8) -> Event {
        escape.append(byte)
        if escape.count == 2 {
            switch byte {
            case UInt8(ascii: "["), UInt8(ascii: "O"): return .none
            case UInt8(ascii: "b"): escape = []; return move(to: wordStart(before: cursor))
            case UInt8(ascii: "f"): escape = []; return move(to: wordEnd(after: cursor))
            default: escape = []; return .bell
            }
        }
        // CSI: parameters 0x30–0x3F, then one final byte 0x40–0x7E.
        if (0x30...0x3F).contains(byte) && escape.count < 8 { return .none }
        let sequence = escape
        escape = []
        let params = String(decoding: sequence.dropFirst(2).dropLast(), as: UTF8.self)
        switch (byte, params) {
        case (UInt8(ascii: "A"), _): return historyUp()
        case (UInt8(ascii: "B"), _): return historyDown()
        case (UInt8(ascii: "C"), "1;5"), (UInt8(ascii: "C"), "1;3"): return move(to: wordEnd(after: cursor))
        case (UInt8(ascii: "D"), "1;5"), (UInt8(ascii: "D"), "1;3"): return move(to: wordStart(before: cursor))
        case (UInt8(ascii: "C"), _): return move(to: cursor + 1)
        case (UInt8(ascii: "D"), _): return move(to: cursor - 1)
        case (UInt8(ascii: "H"), _): return move(to: 0)
        case (UInt8(ascii: "F"), _): return move(to: text.count)
        case (UInt8(ascii: "~"), "1"), (UInt8(ascii: "~"), "7"): return move(to: 0)
        case (UInt8(ascii: "~"), "4"), (UInt8(ascii: "~"), "8"): return move(to: text.count)
        case (UInt8(ascii: "~"), "3"): return deleteForward()
        default: return .bell
        }
    }

    private mutating func continueUTF8(_ byte: UInt8) -> Event {
        utf8.append(byte)
        let lead = utf8[0]
        let expected = lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : lead >= 0xC0 ? 2 : 1
        guard utf8.count >= expected else { return .none }
        let bytes = utf8
        utf8 = []
        var decoder = UTF8()
        var iterator = bytes.makeIterator()
        guard case .scalarValue(let scalar) = decoder.decode(&iterator) else { return .bell }
        return insert(scalar)
    }

    // MARK: Drawing

    /// The bytes that draw `prompt` and the line on the current terminal row, the
    /// cursor in place. A line wider than `columns` scrolls sideways around the cursor.
    public func render(prompt: String, columns: Int) -> String {
        let promptWidth = prompt.unicodeScalars.filter { $0.value >= 0x20 }.count
        let room = max(8, columns - promptWidth - 1)
        var start = 0
        if text.count > room { start = max(0, min(cursor - room / 2, text.count - room)) }
        let end = min(text.count, start + room)
        let visible = String(String.UnicodeScalarView(text[start..<end]))
        var out = "\r" + prompt + visible + "\u{1B}[K"
        let back = end - max(start, cursor)
        if back > 0 { out += "\u{1B}[\(back)D" }
        return out
    }
}
