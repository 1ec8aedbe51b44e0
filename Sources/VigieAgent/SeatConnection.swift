import Foundation
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOSSL
import VigieModel
import VigiePKI
import VigieRegister
import VigieService
import VigieWire

/// What a seat does with a console connection, shared by the real agent and the
/// simulated seats of the scale harness, so that both speak exactly the same protocol
/// (what it does with each request is ``SeatPipeline``'s).
public enum SeatConnection {
    /// A peer whose certificate cannot name anyone.
    public struct PeerError: Error { public let reason: Reason }

    /// A console's identity and certificate serial, as the TLS verification of the
    /// ``GuardedListener`` accepted them (parsed and checked once, in the handshake).
    public static func peer(of channel: Channel) async throws -> (identity: Identity, serial: String) {
        guard let known = await GuardedListener.peer(of: channel) else {
            throw PeerError(reason: Reason("auth.bad-certificate", ["detail": "no verified client certificate"]))
        }
        return (known.identity, known.serial)
    }

    /// Serves one connection: requests are answered in order by `answer`; a
    /// request whose answer opens a stream (`watch`) runs that stream beside
    /// the requests that follow, until the console ends it, stops hearing from the
    /// console (``StreamMessage/heartbeatLimit``), the stream ends itself or the
    /// connection closes. A protocol error is answered, then the connection is
    /// closed; a peer idle for `idleLimit` (no request, no open stream) is dropped.
    /// Errors stay in this connection: the listener keeps serving everyone else.
    ///
    /// Frames are read as they come, apart from answering: a stream's heartbeat
    /// and its end are heard while a long request (a program run) is answered.
    /// At most ``pipelinedRequests`` requests wait their turn; beyond that the
    /// connection is not read until one is answered (the peer's memory stays bounded).
    public static func serve(
        _ connection: NIOAsyncChannel<Frame, Frame>, idleLimit: TimeAmount = .seconds(30), drain: ConnectionDrain? = nil, logger: Logger,
        answer: @escaping @Sendable (Frame, (identity: Identity, serial: String), _ connected: @escaping @Sendable () -> Bool) async -> SeatAnswer
    ) async {
        let channel = connection.channel
        let idle = IdleTimer(channel: channel, limit: idleLimit)
        idle.arm()
        drain?.opened(channel)
        let streams = StreamTable()
        let budget = RequestBudget(limit: pipelinedRequests)
        defer {
            idle.disarm()
            drain?.closed(channel)
        }
        let peerBox = NIOLockedValueBox<(identity: Identity, serial: String)?>(nil)
        do {
            try await connection.executeThenClose { inbound, outbound in
                let send: @Sendable (Frame) async throws -> Void = { try await outbound.write($0) }
                let (requests, enqueue) = AsyncStream<Frame>.makeStream(bufferingPolicy: .unbounded)
                await withTaskGroup(of: Void.self) { group in
                    defer {
                        // The connection is gone (or closing): its streams end with it.
                        streams.endAll(Reason(drain?.isDraining == true ? "watch.agent-stopping" : "watch.connection-closed"))
                    }
                    // Answers, one request at a time, in order; runs the streams they open.
                    group.addTask {
                        await withTaskGroup(of: Void.self) { running in
                            for await frame in requests {
                                defer { budget.release() }
                                guard let peer = peerBox.withLockedValue({ $0 }) else { break }
                                // Shutting down: a request not yet started is not started.
                                if let drain, !drain.begin(channel) {
                                    channel.close(promise: nil)
                                    break
                                }
                                // Busy: not idle, whatever a previous answer armed.
                                idle.disarm()
                                // `connected`: whether the console is still there (a question to the person is withdrawn when not).
                                let answered = await answer(frame, peer) { channel.isActive }
                                do {
                                    try await outbound.write(.response(answered.response, body: answered.body))
                                } catch {
                                    drain?.end(channel)
                                    break
                                }
                                drain?.end(channel)
                                if let stream = answered.stream, let link = streams.open(answered.response.id, on: channel, send: send) {
                                    running.addTask {
                                        await stream.run(link)
                                        // The last stream ended by itself: the connection may idle out again.
                                        if streams.closed(link.id), budget.isIdle { idle.arm() }
                                    }
                                }
                                if streams.isEmpty, budget.isIdle(after: 1) { idle.arm() }
                                if answered.response.code.hasPrefix("protocol."), answered.response.code != "protocol.unknown-feature" {
                                    channel.close(promise: nil)
                                    break
                                }
                            }
                            // Whatever ended the answers, the reader stops waiting for them.
                            budget.close()
                        }
                    }
                    do {
                        for try await frame in inbound {
                            streams.heard()
                            if peerBox.withLockedValue({ $0 }) == nil {
                                let peer = try await Self.peer(of: channel)
                                peerBox.withLockedValue { $0 = peer }
                            }
                            idle.disarm()
                            if frame.kind == .stream {
                                // The console's side of its streams: an end, or its heartbeat.
                                let message = try frame.decodeHeader(StreamMessage.self)
                                if message.known == .end { streams.end(message.id, Reason("watch.viewer-ended")) }
                                if message.known == .data { streams.deliver(message.id, frame.body) }
                                if streams.isEmpty, budget.isIdle { idle.arm() }
                                continue
                            }
                            guard await budget.acquire() else { break }
                            enqueue.yield(frame)
                        }
                    } catch let error as WireError {
                        logger.warning("protocol error", metadata: ["code": "\(error.reason.code)", "peer": "\(channel.remoteAddress?.description ?? "?")"])
                        try? await outbound.write(.response(Response(id: 0, status: .failed, reason: error.reason)))
                    } catch let error as PeerError {
                        try? await outbound.write(.response(Response(id: 0, status: .refused, reason: error.reason)))
                    } catch {
                        logger.info("connection ended", metadata: ["peer": "\(channel.remoteAddress?.description ?? "?")", "error": "\(error)"])
                    }
                    // Nothing more comes in: what was read is still answered (a drain
                    // lets requests in flight finish), then the connection closes.
                    enqueue.finish()
                }
            }
        } catch {
            // TLS failures and resets end here.
            logger.info("connection ended", metadata: ["peer": "\(channel.remoteAddress?.description ?? "?")", "error": "\(error)"])
        }
    }

    /// Requests read ahead of the one being answered, at most.
    static let pipelinedRequests = 16

    /// A request frame read: the request and its feature, or the answer it gets.
    public enum Decoded {
        case request(Request, Feature)
        case answer(Response)
    }

    /// Reads a request frame: the request and its feature, or the protocol error it is answered with.
    public static func decode(_ frame: Frame) -> Decoded {
        let request: Request
        do {
            guard frame.kind == .request else { throw WireError("protocol.malformed", ["detail": "a seat only accepts requests"]) }
            request = try frame.decodeHeader(Request.self)
        } catch let error as WireError {
            return .answer(Response(id: 0, status: .failed, reason: error.reason))
        } catch {
            return .answer(Response(id: 0, status: .failed, reason: Reason("protocol.malformed")))
        }
        guard let feature = Feature(rawValue: request.feature) else {
            return .answer(Response(id: request.id, status: .failed, reason: Reason("protocol.unknown-feature", ["feature": request.feature])))
        }
        return .request(request, feature)
    }

    /// The request arguments that matter to the register (never screenshot pixels).
    static let keptArguments: Set<String> = ["text", "for", "width", "interval", "action", "delay", "argv", "timeout", "privileged", "quality", "mode", "reason"]

    /// The register event of one decision: who, what, where, the arguments that
    /// matter, the outcome and its reason.
    public static func event(
        school: String, seat: String, room: String, zone: TimeZone, feature: String, args: [String: String],
        by identity: Identity?, at date: Date, status: SeatStatus, reason: Reason, sessionUser: String?, configVersion: Int
    ) -> RegisterEvent {
        event(school: school, seat: seat, room: room, zone: zone, feature: feature, args: args, by: identity, at: date,
              outcome: RegisterEvent.Outcome(status), reason: reason, sessionUser: sessionUser, configVersion: configVersion)
    }

    /// The register event of one decision or of its start (`outcome` ``RegisterEvent/Outcome/started``).
    public static func event(
        school: String, seat: String, room: String, zone: TimeZone, feature: String, args: [String: String],
        by identity: Identity?, at date: Date, outcome: RegisterEvent.Outcome, reason: Reason, sessionUser: String?, configVersion: Int
    ) -> RegisterEvent {
        RegisterEvent(
            school: school, seat: seat, timeUTC: RegisterTime.utc(date), timeLocal: RegisterTime.local(date, zone), room: room,
            actor: identity?.uri, actorName: identity?.displayName, actorRole: identity?.role?.rawValue, feature: feature,
            args: args.filter { keptArguments.contains($0.key) }, outcome: outcome, code: reason.code, params: reason.params,
            sessionUser: sessionUser, configVersion: String(configVersion))
    }
}
