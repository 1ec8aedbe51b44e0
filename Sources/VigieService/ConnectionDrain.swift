import Logging
import NIOConcurrencyHelpers
import NIOCore
import ServiceLifecycle
import VigieWire

/// The connections a listener serves, so that a graceful shutdown (SIGTERM)
/// closes the idle ones at once and lets each busy one finish the request it
/// is answering, then close. A request that arrives once the drain has begun
/// is not started.
public final class ConnectionDrain: Sendable {
    private struct Entry {
        let channel: Channel
        var busy: Bool
    }

    private struct State {
        var open: [ObjectIdentifier: Entry] = [:]
        var draining = false
    }

    private let state = NIOLockedValueBox(State())

    public init() {}

    /// True once ``drain()`` was called.
    public var isDraining: Bool { state.withLockedValue { $0.draining } }

    /// A request is about to be answered on `channel`: false when the listener
    /// is draining (the connection is then closed instead).
    public func begin(_ channel: Channel) -> Bool {
        let go = state.withLockedValue { s -> Bool in
            guard !s.draining else { return false }
            s.open[ObjectIdentifier(channel), default: Entry(channel: channel, busy: true)].busy = true
            return true
        }
        if !go { channel.close(promise: nil) }
        return go
    }

    /// The request on `channel` was answered; while draining, the connection closes.
    public func end(_ channel: Channel) {
        let close = state.withLockedValue { s -> Bool in
            s.open[ObjectIdentifier(channel), default: Entry(channel: channel, busy: false)].busy = false
            return s.draining
        }
        if close { channel.close(promise: nil) }
    }

    /// `channel` is gone.
    public func closed(_ channel: Channel) {
        state.withLockedValue { _ = $0.open.removeValue(forKey: ObjectIdentifier(channel)) }
    }

    /// Starts draining: idle connections close now, busy ones after their answer.
    public func drain() {
        let idle = state.withLockedValue { s -> [Channel] in
            s.draining = true
            return s.open.values.filter { !$0.busy }.map(\.channel)
        }
        idle.forEach { $0.close(promise: nil) }
    }

    /// A connection that is open but has sent nothing yet is idle.
    public func opened(_ channel: Channel) {
        let close = state.withLockedValue { s -> Bool in
            if s.draining { return true }
            s.open[ObjectIdentifier(channel)] = Entry(channel: channel, busy: false)
            return false
        }
        if close { channel.close(promise: nil) }
    }
}

extension GuardedListener {
    /// Serves every connection of `server` with `connection` until a graceful
    /// shutdown (SIGTERM, in a swift-service-lifecycle `ServiceGroup`) or until
    /// the task is cancelled. On a graceful shutdown the listener stops
    /// accepting, idle connections close, requests in flight are answered, then
    /// it returns. The drain is bounded by the group's maximum graceful shutdown
    /// duration.
    public static func serve(
        _ server: NIOAsyncChannel<NIOAsyncChannel<Frame, Frame>, Never>, drain: ConnectionDrain, logger: Logger,
        connection: @escaping @Sendable (NIOAsyncChannel<Frame, Frame>) async -> Void
    ) async throws {
        try await withGracefulShutdownHandler {
            try await withThrowingDiscardingTaskGroup { group in
                do {
                    try await server.executeThenClose { inbound in
                        for try await accepted in inbound { group.addTask { await connection(accepted) } }
                    }
                } catch where drain.isDraining {
                    // The listener was closed on purpose: no new connections.
                }
            }
        } onGracefulShutdown: {
            logger.notice("shutting down: no new connections; answering the requests in flight")
            drain.drain()
            server.channel.close(promise: nil)
        }
    }
}

/// How the long-running executables (`vigie-agent`, `vigie server`) run:
/// their parts as the services of one swift-service-lifecycle `ServiceGroup`,
/// which turns SIGTERM and SIGINT into a graceful shutdown of each in reverse
/// order (the listener, last in the list, first: stop accepting, answer what is
/// in flight) and cancels what is still running after `drainLimit` (default 5 s).
public enum ServiceRunner {
    public static func run(_ services: [any Service], logger: Logger, drainLimit: Duration = .seconds(5)) async throws {
        var configuration = ServiceGroupConfiguration(services: services, gracefulShutdownSignals: [.sigterm, .sigint], logger: logger)
        configuration.maximumGracefulShutdownDuration = drainLimit
        try await ServiceGroup(configuration: configuration).run()
    }
}
