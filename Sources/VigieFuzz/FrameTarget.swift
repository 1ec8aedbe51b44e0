import NIOCore
import NIOEmbedded
import VigieWire

/// The frame decoder on arbitrary bytes. What must hold:
///
/// - it only throws ``WireError`` (`protocol.oversized`, `protocol.version`, `protocol.malformed`);
/// - every decoded frame is of this protocol version, with a header of at most
///   64 KiB, and re-encodes (``FrameEncoder``) to exactly the bytes it was read from;
/// - a partial frame consumes nothing;
/// - the channel handler, fed the same bytes in small chunks (as TCP may
///   deliver them), yields the same frames and the same error, and reports a
///   connection closed in the middle of a frame.
///
/// Accepted: at least one frame and nothing else (no error, no leftover bytes).
public func fuzzFrame(_ bytes: UnsafeRawBufferPointer) throws(FuzzFailure) -> FuzzOutcome {
    let input = Array(bytes)
    let fail = { (message: String) in FuzzFailure(.frame, message) }

    // The pure decoder over the whole input.
    var buffer = ByteBuffer(bytes: input)
    var frames: [Frame] = []
    var wireError: WireError?
    while true {
        let start = buffer.readerIndex
        let decoded: Frame?
        do {
            decoded = try FrameDecoder.decode(&buffer)
        } catch let error as WireError {
            wireError = error
            break
        } catch {
            throw fail("FrameDecoder.decode threw \(type(of: error)), not a WireError: \(error)")
        }
        guard let frame = decoded else {
            guard buffer.readerIndex == start else { throw fail("a partial frame consumed \(buffer.readerIndex - start) bytes") }
            break
        }
        guard frame.version == vigieProtocolVersion else { throw fail("decoded a frame of version \(frame.version)") }
        guard frame.header.count <= Frame.maxHeaderLength else { throw fail("decoded a header of \(frame.header.count) bytes") }
        var encoded = ByteBuffer()
        FrameEncoder.encode(frame, into: &encoded)
        guard Array(encoded.readableBytesView) == Array(input[start..<buffer.readerIndex]) else {
            throw fail("frame \(frames.count) re-encodes to other bytes than it was read from")
        }
        frames.append(frame)
    }
    let leftover = buffer.readableBytes
    if let wireError, !["protocol.oversized", "protocol.version", "protocol.malformed"].contains(wireError.reason.code) {
        throw fail("unexpected error code \(wireError.reason.code)")
    }

    // The channel handler, fed in chunks of 1 to 13 bytes (the first byte chooses).
    let channel = EmbeddedChannel(handler: ByteToMessageHandler(FrameDecoder()))
    var streamed: [Frame] = []
    var streamError: Error?
    let chunk = 1 + Int(input.first ?? 0) % 13
    var offset = 0
    while offset < input.count {
        let end = min(offset + chunk, input.count)
        do {
            try channel.writeInbound(ByteBuffer(bytes: input[offset..<end]))
        } catch {
            streamError = error
        }
        do {
            while let frame = try channel.readInbound(as: Frame.self) { streamed.append(frame) }
        } catch {
            throw fail("readInbound threw \(error)")
        }
        if streamError != nil { break }
        offset = end
    }
    if streamError == nil {
        do {
            guard case .clean = try channel.finish() else { throw fail("frames left unread after the connection closed") }
        } catch let error as FuzzFailure {
            throw error
        } catch {
            streamError = error
        }
    } else {
        _ = try? channel.finish(acceptAlreadyClosed: true)
    }

    guard streamed == frames else {
        throw fail("streamed in chunks of \(chunk) bytes: \(streamed.count) frames, whole: \(frames.count) (or different ones)")
    }
    let streamCode = (streamError as? WireError)?.reason.code
    if streamError != nil && streamCode == nil { throw fail("the handler threw \(type(of: streamError!)), not a WireError") }
    if let wireError {
        guard streamCode == wireError.reason.code else {
            throw fail("streamed: \(streamCode ?? "no error"), whole: \(wireError.reason.code)")
        }
        return FuzzOutcome(accepted: false, "\(frames.count) frames, then \(wireError.reason.code)")
    }
    if leftover > 0 {
        guard streamCode == "protocol.malformed" else {
            throw fail("a connection closed in the middle of a frame gave \(streamCode ?? "no error")")
        }
        return FuzzOutcome(accepted: false, "\(frames.count) frames, then \(leftover) bytes of an unfinished frame")
    }
    guard streamCode == nil else { throw fail("streamed: \(streamCode!), whole: no error") }
    return FuzzOutcome(accepted: !frames.isEmpty, "\(frames.count) frames")
}
