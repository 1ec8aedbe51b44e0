/// The body of a `run` response: the first bytes of the program's stdout and
/// stderr (`u32 length · stdout · u32 length · stderr`, big-endian). Exit status,
/// truncation and timeout travel in the response's parameters.
public struct RunOutput: Sendable, Equatable {
    public var stdout: [UInt8]
    public var stderr: [UInt8]

    public init(stdout: [UInt8], stderr: [UInt8]) {
        self.stdout = stdout
        self.stderr = stderr
    }

    /// The response body.
    public var encoded: [UInt8] {
        func u32(_ n: Int) -> [UInt8] { [UInt8(n >> 24 & 0xFF), UInt8(n >> 16 & 0xFF), UInt8(n >> 8 & 0xFF), UInt8(n & 0xFF)] }
        return u32(stdout.count) + stdout + u32(stderr.count) + stderr
    }

    /// Reads a body; nil when it is not a well-formed run output.
    public init?(decoding body: [UInt8]) {
        var offset = 0
        func chunk() -> [UInt8]? {
            guard body.count - offset >= 4 else { return nil }
            let n = body[offset..<offset + 4].reduce(0) { $0 << 8 | Int($1) }
            offset += 4
            guard n <= body.count - offset else { return nil }
            defer { offset += n }
            return Array(body[offset..<offset + n])
        }
        guard let out = chunk(), let err = chunk(), offset == body.count else { return nil }
        self.init(stdout: out, stderr: err)
    }
}
