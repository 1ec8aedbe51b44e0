import Foundation
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
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

/// What a console hears of a live stream from one seat.
public enum StreamEvent: Sendable {
    /// The seat accepted it (`watch.started`; `params.paused` when outside a window).
    case opened(Reason)
    /// The seat did not open it: refused by its policy, failed, or unreachable.
    case notOpened(SeatStatus, Reason)
    /// A picture (JPEG for `watch`).
    case picture(seq: UInt32, width: Int, height: Int, bytes: [UInt8])
    /// No pictures for now, and why (e.g. outside the room's windows, with the next one).
    case paused(Reason)
    case resumed
    /// Bytes of a byte stream (`view`, `control`: the seat's RFB).
    case data([UInt8])
    /// The stream is over, and why (the seat's reason, or `net.closed` when the connection dropped).
    case ended(Reason)
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
///
/// Each seat is a ``SeatLink`` actor whose life is one task (connect, serve,
/// back off, again); ``close()`` stops them all and waits for their tasks.
public final class ConsoleSession: SeatSender, Sendable {
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

    let transport: ClientTransport
    let schoolID: String
    let options: Options
    let onEvent: @Sendable (SeatLinkEvent) -> Void
    private let links = NIOLockedValueBox<[String: (link: SeatLink, life: Task<Void, Never>)]>([:])
    private let nextID = NIOLockedValueBox<UInt32>(0)

    /// - Parameter onEvent: called when a seat goes online, offline or is rejected.
    public init(
        identity: IdentityBundle, schoolID: String, group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
        options: Options = Options(), onEvent: @escaping @Sendable (SeatLinkEvent) -> Void = { _ in }
    ) throws {
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
        let dropped = links.withLockedValue { links -> [SeatLink] in
            for seat in seats where links[seat.id] == nil { links[seat.id] = start(seat) }
            let gone = links.keys.filter { !wanted.contains($0) }
            return gone.compactMap { links.removeValue(forKey: $0)?.link }
        }
        for link in dropped { Task { await link.stop() } }
    }

    /// A new link and the task it lives in (called under the lock).
    private func start(_ seat: Seat) -> (link: SeatLink, life: Task<Void, Never>) {
        let link = SeatLink(seat: seat, transport: transport, expected: .seat(id: seat.id, school: schoolID), options: options, onEvent: onEvent)
        return (link, Task { await link.run() })
    }

    func link(for seat: Seat) -> SeatLink {
        links.withLockedValue { links in
            if let existing = links[seat.id] { return existing.link }
            let new = start(seat)
            links[seat.id] = new
            return new.link
        }
    }

    /// Sends over the open connections (opening those that are missing).
    public func send(_ feature: Feature, args: [String: String] = [:], to seats: [Seat], timeout: Duration) -> AsyncStream<SeatResult> {
        let (stream, continuation) = AsyncStream<SeatResult>.makeStream(bufferingPolicy: .unbounded)
        let id: UInt32 = nextID.withLockedValue { next in
            next = next == UInt32.max ? 1 : next + 1
            return next
        }
        // One request, encoded once, for every seat.
        let frame = Frame.request(Request(id: id, feature: feature.rawValue, args: args, deadlineMillis: UInt32(timeout.milliseconds)))
        let targets = seats.map { link(for: $0) }
        guard !targets.isEmpty else {
            continuation.finish()
            return stream
        }
        let start = ContinuousClock.now
        let remaining = NIOLockedValueBox(targets.count)
        let deliver: @Sendable (SeatResult) -> Void = { result in
            var result = result
            result.elapsed = ContinuousClock.now - start
            continuation.yield(result)
            if remaining.withLockedValue({ $0 -= 1; return $0 }) == 0 { continuation.finish() }
        }
        // One task hands the request to every link; each answers through `deliver`.
        Task {
            for link in targets { await link.submit(id: id, feature: feature, frame: frame, timeout: timeout, deliver: deliver) }
        }
        return stream
    }

    /// Opens a stream (`watch`) on the seat's connection; its events go to
    /// `events` until it ends. While the session has streams open it sends the
    /// seats its heartbeat, and never recycles their connections. Returns the id
    /// ``endStream(_:on:)`` takes.
    public func openStream(_ feature: Feature, args: [String: String] = [:], on seat: Seat, timeout: Duration,
                           events: @escaping @Sendable (StreamEvent) -> Void) async -> UInt32 {
        let id: UInt32 = nextID.withLockedValue { next in
            next = next == UInt32.max ? 1 : next + 1
            return next
        }
        let frame = Frame.request(Request(id: id, feature: feature.rawValue, args: args, deadlineMillis: UInt32(timeout.milliseconds)))
        await link(for: seat).openStream(id: id, feature: feature, frame: frame, timeout: timeout, events: events)
        return id
    }

    /// Ends a stream this session opened (the seat records who stopped it and when).
    public func endStream(_ id: UInt32, on seat: Seat) async {
        await link(for: seat).endStream(id)
    }

    /// Sends bytes on a byte stream this session opened (`view`, `control`).
    public func sendStreamData(_ id: UInt32, on seat: Seat, bytes: [UInt8]) async {
        await link(for: seat).streamData(id, bytes)
    }

    /// Every seat of the session.
    public func states() async -> [SeatLinkState] {
        let all = links.withLockedValue { $0.values.map(\.link) }
        var out: [SeatLinkState] = []
        for link in all { out.append(await link.state) }
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

    /// Closes every connection; pending requests answer `net.closed`. Returns
    /// when every link's task has ended.
    public func close() async {
        let all = links.withLockedValue { links in
            defer { links = [:] }
            return Array(links.values)
        }
        for (link, _) in all { await link.stop() }
        for (_, life) in all { await life.value }
    }
}

/// One seat's persistent connection: an actor whose ``run()`` connects, serves
/// the connection until it ends, backs off after a failure, and connects again,
/// until ``stop()``. Frames go out at once through the channel (no task, no
/// wait); answers come in through the connection's inbound stream.
actor SeatLink {

    struct Pending {
        var id: UInt32
        var feature: Feature
        var frame: Frame
        var deadline: ContinuousClock.Instant
        var deliver: @Sendable (SeatResult) -> Void
        var retried = false
        /// For a request that opens a stream: where its events go once opened.
        var stream: (@Sendable (StreamEvent) -> Void)?
    }

    /// The connection being served.
    private struct Open {
        var number: Int
        var close: @Sendable () -> Void
        var write: @Sendable (Frame) -> Void
    }

    let seat: Seat
    private let transport: ClientTransport
    private let expected: ExpectedPeer
    private let options: ConsoleSession.Options
    private let onEvent: @Sendable (SeatLinkEvent) -> Void
    private(set) var state: SeatLinkState
    private var stopped = false
    private var open: Open?
    private var connections = 0
    /// Closed on purpose because idle: reconnect without saying the seat went offline.
    private var recycling = false
    /// Sent, waiting for their answers (by request id).
    private var inFlight: [UInt32: Pending] = [:]
    /// Waiting for a connection.
    private var waiting: [Pending] = []
    private var failures = 0
    private var lastError: Reason?
    private var backoff: Task<Void, Never>?
    private var idle: Task<Void, Never>?
    private var deadlineWatch: Task<Void, Never>?
    private var deadlineWake: ContinuousClock.Instant?
    /// Streams the seat accepted on the open connection, by request id.
    private var streams: [UInt32: @Sendable (StreamEvent) -> Void] = [:]
    /// Streams ended by the console before the seat answered.
    private var abandoned: Set<UInt32> = []

    init(seat: Seat, transport: ClientTransport, expected: ExpectedPeer, options: ConsoleSession.Options,
         onEvent: @escaping @Sendable (SeatLinkEvent) -> Void) {
        self.seat = seat
        self.transport = transport
        self.expected = expected
        self.options = options
        self.onEvent = onEvent
        self.state = SeatLinkState(seat: seat, connection: .connecting)
    }

    // MARK: The link's life

    func run() async {
        while !stopped {
            let outcome = await serveOneConnection()
            if stopped { break }
            // Dropped or recycled, or too slow for requests that still have time: connect again at once.
            if outcome != .failed { continue }
            // Exponential backoff with ±20 % jitter, so that a room's seats do not retry in step.
            let base = Double(options.backoffBase.nanoseconds) * pow(2, Double(min(failures, 20)))
            let delay = min(base, Double(options.backoffCap.nanoseconds)) * Double.random(in: 0.8...1.2)
            failures += 1
            if waiting.isEmpty {
                let sleep = Task { _ = try? await Task.sleep(for: .nanoseconds(Int64(delay))) }
                backoff = sleep
                await sleep.value
                backoff = nil
            }
        }
        failAll(Reason("net.closed"))
    }

    private enum ConnectionOutcome { case wasOnline, failed, tooSlow }

    /// Connects and serves the connection until it ends.
    private func serveOneConnection() async -> ConnectionOutcome {
        recycling = false
        lastError = nil
        connections += 1
        let number = connections
        // The handshake may take as long as a waiting request allows (a loaded
        // room); with nobody waiting, the session's own limit.
        let now = ContinuousClock.now
        let handshake = waiting.map { $0.deadline - now }.reduce(options.connectTimeout) { max($0, $1) }
        let deadlines = ClientDeadlines(connect: options.connectTimeout, handshake: handshake, reply: options.connectTimeout)
        var online = false
        do {
            try await transport.with(deadlines).call(host: seat.host, port: seat.port, expecting: expected) { exchange in
                guard !stopped else { return }
                online = true
                becameOnline(Open(number: number, close: exchange.closer, write: exchange.writeNow))
                while let frame = try await exchange.nextFrame() { received(frame) }
            }
        } catch let error as WireError {
            lastError = lastError ?? error.reason
        } catch {
            lastError = lastError ?? Reason("net.error", ["detail": "\(error)"])
        }
        open = nil
        idle?.cancel()
        if online {
            dropped()
            // Refused (our certificate, after the handshake): back off as after any
            // failure, not reconnect at once into the same refusal.
            return lastError?.code.hasPrefix("auth.") == true ? .failed : .wasOnline
        }
        var reason = lastError ?? Reason("net.closed")
        // What the session allows, not what a waiting request stretched it to.
        if reason.code == "net.timeout" { reason = Reason("net.timeout", ["seconds": options.connectTimeout.secondsText]) }
        // A loaded room may take longer to connect or handshake than the
        // session's limit: requests that still have time wait for a new try.
        let failedAt = ContinuousClock.now
        if reason.code == "net.timeout", waiting.contains(where: { $0.deadline > failedAt }) { return .tooSlow }
        connectFailed(reason)
        return .failed
    }

    /// TLS done and the certificate names our seat.
    private func becameOnline(_ connection: Open) {
        open = connection
        failures = 0
        publish(.online)
        let queued = waiting
        waiting = []
        for pending in queued { write(pending) }
        armIdle()
    }

    private func connectFailed(_ reason: Reason) {
        guard !stopped else { return }
        let rejected = reason.code.hasPrefix("tls.") || reason.code.hasPrefix("auth.")
        publish(rejected ? .rejected(reason) : .offline(reason))
        let status: SeatStatus = reason.code.hasPrefix("auth.") ? .refused : rejected ? .failed : .unreachable
        for pending in waiting { finish(pending, SeatResult(seat: seat, status: status, reason: reason)) }
        waiting = []
    }

    /// The connection ended after it was online (agent stopped, idle recycle, TLS alert).
    private func dropped() {
        guard !stopped else { return }
        endStreams(lastError ?? Reason("net.closed"))
        if recycling { return }
        let reason = lastError ?? Reason("net.closed")
        // A seat that refused our certificate (its TLS alert after a TLS 1.3
        // handshake) refused the request: asking again would be refused again.
        let refused = reason.code.hasPrefix("auth.")
        // In flight when the seat went away: idempotent requests go again once.
        for (_, pending) in inFlight {
            if !pending.retried && pending.feature.isIdempotent && !refused {
                var again = pending
                again.retried = true
                waiting.append(again)
            } else {
                finish(pending, SeatResult(seat: seat, status: refused ? .refused : .unreachable, reason: reason))
            }
        }
        inFlight = [:]
        publish(.offline(reason))
    }

    func stop() {
        stopped = true
        backoff?.cancel()
        idle?.cancel()
        deadlineWatch?.cancel()
        failAll(Reason("net.closed"))
        endStreams(Reason("net.closed"))
        open?.close()
    }

    // MARK: Streams

    func openStream(id: UInt32, feature: Feature, frame: Frame, timeout: Duration, events: @escaping @Sendable (StreamEvent) -> Void) {
        let deliver: @Sendable (SeatResult) -> Void = { result in
            if result.status != .ok { events(.notOpened(result.status, result.reason)) }
        }
        guard !stopped else { return deliver(SeatResult(seat: seat, status: .unreachable, reason: Reason("net.closed"))) }
        var pending = Pending(id: id, feature: feature, frame: frame, deadline: ContinuousClock.now + timeout, deliver: deliver)
        pending.stream = events
        watchDeadline(pending.deadline)
        if open != nil {
            write(pending)
        } else {
            waiting.append(pending)
            backoff?.cancel()
        }
    }

    func streamData(_ id: UInt32, _ bytes: [UInt8]) {
        guard streams[id] != nil else { return }
        open?.write(.stream(StreamMessage(id: id, event: .data), body: bytes))
    }

    func endStream(_ id: UInt32) {
        if let events = streams.removeValue(forKey: id) {
            open?.write(.stream(StreamMessage(id: id, event: .end)))
            events(.ended(Reason("watch.viewer-ended")))
        }
        // Still waiting for the seat's answer: ended as soon as the seat opens it.
        if inFlight[id]?.stream != nil { abandoned.insert(id) }
        waiting.removeAll { $0.id == id }
        if streams.isEmpty {
            if inFlight.isEmpty { armIdle() }
        }
    }

    /// A stream the seat accepted: route its frames, and keep the seat hearing from us.
    private func streamOpened(_ pending: Pending, _ response: Response) {
        guard let events = pending.stream else { return }
        if abandoned.remove(pending.id) != nil {
            open?.write(.stream(StreamMessage(id: pending.id, event: .end)))
            return events(.ended(Reason("watch.viewer-ended")))
        }
        streams[pending.id] = events
        events(.opened(response.reason))
        // The heartbeat is the connection's own (`StreamHeartbeat`, in its pipeline).
        idle?.cancel()
    }

    private func streamFrame(_ frame: Frame) {
        guard let message = try? frame.decodeHeader(StreamMessage.self), let events = streams[message.id] else { return }
        switch message.known {
        case .frame:
            let params = message.params ?? [:]
            events(.picture(seq: message.seq ?? 0, width: params["width"].flatMap(Int.init) ?? 0,
                            height: params["height"].flatMap(Int.init) ?? 0, bytes: frame.body))
        case .paused:
            events(.paused(message.reason ?? Reason("watch.paused")))
        case .resumed:
            events(.resumed)
        case .data:
            events(.data(frame.body))
        case .end:
            streams[message.id] = nil
            events(.ended(message.reason ?? Reason("watch.ended")))
            if streams.isEmpty {
                if inFlight.isEmpty { armIdle() }
            }
        case .heartbeat, nil:
            break
        }
    }

    /// The connection is gone: its streams with it.
    private func endStreams(_ reason: Reason) {
        let ended = streams
        streams = [:]
        for (_, events) in ended { events(.ended(reason)) }
    }

    // MARK: Requests

    /// Sends one request (at once when online, else when the connection is up);
    /// its answer, or why there is none, goes to `deliver` once.
    func submit(id: UInt32, feature: Feature, frame: Frame, timeout: Duration, deliver: @escaping @Sendable (SeatResult) -> Void) {
        guard !stopped else {
            return deliver(SeatResult(seat: seat, status: .unreachable, reason: Reason("net.closed")))
        }
        let pending = Pending(id: id, feature: feature, frame: frame, deadline: ContinuousClock.now + timeout, deliver: deliver)
        watchDeadline(pending.deadline)
        if open != nil {
            write(pending)
        } else {
            waiting.append(pending)
            backoff?.cancel()  // an offline seat is tried at once
        }
    }

    private func write(_ pending: Pending) {
        guard let open else { return waiting.append(pending) }
        inFlight[pending.id] = pending
        idle?.cancel()
        open.write(pending.frame)
    }

    /// One sleeping task per link watches the requests' deadlines: it wakes at
    /// the earliest, and a later deadline (the usual case: every request has
    /// the console's timeout) needs no new task and no cancellation.
    private func watchDeadline(_ deadline: ContinuousClock.Instant) {
        if let wake = deadlineWake, wake <= deadline { return }
        deadlineWatch?.cancel()
        deadlineWake = deadline
        deadlineWatch = Task {
            guard (try? await Task.sleep(until: deadline, clock: .continuous)) != nil else { return }
            self.expireDue()
        }
    }

    /// Past its deadline, the seat is unreachable for a request. One that was
    /// sent and never answered leaves the connection stuck behind it: close it.
    private func expireDue() {
        deadlineWake = nil
        deadlineWatch = nil
        let now = ContinuousClock.now
        let late = inFlight.values.filter { $0.deadline <= now }
        for pending in late {
            inFlight[pending.id] = nil
            finish(pending, SeatResult(seat: seat, status: .unreachable, reason: Reason("net.timeout", ["seconds": pending.timeoutText])))
        }
        if !late.isEmpty { open?.close() }
        for pending in waiting where pending.deadline <= now {
            finish(pending, SeatResult(seat: seat, status: .unreachable, reason: lastError ?? pending.timeoutReason))
        }
        waiting.removeAll { $0.deadline <= now }
        if let next = (inFlight.values.map(\.deadline) + waiting.map(\.deadline)).min() { watchDeadline(next) }
    }

    private func received(_ frame: Frame) {
        if frame.kind == .stream { return streamFrame(frame) }
        let response: Response
        do {
            response = try frame.decodeHeader(Response.self)
        } catch let error as WireError {
            failInFlight(.failed, error.reason)
            open?.close()
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
        finish(pending, SeatResult(seat: seat, status: response.status, reason: response.reason, body: frame.body))
        if response.status == .ok { streamOpened(pending, response) }
        if inFlight.isEmpty && streams.isEmpty { armIdle() }
    }

    private func failInFlight(_ status: SeatStatus, _ reason: Reason) {
        for (_, pending) in inFlight { finish(pending, SeatResult(seat: seat, status: status, reason: reason)) }
        inFlight = [:]
    }

    private func failAll(_ reason: Reason) {
        for pending in Array(inFlight.values) + waiting { finish(pending, SeatResult(seat: seat, status: .unreachable, reason: reason)) }
        inFlight = [:]
        waiting = []
    }

    /// Recycle the connection before the agent's 30 s idle limit closes it.
    private func armIdle() {
        idle?.cancel()
        guard let number = open?.number else { return }
        let after = options.recycleAfter
        idle = Task {
            guard (try? await Task.sleep(for: after)) != nil else { return }
            self.recycle(number)
        }
    }

    private func recycle(_ number: Int) {
        guard let open, open.number == number, inFlight.isEmpty, streams.isEmpty else { return }
        recycling = true
        open.close()
        // Requests from now on wait for the next connection, never for this closing one.
        self.open = nil
    }

    private func finish(_ pending: Pending, _ result: SeatResult) {
        remember(pending.feature, result)
        pending.deliver(result)
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
        if changed { onEvent(SeatLinkEvent(seat: seat, connection: connection)) }
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
