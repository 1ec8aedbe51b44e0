/// The fuzz targets: each feeds arbitrary bytes to one of Vigie's parsers of
/// untrusted input and checks what must hold whatever the bytes are.
///
/// A crash (trap, ASan report) is a bug in the code under test; a thrown
/// ``FuzzFailure`` is a broken invariant (a wrong answer, an unexpected error
/// type). `vigie-fuzz` runs them under libFuzzer (`make fuzz`); the
/// `VigieFuzzTests` replay the corpus in `Fuzz/` through the same functions
/// (`make test`). See `docs/FUZZING.md`.
public enum FuzzTarget: String, CaseIterable, Sendable, CustomStringConvertible {
    /// The wire's frame decoder (`FrameDecoder`), whole and streamed in chunks.
    case frame
    /// A seat's reading of a request header (`SeatConnection.decode`).
    case request
    /// The school configuration loader (`ConfigLoader.parse`, TOML).
    case config
    /// The register's event content (`CanonicalJSON.parse`, `RegisterEvent(json:)`, `ChainedEvent.check`).
    case event

    /// Runs the target on `bytes`.
    public func run(_ bytes: UnsafeRawBufferPointer) throws(FuzzFailure) -> FuzzOutcome {
        switch self {
        case .frame: return try fuzzFrame(bytes)
        case .request: return try fuzzRequest(bytes)
        case .config: return try fuzzConfig(bytes)
        case .event: return try fuzzEvent(bytes)
        }
    }

    /// Runs the target on `bytes`.
    public func run(_ bytes: [UInt8]) throws(FuzzFailure) -> FuzzOutcome {
        let result = bytes.withUnsafeBytes { raw in Result { () throws(FuzzFailure) in try run(raw) } }
        return try result.get()
    }

    /// The target's name, as `vigie-fuzz` and `Fuzz/corpus/` spell it.
    public var description: String { rawValue }
}

/// What the code under test made of an input that broke nothing.
public struct FuzzOutcome: Sendable, Equatable, CustomStringConvertible {
    /// Whether the input was taken as valid (a frame decoded, a request, a
    /// configuration, an event), rather than refused with an error.
    public var accepted: Bool
    /// What was read, or why it was refused.
    public var detail: String

    /// An outcome.
    public init(accepted: Bool, _ detail: String) {
        self.accepted = accepted
        self.detail = detail
    }

    /// `accepted: …` or `rejected: …`.
    public var description: String { (accepted ? "accepted: " : "rejected: ") + detail }
}

/// An invariant that did not hold: the code under test gave a wrong answer
/// without crashing (libFuzzer reports it as a crash all the same).
public struct FuzzFailure: Error, Sendable, CustomStringConvertible {
    /// The target that found it.
    public var target: FuzzTarget
    /// What did not hold.
    public var message: String

    /// A failure of `target`.
    public init(_ target: FuzzTarget, _ message: String) {
        self.target = target
        self.message = message
    }

    /// `fuzz frame: …`
    public var description: String { "fuzz \(target): \(message)" }
}
