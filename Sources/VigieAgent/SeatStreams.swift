import Logging
import NIOConcurrencyHelpers
import NIOCore
import VigieModel
import VigieWire

/// What the pipeline answers a request: the response, its body, and for a
/// request that opens a stream, the stream to run once the response is sent.
public struct SeatAnswer: Sendable {
    public var response: Response
    public var body: [UInt8]
    public var stream: SeatStream?

    public init(_ response: Response, body: [UInt8] = [], stream: SeatStream? = nil) {
        self.response = response
        self.body = body
        self.stream = stream
    }
}

/// A stream the seat runs on a connection (frames until it ends).
public struct SeatStream: Sendable {
    public let run: @Sendable (StreamLink) async -> Void
    public init(run: @escaping @Sendable (StreamLink) async -> Void) { self.run = run }
}

/// A running stream's hold on its connection: sends its frames, and tells it
/// when it must end and why (the console's `end`, the connection closing, the
/// console no longer heard from).
public final class StreamLink: Sendable {
    public let id: UInt32
    private let send: @Sendable (Frame) async throws -> Void
    private let ending = NIOLockedValueBox<Reason?>(nil)
    private let lastHeard: NIOLockedValueBox<NIODeadline>
    /// When the seat answered the request that opened this stream.
    private let opened = NIODeadline.now()

    private let eventLoop: any EventLoop
    /// Closes the connection: the one way to let go of a write the peer never reads.
    private let closeConnection: @Sendable () -> Void
    /// Bytes the console sent on a byte stream (`view`, `control`), in order.
    public let received: AsyncStream<[UInt8]>
    private let receiving: AsyncStream<[UInt8]>.Continuation
    /// Bytes received and not yet taken; beyond ``receivedLimit`` the stream ends.
    private let unread = NIOLockedValueBox(0)
    /// What a console may send ahead of the seat's helper (a viewer's keys and
    /// pointer are a few bytes each: a flood ends the stream, the seat's memory stays bounded).
    static let receivedLimit = 1 << 20

    /// How long one message may wait for a reader that still heartbeats but does
    /// not read, before the seat gives up on it (`watch.viewer-too-slow`).
    static let stuckLimit = TimeAmount.seconds(30)

    init(id: UInt32, eventLoop: any EventLoop, send: @escaping @Sendable (Frame) async throws -> Void,
         lastHeard: NIOLockedValueBox<NIODeadline>, close: @escaping @Sendable () -> Void) {
        self.id = id
        self.eventLoop = eventLoop
        self.send = send
        self.lastHeard = lastHeard
        self.closeConnection = close
        (received, receiving) = AsyncStream<[UInt8]>.makeStream()
    }

    /// Why the stream must end, once something outside it said so (the first reason wins).
    public var endReason: Reason? {
        if let reason = ending.withLockedValue({ $0 }) { return reason }
        // The console heartbeats a stream once it is answered: its silence counts from the
        // stream's opening at the earliest, not from the request (an assistance waits for the
        // person's consent first), and without masking the connection's silence for others.
        let silent = NIODeadline.now() - max(lastHeard.withLockedValue { $0 }, opened)
        let limit = TimeAmount.nanoseconds(Int64(StreamMessage.heartbeatLimit.nanoseconds))
        if silent > limit {
            end(Reason("watch.viewer-lost", ["seconds": String(silent.nanoseconds / 1_000_000_000)]))
            return ending.withLockedValue { $0 }
        }
        return nil
    }

    func end(_ reason: Reason) {
        ending.withLockedValue { if $0 == nil { $0 = reason } }
        receiving.finish()
    }

    /// Bytes from the console for this stream.
    func deliver(_ bytes: [UInt8]) {
        let over = unread.withLockedValue { unread -> Bool in
            unread += bytes.count
            return unread > Self.receivedLimit
        }
        if over {
            end(Reason("view.flood", ["bytes": String(Self.receivedLimit)]))
            closeConnection()
            return
        }
        receiving.yield(bytes)
    }

    /// The stream's reader took `count` bytes of ``received``.
    public func consumed(_ count: Int) { unread.withLockedValue { $0 -= count } }

    /// Sends one message of the stream; throws when the connection is gone.
    /// Suspends while the connection cannot take more (a slow reader), so the
    /// stream makes no new frame meanwhile: memory stays bounded.
    ///
    /// A suspended write cannot be taken back, so while it waits the stream is
    /// still watched over: when the console falls silent (``endReason``, a laptop
    /// put to sleep with the seat's buffers full) or the message has waited
    /// ``stuckLimit``, the connection is closed, the write fails and the stream
    /// ends saying why, within a heartbeat limit rather than at TCP's timeout.
    public func send(_ message: StreamMessage, body: [UInt8] = []) async throws {
        let pending = NIOLockedValueBox(true)
        watchOver(pending, since: .now())
        defer { pending.withLockedValue { $0 = false } }
        try await send(.stream(message, body: body))
    }

    private func watchOver(_ pending: NIOLockedValueBox<Bool>, since: NIODeadline) {
        eventLoop.scheduleTask(in: .milliseconds(250)) { [self] in
            guard pending.withLockedValue({ $0 }) else { return }
            if NIODeadline.now() - since > Self.stuckLimit {
                end(Reason("watch.viewer-too-slow", ["seconds": String(Self.stuckLimit.nanoseconds / 1_000_000_000)]))
            }
            if endReason != nil {
                closeConnection()
                return
            }
            watchOver(pending, since: since)
        }
    }

    /// Waits up to `duration`, returning early when the stream must end. Timed by
    /// the connection's event loop (the monotonic clock), which also keeps it
    /// right on a seat whose wall clock is faked in tests.
    public func wait(_ duration: Duration) async {
        let until = NIODeadline.now() + .nanoseconds(Int64(duration.nanoseconds))
        while endReason == nil, !Task.isCancelled {
            let left = until - NIODeadline.now()
            if left <= .zero { return }
            // On the event loop's clock (Task.sleep misbehaves under libfaketime); a
            // cancelled wait returns at once, not at the next tick.
            let tick = eventLoop.scheduleTask(in: min(left, .milliseconds(100))) {}
            try? await withTaskCancellationHandler {
                try await tick.futureResult.get()
            } onCancel: {
                tick.cancel()
            }
        }
    }
}

/// The streams open on one connection, by the id of the request that opened them.
final class StreamTable: Sendable {
    private let links = NIOLockedValueBox<[UInt32: StreamLink]>([:])
    private let lastHeard = NIOLockedValueBox<NIODeadline>(.now())

    /// The console said something (any frame counts as its heartbeat).
    func heard() { lastHeard.withLockedValue { $0 = .now() } }

    var isEmpty: Bool { links.withLockedValue { $0.isEmpty } }

    /// A link for a new stream; nil if the id is already one of this connection's streams.
    func open(_ id: UInt32, on channel: any Channel, send: @escaping @Sendable (Frame) async throws -> Void) -> StreamLink? {
        links.withLockedValue { links in
            guard links[id] == nil else { return nil }
            let link = StreamLink(id: id, eventLoop: channel.eventLoop, send: send, lastHeard: lastHeard,
                                  close: { channel.close(promise: nil) })
            links[id] = link
            return link
        }
    }

    /// Forgets an ended stream; true when it was the last one.
    func closed(_ id: UInt32) -> Bool {
        links.withLockedValue { links in
            links[id] = nil
            return links.isEmpty
        }
    }

    func end(_ id: UInt32, _ reason: Reason) {
        links.withLockedValue { $0[id] }?.end(reason)
    }

    /// Bytes from the console for stream `id` (ignored when it is not open).
    func deliver(_ id: UInt32, _ bytes: [UInt8]) {
        links.withLockedValue { $0[id] }?.deliver(bytes)
    }

    func endAll(_ reason: Reason) {
        for link in links.withLockedValue({ Array($0.values) }) { link.end(reason) }
    }
}

/// Closes a connection left idle for its limit (no request, no open stream).
final class IdleTimer: Sendable {
    private let channel: Channel
    private let limit: TimeAmount
    private let scheduled = NIOLockedValueBox<Scheduled<Void>?>(nil)

    init(channel: Channel, limit: TimeAmount) {
        self.channel = channel
        self.limit = limit
    }

    func arm() {
        let channel = self.channel
        let task = channel.eventLoop.scheduleTask(in: limit) { channel.close(promise: nil) }
        scheduled.withLockedValue { old in
            old?.cancel()
            old = task
        }
    }

    func disarm() {
        scheduled.withLockedValue { old in
            old?.cancel()
            old = nil
        }
    }
}

/// How many requests of a connection are read and not yet answered: the reader
/// waits when the limit is reached, so a peer that floods requests is simply
/// not read until the seat catches up.
final class RequestBudget: Sendable {
    private struct State {
        var taken = 0
        var waiting: [CheckedContinuation<Void, Never>] = []
        var closed = false
    }

    private let limit: Int
    private let state = NIOLockedValueBox(State())

    init(limit: Int) { self.limit = limit }

    /// No request read and not answered.
    var isIdle: Bool { isIdle(after: 0) }

    /// At most `count` requests taken (the caller's own one among them).
    func isIdle(after count: Int) -> Bool { state.withLockedValue { $0.taken <= count } }

    /// Waits for a slot; false when nothing will be answered any more (stop reading).
    func acquire() async -> Bool {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let now = state.withLockedValue { s -> Bool in
                if s.closed { return true }
                if s.taken < limit {
                    s.taken += 1
                    return true
                }
                s.waiting.append(continuation)
                return false
            }
            if now { continuation.resume() }
        }
        return !state.withLockedValue { $0.closed }
    }

    /// Nothing more will be answered: every waiting reader stops.
    func close() {
        let waiting = state.withLockedValue { s -> [CheckedContinuation<Void, Never>] in
            s.closed = true
            defer { s.waiting = [] }
            return s.waiting
        }
        for continuation in waiting { continuation.resume() }
    }

    func release() {
        let next = state.withLockedValue { s -> CheckedContinuation<Void, Never>? in
            if s.waiting.isEmpty {
                s.taken -= 1
                return nil
            }
            // The slot passes straight to the next reader.
            return s.waiting.removeFirst()
        }
        next?.resume()
    }
}
