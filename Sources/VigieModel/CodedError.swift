/// The one shape of Vigie's errors: a stable ``code`` for programs and tests,
/// a ``message`` a person can act on, and the error underneath (``cause``)
/// when there is one. Each kind of error names its codes in an enum of its
/// own, `public typealias SpawnError = CodedError<SpawnFailure>`, and throws
/// `SpawnError(.pipe, "pipe: Too many open files")`.
///
/// (`PKIError` and `RegisterError` have the same three parts, with a file
/// path where one is at fault; a seat's answer is a ``Reason``; a config
/// error names its file, line and field.)
public struct CodedError<Code: RawRepresentable & Sendable>: Error, CustomStringConvertible where Code.RawValue == String {
    /// What failed, stable across releases.
    public let code: Code
    /// What went wrong, for a person.
    public let message: String
    /// The error underneath, when there is one.
    public let cause: (any Error)?

    public init(_ code: Code, _ message: String, cause: (any Error)? = nil) {
        self.code = code
        self.message = message
        self.cause = cause
    }

    public var description: String { message }
}
