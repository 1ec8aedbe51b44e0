#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#else
import Darwin
#endif
import Foundation

/// The console's terminal: reads lines with ``LineEditor`` on a terminal in raw
/// mode (plain lines when stdin is not a terminal), and prints lines from any
/// thread without garbling the line being typed: the prompt is cleared, the text
/// printed, then the prompt and the line drawn again.
public final class Terminal: @unchecked Sendable {
    /// True when stdin is a terminal (raw mode, editing, prompt).
    public let isInteractive: Bool
    private let input: Int32
    private let output: Int32
    private let lock = NSLock()
    private var editor: LineEditor
    private var prompt = ""
    private var editing = false
    private var saved: termios?
    private let queue = DispatchQueue(label: "vigie.terminal")

    public init(input: Int32 = 0, output: Int32 = 1, history: [String] = []) {
        self.input = input
        self.output = output
        self.editor = LineEditor(history: history)
        self.isInteractive = isatty(input) == 1 && isatty(output) == 1
    }

    /// The lines typed so far (for saving the history).
    public var history: [String] { lock.withLock { editor.history } }

    /// Raw mode: bytes as typed, no echo, Ctrl-C and Ctrl-Z as bytes. Output
    /// processing stays on, so "\n" still starts a new line.
    public func enterRawMode() {
        guard isInteractive, saved == nil else { return }
        var attributes = termios()
        guard tcgetattr(input, &attributes) == 0 else { return }
        saved = attributes
        attributes.c_iflag &= ~tcflag_t(ICRNL | IXON | BRKINT | INPCK | ISTRIP)
        attributes.c_lflag &= ~tcflag_t(ECHO | ICANON | ISIG | IEXTEN)
        withUnsafeMutableBytes(of: &attributes.c_cc) { cc in
            cc[Int(VMIN)] = 1
            cc[Int(VTIME)] = 0
        }
        tcsetattr(input, TCSAFLUSH, &attributes)
    }

    /// Puts the terminal back as it was.
    public func restore() {
        guard var attributes = saved else { return }
        tcsetattr(input, TCSAFLUSH, &attributes)
        saved = nil
    }

    /// Reads one line (blocking); nil at the end of input (Ctrl-D, closed stdin).
    public func readLine(prompt: String) -> String? {
        guard isInteractive else { return readPlainLine() }
        lock.withLock {
            self.prompt = prompt
            editor.reset()
            editing = true
            write(editor.render(prompt: prompt, columns: columns()))
        }
        defer { lock.withLock { editing = false } }
        var byte: UInt8 = 0
        while true {
            let n = read(input, &byte, 1)
            if n < 0 && errno == EINTR { continue }
            if n <= 0 {
                lock.withLock { write("\r\n") }
                return nil
            }
            let done: String?? = lock.withLock {
                switch editor.feed(byte) {
                case .none: return .none
                case .redraw:
                    write(editor.render(prompt: prompt, columns: columns()))
                case .bell:
                    write("\u{07}")
                case .clearScreen:
                    write("\u{1B}[H\u{1B}[2J" + editor.render(prompt: prompt, columns: columns()))
                case .interrupt:
                    write("^C\r\n" + editor.render(prompt: prompt, columns: columns()))
                case .endOfInput:
                    write("\r\n")
                    return .some(nil)
                case .line(let line):
                    write("\r\n")
                    return .some(line)
                }
                return .none
            }
            if let done { return done }
        }
    }

    /// ``readLine(prompt:)`` on the terminal's own thread.
    public func nextLine(prompt: String) async -> String? {
        await withCheckedContinuation { continuation in
            queue.async { continuation.resume(returning: self.readLine(prompt: prompt)) }
        }
    }

    /// Prints `text` and a newline above the line being typed (if any).
    public func print(_ text: String) {
        lock.withLock {
            if editing {
                write("\r\u{1B}[K" + text + "\n" + editor.render(prompt: prompt, columns: columns()))
            } else {
                write(text + "\n")
            }
        }
    }

    private func readPlainLine() -> String? {
        var bytes: [UInt8] = []
        var byte: UInt8 = 0
        while true {
            let n = read(input, &byte, 1)
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { return bytes.isEmpty ? nil : String(decoding: bytes, as: UTF8.self) }
            if byte == 0x0A { return String(decoding: bytes, as: UTF8.self) }
            bytes.append(byte)
        }
    }

    private func columns() -> Int {
        var size = winsize()
        if ioctl(output, UInt(TIOCGWINSZ), &size) == 0, size.ws_col > 0 { return Int(size.ws_col) }
        return 80
    }

    private func write(_ text: String) {
        var bytes = Array(text.utf8)
        var offset = 0
        while offset < bytes.count {
            let n = bytes.withUnsafeMutableBytes { Glibc.write(output, $0.baseAddress! + offset, $0.count - offset) }
            if n < 0 {
                if errno == EINTR { continue }
                return
            }
            offset += n
        }
    }
}
