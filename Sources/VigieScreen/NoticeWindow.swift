/// The login notice: a window centred on the screen telling the user that the
/// seat may be watched, by whom and when. It looks like a message window with
/// its own title band colour, closes on OK, Enter, Escape, a click anywhere in
/// it, a signal, or after its timeout.
public struct NoticeWindow: Sendable {
    /// Title band colour (0xRRGGBB); tests look for it.
    public static let bandRGB: UInt32 = 0x2E6B4F

    /// Window title and heading (the first line of the room's notice).
    public var title: String
    /// The notice text; wrapped at spaces, `\n` starts a new line.
    public var text: String
    /// Seconds before the window closes by itself; 0 keeps it until dismissed.
    public var timeout: Double

    /// A notice with `title` and `text`, closing after `timeout` seconds (0: until dismissed).
    public init(title: String, text: String, timeout: Double) {
        self.title = title
        self.text = text
        self.timeout = timeout
    }

    /// Connects to `display`, shows the notice, calls `onReady` once it is
    /// mapped and drawn, and returns how it was closed.
    /// - Throws: `ScreenError` `x11.connect`, `x11.connection-lost`.
    public func run(display: String?, signalFD: Int32, onReady: () -> Void) throws -> MessageWindow.Closed {
        var window = MessageWindow(title: title, text: text, timeout: timeout)
        window.style = .notice
        return try window.run(display: display, signalFD: signalFD, onReady: onReady)
    }
}
