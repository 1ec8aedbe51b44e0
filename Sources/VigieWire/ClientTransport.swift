import Foundation
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import NIOSSL
import NIOTLS
import VigieModel
import VigiePKI

/// How long a client waits at each step of a call before it gives up. A peer
/// that accepts the connection and then stays silent costs at most these.
public struct ClientDeadlines: Sendable, Equatable {
    /// The TCP connection.
    public var connect: Duration
    /// The TLS handshake, the peer's certificate checked.
    public var handshake: Duration
    /// Each answer (for a streamed answer, each part).
    public var reply: Duration
    /// All steps together, when set (a console's per-seat deadline).
    public var total: Duration?

    public init(connect: Duration, handshake: Duration, reply: Duration, total: Duration? = nil) {
        self.connect = connect
        self.handshake = handshake
        self.reply = reply
        self.total = total
    }

    /// One deadline for the whole call (connect, handshake and answer together).
    public static func total(_ limit: Duration) -> ClientDeadlines {
        ClientDeadlines(connect: limit, handshake: limit, reply: limit, total: limit)
    }

    /// The same deadlines with another wait for each answer.
    public func replying(within reply: Duration) -> ClientDeadlines {
        var copy = self
        copy.reply = reply
        return copy
    }

    /// A seat or a console talking to the school server: `seconds` for the
    /// connection, the handshake and each answer.
    public static func server(seconds: Double) -> ClientDeadlines {
        let limit = Duration.milliseconds(Int64(seconds * 1000))
        return ClientDeadlines(connect: limit, handshake: limit, reply: limit)
    }
}

/// The peer a client means to reach. It is checked inside the TLS verification:
/// a certificate that names anyone else fails the handshake, before a byte of
/// the request leaves.
public enum ExpectedPeer: Sendable, Equatable {
    /// The agent of this seat of this school.
    case seat(id: String, school: String)
    /// A server of this school.
    case server(school: String)

    /// Nil when `identity` is the peer meant, else the reason to refuse it.
    public func refusal(of identity: Identity) -> Reason? {
        switch self {
        case .seat(let id, let school):
            guard identity.seatID == id, identity.schoolID == school else {
                return Reason("tls.wrong-seat", ["got": identity.uri, "expected": id])
            }
        case .server(let school):
            guard case .server = identity.kind, identity.schoolID == school else {
                return Reason("tls.wrong-server", ["got": identity.uri])
            }
        }
        return nil
    }
}

/// The one client side of Vigie's wire: the console (to seats and to the
/// server), the seat (journal shipping, config fetching) and enrolment open
/// their connections here. Each connection is a framed ``NIOAsyncChannel`` over
/// mutual TLS 1.3; connect, handshake and every answer have a deadline
/// (``ClientDeadlines``); the peer's certificate is checked during the
/// handshake by ``PeerVerifier`` against the school CA and the ``ExpectedPeer``.
public struct ClientTransport: Sendable {
    let tls: NIOSSLContext
    let caDER: [UInt8]
    /// The deadlines of every call made through this transport.
    public let deadlines: ClientDeadlines
    let group: any EventLoopGroup

    /// A transport presenting `identity`'s certificate.
    public init(identity: IdentityBundle, deadlines: ClientDeadlines,
                group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton) throws {
        self.tls = try VigieTLS.clientContext(identity.tlsMaterial)
        self.caDER = try Self.der(identity.caCertificatePEM)
        self.deadlines = deadlines
        self.group = group
    }

    /// A transport presenting no certificate (a seat enrolling with a one-time
    /// token); the server is still checked against `caPEM`.
    public init(enrolmentCA caPEM: String, deadlines: ClientDeadlines,
                group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton) throws {
        self.tls = try VigieTLS.enrolmentClientContext(caPEM: caPEM)
        self.caDER = try Self.der(caPEM)
        self.deadlines = deadlines
        self.group = group
    }

    /// The same transport (certificate, CA, event loops) with other deadlines.
    public func with(_ deadlines: ClientDeadlines) -> ClientTransport {
        ClientTransport(tls: tls, caDER: caDER, deadlines: deadlines, group: group)
    }

    private init(tls: NIOSSLContext, caDER: [UInt8], deadlines: ClientDeadlines, group: any EventLoopGroup) {
        self.tls = tls
        self.caDER = caDER
        self.deadlines = deadlines
        self.group = group
    }

    static func der(_ caPEM: String) throws -> [UInt8] {
        guard let ca = try NIOSSLCertificate.fromPEMBytes(Array(caPEM.utf8)).first else {
            throw WireError("tls.config", ["detail": "no CA certificate"])
        }
        return try ca.toDERBytes()
    }

    /// Adds TLS (with the check of `expected`) and the frame codec to a new
    /// channel's pipeline; the returned record holds the verified peer, or why
    /// it was refused. For clients that drive the channel with their own handler.
    public func configure(_ channel: Channel, expecting expected: ExpectedPeer) throws -> PeerRecord {
        let record = PeerRecord()
        let verifier = PeerVerifier(caDER: caDER) { identity, _ in expected.refusal(of: identity) }
        let sync = channel.pipeline.syncOperations
        try sync.addHandler(try NIOSSLClientHandler(
            context: tls, serverHostname: nil,
            customVerificationCallback: verifier.callback(record: record, address: channel.remoteAddress?.ipAddress ?? "?")))
        try sync.addHandler(ByteToMessageHandler(FrameDecoder()))
        try sync.addHandler(MessageToByteHandler(FrameEncoder()))
        try sync.addHandler(StreamHeartbeat())
        return record
    }

    /// Connects to `host:port`, completes the handshake with the peer
    /// `expected`, runs `body` on the connection and closes it. Every failure
    /// is a ``WireError`` (see ``ClientTransport/reason(_:record:deadline:)``).
    /// - Parameter reply: the wait for each answer, instead of the transport's.
    /// - Parameter isolation: where `body` runs (the caller's actor, by default).
    public func call<T: Sendable>(host: String, port: Int, expecting expected: ExpectedPeer, replyWithin reply: Duration? = nil,
                                  isolation: isolated (any Actor)? = #isolation,
                                  _ body: (ClientExchange) async throws -> T) async throws -> T {
        let deadlines = reply.map { self.deadlines.replying(within: $0) } ?? self.deadlines
        let clock = ClientClock(deadlines)
        let channel: NIOAsyncChannel<Frame, Frame>
        let record: PeerRecord
        let handshake: EventLoopFuture<Void>
        do {
            (channel, record, handshake) = try await ClientBootstrap(group: group)
                .connectTimeout(.nanoseconds(clock.limit(deadlines.connect).nanoseconds))
                .channelOption(.tcpOption(.tcp_nodelay), value: 1)
                .connect(host: host, port: port) { channel in
                    channel.eventLoop.makeCompletedFuture {
                        let record = try configure(channel, expecting: expected)
                        let waiter = HandshakeWaiter(eventLoop: channel.eventLoop)
                        try channel.pipeline.syncOperations.addHandler(waiter)
                        return (try NIOAsyncChannel<Frame, Frame>(wrappingChannelSynchronously: channel), record, waiter.done.futureResult)
                    }
                }
        } catch {
            throw WireError(Self.connecting(error, limit: clock.reported(deadlines.connect)))
        }
        return try await channel.executeThenClose(isolation: isolation) { inbound, outbound in
            let exchange = ClientExchange(channel: channel.channel, inbound: inbound, outbound: outbound, record: record, clock: clock)
            try await exchange.within(deadlines.handshake) { try await handshake.get() }
            return try await body(exchange)
        }
    }

    /// Why a connection could not be made (`limit`: the deadline it had).
    public static func connecting(_ error: Error, limit: Duration) -> Reason {
        if let io = error as? IOError, io.errnoCode == ECONNREFUSED { return Reason("net.refused") }
        if let c = error as? NIOConnectionError {
            if c.connectionErrors.contains(where: { ($0.error as? IOError)?.errnoCode == ECONNREFUSED }) { return Reason("net.refused") }
            if let first = c.connectionErrors.first { return Reason("net.error", ["detail": "\(first.error)"]) }
        }
        if let channelError = error as? ChannelError, case .connectTimeout = channelError {
            return Reason("net.timeout", ["seconds": limit.secondsText])
        }
        return Reason("net.error", ["detail": "\(error)"])
    }

    /// Why a connection failed after it was made: the verification's refusal
    /// (the certificate names another peer), a peer that refused ours (a TLS
    /// alert), a frame error, or the network.
    public static func reason(_ error: Error, record: PeerRecord?) -> Reason {
        if let refusal = record?.refusal {
            // A chain that is not the school CA's is a failed handshake, as with any TLS failure.
            if refusal.code == "auth.bad-certificate" {
                return Reason("tls.handshake", ["detail": refusal.params["detail"] ?? "certificate refused"])
            }
            return refusal
        }
        if let wire = error as? WireError { return wire.reason }
        if let tls = TLSFailure.reason(error) { return tls.reason }
        if let channelError = error as? ChannelError, channelError == .ioOnClosedChannel || channelError == .alreadyClosed {
            return Reason("net.closed")
        }
        return Reason("net.error", ["detail": "\(error)"])
    }

    /// How a console reports a call that failed with `reason`: the peer
    /// refused us (`auth.*`), a peer that is not the one meant or that spoke
    /// garbage (`tls.wrong-*`, `protocol.*`) failed, anything else is unreachable.
    public static func status(of reason: Reason) -> SeatStatus {
        if reason.code.hasPrefix("auth.") { return .refused }
        if reason.code.hasPrefix("tls.wrong-") || reason.code.hasPrefix("protocol.") { return .failed }
        return .unreachable
    }
}

/// One open connection of a ``ClientTransport`` call: writes frames and reads
/// answers, each within the reply deadline. A wait that passes its deadline
/// closes the connection and throws `net.timeout`.
public final class ClientExchange {
    let channel: Channel
    var responses: NIOAsyncChannelInboundStream<Frame>.AsyncIterator
    let outbound: NIOAsyncChannelOutboundWriter<Frame>
    let record: PeerRecord
    let clock: ClientClock

    init(channel: Channel, inbound: NIOAsyncChannelInboundStream<Frame>, outbound: NIOAsyncChannelOutboundWriter<Frame>,
         record: PeerRecord, clock: ClientClock) {
        self.channel = channel
        self.responses = inbound.makeAsyncIterator()
        self.outbound = outbound
        self.record = record
        self.clock = clock
    }

    /// The peer, as the TLS verification accepted it.
    public var peer: VerifiedPeer? { record.peer }

    /// Whether the connection is still open (a peer that went away while idle).
    public var isActive: Bool { channel.isActive }

    /// Sends one frame.
    public func send(_ frame: Frame) async throws {
        do { try await outbound.write(frame) } catch { throw WireError(ClientTransport.reason(error, record: record)) }
    }

    /// The next frame, within the reply deadline; `net.closed` when the peer closes.
    public func next() async throws -> Frame {
        let frame = try await within(clock.deadlines.reply) { () async throws -> Frame? in
            var responses = self.responses
            defer { self.responses = responses }
            return try await responses.next()
        }
        guard let frame else { throw WireError("net.closed") }
        return frame
    }

    /// The next frame with no deadline (a connection kept open between
    /// requests, whose requests have deadlines of their own); nil when the peer closes.
    public func nextFrame(isolation: isolated (any Actor)? = #isolation) async throws -> Frame? {
        do {
            return try await responses.next(isolation: isolation)
        } catch {
            throw WireError(ClientTransport.reason(error, record: record))
        }
    }

    /// Writes a frame at once, from anywhere, without waiting (no task per write).
    public var writeNow: @Sendable (Frame) -> Void {
        let channel = self.channel
        return { channel.writeAndFlush($0, promise: nil) }
    }

    /// Closes the connection, from anywhere: a pending ``nextFrame()`` ends.
    public var closer: @Sendable () -> Void {
        let channel = self.channel
        return { channel.close(promise: nil) }
    }

    /// Sends `request` and reads the answer's header (and the whole frame).
    public func ask(_ request: Request, body: [UInt8] = []) async throws -> (Response, Frame) {
        try await send(.request(request, body: body))
        let frame = try await next()
        return (try frame.decodeHeader(Response.self), frame)
    }

    /// Runs `wait` with `step` as its deadline (or what is left of the total):
    /// past it, the connection is closed and the wait ends with `net.timeout`.
    func within<T>(_ step: Duration, _ wait: () async throws -> T) async throws -> T {
        let limit = clock.limit(step)
        let reported = clock.reported(step)
        let fired = NIOLockedValueBox(false)
        let channel = self.channel
        let timer = channel.eventLoop.scheduleTask(in: .nanoseconds(limit.nanoseconds)) {
            fired.withLockedValue { $0 = true }
            channel.close(promise: nil)
        }
        defer { timer.cancel() }
        do {
            let value = try await wait()
            if fired.withLockedValue({ $0 }) { throw WireError("net.timeout", ["seconds": reported.secondsText]) }
            return value
        } catch let error as WireError where error.reason.code == "net.timeout" {
            throw error
        } catch {
            if fired.withLockedValue({ $0 }) { throw WireError("net.timeout", ["seconds": reported.secondsText]) }
            throw WireError(ClientTransport.reason(error, record: record))
        }
    }
}

/// The deadlines of one call, measured from its start.
struct ClientClock: Sendable {
    let deadlines: ClientDeadlines
    let start = ContinuousClock.now

    init(_ deadlines: ClientDeadlines) { self.deadlines = deadlines }

    /// How long a step may take now: its own deadline, or what is left of the total.
    func limit(_ step: Duration) -> Duration {
        guard let total = deadlines.total else { return step }
        return max(.zero, min(step, total - (ContinuousClock.now - start)))
    }

    /// The deadline a timeout names: the total when there is one (what the person set).
    func reported(_ step: Duration) -> Duration { deadlines.total ?? step }
}

/// Completes when the TLS handshake is done (or fails with the channel).
final class HandshakeWaiter: ChannelInboundHandler, Sendable {
    typealias InboundIn = NIOAny
    let done: EventLoopPromise<Void>

    init(eventLoop: EventLoop) { done = eventLoop.makePromise() }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if case TLSUserEvent.handshakeCompleted = event { done.succeed(()) }
        context.fireUserInboundEventTriggered(event)
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        done.fail(error)
        context.fireErrorCaught(error)
    }

    func channelInactive(context: ChannelHandlerContext) {
        done.fail(ChannelError.ioOnClosedChannel)
        context.fireChannelInactive()
    }

    /// A connection that fails before it is active never calls channelInactive:
    /// the promise must still complete (completing it twice does nothing).
    func handlerRemoved(context: ChannelHandlerContext) {
        done.fail(ChannelError.ioOnClosedChannel)
    }
}

extension Duration {
    /// The whole duration in nanoseconds.
    public var nanoseconds: Int64 {
        let (s, a) = components
        return s * 1_000_000_000 + a / 1_000_000_000
    }
    /// The whole duration in milliseconds.
    public var milliseconds: Int64 { nanoseconds / 1_000_000 }
    /// Seconds as a person reads them: "5", "2.5".
    public var secondsText: String {
        let ms = milliseconds
        return ms % 1000 == 0 ? String(ms / 1000) : String(format: "%.1f", Double(ms) / 1000)
    }
}

/// The console's side of a connection's streams, in its event loop: from the
/// moment a seat accepts a stream (an `ok` to a request that opens one) until
/// the last one ends, a heartbeat goes out every ``StreamMessage/heartbeatInterval``.
/// Kept in the pipeline, not in the caller's tasks, so that a seat keeps hearing
/// from a console whose own tasks are slow to run; and never before a seat
/// accepted a stream, so that a seat that knows none never receives a stream frame.
final class StreamHeartbeat: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = Frame
    typealias InboundOut = Frame
    typealias OutboundIn = Frame
    typealias OutboundOut = Frame

    /// Stream-opening requests sent, not answered yet.
    private var asked: Set<UInt32> = []
    /// Streams the seat accepted and that have not ended.
    private var open: Set<UInt32> = []
    private var beat: RepeatedTask?

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        let frame = unwrapOutboundIn(data)
        if frame.kind == .request, let request = try? frame.decodeHeader(Request.self), Feature(rawValue: request.feature)?.opensStream == true {
            asked.insert(request.id)
        } else if frame.kind == .stream, let message = try? frame.decodeHeader(StreamMessage.self), message.known == .end {
            ended(message.id)
        }
        context.write(data, promise: promise)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let frame = unwrapInboundIn(data)
        if frame.kind == .response, !asked.isEmpty, let response = try? frame.decodeHeader(Response.self), asked.remove(response.id) != nil,
           response.status == .ok {
            open.insert(response.id)
            start(context)
        } else if frame.kind == .stream, let message = try? frame.decodeHeader(StreamMessage.self), message.known == .end {
            ended(message.id)
        }
        context.fireChannelRead(data)
    }

    func channelInactive(context: ChannelHandlerContext) {
        beat?.cancel()
        beat = nil
        context.fireChannelInactive()
    }

    private func start(_ context: ChannelHandlerContext) {
        guard beat == nil else { return }
        let every = TimeAmount.nanoseconds(Int64(StreamMessage.heartbeatInterval.nanoseconds))
        let channel = context.channel
        let frame = Frame.stream(StreamMessage(id: 0, event: .heartbeat))
        beat = context.eventLoop.scheduleRepeatedTask(initialDelay: every, delay: every) { _ in
            channel.writeAndFlush(frame, promise: nil)
        }
    }

    private func ended(_ id: UInt32) {
        open.remove(id)
        if open.isEmpty {
            beat?.cancel()
            beat = nil
        }
    }
}
