import Foundation
import Logging
import NIOCore
import NIOPosix
import NIOSSL
import VigieModel
import VigiePKI
import VigieRegister
import VigieStore
import VigieThumbnails
import VigieWire
import VigieAgent

/// A seat agent without a display, for scale tests: the real request path — its
/// own mutual-TLS listener and certificate, the frame codec, and the agent's own
/// ``SeatPipeline`` (policy on the seat's clock, the deadline, a `SeatJournal`
/// record before every effect, the same answers) — with the X11 side replaced by
/// ``SimulatedEffects``: a few bytes of state (lock, pending power action) and a
/// ``SyntheticScreen``.
public final class SimulatedSeat: Sendable {
    let seat: Seat
    let logger: Logger
    /// The agent's pipeline, with simulated effects.
    let pipeline: SeatPipeline
    /// Every decision, chained as on a real seat, before it is carried out.
    public var journal: SeatJournal { pipeline.journal }
    /// How long a connection may stay without a request.
    static let idleLimit: TimeAmount = .seconds(30)

    /// A simulated seat journaling into `journal` (a file, or SQLite's in-memory mode).
    public init(seat: Seat, config: SchoolConfig, screen: SyntheticScreen, journal: SeatJournal, logger: Logger) throws {
        self.seat = seat
        self.logger = logger
        guard let room = config.room(seat.room) else { throw HarnessError(.configuration, "seat \(seat.id) names room \(seat.room), not in the configuration") }
        let texts = SeatTexts(language: config.school.language, timeZoneID: room.timeZone)
        self.pipeline = try SeatPipeline(seat: seat, config: config, journal: journal,
                                         effects: SimulatedEffects(screen: screen, texts: texts), logger: logger)
    }

    /// Binds the seat's listener, the agent's own (``GuardedListener``: peers
    /// bounded, certificates checked in the handshake, refusals journaled); the
    /// returned channel's inbound sequence yields connections.
    func bind(tls: NIOSSLContext, caPEM: String, group: any EventLoopGroup, host: String, port: Int) async throws
        -> NIOAsyncChannel<NIOAsyncChannel<Frame, Frame>, Never>
    {
        try await GuardedListener.bind(host: host, port: port, tls: tls, gate: PeerGate(limits: .seat),
                                       verifier: pipeline.peerVerifier(caPEM: caPEM), group: group)
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
        await SeatConnection.serve(connection, idleLimit: Self.idleLimit, logger: logger) { frame, peer, connected in
            await self.pipeline.answer(frame, from: peer, connected: connected)
        }
    }
}

/// What a simulated seat does: remembers the lock and a pending power action,
/// captures a ``SyntheticScreen``; shows nothing, switches nothing off, runs nothing
/// (nobody is logged in).
final class SimulatedEffects: SeatEffects, @unchecked Sendable {
    let screen: SyntheticScreen
    let texts: SeatTexts
    private let mutex = NSLock()
    private var locked: (by: Identity, until: Date?)?
    private var powerPending: (action: PowerAction, at: Date, by: Identity)?

    init(screen: SyntheticScreen, texts: SeatTexts) {
        self.screen = screen
        self.texts = texts
    }

    var sessionUser: String? { nil }
    var sessionUnavailable: Reason? { nil }

    var lockedBy: Identity? { mutex.withLock { current(Date())?.by } }
    var inputHeld: Bool? { nil }

    /// The lock now, a timed lock that has run out lifted.
    private func current(_ now: Date) -> (by: Identity, until: Date?)? {
        if let until = locked?.until, until <= now { locked = nil }
        return locked
    }

    func lock(by identity: Identity, until: Date?, wait: Double) async -> LockOutcome {
        mutex.withLock {
            if let held = current(Date()) { return .alreadyLocked(by: held.by) }
            locked = (identity, until)
            return .locked(until: until, inputHeld: true)
        }
    }

    func unlock() async -> Bool {
        mutex.withLock {
            defer { locked = nil }
            return current(Date()) != nil
        }
    }

    func showMessage(title: String, text: String, expireAfter: Double, maxOpen: Int) async -> Result<Void, Reason> { .success(()) }

    func capture(thumbnailWidth: Int?) async -> Result<Shot, Reason> {
        screen.png(thumbnailWidth: thumbnailWidth).map { Shot(png: $0.png, width: $0.width, height: $0.height) }
    }

    func showIndicator(_ text: String) async -> NoticePlacement? { .window }

    func schedulePower(_ action: PowerAction, delay: Int, by identity: Identity) async -> (SeatStatus, Reason) {
        // Simulated: the countdown is remembered, nothing is ever switched off.
        let at = Date().addingTimeInterval(Double(delay))
        mutex.withLock { powerPending = (action, at, identity) }
        return (.ok, Reason("power.scheduled", ["action": action.rawValue, "at": texts.timeWithSeconds(at), "by": identity.displayName]))
    }

    func cancelPower(by identity: Identity) async -> (SeatStatus, Reason) {
        mutex.withLock {
            guard let p = powerPending else { return (.ok, Reason("power.nothing-pending")) }
            powerPending = nil
            return (.ok, Reason("power.cancelled", ["action": p.action.rawValue, "at": texts.timeWithSeconds(p.at), "by": p.by.displayName]))
        }
    }

    func run(_ command: [String], program: String, privileged: Bool, timeout: Int, by identity: Identity) async -> (SeatStatus, Reason, [UInt8]) {
        // A simulated seat has nobody logged in.
        (.failed, Reason("run.no-session-user"), [])
    }

    func thumbnails() async -> Result<any ThumbnailSource, Reason> { .success(SimulatedThumbnails(screen: screen)) }

    func showWatchers(_ text: String?, control: Bool) async {}

    func assistBanner(text: String, button: String, control: Bool, stopped: @escaping @Sendable () -> Void) async -> (@Sendable () -> Void)? { nil }
    func askConsent(title: String, text: String, refuse: String, accept: String, timeout: Double) async -> ConsentAnswer { .unavailable }

    func remoteScreen(_ options: RemoteOptions) async -> Result<RemoteScreen, Reason> {
        .failure(Reason("view.unavailable", ["detail": "a simulated seat has no screen to show"]))
    }
}

/// A simulated seat's live view: its screen's thumbnail once, then nothing (the
/// synthetic screen never changes), as a real seat whose screen stays still.
final class SimulatedThumbnails: ThumbnailSource, @unchecked Sendable {
    let screen: SyntheticScreen
    private let mutex = NSLock()
    private var lastWidth: Int?

    init(screen: SyntheticScreen) { self.screen = screen }

    func next(width: Int) async -> Result<Thumbnail?, Reason> {
        let changed = mutex.withLock { () -> Bool in
            defer { lastWidth = width }
            return lastWidth != width || screen.changesEveryTick
        }
        guard changed else { return .success(nil) }
        return screen.jpeg(width: width).map { Thumbnail(jpeg: $0.jpeg, width: $0.width, height: $0.height) }
    }

    func close() async {}
}
