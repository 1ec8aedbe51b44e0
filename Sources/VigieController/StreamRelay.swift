import Foundation
import NIOConcurrencyHelpers
import VigieModel

/// The console's side of one remote view (`view` or `control`): the seat's
/// answer, the RFB bytes it sends, and its end, which closes whatever the
/// bytes were going to (a local VNC endpoint and its viewer, or a dashboard's
/// WebSocket). `vigie view` and the dashboard relay through it.
public final class StreamRelay: Sendable {
    /// The seat's answer to the request: `.opened`, `.notOpened`, or `.ended` if
    /// the connection went first. One event, then the stream finishes.
    public let answers: AsyncStream<StreamEvent>
    /// The RFB bytes from the seat, in order; finishes when the stream ends.
    public let data: AsyncStream<[UInt8]>
    private let answerSink: AsyncStream<StreamEvent>.Continuation
    private let dataSink: AsyncStream<[UInt8]>.Continuation
    private let state = NIOLockedValueBox<(ended: Reason?, closers: [@Sendable () -> Void])>((nil, []))

    public init() {
        (answers, answerSink) = AsyncStream<StreamEvent>.makeStream()
        (data, dataSink) = AsyncStream<[UInt8]>.makeStream()
    }

    /// A one-time VNC password: 8 characters (what VNC authentication uses),
    /// from the system's CSPRNG, without look-alikes (l, 1, O, 0).
    public static func vncPassword() -> String {
        let alphabet = Array("abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789")
        var generator = SystemRandomNumberGenerator()
        return String((0..<8).map { _ in alphabet[Int.random(in: 0..<alphabet.count, using: &generator)] })
    }

    /// Why the seat ended the stream, once it did.
    public var endedBy: Reason? { state.withLockedValue { $0.ended } }

    /// Runs `close` when the seat ends the stream, or at once if it already has.
    public func onEnd(_ close: @escaping @Sendable () -> Void) {
        let late = state.withLockedValue { state -> Bool in
            if state.ended != nil { return true }
            state.closers.append(close)
            return false
        }
        if late { close() }
    }

    /// Closes what waits on the seat's bytes from this side (Ctrl-C, the page closed the view).
    public func close() {
        let closers = state.withLockedValue { state -> [@Sendable () -> Void] in
            defer { state.closers = [] }
            return state.closers
        }
        for close in closers { close() }
        answerSink.finish()
        dataSink.finish()
    }

    /// A stream event from the console session (called in order).
    public func handle(_ event: StreamEvent) {
        switch event {
        case .opened, .notOpened:
            answerSink.yield(event)
            answerSink.finish()
        case .data(let bytes):
            dataSink.yield(bytes)
        case .ended(let reason):
            let closers = state.withLockedValue { state -> [@Sendable () -> Void] in
                state.ended = reason
                defer { state.closers = [] }
                return state.closers
            }
            answerSink.yield(event)
            answerSink.finish()
            dataSink.finish()
            for close in closers { close() }
        case .picture, .paused, .resumed:
            break
        }
    }

    /// Waits for the seat's answer: the reason it opened with, or how it did not.
    public func answer() async -> Result<Reason, StreamRefusal> {
        var first: StreamEvent?
        for await event in answers {
            first = event
            break
        }
        switch first {
        case .opened(let reason)?: return .success(reason)
        case .notOpened(let status, let reason)?: return .failure(StreamRefusal(status: status, reason: reason))
        case .ended(let reason)?: return .failure(StreamRefusal(status: .failed, reason: reason))
        default: return .failure(StreamRefusal(status: .failed, reason: Reason("net.closed")))
        }
    }
}

/// Why a stream did not open: the seat's status and reason.
public struct StreamRefusal: Error, Sendable {
    public var status: SeatStatus
    public var reason: Reason
}
