import Foundation
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import NIOSSL
import NIOTLS
import VigieModel
import VigiePKI

/// The largest frame a connection may send now. It starts at zero (nothing
/// before the handshake) and is raised once the peer is known: a stranger can
/// never make a listener buffer a large frame.
public final class FrameLimit: Sendable {
    private let box: NIOLockedValueBox<Int>
    public init(_ bytes: Int) { box = NIOLockedValueBox(bytes) }
    /// The limit in bytes (everything after the length prefix).
    public var bytes: Int {
        get { box.withLockedValue { $0 } }
        set { box.withLockedValue { $0 = newValue } }
    }
}

/// What a listener grants peers before and after it trusts them. Every number
/// bounds memory or descriptors that a peer could otherwise take.
public struct PeerLimits: Sendable {
    /// A connection must finish its TLS handshake (and an anonymous enrolment its
    /// one request) within this time, or it is closed.
    public var handshakeTimeout: TimeAmount
    /// Connections not yet authenticated, in total: when full, the oldest is closed
    /// to make room (a flood of idle connections cannot keep a legitimate peer out).
    public var unauthenticatedTotal: Int
    /// Connections not yet authenticated from one address: over it, refused.
    public var unauthenticatedPerAddress: Int
    /// Authenticated connections, in total and from one address: over it, refused.
    public var authenticatedTotal: Int
    public var authenticatedPerAddress: Int
    /// The largest frame of a peer that has presented no certificate (only an
    /// enrolment server reads any: a `pki.enroll` request). Zero: none.
    public var anonymousFrameLimit: Int
    /// The largest frame of an authenticated person (requests, a signed config).
    public var frameLimit: Int
    /// The largest frame of an authenticated seat (the server reads journal batches from seats).
    public var seatFrameLimit: Int

    public init(handshakeTimeout: TimeAmount, unauthenticatedTotal: Int, unauthenticatedPerAddress: Int, authenticatedTotal: Int,
                authenticatedPerAddress: Int, anonymousFrameLimit: Int, frameLimit: Int, seatFrameLimit: Int? = nil) {
        self.handshakeTimeout = handshakeTimeout
        self.unauthenticatedTotal = unauthenticatedTotal
        self.unauthenticatedPerAddress = unauthenticatedPerAddress
        self.authenticatedTotal = authenticatedTotal
        self.authenticatedPerAddress = authenticatedPerAddress
        self.anonymousFrameLimit = anonymousFrameLimit
        self.frameLimit = frameLimit
        self.seatFrameLimit = seatFrameLimit ?? frameLimit
    }

    /// A seat's agent: consoles send small requests (no bodies).
    public static let seat = PeerLimits(
        handshakeTimeout: .seconds(10), unauthenticatedTotal: 128, unauthenticatedPerAddress: 16,
        authenticatedTotal: 256, authenticatedPerAddress: 64, anonymousFrameLimit: 0, frameLimit: 256 * 1024)

    /// The school server: seats ship journal batches; anonymous peers may only enrol.
    public static let server = PeerLimits(
        handshakeTimeout: .seconds(10), unauthenticatedTotal: 256, unauthenticatedPerAddress: 16,
        authenticatedTotal: 4096, authenticatedPerAddress: 64, anonymousFrameLimit: 16 * 1024, frameLimit: 1024 * 1024,
        seatFrameLimit: 8 * 1024 * 1024)

    /// Descriptors kept for everything but peers: journal, X, helpers, outgoing connections.
    public static let reservedDescriptors = 64

    /// Descriptors a process needs for these limits, with room for files and helpers.
    public var descriptorsNeeded: Int { unauthenticatedTotal + authenticatedTotal + Self.reservedDescriptors }

    /// These limits shrunk to fit a process that may open `descriptors` files, so
    /// that peers can never use its last descriptors (a process out of them
    /// cannot read /proc, open its journal or accept its administrator).
    public func fitting(descriptors: Int) -> PeerLimits {
        guard descriptors < descriptorsNeeded else { return self }
        var fitted = self
        let room = max(8, descriptors - Self.reservedDescriptors)
        fitted.unauthenticatedTotal = max(4, min(unauthenticatedTotal, room / 3))
        fitted.authenticatedTotal = max(4, min(authenticatedTotal, room - fitted.unauthenticatedTotal))
        fitted.unauthenticatedPerAddress = min(unauthenticatedPerAddress, fitted.unauthenticatedTotal)
        fitted.authenticatedPerAddress = min(authenticatedPerAddress, fitted.authenticatedTotal)
        return fitted
    }
}

/// Counts a listener's connections and decides who may stay: the caps of
/// ``PeerLimits``, applied at accept and again once the handshake is done.
public final class PeerGate: Sendable {
    public let limits: PeerLimits

    private struct Entry {
        let channel: Channel
        let address: String
        let since: NIODeadline
        var authenticated: Bool
    }

    private struct State {
        var entries: [ObjectIdentifier: Entry] = [:]
        var unauthenticated = 0
        var authenticated = 0
        var unauthenticatedBy: [String: Int] = [:]
        var authenticatedBy: [String: Int] = [:]
        var refused = 0
        var evicted = 0

        mutating func remove(_ key: ObjectIdentifier) {
            guard let entry = entries.removeValue(forKey: key) else { return }
            if entry.authenticated {
                authenticated -= 1
                authenticatedBy[entry.address, default: 1] -= 1
                if authenticatedBy[entry.address] == 0 { authenticatedBy[entry.address] = nil }
            } else {
                unauthenticated -= 1
                unauthenticatedBy[entry.address, default: 1] -= 1
                if unauthenticatedBy[entry.address] == 0 { unauthenticatedBy[entry.address] = nil }
            }
        }
    }

    private let state = NIOLockedValueBox(State())

    public init(limits: PeerLimits) { self.limits = limits }

    /// A gate for a process that serves peers (`what`: "the agent"): raises its
    /// descriptor limit as far as it may, and shrinks `limits` to fit what it got.
    public static func fitted(_ limits: PeerLimits, for what: String, logger: Logger) -> PeerGate {
        if let warning = OpenFileLimit.raise(needed: limits.descriptorsNeeded, what: what) {
            logger.warning("\(warning); connection caps lowered to fit")
        }
        return PeerGate(limits: limits.fitting(descriptors: OpenFileLimit.current().soft))
    }

    /// Connections now, and those refused or evicted since the start.
    public struct Counts: Sendable, Equatable {
        public var unauthenticated: Int
        public var authenticated: Int
        public var refused: Int
        public var evicted: Int
    }

    public var counts: Counts {
        state.withLockedValue { Counts(unauthenticated: $0.unauthenticated, authenticated: $0.authenticated, refused: $0.refused, evicted: $0.evicted) }
    }

    /// A new connection: true when it may start its handshake. When the
    /// unauthenticated pool is full, its oldest member is closed to make room.
    public func admit(_ channel: Channel) -> Bool {
        let address = channel.remoteAddress?.ipAddress ?? "?"
        let limits = self.limits
        let (admitted, victim): (Bool, Channel?) = state.withLockedValue { s in
            if s.unauthenticatedBy[address, default: 0] >= limits.unauthenticatedPerAddress {
                s.refused += 1
                return (false, nil)
            }
            var victim: Channel?
            if s.unauthenticated >= limits.unauthenticatedTotal,
               let oldest = s.entries.filter({ !$0.value.authenticated }).min(by: { $0.value.since < $1.value.since }) {
                victim = oldest.value.channel
                s.remove(oldest.key)
                s.evicted += 1
            }
            s.entries[ObjectIdentifier(channel)] = Entry(channel: channel, address: address, since: .now(), authenticated: false)
            s.unauthenticated += 1
            s.unauthenticatedBy[address, default: 0] += 1
            return (true, victim)
        }
        victim?.close(promise: nil)
        return admitted
    }

    /// The connection's peer is authenticated: true when it may stay.
    public func authenticate(_ channel: Channel) -> Bool {
        let key = ObjectIdentifier(channel)
        let limits = self.limits
        return state.withLockedValue { s in
            guard let entry = s.entries[key], !entry.authenticated else { return s.entries[key] != nil }
            s.remove(key)
            if s.authenticated >= limits.authenticatedTotal || s.authenticatedBy[entry.address, default: 0] >= limits.authenticatedPerAddress {
                s.refused += 1
                return false
            }
            s.entries[key] = Entry(channel: channel, address: entry.address, since: entry.since, authenticated: true)
            s.authenticated += 1
            s.authenticatedBy[entry.address, default: 0] += 1
            return true
        }
    }

    /// The connection is gone.
    public func release(_ channel: Channel) {
        state.withLockedValue { $0.remove(ObjectIdentifier(channel)) }
    }
}

/// A client certificate the TLS verification accepted: who it names, its
/// serial, and its DER (the server checks journal batches against it).
public struct VerifiedPeer: Sendable {
    public let identity: Identity
    public let serial: String
    public let certificateDER: [UInt8]
}

/// The peer a connection's certificate names, once the TLS verification has
/// accepted it (set during the handshake, read afterwards): parsed once.
public final class PeerRecord: Sendable {
    private let box = NIOLockedValueBox<VerifiedPeer?>(nil)
    private let refusalBox = NIOLockedValueBox<Reason?>(nil)
    public init() {}
    public var peer: VerifiedPeer? {
        get { box.withLockedValue { $0 } }
        set { box.withLockedValue { $0 = newValue } }
    }
    /// Why the verification refused the peer's certificate, when it did (a client
    /// reports it instead of the bare TLS failure that follows).
    public var refusal: Reason? {
        get { refusalBox.withLockedValue { $0 } }
        set { refusalBox.withLockedValue { $0 = newValue } }
    }
}

/// Checks a client certificate inside the TLS handshake: the chain against the
/// school CA (swift-certificates' RFC 5280 verifier), then who it names
/// (`authorize`: school, kind, revocation). A certificate that fails never gets
/// to send a frame; the refusal is logged, and `record` hears of it (for the
/// register) at most once a minute per certificate, or per address when the
/// certificate names no one.
public struct PeerVerifier: Sendable {
    let caDER: [UInt8]
    let authorize: @Sendable (Identity, String) -> Reason?
    let refused: @Sendable (Reason, Identity?, String) -> Void

    /// - Parameters:
    ///   - caPEM: the school CA, the only root trusted.
    ///   - authorize: nil to accept the identity (with its serial), or the reason to refuse it.
    ///   - record: a refusal worth a register event: the reason (its parameters name the
    ///     peer's `address`) and the identity when the certificate could be read.
    public init(caPEM: String, logger: Logger, authorize: @escaping @Sendable (Identity, String) -> Reason?,
                record: @escaping @Sendable (Reason, Identity?) -> Void) throws {
        guard let ca = try NIOSSLCertificate.fromPEMBytes(Array(caPEM.utf8)).first else {
            throw WireError("tls.config", ["detail": "no CA certificate"])
        }
        self.caDER = try ca.toDERBytes()
        self.authorize = authorize
        let throttle = RefusalThrottle()
        self.refused = { reason, identity, address in
            logger.notice("certificate refused at the handshake", metadata: [
                "code": "\(reason.code)", "peer": "\(address)", "actor": "\(identity?.uri ?? "-")"])
            guard throttle.allow(identity?.uri ?? address) else { return }
            var params = reason.params
            params["address"] = address
            if let detail = params["detail"] { params["detail"] = String(detail.prefix(200)) }
            record(Reason(reason.code, params), identity)
        }
    }

    /// A client's check of the peer it reached (a seat, the school server): the
    /// chain against the school CA, then `authorize`. Nothing is logged or
    /// recorded here: the client reads the refusal in the connection's ``PeerRecord``.
    public init(caPEM: String, authorize: @escaping @Sendable (Identity, String) -> Reason?) throws {
        guard let ca = try NIOSSLCertificate.fromPEMBytes(Array(caPEM.utf8)).first else {
            throw WireError("tls.config", ["detail": "no CA certificate"])
        }
        self.init(caDER: try ca.toDERBytes(), authorize: authorize)
    }

    /// A client's check, with the CA already in DER.
    init(caDER: [UInt8], authorize: @escaping @Sendable (Identity, String) -> Reason?) {
        self.caDER = caDER
        self.authorize = authorize
        self.refused = { _, _, _ in }
    }

    /// The NIOSSL callback for one connection, recording the accepted peer (or
    /// the reason it was refused) in `record`.
    public func callback(record: PeerRecord, address: String) -> NIOSSLCustomVerificationCallback {
        let caDER = self.caDER, authorize = self.authorize
        let refused: @Sendable (Reason, Identity?, String) -> Void = { reason, identity, address in
            record.refusal = reason
            self.refused(reason, identity, address)
        }
        return { certificates, promise in
            guard let leaf = certificates.first, let der = try? leaf.toDERBytes() else {
                refused(Reason("auth.bad-certificate", ["detail": "no certificate"]), nil, address)
                promise.succeed(.failed)
                return
            }
            promise.completeWithTask {
                if case .invalid(let why) = await CertificateChecker.verify(leafDER: der, caDER: caDER) {
                    refused(Reason("auth.bad-certificate", ["detail": why]), nil, address)
                    return .failed
                }
                let parsed: (identity: Identity, serialHex: String)
                do {
                    let p = try CertificateIdentity.parse(der: der)
                    parsed = (p.identity, p.serialHex)
                } catch {
                    refused(Reason("auth.bad-certificate", ["detail": "\(error)"]), nil, address)
                    return .failed
                }
                if let why = authorize(parsed.identity, parsed.serialHex) {
                    refused(why, parsed.identity, address)
                    return .failed
                }
                record.peer = VerifiedPeer(identity: parsed.identity, serial: parsed.serialHex, certificateDER: der)
                return .certificateVerified
            }
        }
    }
}

/// Per connection: the handshake deadline, the caps after the handshake, the
/// frame limit once the peer is known, and the release when it closes.
// Touched only on its channel's event loop (NIO handler rules); Sendable so that
// `GuardedListener.peer(of:)` can fetch its record from an async context.
final class GateHandler: ChannelInboundHandler, @unchecked Sendable {
    typealias InboundIn = NIOAny
    let gate: PeerGate
    let record: PeerRecord
    let limit: FrameLimit
    private var deadline: Scheduled<Void>?

    init(gate: PeerGate, record: PeerRecord, limit: FrameLimit) {
        self.gate = gate
        self.record = record
        self.limit = limit
    }

    func handlerAdded(context: ChannelHandlerContext) {
        if context.channel.isActive { arm(context) }
    }

    func channelActive(context: ChannelHandlerContext) {
        arm(context)
        context.fireChannelActive()
    }

    private func arm(_ context: ChannelHandlerContext) {
        guard deadline == nil else { return }
        let channel = context.channel
        deadline = context.eventLoop.scheduleTask(in: gate.limits.handshakeTimeout) { channel.close(promise: nil) }
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if case TLSUserEvent.handshakeCompleted = event {
            if record.peer != nil {
                deadline?.cancel()
                guard gate.authenticate(context.channel) else {
                    context.close(promise: nil)
                    return
                }
                if case .seat = record.peer?.identity.kind {
                    limit.bytes = gate.limits.seatFrameLimit
                } else {
                    limit.bytes = gate.limits.frameLimit
                }
            } else {
                // No certificate (an enrolment server only): one small request, within the deadline.
                guard gate.limits.anonymousFrameLimit > 0 else {
                    context.close(promise: nil)
                    return
                }
                limit.bytes = gate.limits.anonymousFrameLimit
            }
        }
        context.fireUserInboundEventTriggered(event)
    }

    func channelInactive(context: ChannelHandlerContext) {
        deadline?.cancel()
        gate.release(context.channel)
        context.fireChannelInactive()
    }
}

/// Closes a connection whose certificate the verification refused without a
/// TCP reset: the peer learns why (the TLS alert) instead of "connection reset".
///
/// In TLS 1.3 the client's handshake is over before the server checks its
/// certificate, so a console has often sent its first request by then. Closing
/// a socket with unread bytes makes the kernel send a reset, which can overtake
/// the alert on its way. Instead, when NIOSSL closes after its alert: the output
/// is shut (the alert is already written), what comes in is read and dropped,
/// and the socket is closed once the peer has closed its side, or after
/// ``linger`` at most. Other closes go through at once. At the head of the pipeline.
final class LingerOnRefusal: ChannelDuplexHandler, @unchecked Sendable {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    static let linger = TimeAmount.milliseconds(500)
    let record: PeerRecord
    private var lingering = false

    init(record: PeerRecord) { self.record = record }

    func close(context: ChannelHandlerContext, mode: CloseMode, promise: EventLoopPromise<Void>?) {
        guard mode == .all, record.refusal != nil, !lingering, context.channel.isActive else {
            return context.close(mode: mode, promise: promise)
        }
        lingering = true
        let channel = context.channel
        context.close(mode: .output, promise: nil)
        context.eventLoop.scheduleTask(in: Self.linger) { channel.close(promise: nil) }
        // Whoever asked for the close learns it once it is done.
        if let promise { channel.closeFuture.cascade(to: promise) }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        // Closing: what the refused peer still sends is dropped.
        if lingering { return }
        context.fireChannelRead(data)
    }
}

/// A framed mutual-TLS listener that bounds its peers before trusting them:
/// the certificate is checked inside the handshake (``PeerVerifier``), the
/// connection counts and the handshake deadline by a ``PeerGate``, and the frame
/// size grows only once the peer is known. Used by the agent, the simulated
/// seats and the school server.
public enum GuardedListener {
    /// The kernel's send buffer of each accepted connection, in bytes (Linux
    /// doubles it for its bookkeeping). Fixed rather than autotuned (which grows
    /// to 4 MiB): what a peer that does not read leaves waiting in the kernel
    /// stays small, and a stream's next picture is never a minute old. Plenty on
    /// a school's network: 128 KiB per round trip is 250 MB/s at 0.5 ms.
    public static let sendBuffer = 128 * 1024

    /// Binds `host:port`; each accepted connection is a framed channel whose
    /// peer, when it presented a certificate, is in ``peer(of:)``.
    public static func bind(
        host: String, port: Int, backlog: Int = 256, tls: NIOSSLContext, gate: PeerGate, verifier: PeerVerifier,
        group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton
    ) async throws -> NIOAsyncChannel<NIOAsyncChannel<Frame, Frame>, Never> {
        try await ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: Int32(backlog))
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.tcpOption(.tcp_nodelay), value: 1)
            .childChannelOption(.socketOption(.so_sndbuf), value: SocketOptionValue(sendBuffer))
            .bind(host: host, port: port) { channel in
                channel.eventLoop.makeCompletedFuture {
                    let admitted = gate.admit(channel)
                    let record = PeerRecord()
                    let limit = FrameLimit(0)
                    let address = channel.remoteAddress?.ipAddress ?? "?"
                    let sync = channel.pipeline.syncOperations
                    try sync.addHandler(LingerOnRefusal(record: record))
                    try sync.addHandler(NIOSSLServerHandler(context: tls, customVerificationCallback: verifier.callback(record: record, address: address)))
                    try sync.addHandler(GateHandler(gate: gate, record: record, limit: limit))
                    try sync.addHandler(ByteToMessageHandler(FrameDecoder(limit: limit)))
                    try sync.addHandler(MessageToByteHandler(FrameEncoder()))
                    if !admitted { channel.close(promise: nil) }
                    // Deinit-based teardown on purpose: a connection accepted while the listener
                    // closes (graceful shutdown) may never reach the accept loop; it must then be
                    // closed when dropped, not trap ("Deinited NIOAsyncWriter without calling finish()").
                    return try NIOAsyncChannel<Frame, Frame>(synchronouslyWrapping: channel)
                }
            }
    }

    /// The peer the TLS verification accepted on `channel`, if it presented a certificate.
    public static func peer(of channel: Channel) async -> VerifiedPeer? {
        let handler = try? await channel.pipeline.handler(type: GateHandler.self).get()
        return handler?.record.peer
    }
}

/// How a client puts a TLS failure into words: a peer that refused our
/// certificate (a TLS alert, which TLS 1.3 delivers after the client's side of
/// the handshake) refused us; any other TLS failure is an unreachable peer.
public enum TLSFailure {
    /// Nil when `error` is not a TLS error.
    public static func reason(_ error: Error) -> (status: SeatStatus, reason: Reason)? {
        guard error is NIOSSLError || error is BoringSSLError else { return nil }
        let text = "\(error)"
        for alert in ["ALERT_CERTIFICATE_UNKNOWN", "ALERT_BAD_CERTIFICATE", "ALERT_CERTIFICATE_REVOKED", "ALERT_UNKNOWN_CA", "ALERT_ACCESS_DENIED"]
        where text.contains(alert) {
            return (.refused, Reason("auth.certificate-refused", ["detail": text]))
        }
        return (.unreachable, Reason("tls.handshake", ["detail": text]))
    }
}

/// Lets one event through per key and minute: a refused certificate that
/// retries in a loop is recorded once a minute, not once per attempt.
public final class RefusalThrottle: Sendable {
    private let last = NIOLockedValueBox<[String: Date]>([:])

    public init() {}

    /// True when `key` was not let through in the last minute.
    public func allow(_ key: String, now: Date = Date()) -> Bool {
        last.withLockedValue { seen in
            if let previous = seen[key], now.timeIntervalSince(previous) < 60 { return false }
            if seen.count > 10_000 { seen = seen.filter { now.timeIntervalSince($0.value) < 60 } }
            seen[key] = now
            return true
        }
    }
}
