/// The person at the seat is asked before anyone helps them through their
/// screen: who asks (name and role), why, and what (to see the screen, or to
/// see it and take the keyboard and mouse), with « Refuser » and « Accepter ».
/// It looks like a message window with its own band colour and stays above the
/// session's windows. Only « Accepter » (a click, or Tab then Enter or Space)
/// accepts; Escape, Enter as it opens, the window manager's close and no answer
/// within the timeout all refuse.
public struct ConsentWindow: Sendable {
    /// Title band colour (0xRRGGBB); tests look for it.
    public static let bandRGB: UInt32 = 0x6C3483

    public var title: String
    public var text: String
    public var refuseLabel: String
    public var acceptLabel: String
    /// Seconds before no answer counts as a refusal (more than 0).
    public var timeout: Double

    public init(title: String, text: String, refuseLabel: String, acceptLabel: String, timeout: Double) {
        self.title = title
        self.text = text
        self.refuseLabel = refuseLabel
        self.acceptLabel = acceptLabel
        self.timeout = timeout
    }

    /// The person's answer.
    public enum Answer: String, Sendable {
        case accepted, refused, timeout
        /// A signal ended the question (the helper gave up, the agent stopped).
        case withdrawn
    }

    /// Connects to `display`, shows the question, calls `onReady` once it is
    /// mapped and drawn, and returns the answer.
    /// - Throws: `ScreenError` `x11.connect`, `x11.connection-lost`.
    public func run(display: String?, signalFD: Int32, onReady: () -> Void) throws -> Answer {
        var window = MessageWindow(title: title, text: text, timeout: timeout)
        window.choices = [refuseLabel, acceptLabel]
        window.style = .consent
        switch try window.run(display: display, signalFD: signalFD, onReady: onReady) {
        case .chose(1): return .accepted
        case .chose, .acknowledged: return .refused
        case .timeout: return .timeout
        case .signal: return .withdrawn
        }
    }
}
