import Foundation
import NIOCore
import NIOPosix
import NIOSSL
import NIOTLS
import VigieModel
import VigiePKI
import VigieWire

/// One seat's answer as the console reports it.
public struct SeatResult: Sendable {
    public var seat: Seat
    public var status: SeatStatus
    public var reason: Reason
    /// The response body (a PNG for screenshots), empty otherwise.
    public var body: [UInt8]
    /// Time from the start of the fan-out to this answer.
    public var elapsed: Duration

    public init(seat: Seat, status: SeatStatus, reason: Reason, body: [UInt8] = [], elapsed: Duration = .zero) {
        self.seat = seat
        self.status = status
        self.reason = reason
        self.body = body
        self.elapsed = elapsed
    }
}

/// Sends one request to many seats at once, each over its own mutual-TLS
/// connection, and reports every seat's answer as it arrives. A seat that is
/// down or hangs costs the deadline, never a hang of the whole command.
public final class FanOut: Sendable {
    let group: any EventLoopGroup
    let tls: NIOSSLContext
    let schoolID: String

    public init(identity: IdentityBundle, schoolID: String, group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton) throws {
        self.group = group
        self.schoolID = schoolID
        self.tls = try VigieTLS.clientContext(identity.tlsMaterial)
    }

    /// Sends `feature` with `args` to every seat; results arrive in the order seats answer.
    public func send(
        _ feature: Feature, args: [String: String] = [:], to seats: [Seat], timeout: Duration
    ) -> AsyncStream<SeatResult> {
        let (stream, continuation) = AsyncStream<SeatResult>.makeStream(bufferingPolicy: .unbounded)
        let start = ContinuousClock.now
        let remaining = ManagedAtomicCounter(seats.count)
        if seats.isEmpty { continuation.finish() }
        for (index, seat) in seats.enumerated() {
            let request = Request(id: UInt32(index + 1), feature: feature.rawValue, args: args, deadlineMillis: UInt32(timeout.milliseconds))
            one(request, to: seat, timeout: timeout).whenSuccess { result in
                var result = result
                result.elapsed = ContinuousClock.now - start
                continuation.yield(result)
                if remaining.decrement() == 0 { continuation.finish() }
            }
        }
        return stream
    }

    /// One seat: connect, handshake, check the seat's certificate, send, wait.
    /// Never fails: every problem becomes a ``SeatResult``.
    func one(_ request: Request, to seat: Seat, timeout: Duration) -> EventLoopFuture<SeatResult> {
        let loop = group.next()
        let promise = loop.makePromise(of: SeatResult.self)
        let handler = SeatRequestHandler(seat: seat, schoolID: schoolID, request: request, promise: promise)
        let tls = self.tls
        let connect = ClientBootstrap(group: loop)
            .connectTimeout(.nanoseconds(Int64(timeout.nanoseconds)))
            .channelOption(.tcpOption(.tcp_nodelay), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(try NIOSSLClientHandler(context: tls, serverHostname: nil))
                    try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(FrameDecoder()))
                    try channel.pipeline.syncOperations.addHandler(MessageToByteHandler(FrameEncoder()))
                    try channel.pipeline.syncOperations.addHandler(handler)
                }
            }
            .connect(host: seat.host, port: seat.port)
        connect.whenFailure { error in
            promise.succeed(SeatResult(seat: seat, status: .unreachable, reason: Self.reason(connecting: error, timeout: timeout)))
        }
        let deadline = loop.scheduleTask(in: .nanoseconds(Int64(timeout.nanoseconds))) {
            promise.succeed(SeatResult(seat: seat, status: .unreachable, reason: Reason("net.timeout", ["seconds": timeout.secondsText])))
        }
        promise.futureResult.whenComplete { _ in
            deadline.cancel()
            connect.whenSuccess { $0.close(promise: nil) }
        }
        return promise.futureResult
    }

    static func reason(connecting error: Error, timeout: Duration) -> Reason {
        if let io = error as? IOError, io.errnoCode == ECONNREFUSED { return Reason("net.refused") }
        if let c = error as? NIOConnectionError {
            if c.connectionErrors.contains(where: { ($0.error as? IOError)?.errnoCode == ECONNREFUSED }) { return Reason("net.refused") }
            if let first = c.connectionErrors.first { return Reason("net.error", ["detail": "\(first.error)"]) }
        }
        if error is ChannelError, case .connectTimeout = error as! ChannelError {
            return Reason("net.timeout", ["seconds": timeout.secondsText])
        }
        return Reason("net.error", ["detail": "\(error)"])
    }
}

/// Drives one request on one connection; completes its promise exactly once.
final class SeatRequestHandler: ChannelInboundHandler, @unchecked Sendable {
    typealias InboundIn = Frame
    typealias OutboundOut = Frame

    let seat: Seat
    let schoolID: String
    let request: Request
    let promise: EventLoopPromise<SeatResult>

    init(seat: Seat, schoolID: String, request: Request, promise: EventLoopPromise<SeatResult>) {
        self.seat = seat
        self.schoolID = schoolID
        self.request = request
        self.promise = promise
    }

    func complete(_ status: SeatStatus, _ reason: Reason, body: [UInt8] = [], context: ChannelHandlerContext) {
        promise.succeed(SeatResult(seat: seat, status: status, reason: reason, body: body))
        context.close(promise: nil)
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        guard case TLSUserEvent.handshakeCompleted = event else {
            context.fireUserInboundEventTriggered(event)
            return
        }
        // The chain was verified against the school CA; now make sure the
        // certificate names the seat we meant to reach.
        do {
            guard let certificate = try context.pipeline.syncOperations.handler(type: NIOSSLClientHandler.self).peerCertificate else {
                return complete(.failed, Reason("tls.wrong-seat", ["got": "?", "expected": seat.id]), context: context)
            }
            let parsed = try CertificateIdentity.parse(der: try certificate.toDERBytes())
            guard parsed.identity.seatID == seat.id, parsed.identity.schoolID == schoolID else {
                return complete(.failed, Reason("tls.wrong-seat", ["got": parsed.identity.uri, "expected": seat.id]), context: context)
            }
        } catch {
            return complete(.failed, Reason("tls.wrong-seat", ["got": "\(error)", "expected": seat.id]), context: context)
        }
        context.writeAndFlush(wrapOutboundOut(.request(request)), promise: nil)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let frame = unwrapInboundIn(data)
        do {
            let response = try frame.decodeHeader(Response.self)
            complete(response.status, response.reason, body: frame.body, context: context)
        } catch let error as WireError {
            complete(.failed, error.reason, context: context)
        } catch {
            complete(.failed, Reason("protocol.malformed", ["detail": "\(error)"]), context: context)
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        if let wire = error as? WireError {
            complete(.failed, wire.reason, context: context)
        } else if let failure = TLSFailure.reason(error) {
            complete(failure.status, failure.reason, context: context)
        } else {
            complete(.unreachable, Reason("net.error", ["detail": "\(error)"]), context: context)
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        promise.succeed(SeatResult(seat: seat, status: .unreachable, reason: Reason("net.closed")))
        context.fireChannelInactive()
    }
}

/// A tiny thread-safe countdown.
final class ManagedAtomicCounter: @unchecked Sendable {
    private var value: Int
    private let lock = NSLock()
    init(_ value: Int) { self.value = value }
    func decrement() -> Int {
        lock.lock()
        defer { lock.unlock() }
        value -= 1
        return value
    }
}

extension Duration {
    var nanoseconds: Int64 {
        let (s, a) = components
        return s * 1_000_000_000 + a / 1_000_000_000
    }
    var milliseconds: Int64 { nanoseconds / 1_000_000 }
    var secondsText: String {
        let ms = milliseconds
        return ms % 1000 == 0 ? String(ms / 1000) : String(format: "%.1f", Double(ms) / 1000)
    }
}
