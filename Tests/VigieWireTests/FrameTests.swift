import NIOCore
import NIOEmbedded
import Testing
import VigieModel
@testable import VigieWire

func encoded(_ frame: Frame) -> ByteBuffer {
    var buffer = ByteBuffer()
    FrameEncoder.encode(frame, into: &buffer)
    return buffer
}

func decoderChannel(maxLength: Int = vigieMaxFrameLength) throws -> EmbeddedChannel {
    let channel = EmbeddedChannel()
    try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(FrameDecoder(maxLength: maxLength)))
    return channel
}

func wireError(_ body: () throws -> Void) -> WireError? {
    do {
        try body()
        return nil
    } catch let error as WireError {
        return error
    } catch {
        return nil
    }
}

@Suite struct FrameCodec {
    @Test func requestsAndResponsesRoundTripThroughAChannel() throws {
        let channel = try decoderChannel()
        let request = Request(id: 7, feature: "message", args: ["text": "Rangez vos affaires — merci ! L’équipe"], deadlineMillis: 5000)
        let response = Response(id: 7, status: .ok, reason: Reason("screenshot.taken", ["width": "1280"]))
        var both = encoded(.request(request))
        var second = encoded(.response(response, body: [0x89, 0x50, 0x4E, 0x47]))
        both.writeBuffer(&second)
        try channel.writeInbound(both)
        let first = try #require(try channel.readInbound(as: Frame.self))
        #expect(first.kind == .request)
        #expect(try first.decodeHeader(Request.self) == request)
        let next = try #require(try channel.readInbound(as: Frame.self))
        #expect(next.kind == .response)
        #expect(try next.decodeHeader(Response.self) == response)
        #expect(next.body == [0x89, 0x50, 0x4E, 0x47])
        #expect(try channel.finish().isClean)
    }

    @Test func aFrameSplitIntoSingleBytesIsReassembled() throws {
        let channel = try decoderChannel()
        let frame = Frame.request(Request(id: 1, feature: "lock"))
        let bytes = encoded(frame).readableBytesView
        for byte in bytes.dropLast() {
            try channel.writeInbound(ByteBuffer(bytes: [byte]))
            #expect(try channel.readInbound(as: Frame.self) == nil)
        }
        try channel.writeInbound(ByteBuffer(bytes: [bytes.last!]))
        #expect(try channel.readInbound(as: Frame.self) == frame)
    }

    @Test func anOversizedLengthIsRefusedBeforeItsBytesArrive() {
        var buffer = ByteBuffer()
        buffer.writeInteger(UInt32(vigieMaxFrameLength + 1))
        buffer.writeInteger(vigieProtocolVersion)
        let error = wireError { _ = try FrameDecoder.decode(&buffer) }
        #expect(error?.reason.code == "protocol.oversized")
        #expect(error?.reason.params["max"] == String(vigieMaxFrameLength))
    }

    @Test func anotherProtocolVersionIsNamed() throws {
        var buffer = encoded(.request(Request(id: 1, feature: "lock")))
        buffer.setInteger(UInt16(2), at: 4)
        let error = wireError { _ = try FrameDecoder.decode(&buffer) }
        #expect(error?.reason == Reason("protocol.version", ["got": "2", "supported": "1"]))
        #expect(Catalog.text(error!.reason, .fr).contains("version de protocole 2"))
    }

    @Test func garbageIsAProtocolErrorNotACrash() throws {
        // An HTTP request on the port: "GET " as a length is ~1.2 GB.
        var http = ByteBuffer(string: "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        #expect(wireError { _ = try FrameDecoder.decode(&http) }?.reason.code == "protocol.oversized")

        // A plausible length but an unknown kind, and a header longer than the frame.
        var unknownKind = encoded(.request(Request(id: 1, feature: "lock")))
        unknownKind.setInteger(UInt8(9), at: 6)
        #expect(wireError { _ = try FrameDecoder.decode(&unknownKind) }?.reason.code == "protocol.malformed")
        var longHeader = encoded(.request(Request(id: 1, feature: "lock")))
        longHeader.setInteger(UInt32(1_000_000), at: 7)
        #expect(wireError { _ = try FrameDecoder.decode(&longHeader) }?.reason.code == "protocol.malformed")

        // Too short to hold a header.
        var tiny = ByteBuffer()
        tiny.writeInteger(UInt32(2))
        tiny.writeInteger(vigieProtocolVersion)
        #expect(wireError { _ = try FrameDecoder.decode(&tiny) }?.reason.code == "protocol.malformed")
    }

    @Test func aHeaderThatIsNotJSONIsMalformed() {
        let frame = Frame(kind: .request, header: Array("{not json".utf8))
        #expect(wireError { _ = try frame.decodeHeader(Request.self) }?.reason.code == "protocol.malformed")
    }

    @Test func aConnectionClosedInTheMiddleOfAFrameIsReported() throws {
        let channel = try decoderChannel()
        var partial = encoded(.request(Request(id: 1, feature: "lock")))
        partial.moveWriterIndex(to: partial.writerIndex - 3)
        try channel.writeInbound(partial)
        #expect(throws: WireError.self) { try channel.finish() }
    }

    @Test func theDecoderErrorReachesThePipeline() throws {
        let channel = try decoderChannel(maxLength: 100)
        var buffer = ByteBuffer()
        buffer.writeInteger(UInt32(101))
        buffer.writeInteger(vigieProtocolVersion)
        #expect(throws: WireError.self) { try channel.writeInbound(buffer) }
    }
}

@Suite struct StreamFrames {
    @Test func streamMessagesInterleaveWithRequestsAndResponsesOnOneConnection() throws {
        let channel = try decoderChannel()
        let opened = Response(id: 3, status: .ok, reason: Reason("watch.started", ["width": "320"]))
        let picture = StreamMessage(id: 3, event: .frame, seq: 1, params: ["width": "320", "height": "180"])
        let paused = StreamMessage(id: 3, event: .paused, reason: Reason("policy.time-window", ["next": "mon 13:15"]))
        let status = Response(id: 4, status: .ok, reason: Reason("status.unlocked"))
        var bytes = encoded(.response(opened))
        for frame in [Frame.stream(picture, body: [0xFF, 0xD8, 0xFF, 0xD9]), .response(status), .stream(paused)] {
            var next = encoded(frame)
            bytes.writeBuffer(&next)
        }
        try channel.writeInbound(bytes)
        let frames = try (0..<4).map { _ in try #require(try channel.readInbound(as: Frame.self)) }
        #expect(frames.map(\.kind) == [.response, .stream, .response, .stream])
        #expect(try frames[1].decodeHeader(StreamMessage.self) == picture)
        #expect(frames[1].body == [0xFF, 0xD8, 0xFF, 0xD9])
        #expect(try frames[2].decodeHeader(Response.self) == status)
        let readPause = try frames[3].decodeHeader(StreamMessage.self)
        #expect(readPause.known == .paused)
        #expect(readPause.reason == Reason("policy.time-window", ["next": "mon 13:15"]))
        #expect(try channel.finish().isClean)
    }

    @Test func anEventOfALaterVersionIsReadButNotKnown() throws {
        let header = Array(#"{"event":"pointer","id":9,"params":{"x":"3"}}"#.utf8)
        let message = try Frame(kind: .stream, header: header).decodeHeader(StreamMessage.self)
        #expect(message.known == nil)
        #expect(message.id == 9)
    }

    @Test func aFrameOfAnUnknownKindIsStillAProtocolError() throws {
        var bytes = encoded(.stream(StreamMessage(id: 0, event: .heartbeat)))
        bytes.setInteger(UInt8(9), at: bytes.readerIndex + 6)
        let error = wireError { _ = try FrameDecoder.decode(&bytes) }
        #expect(error?.reason.code == "protocol.malformed")
    }
}

/// The console's heartbeat, in its connection's pipeline, on an embedded channel
/// whose clock the test moves: it beats only while the seat has accepted a stream.
@Suite struct ConsoleHeartbeat {
    let channel = EmbeddedChannel()
    let loop: EmbeddedEventLoop

    init() throws {
        loop = channel.embeddedEventLoop
        try channel.pipeline.syncOperations.addHandler(StreamHeartbeat())
    }

    /// The frames the console wrote, read off the channel.
    func written() throws -> [Frame] {
        var frames: [Frame] = []
        while let frame = try channel.readOutbound(as: Frame.self) { frames.append(frame) }
        return frames
    }

    func heartbeats(_ frames: [Frame]) -> Int {
        frames.filter { $0.kind == .stream && (try? $0.decodeHeader(StreamMessage.self))?.known == .heartbeat }.count
    }

    func send(_ request: Request) throws {
        try channel.writeOutbound(Frame.request(request))
    }

    func seat(_ frame: Frame) throws {
        try channel.writeInbound(frame)
        while try channel.readInbound(as: Frame.self) != nil {}
    }

    @Test func noHeartbeatBeforeTheSeatAcceptsAStreamNorAfterARefusal() throws {
        try send(Request(id: 1, feature: "status", args: [:]))
        try send(Request(id: 2, feature: "watch", args: [:]))
        loop.advanceTime(by: .seconds(5))
        #expect(heartbeats(try written()) == 0, "nothing accepted yet")
        try seat(.response(Response(id: 1, status: .ok, reason: Reason("status.unlocked"))))
        try seat(.response(Response(id: 2, status: .refused, reason: Reason("policy.room"))))
        loop.advanceTime(by: .seconds(5))
        #expect(heartbeats(try written()) == 0, "a refused stream is no stream")
        #expect(try channel.finish().isClean)
    }

    @Test func itBeatsEverySecondWhileAStreamIsOpenAndStopsWhenTheLastEnds() throws {
        try send(Request(id: 7, feature: "watch", args: [:]))
        try send(Request(id: 8, feature: "watch", args: [:]))
        _ = try written()
        try seat(.response(Response(id: 7, status: .ok, reason: Reason("watch.started"))))
        try seat(.response(Response(id: 8, status: .ok, reason: Reason("watch.started"))))
        loop.advanceTime(by: .seconds(3))
        let beats = try written()
        #expect(heartbeats(beats) == 3)
        #expect(beats.allSatisfy { (try? $0.decodeHeader(StreamMessage.self))?.id == 0 }, "a heartbeat is for the connection (id 0)")
        // The console ends one stream, the seat the other: quiet from then on.
        try channel.writeOutbound(Frame.stream(StreamMessage(id: 7, event: .end)))
        loop.advanceTime(by: .seconds(2))
        #expect(heartbeats(try written()) == 2, "one stream still open")
        try seat(.stream(StreamMessage(id: 8, event: .end, reason: Reason("watch.viewer-lost"))))
        loop.advanceTime(by: .seconds(5))
        #expect(heartbeats(try written()) == 0)
        // A new stream starts it again.
        try send(Request(id: 9, feature: "watch", args: [:]))
        try seat(.response(Response(id: 9, status: .ok, reason: Reason("watch.started"))))
        _ = try written()
        loop.advanceTime(by: .seconds(2))
        #expect(heartbeats(try written()) == 2)
        #expect(try channel.finish().isClean)
    }

    @Test func aClosedConnectionStopsTheBeat() throws {
        try send(Request(id: 3, feature: "watch", args: [:]))
        try seat(.response(Response(id: 3, status: .ok, reason: Reason("watch.started"))))
        _ = try written()
        _ = try channel.finish()
        loop.advanceTime(by: .seconds(5))
        #expect(heartbeats(try written()) == 0)
    }
}
