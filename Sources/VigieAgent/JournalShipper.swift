import Foundation
import NIOConcurrencyHelpers
import Logging
import NIOCore
import NIOPosix
import NIOSSL
import ServiceLifecycle
import VigieModel
import VigiePKI
import VigieRegister
import VigieStore
import VigieWire

/// Ships the seat's journal to the school server: signed batches over mutual
/// TLS, acknowledged by sequence number. Events stay in the journal until the
/// server has them; a server that is down is retried with backoff (1 s doubling
/// to 60 s, with jitter, back to 1 s once the server answers again), so it ends with
/// every event stored exactly once.
///
/// A server whose chain of this seat ends before what it acknowledged (it says so on
/// `register.head`, asked at every connection, or answers `register.gap` to a batch)
/// lost events (its store was restored from an older copy): the seat sends them again
/// from the seq the server expects, as long as it still holds their content. When it no longer does
/// (pruned after the seat retention), it tells the server once (`register.lost`, an
/// event of the server's chain) and logs it, then waits an hour between attempts
/// instead of asking every second.
///
/// Acknowledged events lose their content after `seatRetentionDays` (their links
/// stay): pruning runs at start and every hour.
final class JournalShipper: Sendable {
    let journal: SeatJournal
    let server: ServerSettings
    let identity: IdentityBundle
    let school: String
    let seat: String
    let logger: Logger
    let transport: ClientTransport
    let seatRetentionDays: Int
    let state = ShipperState()
    static let batchSize = 500
    /// Bytes of one encoded batch at most (the server reads up to 8 MiB from a seat).
    static let maxBatchBytes = 4 * 1024 * 1024
    /// How long a seat whose lost events cannot be resent waits before asking again.
    static let lostRetry: Duration = .seconds(3600)

    /// What the shipping loop remembers between connections.
    final class ShipperState: Sendable {
        private struct Fields {
            var backoff = ShippingBackoff()
            var resendUpTo: Int64?
            var lostReported: SeatJournal.Rewind?
        }
        private let fields = NIOLockedValueBox(Fields())

        func withLock<T>(_ body: (inout ShippingBackoff, inout Int64?, inout SeatJournal.Rewind?) -> T) -> T {
            fields.withLockedValue { body(&$0.backoff, &$0.resendUpTo, &$0.lostReported) }
        }
    }

    init(journal: SeatJournal, server: ServerSettings, identity: IdentityBundle, school: String, seat: String,
         seatRetentionDays: Int = ProcessingRecord.defaultSeatRetentionDays, logger: Logger) throws {
        self.journal = journal
        self.server = server
        self.identity = identity
        self.school = school
        self.seat = seat
        self.seatRetentionDays = seatRetentionDays
        self.logger = logger
        self.transport = try ClientTransport(identity: identity, deadlines: .server(seconds: server.timeoutSeconds))
    }

    /// Ships and prunes until a graceful shutdown; then sends, once, what is still
    /// unacknowledged (what the listener's drain journaled), within the server's
    /// deadlines, and returns. Cancellation ends it at once.
    func runUntilShutdown() async {
        await cancelWhenGracefulShutdown { await self.run() }
        guard !Task.isCancelled else { return }
        do {
            let waiting = journal.unacknowledgedCount
            if waiting > 0 { try await session(untilCaughtUp: true) }
            logger.notice("journal shipped before stopping", metadata: ["sent_now": "\(waiting)"])
        } catch {
            logger.warning("journal not shipped before stopping; the events wait on the seat", metadata: ["error": "\(error)"])
        }
    }

    /// Runs until cancelled: ships, and prunes acknowledged content past the seat retention.
    func run() async {
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await self.pruneLoop() }
            group.addTask { await self.shipLoop() }
            await group.next()
            group.cancelAll()
        }
    }

    func shipLoop() async {
        while !Task.isCancelled {
            do {
                try await session()
                state.withLock { backoff, _, _ in backoff.succeeded() }
            } catch is CancellationError {
                return
            } catch let lost as LostEvents {
                logger.error("journal shipping stopped: the server lost events this seat no longer holds",
                             metadata: ["server": "\(server.address)", "from": "\(lost.from)", "to": "\(lost.to)", "retry_in_s": "3600"])
                try? await Task.sleep(for: Self.lostRetry)
            } catch {
                let delay = state.withLock { backoff, _, _ in backoff.failed() }
                logger.warning("journal shipping paused", metadata: [
                    "server": "\(server.address)", "error": "\(error)", "retry_in_s": "\(delay.components.seconds)",
                ])
                try? await Task.sleep(for: delay)
            }
        }
    }

    /// Removes the content of acknowledged events older than the seat retention, now and every hour.
    func pruneLoop() async {
        while !Task.isCancelled {
            prune(now: Date())
            try? await Task.sleep(for: .seconds(3600))
        }
    }

    func prune(now: Date) {
        let cutoff = now.addingTimeInterval(-Double(seatRetentionDays) * 86_400)
        do {
            let pruned = try journal.pruneAcknowledged(olderThan: cutoff)
            if pruned > 0 {
                logger.info("journal: content of acknowledged events pruned", metadata: ["events": "\(pruned)", "retention_days": "\(seatRetentionDays)"])
            }
        } catch {
            logger.error("journal: pruning failed", metadata: ["error": "\(error)"])
        }
    }

    /// A shipping session that stopped: the seat tries again later.
    typealias ShipError = CodedError<ShipFailure>

    /// What a ``ShipError`` can be.
    enum ShipFailure: String, Sendable {
        /// The server closed the connection.
        case closed = "ship.closed"
        /// The server refused a batch.
        case refused = "ship.refused"
        /// The server and the seat disagree on where the journal stands.
        case gap = "ship.gap"
    }

    /// The server lost acknowledged events `from`…`to` whose content this seat pruned.
    struct LostEvents: Error, CustomStringConvertible {
        let from: Int64
        let to: Int64
        var description: String { "events \(from)–\(to) are no longer on this seat" }
    }

    /// One connection: ship while there is something to ship, then idle-poll (or
    /// return, `untilCaughtUp`). Connecting, the handshake and every answer wait at
    /// most `[server] timeout`.
    func session(untilCaughtUp: Bool = false) async throws {
        try await transport.call(host: server.host, port: server.port, expecting: .server(school: school)) { exchange in
            // Nothing leaves the seat before the peer is known to be this school's server (checked in the handshake).
            var id: UInt32 = 0
            /// Sends one request (numbered here) and reads its answer.
            func send(_ request: Request, _ body: [UInt8]) async throws -> Response {
                id &+= 1
                var request = request
                request.id = id
                return try await exchange.ask(request, body: body).0
            }
            // Where does the server's chain of this seat end? Less than it acknowledged: its store
            // was restored from an older copy; send the rest again (servers without it answer unknown-feature).
            let head = try await send(Request(id: 0, feature: "register.head"), [])
            // The server answers: the next outage starts again from the shortest delay.
            state.withLock { backoff, _, _ in backoff.succeeded() }
            if head.status == .ok, let last = head.params["last"].flatMap(Int64.init), let acked = journal.lastAcknowledged, last < acked {
                try await gap(expected: last + 1, report: send)
            }
            while !Task.isCancelled {
                let waiting = try journal.unacknowledged(limit: Self.batchSize)
                if waiting.isEmpty {
                    if untilCaughtUp { return }
                    // Idle: notice a server that went away (restarted, perhaps on a restored store),
                    // so the next connection asks `register.head` without waiting for a new event.
                    guard exchange.isActive else { throw ShipError(.closed, "the server closed the connection") }
                    try await Task.sleep(for: .milliseconds(300))
                    continue
                }
                // A batch stays well under the server's frame limit for seats (8 MiB): fewer events when they are large.
                var events = waiting
                var batch = try Batch.sign(school: school, seat: seat, events: events, privateKeyPEM: identity.privateKeyPEM)
                var encoded = try JSONEncoder().encode(batch)
                while encoded.count > Self.maxBatchBytes && events.count > 1 {
                    events = Array(events.prefix(events.count / 2))
                    batch = try Batch.sign(school: school, seat: seat, events: events, privateKeyPEM: identity.privateKeyPEM)
                    encoded = try JSONEncoder().encode(batch)
                }
                let pending = events
                var args: [String: String] = [:]
                // Events the server had acknowledged before it lost them: it journals their return.
                if let upTo = state.withLock({ _, resendUpTo, _ in resendUpTo }), let first = pending.first, first.seq <= upTo {
                    args["resent"] = "\(first.seq)-\(min(upTo, pending.last!.seq))"
                }
                let response = try await send(Request(id: 0, feature: "register.append", args: args), Array(encoded))
                switch (response.status, response.code) {
                case (.ok, "register.stored"):
                    if let last = response.params["last"].flatMap(Int64.init) {
                        try journal.acknowledge(upTo: last)
                        state.withLock { backoff, resendUpTo, lost in
                            backoff.succeeded()
                            lost = nil
                            if let upTo = resendUpTo, last >= upTo { resendUpTo = nil }
                        }
                    }
                case (_, "register.gap"):
                    guard let expected = response.params["expected"].flatMap(Int64.init) else {
                        throw ShipError(.gap, "the server reports a gap without saying where")
                    }
                    try await gap(expected: expected, report: send)
                default:
                    throw ShipError(.refused, "\(response.code) \(response.params)")
                }
            }
        }
    }

    /// The server's chain of this seat ends before `expected` although it had acknowledged more.
    func gap(expected: Int64, report: (Request, [UInt8]) async throws -> Response) async throws {
        switch try journal.rewind(from: expected) {
        case .resending(let from, let to):
            logger.warning("the server lost events it had stored (restored from an older copy?): sending them again",
                           metadata: ["from": "\(from)", "to": "\(to)"])
            state.withLock { _, resendUpTo, _ in resendUpTo = to }
        case .pruned(let from, let to):
            let first = state.withLock { _, _, lost in
                defer { lost = .pruned(from: from, to: to) }
                return lost != .pruned(from: from, to: to)
            }
            if first {
                // Tell the server once: it writes the loss in its own chain.
                let answer = try await report(
                    Request(id: 0, feature: "register.lost", args: ["from": String(from), "to": String(to),
                                                                     "retention_days": String(seatRetentionDays)]), [])
                if answer.status != .ok { logger.error("the server did not record the loss", metadata: ["code": "\(answer.code)"]) }
            }
            throw LostEvents(from: from, to: to)
        case .beyondEnd(let last):
            throw ShipError(.gap, "the server expects event \(expected) but this seat's journal ends at \(last) (was the journal replaced?)")
        case .nothing:
            throw ShipError(.gap, "the server expects event \(expected), which this seat has not sent yet and still waits to send")
        }
    }
}
