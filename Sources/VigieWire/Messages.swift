import Foundation
import VigieModel

/// What a console asks of a seat (the JSON header of a request frame).
public struct Request: Sendable, Codable, Equatable {
    /// Chosen by the console; echoed in the response.
    public var id: UInt32
    /// A ``Feature`` raw value. Kept as text so that an unknown feature can be answered.
    public var feature: String
    /// The arguments that matter for the feature (`text`, `for`, `width`, …).
    public var args: [String: String]
    /// How long the console will wait, in milliseconds; the seat gives up after it.
    public var deadlineMillis: UInt32?

    public init(id: UInt32, feature: String, args: [String: String] = [:], deadlineMillis: UInt32? = nil) {
        self.id = id
        self.feature = feature
        self.args = args
        self.deadlineMillis = deadlineMillis
    }
}

/// A seat's answer (the JSON header of a response frame); the body carries a PNG
/// for screenshots. `status` is never `unreachable`: only the console says that.
public struct Response: Sendable, Codable, Equatable {
    public var id: UInt32
    public var status: SeatStatus
    public var code: String
    public var params: [String: String]

    public init(id: UInt32, status: SeatStatus, reason: Reason) {
        self.id = id
        self.status = status
        self.code = reason.code
        self.params = reason.params
    }

    public var reason: Reason { Reason(code, params) }
}

/// A message of a stream (the JSON header of a stream frame): a picture, a
/// change of state, its end, or the console's heartbeat.
///
/// - Seat → console, on stream `id` (the request that opened it): `frame`
///   (body: the picture; `params`: width, height), `paused` (no pictures for
///   now; `code`/`params`: the policy's reason, its next window), `resumed`, and
///   `end` (`code`: why, e.g. `watch.viewer-ended`, `watch.window-ended`).
/// - Console → seat: `end` on a stream it no longer wants, and `heartbeat`
///   (`id` 0) at least every ``heartbeatInterval`` while it has streams open; a
///   seat that hears nothing from the console for ``heartbeatLimit`` ends them.
///
/// Unknown events are ignored by both sides, so that a later version may add some.
public struct StreamMessage: Sendable, Codable, Equatable {
    /// The request that opened the stream; 0 for the connection's heartbeat.
    public var id: UInt32
    /// `frame`, `paused`, `resumed`, `end`, `heartbeat`, `data`, or one a later version adds.
    public var event: String
    /// Counts the stream's frames, from 1.
    public var seq: UInt32?
    /// A reason code (for `paused` and `end`).
    public var code: String?
    public var params: [String: String]?

    public init(id: UInt32, event: Event, seq: UInt32? = nil, reason: Reason? = nil, params: [String: String]? = nil) {
        self.id = id
        self.event = event.rawValue
        self.seq = seq
        self.code = reason?.code
        var all = reason?.params ?? [:]
        for (key, value) in params ?? [:] { all[key] = value }
        self.params = all.isEmpty ? nil : all
    }

    public enum Event: String, Sendable {
        case frame, paused, resumed, end, heartbeat
        /// Bytes of a byte stream (the remote view's RFB), both ways, in the body.
        case data
    }

    /// The event, when this version knows it.
    public var known: Event? { Event(rawValue: event) }
    /// The reason it carries (`paused`, `end`).
    public var reason: Reason? { code.map { Reason($0, params ?? [:]) } }

    /// How often a console with open streams says it is still there.
    public static let heartbeatInterval: Duration = .seconds(1)
    /// How long a seat waits without hearing from a console before it ends its streams.
    public static let heartbeatLimit: Duration = .seconds(4)
}

extension Frame {
    private static let encoder: JSONEncoder = {
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys]
        return e
    }()

    /// A request frame, with an optional body (a journal batch).
    public static func request(_ request: Request, body: [UInt8] = []) -> Frame {
        Frame(kind: .request, header: Array(try! encoder.encode(request)), body: body)
    }

    /// A response frame with an optional body.
    public static func response(_ response: Response, body: [UInt8] = []) -> Frame {
        Frame(kind: .response, header: Array(try! encoder.encode(response)), body: body)
    }

    /// A stream frame with an optional body (a picture).
    public static func stream(_ message: StreamMessage, body: [UInt8] = []) -> Frame {
        Frame(kind: .stream, header: Array(try! encoder.encode(message)), body: body)
    }

    /// Decodes the header as `T`, or throws `protocol.malformed`.
    public func decodeHeader<T: Decodable>(_ type: T.Type) throws -> T {
        do {
            return try JSONDecoder().decode(T.self, from: Data(header))
        } catch {
            throw WireError("protocol.malformed", ["detail": "header is not a valid \(T.self)"])
        }
    }
}
