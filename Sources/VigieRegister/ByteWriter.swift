import Foundation

/// Buffers bytes and writes them to a `FileHandle` in large chunks.
final class ByteWriter {
    private let handle: FileHandle
    private var buffer: [UInt8] = []
    private let chunk = 1 << 18

    init(_ handle: FileHandle) {
        self.handle = handle
        buffer.reserveCapacity(chunk + 4096)
    }

    func write(_ text: String) throws {
        buffer.append(contentsOf: text.utf8)
        if buffer.count >= chunk { try flush() }
    }

    func write(_ bytes: [UInt8]) throws {
        buffer.append(contentsOf: bytes)
        if buffer.count >= chunk { try flush() }
    }

    func flush() throws {
        guard !buffer.isEmpty else { return }
        try handle.write(contentsOf: buffer)
        buffer.removeAll(keepingCapacity: true)
    }
}
