import Foundation
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import NIOTLS
import VigieModel
import VigiePKI
import VigieWire

/// Sends one request to many seats and reports each answer as it arrives: the
/// one-shot ``FanOut`` (a connection per seat per command) or a ``ConsoleSession``
/// (connections kept open).
public protocol SeatSender: Sendable {
    /// Sends `feature` with `args` to every seat; results arrive in the order seats answer.
    func send(_ feature: Feature, args: [String: String], to seats: [Seat], timeout: Duration) -> AsyncStream<SeatResult>
}

extension FanOut: SeatSender {}

/// What a console knows about one seat of its session.
public struct SeatLinkState: Sendable {
    /// The state of the seat's connection.
    public enum Connection: Sendable, Equatable {
        /// Not connected yet (first attempt running).
        case connecting
        /// Connected, TLS done, the certificate names the seat.
        case online
        /// Down or unreachable; retried with backoff.
        case offline(Reason)
        /// Reached, but the TLS handshake failed or the certificate names another seat.
        case rejected(Reason)
    }

    public var seat: Seat
    public var connection: Connection
    /// Whether the seat is locked, from its last answer; nil until a `status`, `lock` or `unlock`.
    public var locked: Bool?
    /// Who locked it, when the seat said.
    public var lockedBy: String?
    /// The reason of the last refusal (policy) from this seat, cleared by an `ok`.
    public var refusal: Reason?
}

/// A change of a seat's connection that a console shows as it happens.
public struct SeatLinkEvent: Sendable {
    public var seat: Seat
    public var connection: SeatLinkState.Connection
}

/// A teacher's session: one mutual-TLS connection per seat, kept open between
/// commands, several requests in flight on each (the agent answers them in order).
///
/// - A seat that is down is retried with exponential backoff (`backoffBase` up to
///   `backoffCap`); a command to an offline seat tries at once.
/// - The agent closes a connection idle for 30 s; the session recycles it a little
///   before (`recycleAfter`): closes and reconnects, so no request races the
///   agent's close and nothing is sent just to keep it open (every request is journaled).
/// - A connection that drops with a request in flight retries that request once on a
///   new connection when the feature is idempotent (status, lock, unlock, screenshots);
///   the others answer `unreachable  net.closed`, as a one-shot command would.
public final class ConsoleSession: SeatSender, @unchecked Sendable {
    /// Timings of the session.
    public struct Options: Sendable {
        public var recycleAfter: Duration = .seconds(25)
        public var backoffBase: Duration = .milliseconds(250)
        public var backoffCap: Duration = .seconds(5)
        /// The TCP connection and, separately, the TLS handshake (a link whose handshake
        /// outlasts it is closed and retried, unless a request still waits for it).
        public var connectTimeout: Duration = .seconds(5)
        public init() {}
    }

    let group: any EventLoopGroup
    let transport: ClientTransport
    let schoolID: String
    let options: Options
    let onEvent: @Sendable (SeatLinkEvent) -> Void
    private let lock = NSLock()
    private var links: [String: SeatLink] = [:]
    private var nextID: UInt32 = 0

    /// - Parameter onEvent: called (on an event loop) when a seat goes online, offline or is rejected.
    public init(
        identity: IdentityBundle, schoolID: String, group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
        options: Options = Options(), onEvent: @escaping @Sendable (SeatLinkEvent) -> Void = { _ in }
    ) throws {
        self.group = group
        self.schoolID = schoolID
        self.options = options
        self.onEvent = onEvent
        // Requests have their own deadlines (the console's); connecting and the handshake have the session's.
        self.transport = try ClientTransport(
            identity: identity,
            deadlines: ClientDeadlines(connect: options.connectTimeout, handshake: options.connectTimeout, reply: options.connectTimeout),
            group: group)
    }

    /// Keeps connections to exactly these seats: opens the new ones, closes the others.
    public func retain(_ seats: [Seat]) {
        let wanted = Set(seats.map(\.id))
        var started: [SeatLink] = []
        var dropped: [SeatLink] = []
        lock.withLock {
            for seat in seats where links[seat.id] == nil {
                let link = SeatLink(seat: seat, loop: group.next(), session: self)
                links[seat.id] = link
                started.append(link)
            }
            for (id, link) in links where !wanted.contains(id) {
                links[id] = nil
                dropped.append(link)
            }
        }
        for link in started { link.loop.execute { link.connect() } }
        for link in dropped { link.loop.execute { link.stop() } }
    }

    func link(for seat: Seat) -> SeatLink {
        let (link, isNew): (SeatLink, Bool) = lock.withLock {
            if let link = links[seat.id] { return (link, false) }
            let link = SeatLink(seat: seat, loop: group.next(), session: self)
            links[seat.id] = link
            return (link, true)
        }
        if isNew { link.loop.execute { link.connect() } }
        return link
    }

    /// Sends over the open connections (opening those that are missing).
    public func send(_ feature: Feature, args: [String: String] = [:], to seats: [Seat], timeout: Duration) -> AsyncStream<SeatResult> {
        let (stream, continuation) = AsyncStream<SeatResult>.makeStream(bufferingPolicy: .unbounded)
        guard !seats.isEmpty else {
            continuation.finish()
            return stream
        }
        let id: UInt32 = lock.withLock {
            nextID = nextID == UInt32.max ? 1 : nextID + 1
            return nextID
        }
        // One request, encoded once, for every seat.
        let frame = Frame.request(Request(id: id, feature: feature.rawValue, args: args, deadlineMillis: UInt32(timeout.milliseconds)))
        let start = ContinuousClock.now
        let remaining = NIOLockedValueBox(seats.count)
        for seat in seats {
            let link = link(for: seat)
            link.loop.execute {
                link.enqueue(id: id, feature: feature, frame: frame, timeout: timeout).whenSuccess { result in
                    var result = result
                    result.elapsed = ContinuousClock.now - start
                    continuation.yield(result)
                    if remaining.withLockedValue({ $0 -= 1; return $0 }) == 0 { continuation.finish() }
                }
            }
        }
        return stream
    }

    /// Every seat of the session, in the order given to ``retain(_:)`` (then the others).
    public func states() async -> [SeatLinkState] {
        let all = lock.withLock { Array(links.values) }
        var out: [SeatLinkState] = []
        for link in all {
            out.append(try! await link.loop.submit { link.state }.get())
        }
        return out
    }

    /// Waits until no seat is still on its first connection attempt, or `timeout`.
    public func settle(timeout: Duration) async {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if await !states().contains(where: { $0.connection == .connecting }) { return }
            try? await Task.sleep(for: .milliseconds(20))
        }
    }

    /// Closes every connection; pending requests answer `net.closed`.
    public func close() async {
        let all = lock.withLock {
            let all = Array(links.values)
            links = [:]
            return all
        }
        for link in all {
            try? await link.loop.submit { link.stop() }.get()
        }
        for link in all {
            try? await link.closed.futureResult.get()
        }
    }
}

/// One seat's persistent connection. Every method runs on `loop`.
final class SeatLink: @unchecked Sendable {
    struct Pending {
        var id: UInt32
        var feature: Feature
        var frame: Frame
        var promise: EventLoopPromise<SeatResult>
        var deadline: Scheduled<Void>?
        var retried: Bool
    }

    enum Phase { case idle, connecting, online, recycling, down, stopped }

    let seat: Seat
    let loop: any EventLoop
    /// Strong: the session drops its links in ``ConsoleSession/close()``.
    let session: ConsoleSession
    var phase = Phase.idle
    var channel: Channel?
    /// Sent, waiting for their answers (by request id).
    var inFlight: [UInt32: Pending] = [:]
    /// Waiting for a connection.
    var waiting: [Pending] = []
    var failures = 0
    var retry: Scheduled<Void>?
    var idle: Scheduled<Void>?
    var lastError: Reason?
    var state: SeatLinkState
    /// Completes when the link is stopped and its channel closed.
    let closed: EventLoopPromise<Void>

    init(seat: Seat, loop: any EventLoop, session: ConsoleSession) {
        self.seat = seat
        self.loop = loop
        self.session = session
        self.state = SeatLinkState(seat: seat, connection: .connecting)
        self.closed = loop.makePromise()
    }

    // MARK: Connecting

    func connect() {
        guard phase == .idle || phase == .down || phase == .recycling else { return }
        phase = .connecting
        retry?.cancel()
        retry = nil
        lastError = nil
        let transport = session.transport
        let expected = ExpectedPeer.seat(id: seat.id, school: session.schoolID)
        let timeout = transport.deadlines.connect
        ClientBootstrap(group: loop)
            .connectTimeout(.nanoseconds(timeout.nanoseconds))
            .channelOption(.tcpOption(.tcp_nodelay), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    // The seat is checked inside the TLS verification: a wrong seat fails the handshake.
                    let record = try transport.configure(channel, expecting: expected)
                    try channel.pipeline.syncOperations.addHandler(SeatLinkHandler(link: self, record: record))
                }
            }
            .connect(host: seat.host, port: seat.port)
            .whenComplete { result in
                switch result {
                case .success(let channel):
                    if self.phase == .stopped {
                        channel.close(promise: nil)
                    } else {
                        self.channel = channel
                        self.armHandshakeDeadline(channel)
                    }
                case .failure(let error):
                    self.connectFailed(ClientTransport.connecting(error, limit: timeout), rejected: false)
                }
            }
    }

    /// A seat that accepts the connection but never completes the handshake is
    /// closed after the handshake deadline, and retried like one that is down.
    /// Not while a request still waits for it: a loaded room may take longer to
    /// handshake than the deadline, and the request has a deadline of its own.
    private func armHandshakeDeadline(_ channel: Channel) {
        let limit = session.transport.deadlines.handshake
        loop.scheduleTask(in: .nanoseconds(limit.nanoseconds)) {
            guard self.phase == .connecting, self.channel === channel else { return }
            guard self.waiting.isEmpty else { return self.armHandshakeDeadline(channel) }
            self.lastError = Reason("net.timeout", ["seconds": limit.secondsText])
            channel.close(promise: nil)
        }
    }

    /// TLS done and the certificate names our seat.
    func ready(_ channel: Channel) {
        guard phase == .connecting else { return }
        self.channel = channel
        phase = .online
        failures = 0
        publish(.online)
        let queued = waiting
        waiting = []
        for pending in queued { write(pending, on: channel) }
        if !queued.isEmpty { channel.flush() }
        armIdle()
    }

    func connectFailed(_ reason: Reason, rejected: Bool) {
        guard phase == .connecting else { return }
        channel = nil
        phase = .down
        publish(rejected ? .rejected(reason) : .offline(reason))
        let status: SeatStatus = reason.code.hasPrefix("auth.") ? .refused : rejected ? .failed : .unreachable
        for pending in waiting { finish(pending, SeatResult(seat: seat, status: status, reason: reason)) }
        waiting = []
        // Exponential backoff with ±20 % jitter, so that a room's seats do not retry in step.
        let base = Double(session.options.backoffBase.nanoseconds) * pow(2, Double(min(failures, 20)))
        let delay = min(base, Double(session.options.backoffCap.nanoseconds)) * Double.random(in: 0.8...1.2)
        failures += 1
        retry = loop.scheduleTask(in: .nanoseconds(Int64(delay))) { self.connect() }
    }

    /// The channel closed (agent stopped, idle recycle, TLS failure, our own close).
    func inactive(_ channel: Channel) {
        guard self.channel === channel || phase == .connecting else { return }
        self.channel = nil
        idle?.cancel()
        switch phase {
        case .connecting:
            connectFailed(lastError ?? Reason("net.closed"), rejected: lastError.map { $0.code.hasPrefix("tls.") || $0.code.hasPrefix("auth.") } ?? false)
        case .recycling:
            connect()
        case .online:
            // In flight when the seat went away: idempotent requests go again once.
            for (_, pending) in inFlight {
                if !pending.retried && pending.feature.isIdempotent {
                    var again = pending
                    again.retried = true
                    waiting.append(again)
                } else {
                    pending.deadline?.cancel()
                    // A seat that refused our certificate (TLS alert after a TLS 1.3 handshake) refused the request.
                    let refused = lastError?.code.hasPrefix("auth.") ?? false
                    finish(pending, SeatResult(seat: seat, status: refused ? .refused : .unreachable, reason: lastError ?? Reason("net.closed")))
                }
            }
            inFlight = [:]
            phase = .down
            publish(.offline(lastError ?? Reason("net.closed")))
            connect()
        case .idle, .down:
            break
        case .stopped:
            failAll(Reason("net.closed"))
            closed.succeed(())
        }
    }

    func stop() {
        let previous = phase
        phase = .stopped
        retry?.cancel()
        idle?.cancel()
        failAll(Reason("net.closed"))
        if let channel, previous != .down {
            channel.close(promise: nil)
        } else {
            closed.succeed(())
        }
    }

    // MARK: Requests

    func enqueue(id: UInt32, feature: Feature, frame: Frame, timeout: Duration) -> EventLoopFuture<SeatResult> {
        let promise = loop.makePromise(of: SeatResult.self)
        guard phase != .stopped else {
            promise.succeed(SeatResult(seat: seat, status: .unreachable, reason: Reason("net.closed")))
            return promise.futureResult
        }
        var pending = Pending(id: id, feature: feature, frame: frame, promise: promise, deadline: nil, retried: false)
        pending.deadline = loop.scheduleTask(in: .nanoseconds(timeout.nanoseconds)) { self.expire(id) }
        switch phase {
        case .online:
            write(pending, on: channel!)
            channel!.flush()
        case .down, .idle:
            waiting.append(pending)
            connect()
        case .connecting, .recycling:
            waiting.append(pending)
        case .stopped:
            break
        }
        return promise.futureResult
    }

    private func write(_ pending: Pending, on channel: Channel) {
        inFlight[pending.id] = pending
        idle?.cancel()
        channel.write(pending.frame, promise: nil)
    }

    /// The deadline passed: the seat is unreachable for this request. A request
    /// that was sent and never answered leaves the connection stuck behind it: close it.
    func expire(_ id: UInt32) {
        if let pending = inFlight.removeValue(forKey: id) {
            finish(pending, SeatResult(seat: seat, status: .unreachable, reason: Reason("net.timeout", ["seconds": pending.timeoutText])))
            channel?.close(promise: nil)
        } else if let index = waiting.firstIndex(where: { $0.id == id }) {
            let pending = waiting.remove(at: index)
            finish(pending, SeatResult(seat: seat, status: .unreachable, reason: lastError ?? pending.timeoutReason))
        }
    }

    func received(_ frame: Frame) {
        let response: Response
        do {
            response = try frame.decodeHeader(Response.self)
        } catch let error as WireError {
            failInFlight(.failed, error.reason)
            channel?.close(promise: nil)
            return
        } catch {
            return
        }
        if response.id == 0 {
            // A protocol error: the agent closes the connection after it.
            failInFlight(response.status, response.reason)
            return
        }
        guard let pending = inFlight.removeValue(forKey: response.id) else { return }  // a late answer to an expired request
        pending.deadline?.cancel()
        finish(pending, SeatResult(seat: seat, status: response.status, reason: response.reason, body: frame.body))
        if inFlight.isEmpty { armIdle() }
    }

    private func failInFlight(_ status: SeatStatus, _ reason: Reason) {
        for (_, pending) in inFlight {
            pending.deadline?.cancel()
            finish(pending, SeatResult(seat: seat, status: status, reason: reason))
        }
        inFlight = [:]
    }

    private func failAll(_ reason: Reason) {
        for pending in Array(inFlight.values) + waiting {
            pending.deadline?.cancel()
            finish(pending, SeatResult(seat: seat, status: .unreachable, reason: reason))
        }
        inFlight = [:]
        waiting = []
    }

    /// Recycle the connection before the agent's 30 s idle limit closes it.
    private func armIdle() {
        idle?.cancel()
        idle = loop.scheduleTask(in: .nanoseconds(session.options.recycleAfter.nanoseconds)) {
            guard self.phase == .online, self.inFlight.isEmpty, let channel = self.channel else { return }
            self.phase = .recycling
            channel.close(promise: nil)
        }
    }

    private func finish(_ pending: Pending, _ result: SeatResult) {
        remember(pending.feature, result)
        pending.promise.succeed(result)
    }

    /// What answers say about the seat: locked or not, refused.
    private func remember(_ feature: Feature, _ result: SeatResult) {
        switch result.status {
        case .ok:
            state.refusal = nil
            switch result.reason.code {
            case "lock.done", "lock.done-until", "lock.input-free":
                state.locked = true
                state.lockedBy = nil
            case "lock.already", "status.locked", "status.locked-input-free":
                state.locked = true
                state.lockedBy = result.reason.params["by"]
            case "unlock.done", "unlock.not-locked", "status.unlocked":
                state.locked = false
                state.lockedBy = nil
            default: break
            }
        case .refused:
            state.refusal = result.reason
        default:
            break
        }
    }

    /// Records the connection's state; an event only when it changes kind (a seat
    /// that stays offline for another reason is not announced again).
    private func publish(_ connection: SeatLinkState.Connection) {
        let changed = connection.kind != state.connection.kind
        state.connection = connection
        if changed { session.onEvent(SeatLinkEvent(seat: seat, connection: connection)) }
    }
}

extension SeatLink.Pending {
    var timeoutText: String {
        guard let header = try? frame.decodeHeader(Request.self), let ms = header.deadlineMillis else { return "?" }
        return Duration.milliseconds(Int64(ms)).secondsText
    }
    var timeoutReason: Reason { Reason("net.timeout", ["seconds": timeoutText]) }
}

extension SeatLinkState.Connection {
    var kind: Int {
        switch self {
        case .connecting: return 0
        case .online: return 1
        case .offline: return 2
        case .rejected: return 3
        }
    }
}

extension Feature {
    /// Safe to send twice: doing it again changes nothing a person would notice.
    var isIdempotent: Bool {
        switch self {
        case .status, .lock, .unlock, .screenshot, .thumbnail: return true
        default: return false
        }
    }
}

/// The pipeline end of a ``SeatLink``: once the handshake is done (the TLS
/// verification has checked that the certificate names the seat), hands the
/// channel, frames and closes to the link.
final class SeatLinkHandler: ChannelInboundHandler, @unchecked Sendable {
    typealias InboundIn = Frame
    let link: SeatLink
    let record: PeerRecord

    init(link: SeatLink, record: PeerRecord) {
        self.link = link
        self.record = record
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        guard case TLSUserEvent.handshakeCompleted = event else {
            context.fireUserInboundEventTriggered(event)
            return
        }
        link.ready(context.channel)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        link.received(unwrapInboundIn(data))
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        let reason = ClientTransport.reason(error, record: record)
        if link.lastError == nil || reason.code != "net.error" { link.lastError = reason }
        context.close(promise: nil)
    }

    func channelInactive(context: ChannelHandlerContext) {
        link.inactive(context.channel)
        context.fireChannelInactive()
    }
}
