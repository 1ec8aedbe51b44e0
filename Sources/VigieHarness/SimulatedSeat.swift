import Foundation
import Logging
import NIOCore
import NIOPosix
import NIOSSL
import VigieModel
import VigiePKI
import VigieRegister
import VigieWire
import VigieAgent

/// A seat agent without a display, for scale tests: the real request path — its
/// own mutual-TLS listener and certificate, the frame codec, the school's
/// ``Policy`` on the seat's clock, a hash-chained journal entry before every
/// answer, the same answers (codes and parameters) — with the X11 side replaced by
/// a few bytes of state (lock, pending power action) and a ``SyntheticScreen``.
///
/// The connection loop mirrors `SeatAgent.serve` (NIOAsyncChannel, requests
/// answered in order, a peer idle for 30 s is dropped, protocol errors answered
/// then closed). The journal is a ``MemoryJournal``: the same chain, kept in memory.
public final class SimulatedSeat: @unchecked Sendable {
    let seat: Seat
    let room: Room
    let config: SchoolConfig
    let texts: SeatTexts
    let screen: SyntheticScreen
    let logger: Logger
    /// Every decision, chained as on a real seat, before the console hears of it.
    public let journal: MemoryJournal
    private let lock = NSLock()
    private var lockedBy: Identity?
    private var lockedUntil: Date?
    private var powerPending: (action: PowerAction, at: Date, by: Identity)?
    /// How long a connection may stay without a request.
    static let idleLimit: TimeAmount = .seconds(30)

    public init(seat: Seat, config: SchoolConfig, screen: SyntheticScreen, logger: Logger) {
        self.seat = seat
        self.room = config.room(seat.room)!
        self.config = config
        self.texts = SeatTexts(language: config.school.language, timeZoneID: room.timeZone)
        self.screen = screen
        self.logger = logger
        self.journal = MemoryJournal(school: config.school.id, seat: seat.id)
    }

    /// Binds the seat's listener; the returned channel's inbound sequence yields connections.
    func bind(tls: NIOSSLContext, group: any EventLoopGroup, host: String, port: Int) async throws
        -> NIOAsyncChannel<NIOAsyncChannel<Frame, Frame>, Never>
    {
        try await ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 256)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.tcpOption(.tcp_nodelay), value: 1)
            .bind(host: host, port: port) { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: tls))
                    try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(FrameDecoder()))
                    try channel.pipeline.syncOperations.addHandler(MessageToByteHandler(FrameEncoder()))
                    return try NIOAsyncChannel<Frame, Frame>(wrappingChannelSynchronously: channel)
                }
            }
    }

    /// Serves connections until the listener closes or the task is cancelled.
    func run(_ server: NIOAsyncChannel<NIOAsyncChannel<Frame, Frame>, Never>) async {
        do {
            try await withThrowingDiscardingTaskGroup { group in
                try await server.executeThenClose { inbound in
                    for try await connection in inbound {
                        group.addTask { await self.serve(connection) }
                    }
                }
            }
        } catch {
            logger.debug("listener ended", metadata: ["seat": "\(seat.id)", "error": "\(error)"])
        }
    }

    /// One console connection, served exactly as the real agent serves one.
    func serve(_ connection: NIOAsyncChannel<Frame, Frame>) async {
        await SeatConnection.serve(connection, idleLimit: Self.idleLimit, logger: logger) { frame, peer in self.answer(frame, from: peer) }
    }

    /// Decides, does, journals, answers — as `SeatAgent.answer`.
    func answer(_ frame: Frame, from peer: (identity: Identity, serial: String)) -> (Response, [UInt8]) {
        let (request, feature): (Request, Feature)
        switch SeatConnection.decode(frame) {
        case .answer(let response): return (response, [])
        case .request(let r, let f): (request, feature) = (r, f)
        }
        let now = Date()
        let decision = Policy.decide(identity: peer.identity, serialHex: peer.serial, feature: feature, seat: seat, config: config, at: now)
        var status = SeatStatus.refused
        var reason: Reason
        var body: [UInt8] = []
        if case .refuse(let why) = decision {
            reason = why
        } else {
            (status, reason, body) = perform(feature, request.args, by: peer.identity, at: now)
        }
        journal.append(event(feature.rawValue, request.args, by: peer.identity, at: now, status: status, reason: reason))
        if feature.isMonitoring && status == .ok {
            // The indicator a real seat would show, journaled the same way.
            journal.append(event("notice.indicator", ["text": texts.indicator(by: peer.identity, at: now)], by: peer.identity, at: now,
                                 status: .ok, reason: Reason("notice.window")))
        }
        return (Response(id: request.id, status: status, reason: reason), body)
    }

    func event(_ feature: String, _ args: [String: String], by identity: Identity, at date: Date, status: SeatStatus, reason: Reason) -> RegisterEvent {
        SeatConnection.event(school: config.school.id, seat: seat.id, room: room.id, zone: texts.timeZone, feature: feature, args: args,
                             by: identity, at: date, status: status, reason: reason, sessionUser: nil, configVersion: 0)
    }

    func perform(_ feature: Feature, _ args: [String: String], by identity: Identity, at now: Date) -> (SeatStatus, Reason, [UInt8]) {
        switch feature {
        case .lock:
            var until: Date?
            if let text = args["for"] {
                guard let seconds = Int(text), seconds > 0, seconds <= 7 * 24 * 3600 else {
                    return (.failed, Reason("request.bad-argument", ["name": "for", "detail": text]), [])
                }
                until = now.addingTimeInterval(Double(seconds))
            }
            return lock.withLock {
                expireLock(now)
                if let by = lockedBy { return (.ok, Reason("lock.already", ["by": by.displayName]), []) }
                lockedBy = identity
                lockedUntil = until
                if let until { return (.ok, Reason("lock.done-until", ["until": texts.time(until)]), []) }
                return (.ok, Reason("lock.done"), [])
            }
        case .unlock:
            return lock.withLock {
                expireLock(now)
                defer { lockedBy = nil; lockedUntil = nil }
                return lockedBy == nil ? (.ok, Reason("unlock.not-locked"), []) : (.ok, Reason("unlock.done"), [])
            }
        case .status:
            return lock.withLock {
                expireLock(now)
                if let by = lockedBy { return (.ok, Reason("status.locked", ["by": by.displayName]), []) }
                return (.ok, Reason("status.unlocked"), [])
            }
        case .message:
            // The same rule as the agent's: UTF-8 bytes, not characters.
            if let problem = MessageLimits.problem(args["text"] ?? "") {
                if problem.code == "input.message.empty" {
                    return (.failed, Reason("request.bad-argument", ["name": "text", "detail": "empty"]), [])
                }
                return (.failed, Reason("message.too-long", problem.params), [])
            }
            return (.ok, Reason("message.shown"), [])
        case .screenshot, .thumbnail:
            var width: Int?
            if feature == .thumbnail {
                guard let w = args["width"].flatMap(Int.init), (16...3840).contains(w) else {
                    return (.failed, Reason("request.bad-argument", ["name": "width", "detail": "16 to 3840 pixels"]), [])
                }
                width = w
            }
            switch screen.png(thumbnailWidth: width) {
            case .success(let shot):
                return (.ok, Reason("screenshot.taken", ["width": String(shot.width), "height": String(shot.height), "bytes": String(shot.png.count)]), shot.png)
            case .failure(let reason):
                return (.failed, reason, [])
            }
        case .power:
            guard let text = args["action"], let action = PowerAction(rawValue: text) else {
                return (.failed, Reason("request.bad-argument", ["name": "action", "detail": "off, reboot, logoff or cancel"]), [])
            }
            return lock.withLock {
                if action == .cancel {
                    guard let p = powerPending else { return (.ok, Reason("power.nothing-pending"), []) }
                    powerPending = nil
                    return (.ok, Reason("power.cancelled", ["action": p.action.rawValue, "at": texts.timeWithSeconds(p.at), "by": p.by.displayName]), [])
                }
                // Simulated: the countdown is remembered, nothing is ever switched off.
                let delay = args["delay"].flatMap(Int.init) ?? config.power.defaultDelay
                let at = now.addingTimeInterval(Double(delay))
                powerPending = (action, at, identity)
                return (.ok, Reason("power.scheduled", ["action": action.rawValue, "at": texts.timeWithSeconds(at), "by": identity.displayName]), [])
            }
        case .run:
            // A simulated seat has nobody logged in.
            return (.failed, Reason("run.no-session-user"), [])
        case .wake:
            return (.failed, Reason("request.bad-argument", ["name": "feature", "detail": "wake is sent by the console, not by a seat"]), [])
        }
    }

    private func expireLock(_ now: Date) {
        if let until = lockedUntil, until <= now {
            lockedBy = nil
            lockedUntil = nil
        }
    }
}

/// A seat journal in memory: each event is chained exactly as `SeatJournal` does
/// (canonical JSON, SHA-256 links from the seat's genesis); only the last link and
/// the count are kept. A per-agent SQLite file would cost more than the whole
/// simulated agent, and the harness measures the request path, not the disk.
public final class MemoryJournal: @unchecked Sendable {
    let school: String
    let seat: String
    private let lock = NSLock()
    private var last: (seq: Int64, hash: String)?

    init(school: String, seat: String) {
        self.school = school
        self.seat = seat
    }

    func append(_ event: RegisterEvent) {
        lock.withLock {
            let chained = ChainedEvent.make(after: last, school: school, seat: seat, event: event)
            last = (chained.seq, chained.hash)
        }
    }

    /// Events journaled so far.
    public var count: Int64 { lock.withLock { last?.seq ?? 0 } }
}
