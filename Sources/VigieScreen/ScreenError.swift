/// An error from the screen layer: a stable machine-readable `code` that the
/// agent forwards to the console, and a `detail` for people and logs.
///
/// Codes in use: `x11.connect`, `x11.connection-lost`, `x11.capture`,
/// `x11.shm`, `x11.font`, `x11.window`, `x11.grab-keyboard`,
/// `x11.grab-pointer`, `x11.damage`, `png.encode`, `png.decode`, `jpeg.encode`.
public struct ScreenError: Error, CustomStringConvertible, Sendable, Equatable {
    /// Stable identifier of the failure, e.g. `x11.grab-keyboard`.
    public let code: String
    /// Free-form explanation (English) of what went wrong.
    public let detail: String

    /// Creates an error with a stable code and a detail message.
    public init(code: String, detail: String) {
        self.code = code
        self.detail = detail
    }

    /// `code: detail`.
    public var description: String { "\(code): \(detail)" }
}
