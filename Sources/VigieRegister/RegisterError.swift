/// An error from the register: a stable ``code`` for programs and a message a
/// person can act on (it names the school, the seat and the seq when it can).
public struct RegisterError: Error, Sendable, CustomStringConvertible, Equatable {
    /// A stable, machine-readable error code (`register.chain-conflict`, …).
    public struct Code: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
        /// The code's text, stable across releases.
        public let rawValue: String
        /// Wraps a code's text.
        public init(rawValue: String) { self.rawValue = rawValue }
        /// The code's text.
        public var description: String { rawValue }

        /// Event content that is not valid register JSON.
        public static let invalidContent = Code(rawValue: "register.invalid-content")
        /// A chain that does not link: wrong seq, prevHash, hash or content hash.
        public static let brokenChain = Code(rawValue: "register.broken-chain")
        /// An event already stored with another hash at the same seq.
        public static let chainConflict = Code(rawValue: "register.chain-conflict")
        /// A batch whose signature or certificate does not hold.
        public static let badSignature = Code(rawValue: "register.bad-signature")
        /// A batch that is empty or mixes schools or seats.
        public static let invalidBatch = Code(rawValue: "register.invalid-batch")
        /// A journal or store file that belongs to another school or seat, or cannot be opened.
        public static let wrongFile = Code(rawValue: "register.wrong-file")
        /// A key or certificate that cannot be used.
        public static let invalidKey = Code(rawValue: "register.invalid-key")
        /// A checkpoint that cannot be read or written.
        public static let invalidCheckpoint = Code(rawValue: "register.invalid-checkpoint")
        /// A file that cannot be read or written.
        public static let fileAccess = Code(rawValue: "register.file-access")
    }

    /// The stable code.
    public let code: Code
    /// What went wrong, for a person.
    public let message: String

    /// An error with its code and message.
    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    /// `register.chain-conflict: …`
    public var description: String { "\(code): \(message)" }
}
