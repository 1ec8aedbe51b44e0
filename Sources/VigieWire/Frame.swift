import Foundation
import NIOCore
import VigieModel

/// The protocol version this build speaks. A peer of another version gets a
/// `protocol.version` error and the connection is closed.
public let vigieProtocolVersion: UInt16 = 1

/// Largest frame accepted (everything after the length prefix): 32 MiB, enough
/// for an uncompressed 4K screenshot in PNG.
public let vigieMaxFrameLength = 32 * 1024 * 1024

/// One frame on the wire (all integers big-endian):
///
/// ```
/// u32 length       of everything that follows, at most vigieMaxFrameLength
/// u16 version      vigieProtocolVersion
/// u8  kind         1 = request, 2 = response, 3 = stream
/// u32 headerLength at most 64 KiB
/// header           JSON (UTF-8): Request, Response or StreamMessage
/// body             the rest: opaque bytes (a PNG for screenshots, a JPEG
///                  for a thumbnail stream's frame), may be empty
/// ```
///
/// Stream frames (kind 3) flow only on a stream both sides agreed to: a seat
/// sends them after it answered `ok` to a request that opens one (`watch`), and
/// a console only to a seat that did. A seat that does not know a stream's
/// feature answers the request `protocol.unknown-feature` and no stream frame
/// is ever sent to it (docs/WIRE.md).
public struct Frame: Sendable, Equatable {
    public enum Kind: UInt8, Sendable {
        case request = 1
        case response = 2
        case stream = 3
    }

    public var version: UInt16
    public var kind: Kind
    public var header: [UInt8]
    public var body: [UInt8]
    /// When ``FrameDecoder`` read the frame off the connection (nil for a frame built
    /// here): a request's deadline counts from then, whatever waited before it.
    /// Not part of the frame's bytes, nor of its equality.
    public var receivedAt: NIODeadline?

    public init(version: UInt16 = vigieProtocolVersion, kind: Kind, header: [UInt8], body: [UInt8] = []) {
        self.version = version
        self.kind = kind
        self.header = header
        self.body = body
    }

    public static func == (a: Frame, b: Frame) -> Bool {
        a.version == b.version && a.kind == b.kind && a.header == b.header && a.body == b.body
    }

    public static let maxHeaderLength = 64 * 1024
}

/// A protocol violation. The receiver answers with a `protocol.*` response and closes.
public struct WireError: Error, Sendable, Equatable, CustomStringConvertible {
    public var reason: Reason
    public init(_ code: String, _ params: [String: String] = [:]) { reason = Reason(code, params) }
    /// An error for `reason`.
    public init(_ reason: Reason) { self.reason = reason }
    public var description: String { Catalog.text(reason, .en) }
}

/// Splits the byte stream into frames; throws ``WireError`` for a frame that is
/// oversized, truncated in its header, of an unknown kind or another version.
public struct FrameDecoder: ByteToMessageDecoder {
    public typealias InboundOut = Frame
    let maxLength: Int
    /// When set, the limit in force now (it grows once the peer is authenticated).
    let limit: FrameLimit?

    public init(maxLength: Int = vigieMaxFrameLength) {
        self.maxLength = maxLength
        self.limit = nil
    }

    /// A decoder whose limit is read from `limit` at every frame.
    public init(limit: FrameLimit) {
        self.maxLength = vigieMaxFrameLength
        self.limit = limit
    }

    public mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        guard var frame = try Self.decode(&buffer, maxLength: limit?.bytes ?? maxLength) else { return .needMoreData }
        frame.receivedAt = .now()
        context.fireChannelRead(wrapInboundOut(frame))
        return .continue
    }

    public mutating func decodeLast(context: ChannelHandlerContext, buffer: inout ByteBuffer, seenEOF: Bool) throws -> DecodingState {
        while try decode(context: context, buffer: &buffer) == .continue {}
        if buffer.readableBytes > 0 {
            throw WireError("protocol.malformed", ["detail": "connection closed in the middle of a frame"])
        }
        return .needMoreData
    }

    /// Reads one frame from `buffer` if a whole one is there (pure, for tests and both sides).
    public static func decode(_ buffer: inout ByteBuffer, maxLength: Int = vigieMaxFrameLength) throws -> Frame? {
        guard let length = buffer.getInteger(at: buffer.readerIndex, as: UInt32.self) else { return nil }
        if Int(length) > maxLength {
            throw WireError("protocol.oversized", ["size": String(length), "max": String(maxLength)])
        }
        // The version comes first so that a peer of another version is told so,
        // whatever the rest of its frame looks like (when the frame holds one: the
        // bytes after a length of 0 or 1 are the next frame's, found by fuzzing).
        if length >= 2, buffer.readableBytes >= 6, let version = buffer.getInteger(at: buffer.readerIndex + 4, as: UInt16.self),
           version != vigieProtocolVersion {
            throw WireError("protocol.version", ["got": String(version), "supported": String(vigieProtocolVersion)])
        }
        guard buffer.readableBytes >= 4 + Int(length) else { return nil }
        guard length >= 7 else {
            throw WireError("protocol.malformed", ["detail": "frame of \(length) bytes is shorter than its header"])
        }
        buffer.moveReaderIndex(forwardBy: 6)
        let kindByte: UInt8 = buffer.readInteger()!
        let headerLength: UInt32 = buffer.readInteger()!
        let rest = Int(length) - 7
        guard let kind = Frame.Kind(rawValue: kindByte) else {
            buffer.moveReaderIndex(forwardBy: rest)
            throw WireError("protocol.malformed", ["detail": "unknown frame kind \(kindByte)"])
        }
        guard Int(headerLength) <= min(rest, Frame.maxHeaderLength) else {
            buffer.moveReaderIndex(forwardBy: rest)
            throw WireError("protocol.malformed", ["detail": "header length \(headerLength) does not fit the frame"])
        }
        let header = buffer.readBytes(length: Int(headerLength))!
        let body = buffer.readBytes(length: rest - Int(headerLength))!
        return Frame(version: vigieProtocolVersion, kind: kind, header: header, body: body)
    }
}

/// Writes frames with their length prefix.
public struct FrameEncoder: MessageToByteEncoder {
    public typealias OutboundIn = Frame
    public init() {}

    public func encode(data frame: Frame, out: inout ByteBuffer) throws {
        Self.encode(frame, into: &out)
    }

    public static func encode(_ frame: Frame, into out: inout ByteBuffer) {
        out.writeInteger(UInt32(7 + frame.header.count + frame.body.count))
        out.writeInteger(frame.version)
        out.writeInteger(frame.kind.rawValue)
        out.writeInteger(UInt32(frame.header.count))
        out.writeBytes(frame.header)
        out.writeBytes(frame.body)
    }
}
