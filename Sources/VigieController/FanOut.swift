import Foundation
import NIOCore
import NIOPosix
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
/// connection of the ``ClientTransport``, and reports every seat's answer as it
/// arrives. A seat that is down or hangs costs the deadline, never a hang of the
/// whole command.
public final class FanOut: Sendable {
    let transport: ClientTransport
    let schoolID: String

    public init(identity: IdentityBundle, schoolID: String, group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton) throws {
        self.schoolID = schoolID
        // Each send sets its own deadline.
        self.transport = try ClientTransport(identity: identity, deadlines: .total(.seconds(5)), group: group)
    }

    /// Sends `feature` with `args` to every seat; results arrive in the order seats answer.
    /// Each seat has `timeout` for everything: connection, handshake and answer.
    public func send(
        _ feature: Feature, args: [String: String] = [:], to seats: [Seat], timeout: Duration
    ) -> AsyncStream<SeatResult> {
        let (stream, continuation) = AsyncStream<SeatResult>.makeStream(bufferingPolicy: .unbounded)
        let transport = self.transport.with(.total(timeout))
        let schoolID = self.schoolID
        let start = ContinuousClock.now
        let task = Task {
            await withTaskGroup(of: SeatResult.self) { group in
                for (index, seat) in seats.enumerated() {
                    let request = Request(id: UInt32(index + 1), feature: feature.rawValue, args: args, deadlineMillis: UInt32(timeout.milliseconds))
                    group.addTask { await Self.one(request, to: seat, schoolID: schoolID, transport: transport) }
                }
                for await var result in group {
                    result.elapsed = ContinuousClock.now - start
                    continuation.yield(result)
                }
            }
            continuation.finish()
        }
        continuation.onTermination = { _ in task.cancel() }
        return stream
    }

    /// One seat: connect, handshake (the certificate must name the seat), send,
    /// wait. Never fails: every problem becomes a ``SeatResult``.
    static func one(_ request: Request, to seat: Seat, schoolID: String, transport: ClientTransport) async -> SeatResult {
        do {
            return try await transport.call(host: seat.host, port: seat.port, expecting: .seat(id: seat.id, school: schoolID)) { exchange in
                let (response, frame) = try await exchange.ask(request)
                return SeatResult(seat: seat, status: response.status, reason: response.reason, body: frame.body)
            }
        } catch let error as WireError {
            return SeatResult(seat: seat, status: ClientTransport.status(of: error.reason), reason: error.reason)
        } catch {
            return SeatResult(seat: seat, status: .failed, reason: Reason("protocol.malformed", ["detail": "\(error)"]))
        }
    }
}
