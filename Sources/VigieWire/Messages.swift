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

    /// Decodes the header as `T`, or throws `protocol.malformed`.
    public func decodeHeader<T: Decodable>(_ type: T.Type) throws -> T {
        do {
            return try JSONDecoder().decode(T.self, from: Data(header))
        } catch {
            throw WireError("protocol.malformed", ["detail": "header is not a valid \(T.self)"])
        }
    }
}
