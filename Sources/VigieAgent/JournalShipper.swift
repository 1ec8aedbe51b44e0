import Foundation
import Logging
import NIOCore
import NIOPosix
import NIOSSL
import VigieModel
import VigiePKI
import VigieRegister
import VigieWire

/// Ships the seat's journal to the school server: signed batches over mutual
/// TLS, acknowledged by sequence number. Events stay in the journal until the
/// server has them; a server that is down is retried with backoff (1 s doubling
/// to 60 s, with jitter), so it ends with every event stored exactly once.
final class JournalShipper: Sendable {
    let journal: SeatJournal
    let server: ServerSettings
    let identity: IdentityBundle
    let school: String
    let seat: String
    let logger: Logger
    let tls: NIOSSLContext
    static let batchSize = 500

    init(journal: SeatJournal, server: ServerSettings, identity: IdentityBundle, school: String, seat: String, logger: Logger) throws {
        self.journal = journal
        self.server = server
        self.identity = identity
        self.school = school
        self.seat = seat
        self.logger = logger
        self.tls = try VigieTLS.clientContext(identity.tlsMaterial)
    }

    /// Runs until cancelled.
    func run() async {
        var backoff = 1.0
        while !Task.isCancelled {
            do {
                try await session()
                backoff = 1
            } catch is CancellationError {
                return
            } catch {
                logger.warning("journal shipping paused", metadata: ["server": "\(server.address)", "error": "\(error)", "retry_in_s": "\(Int(backoff))"])
                try? await Task.sleep(for: .milliseconds(Int64(backoff * Double.random(in: 0.8...1.2) * 1000)))
                backoff = min(backoff * 2, 60)
            }
        }
    }

    struct ShipError: Error, CustomStringConvertible { let description: String }

    /// One connection: ship while there is something to ship, then idle-poll.
    func session() async throws {
        let connection = try await FramedConnection.open(host: server.host, port: server.port, tls: tls)
        try await connection.channel.executeThenClose { inbound, outbound in
            // Nothing leaves the seat before the peer is known to be this school's server.
            let peer = try await connection.peer()
            guard case .server = peer.kind, peer.schoolID == school else {
                throw ShipError(description: "\(peer.uri) is not a server of school \(school)")
            }
            var responses = inbound.makeAsyncIterator()
            var id: UInt32 = 0
            while !Task.isCancelled {
                let pending = try journal.unacknowledged(limit: Self.batchSize)
                if pending.isEmpty {
                    try await Task.sleep(for: .milliseconds(300))
                    continue
                }
                let batch = try Batch.sign(school: school, seat: seat, events: pending, privateKeyPEM: identity.privateKeyPEM)
                id &+= 1
                let body = Array(try JSONEncoder().encode(batch))
                try await outbound.write(.request(Request(id: id, feature: "register.append"), body: body))
                guard let frame = try await responses.next() else { throw ShipError(description: "the server closed the connection") }
                let response = try frame.decodeHeader(Response.self)
                switch (response.status, response.code) {
                case (.ok, "register.stored"):
                    if let last = response.params["last"].flatMap(Int64.init) { try journal.acknowledge(upTo: last) }
                case (_, "register.gap"):
                    throw ShipError(description: "the server expects event \(response.params["expected"] ?? "?")")
                default:
                    throw ShipError(description: "\(response.code) \(response.params)")
                }
            }
        }
    }
}
