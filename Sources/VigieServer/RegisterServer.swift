import Foundation
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import NIOSSL
import ServiceLifecycle
import VigieModel
import VigiePKI
import VigieRegister
import VigieStore
import VigieService
import VigieWire

/// How to run the school server.
public struct ServerOptions: Sendable {
    public var config: SchoolConfig
    /// The server's own identity (a `vigie://SCHOOL/server/NAME` certificate).
    public var identity: IdentityBundle
    public var storePath: String
    public var listenHost: String
    public var listenPort: Int
    /// How often the server signs a checkpoint on its own (besides every export).
    public var checkpointInterval: Duration
    /// The school CA, when this server enrols new seats with one-time tokens.
    public var enrolmentCA: SchoolCA?

    public init(config: SchoolConfig, identity: IdentityBundle, storePath: String, listenHost: String, listenPort: Int,
                checkpointInterval: Duration = .seconds(86_400), enrolmentCA: SchoolCA? = nil) {
        self.enrolmentCA = enrolmentCA
        self.config = config
        self.identity = identity
        self.storePath = storePath
        self.listenHost = listenHost
        self.listenPort = listenPort
        self.checkpointInterval = checkpointInterval
    }
}

/// The school server: receives the seats' journals over mutual TLS, keeps its own
/// chain for what no seat can record, and answers the head of school's register
/// requests. Everything it is asked is decided by the caller's certificate.
public final class RegisterServer: Service, Sendable {
    let options: ServerOptions
    let store: SQLiteRegisterStore
    let enrolment: EnrolmentStore
    let logger: Logger
    let tls: NIOSSLContext
    let school: String
    /// Counts and caps the connections of peers (``PeerLimits/server``, fitted to the descriptor limit).
    let gate: PeerGate
    /// The connections being served, for a graceful shutdown.
    let drain = ConnectionDrain()
    /// Anonymous enrolment requests, rate-limited per address.
    let enrolments = EnrolmentThrottle()
    /// Help requests forwarded by the seats (codes as HMACs, kept in the state file across restarts).
    let helpCodes: HelpCodes

    /// Register requests and the roles that may make them.
    static let roles: [String: Set<Role>] = [
        "register.export": [.head],
        "register.purge": [.head],
        "register.subject": [.head],
        "register.verify": [.head, .admin],
        "register.checkpoint": [.head, .admin],
        "register.report": [.teacher, .librarian, .head, .admin],
        "config.publish": [.admin],
        "assist.requests": [.technician, .admin],
        "assist.resolve": [.technician, .admin],
        "assist.note": [.technician, .admin],
        "assist.report": [.technician, .admin, .head],
    ]

    public init(options: ServerOptions, logger: Logger) throws {
        guard case .server = options.identity.identity.kind, options.identity.identity.schoolID == options.config.school.id else {
            throw ServerStartError(.notAServer, "the identity \(options.identity.identity.uri) is not a server of school \(options.config.school.id) (issue one with `vigie pki issue --server NAME`)")
        }
        self.options = options
        self.school = options.config.school.id
        self.logger = logger
        self.store = try SQLiteRegisterStore(path: options.storePath)
        self.enrolment = try EnrolmentStore(path: EnrolmentStore.path(forStore: options.storePath))
        // The help requests waiting when it stopped are waiting still.
        self.helpCodes = HelpCodes(key: try EnrolmentStore.helpKey(forStore: options.storePath))
        helpCodes.restore(try enrolment.helpRequests(school: options.config.school.id))
        if let ca = options.enrolmentCA, ca.schoolID != options.config.school.id {
            throw ServerStartError(.enrolmentCA, "the enrolment CA is of school \(ca.schoolID), not \(options.config.school.id)")
        }
        self.gate = PeerGate.fitted(.server, for: "the school server", logger: logger)
        // Seats that enrol come without a certificate; everyone else must present one.
        self.tls = options.enrolmentCA == nil
            ? try VigieTLS.serverContext(options.identity.tlsMaterial)
            : try VigieTLS.serverContextAllowingEnrolment(options.identity.tlsMaterial)
    }

    public func run(onBound: @Sendable (Int) -> Void) async throws {
        let config = options.config
        // Bounded before trusted: certificates are checked inside the handshake
        // (chain, school, revocation); anonymous peers (enrolment) get one small frame.
        let verifier = try PeerVerifier(caPEM: options.identity.caCertificatePEM, logger: logger, authorize: { identity, serial in
            Policy.admit(identity: identity, serialHex: serial, config: config, seats: true)
        }, record: { [weak self] reason, identity in
            try? self?.recordAnonymous("connect", args: [:], outcome: .refused, code: reason.code, params: reason.params, actor: identity)
        })
        let server = try await GuardedListener.bind(host: options.listenHost, port: options.listenPort, backlog: 1024, tls: tls, gate: gate, verifier: verifier)
        let port = server.channel.localAddress?.port ?? options.listenPort
        logger.notice("register server listening", metadata: ["address": "\(options.listenHost):\(port)", "store": "\(options.storePath)"])
        onBound(port)
        // Until SIGTERM (a ServiceGroup's graceful shutdown): requests in flight are answered, then it returns.
        try await GuardedListener.serve(server, drain: drain, logger: logger) { connection in
            await self.serve(connection)
        }
        logger.notice("register server stopped")
    }

    /// The listener, until a graceful shutdown.
    public func run() async throws { try await run(onBound: { _ in }) }

    /// The server's parts as the services of one `ServiceGroup` (``ServiceRunner``).
    /// A graceful shutdown stops them from the last: the listener first (no new
    /// connection, requests in flight answered), then the enrolment counter, which
    /// records the refusals it still counts, then the checkpoints.
    public var services: [any Service] {
        [
            ClosureService { await cancelWhenGracefulShutdown { await self.checkpointLoop() } },
            ClosureService {
                await cancelWhenGracefulShutdown { await self.enrolmentThrottleLoop() }
                self.flushEnrolmentRefusals()
            },
            self,
        ]
    }

    /// Anonymous requests over the enrolment rate limit: one counted event a minute.
    func enrolmentThrottleLoop() async {
        while !Task.isCancelled {
            do { try await Task.sleep(for: .seconds(60)) } catch { return }
            flushEnrolmentRefusals()
        }
    }

    func flushEnrolmentRefusals() {
        let (count, addresses) = enrolments.takeRefused()
        guard count > 0 else { return }
        logger.warning("anonymous requests over the enrolment rate limit", metadata: ["count": "\(count)", "addresses": "\(addresses.count)"])
        do {
            try recordAnonymous("pki.enrol", args: [:], outcome: .refused, code: "enrol.rate-limited",
                                params: ["count": String(count), "addresses": addresses.sorted().prefix(20).joined(separator: " ")])
        } catch {
            logger.error("cannot record refused enrolments", metadata: ["error": "\(error)"])
        }
    }

    /// Signs a checkpoint now and then, so that a cut tail can be proven later.
    func checkpointLoop() async {
        while !Task.isCancelled {
            do {
                try await Task.sleep(for: options.checkpointInterval)
                _ = try makeCheckpoint()
            } catch is CancellationError {
                return
            } catch {
                logger.error("checkpoint failed", metadata: ["error": "\(error)"])
            }
        }
    }

    func makeCheckpoint() throws -> Checkpoint {
        try Checkpoint.make(store: store, school: school, privateKeyPEM: options.identity.privateKeyPEM,
                            certificatePEM: options.identity.certificatePEM)
    }

    struct Peer {
        let identity: Identity
        let serial: String
        let certificateDER: [UInt8]
        let address: String
    }

    /// A connection idle this long is closed (a seat's shipper connects again when it has events).
    static let idleLimit: TimeAmount = .seconds(120)

    func serve(_ connection: NIOAsyncChannel<Frame, Frame>) async {
        let channel = connection.channel
        var idle = channel.eventLoop.scheduleTask(in: Self.idleLimit) { channel.close(promise: nil) }
        drain.opened(channel)
        defer {
            idle.cancel()
            drain.closed(channel)
        }
        do {
            try await connection.executeThenClose { inbound, outbound in
                var peer: Peer?
                var knowsPeer = false
                let address = channel.remoteAddress?.ipAddress ?? "?"
                do {
                    for try await frame in inbound {
                        idle.cancel()
                        // Shutting down: a request not yet started is not started.
                        guard drain.begin(channel) else { return }
                        defer {
                            drain.end(channel)
                            idle = channel.eventLoop.scheduleTask(in: Self.idleLimit) { channel.close(promise: nil) }
                        }
                        if !knowsPeer {
                            knowsPeer = true
                            // Checked and parsed once, inside the TLS verification; none: an anonymous enrolment.
                            if let verified = await GuardedListener.peer(of: channel) {
                                peer = Peer(identity: verified.identity, serial: verified.serial, certificateDER: verified.certificateDER, address: address)
                                noteSeat(peer!)
                            }
                        }
                        let request: Request
                        do {
                            request = try frame.decodeHeader(Request.self)
                        } catch let error as WireError {
                            try await outbound.write(.response(Response(id: 0, status: .failed, reason: error.reason)))
                            return
                        }
                        guard let peer else {
                            // No certificate: only a seat enrolling with its one-time token, a few times a minute per address.
                            guard enrolments.allow(address) else {
                                try await reply(outbound, request.id, .refused, "enrol.rate-limited")
                                return
                            }
                            if request.feature == "pki.enroll" {
                                try await enrol(request, address: address, outbound)
                            } else {
                                try await reply(outbound, request.id, .refused, "auth.no-certificate")
                            }
                            return
                        }
                        try await handle(request, body: frame.body, from: peer, outbound)
                    }
                } catch let error as WireError {
                    try? await outbound.write(.response(Response(id: 0, status: .failed, reason: error.reason)))
                }
            }
        } catch {
            logger.info("connection ended", metadata: ["peer": "\(channel.remoteAddress?.description ?? "?")", "error": "\(error)"])
        }
    }

    /// A seat seen from another address than last time is flagged in the register:
    /// two machines may be presenting the same seat's certificate.
    func noteSeat(_ peer: Peer) {
        guard case .seat(let seat) = peer.identity.kind, peer.identity.schoolID == school else { return }
        do {
            if let previous = try enrolment.seen(school: school, seat: seat, address: peer.address) {
                logger.warning("seat seen from another address", metadata: ["seat": "\(seat)", "previous": "\(previous)", "now": "\(peer.address)"])
                try record("seat.address-changed", args: ["previous": previous, "address": peer.address], peer: peer,
                           code: "seat.address-changed", seat: seat)
            }
        } catch {
            logger.error("cannot record where a seat was seen", metadata: ["error": "\(error)"])
        }
    }

    /// A seat with no certificate yet: check its one-time token and its proof of
    /// key possession, then sign a seat certificate for the key it made itself.
    func enrol(_ request: Request, address: String, _ out: NIOAsyncChannelOutboundWriter<Frame>) async throws {
        guard let ca = options.enrolmentCA else {
            return try await reply(out, request.id, .refused, "enrol.disabled")
        }
        guard let asked = Enrolment.Request(args: request.args), asked.school == school, Identity.isValidToken(asked.seat) else {
            return try await reply(out, request.id, .failed, "protocol.malformed", ["detail": "not an enrolment request of school \(school)"])
        }
        guard asked.proofHolds else {
            return try await reply(out, request.id, .refused, "enrol.bad-proof")
        }
        let check = try enrolment.use(hash: Enrolment.tokenHash(asked.token), school: school, seat: asked.seat, from: address)
        let code: String
        switch check {
        case .accepted: code = "enrol.done"
        case .unknown: code = "enrol.token-unknown"
        case .used: code = "enrol.token-used"
        case .expired: code = "enrol.token-expired"
        case .otherSeat: code = "enrol.token-other-seat"
        }
        guard check == .accepted else {
            try recordAnonymous("pki.enrol", args: ["seat": asked.seat, "address": address], outcome: .refused, code: code)
            return try await reply(out, request.id, .refused, code, ["seat": asked.seat])
        }
        let issued = try Enrolment.issue(asked, ca: ca)
        try recordAnonymous("pki.enrol", args: ["seat": asked.seat, "address": address, "serial": issued.serialHex], outcome: .done, code: code)
        _ = try enrolment.seen(school: school, seat: asked.seat, address: address)
        try await reply(out, request.id, .ok, code, ["seat": asked.seat, "serial": issued.serialHex], body: Array(issued.certificatePEM.utf8))
    }

    func reply(_ out: NIOAsyncChannelOutboundWriter<Frame>, _ id: UInt32, _ status: SeatStatus, _ code: String, _ params: [String: String] = [:], body: [UInt8] = []) async throws {
        try await out.write(.response(Response(id: id, status: status, reason: Reason(code, params)), body: body))
    }

    func handle(_ request: Request, body: [UInt8], from peer: Peer, _ out: NIOAsyncChannelOutboundWriter<Frame>) async throws {
        // School and revocation were checked in the TLS handshake (Policy.admit with this config).
        if request.feature == "config.fetch" {
            return try await fetchConfig(request, out)
        }
        if request.feature == "register.append" {
            guard case .seat(let seatID) = peer.identity.kind else {
                return try await reply(out, request.id, .refused, "register.not-a-seat", ["identity": peer.identity.uri])
            }
            return try await append(request, body: body, seat: seatID, peer: peer, out)
        }
        if request.feature == "register.head" {
            // Where this server's chain of the seat ends: a seat that reconnects compares it
            // with what it was acknowledged, and sends again what a restored store lost.
            guard case .seat(let seatID) = peer.identity.kind else {
                return try await reply(out, request.id, .refused, "register.not-a-seat", ["identity": peer.identity.uri])
            }
            let link = try store.lastLink(school: school, seat: seatID)
            return try await reply(out, request.id, .ok, "register.head", ["last": String(link?.seq ?? 0), "hash": link?.hash ?? ""])
        }
        if request.feature == "assist.help" {
            guard case .seat(let seatID) = peer.identity.kind else {
                return try await reply(out, request.id, .refused, "register.not-a-seat", ["identity": peer.identity.uri])
            }
            return try await helpRequest(request, seat: seatID, peer: peer, out)
        }
        if request.feature == "register.lost" {
            guard case .seat(let seatID) = peer.identity.kind else {
                return try await reply(out, request.id, .refused, "register.not-a-seat", ["identity": peer.identity.uri])
            }
            return try await lost(request, seat: seatID, peer: peer, out)
        }
        guard let allowed = Self.roles[request.feature] else {
            return try await reply(out, request.id, .failed, "protocol.unknown-feature", ["feature": request.feature])
        }
        guard let role = peer.identity.role, allowed.contains(role) else {
            logger.notice("register request refused", metadata: ["feature": "\(request.feature)", "actor": "\(peer.identity.uri)"])
            try? record(request.feature, args: request.args, peer: peer, outcome: .refused, code: "policy.role")
            return try await reply(out, request.id, .refused, "policy.role", ["role": peer.identity.role?.rawValue ?? "-"])
        }
        do {
            switch request.feature {
            case "register.report": try await report(request, peer: peer, out)
            case "register.export": try await export(request, peer: peer, out)
            case "register.verify": try await verify(request, body: body, peer: peer, out)
            case "register.purge": try await purge(request, peer: peer, out)
            case "register.subject": try await subject(request, peer: peer, out)
            case "register.checkpoint": try await checkpoint(request, peer: peer, out)
            case "config.publish": try await publishConfig(request, body: body, peer: peer, out)
            case "assist.requests": try await helpRequests(request, peer: peer, out)
            case "assist.resolve": try await resolveCode(request, peer: peer, out)
            case "assist.note": try await interventionNote(request, peer: peer, out)
            case "assist.report": try await interventionReport(request, peer: peer, out)
            default: try await reply(out, request.id, .failed, "protocol.unknown-feature", ["feature": request.feature])
            }
        } catch let reason as Reason {
            try await reply(out, request.id, .failed, reason.code, reason.params)
        } catch {
            logger.error("register request failed", metadata: ["feature": "\(request.feature)", "error": "\(error)"])
            try await reply(out, request.id, .failed, "register.error", ["detail": "\(error)"])
        }
    }

    /// A seat's journal batch.
    func append(_ request: Request, body: [UInt8], seat: String, peer: Peer, _ out: NIOAsyncChannelOutboundWriter<Frame>) async throws {
        let batch: Batch
        do {
            batch = try JSONDecoder().decode(Batch.self, from: Data(body))
        } catch {
            return try await reply(out, request.id, .failed, "protocol.malformed", ["detail": "the body is not a journal batch"])
        }
        guard batch.school == school, batch.seat == seat else {
            return try await reply(out, request.id, .refused, "register.wrong-seat", ["seat": batch.seat, "certificate": seat])
        }
        do {
            switch try store.ingest(batch, certificateDER: peer.certificateDER) {
            case .stored(let last):
                if let range = request.args["resent"], let first = batch.events.first, let lastEvent = batch.events.last {
                    // Events this server had acknowledged, then lost (a store restored from an older copy).
                    logger.warning("seat sent again events the server had lost", metadata: ["seat": "\(seat)", "events": "\(range)"])
                    let params = ["seat": seat, "from": String(first.seq), "to": String(lastEvent.seq)]
                    try record("register.resent", args: ["from": params["from"]!, "to": params["to"]!], peer: peer,
                               code: "register.resent", params: params, seat: seat)
                }
                try await reply(out, request.id, .ok, "register.stored", ["last": String(last)])
            case .gap(let expected):
                logger.warning("seat batch after a gap: asking for the missing events", metadata: [
                    "seat": "\(seat)", "expected": "\(expected)", "received_from": "\(batch.events.first?.seq ?? 0)",
                ])
                try await reply(out, request.id, .failed, "register.gap", ["expected": String(expected)])
            }
        } catch {
            logger.error("journal batch refused", metadata: ["seat": "\(seat)", "error": "\(error)"])
            try await reply(out, request.id, .failed, "register.chain", ["detail": "\(error)"])
        }
    }

    /// A seat cannot send again events this server lost: it pruned their content
    /// after the seat retention. The loss goes into the server's own chain.
    func lost(_ request: Request, seat: String, peer: Peer, _ out: NIOAsyncChannelOutboundWriter<Frame>) async throws {
        guard let from = request.args["from"].flatMap(Int64.init), let to = request.args["to"].flatMap(Int64.init), from >= 1, to >= from else {
            return try await reply(out, request.id, .failed, "protocol.malformed", ["detail": "register.lost needs from ≤ to"])
        }
        let days = request.args["retention_days"] ?? "?"
        logger.error("a seat no longer holds events this server lost", metadata: ["seat": "\(seat)", "from": "\(from)", "to": "\(to)"])
        let params = ["seat": seat, "from": String(from), "to": String(to), "retention_days": days]
        try record("register.lost", args: ["from": String(from), "to": String(to), "retention_days": days], peer: peer,
                   outcome: .failed, code: "register.lost", params: params, seat: seat)
        try await reply(out, request.id, .ok, "register.lost", params)
    }

    /// Writes an act of the server's chain that no certificate stands behind (an enrolment).
    func recordAnonymous(_ feature: String, args: [String: String], outcome: RegisterEvent.Outcome, code: String,
                         params: [String: String] = [:], actor: Identity? = nil) throws {
        let now = Date()
        let event = RegisterEvent(
            school: school, seat: RegisterEvent.serverSeat, timeUTC: RegisterTime.utc(now), timeLocal: RegisterTime.local(now, zone),
            room: nil, actor: actor?.uri, actorName: actor?.displayName, actorRole: actor?.role?.rawValue, feature: feature, args: args,
            outcome: outcome, code: code, params: params, sessionUser: nil, configVersion: nil)
        _ = try store.appendServer(event, school: school)
    }

    /// Writes an act of the server's own chain (an export, a purge, a report…).
    @discardableResult
    func record(_ feature: String, args: [String: String], peer: Peer, outcome: RegisterEvent.Outcome = .done, code: String = "done",
                params: [String: String] = [:], seat: String? = nil) throws -> ChainedEvent {
        let now = Date()
        var args = args
        if let seat { args["seat"] = seat }
        let event = RegisterEvent(
            school: school, seat: RegisterEvent.serverSeat, timeUTC: RegisterTime.utc(now),
            timeLocal: RegisterTime.local(now, zone),
            room: nil, actor: peer.identity.uri, actorName: peer.identity.displayName, actorRole: peer.identity.role?.rawValue,
            feature: feature, args: args, outcome: outcome, code: code, params: params, sessionUser: nil, configVersion: nil)
        return try store.appendServer(event, school: school)
    }
}

/// A school server that cannot start with what it was given.
public typealias ServerStartError = CodedError<ServerStartFailure>

/// What a ``ServerStartError`` can be.
public enum ServerStartFailure: String, Sendable {
    /// The identity is not a server of this school.
    case notAServer = "server.not-a-server"
    /// The enrolment CA belongs to another school.
    case enrolmentCA = "server.enrolment-ca"
    /// The help codes' key file cannot be read or made.
    case helpKey = "server.help-key"
}

/// Anonymous (certificate-less) requests per address: a bucket of `burst`
/// refilled at `perMinute`. Requests over it are refused and counted; the count
/// is recorded once a minute (``RegisterServer/flushEnrolmentRefusals()``).
final class EnrolmentThrottle: Sendable {
    struct State {
        var buckets: [String: (tokens: Double, at: Date)] = [:]
        var refused = 0
        var refusedFrom: Set<String> = []
    }
    let burst: Double
    let perMinute: Double
    private let state = NIOLockedValueBox(State())

    init(burst: Int = 5, perMinute: Int = 10) {
        self.burst = Double(burst)
        self.perMinute = Double(perMinute)
    }

    func allow(_ address: String, now: Date = Date()) -> Bool {
        let burst = self.burst, rate = perMinute / 60
        return state.withLockedValue { s in
            var bucket = s.buckets[address] ?? (burst, now)
            bucket.tokens = min(burst, bucket.tokens + now.timeIntervalSince(bucket.at) * rate)
            bucket.at = now
            if s.buckets.count > 50_000 { s.buckets = s.buckets.filter { now.timeIntervalSince($0.value.at) < 600 } }
            guard bucket.tokens >= 1 else {
                s.buckets[address] = bucket
                s.refused += 1
                if s.refusedFrom.count < 1000 { s.refusedFrom.insert(address) }
                return false
            }
            bucket.tokens -= 1
            s.buckets[address] = bucket
            return true
        }
    }

    /// The refusals counted since the last call, and from where.
    func takeRefused() -> (Int, Set<String>) {
        state.withLockedValue { s in
            defer { s.refused = 0; s.refusedFrom = [] }
            return (s.refused, s.refusedFrom)
        }
    }
}
