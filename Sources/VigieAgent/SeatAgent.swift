import Foundation
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import NIOSSL
import ServiceLifecycle
import VigieLogin
import VigieModel
import VigiePKI
import VigieRegister
import VigieStore
import VigieSignage
import VigieService
import VigieWire

/// How to run one seat's agent.
public struct AgentOptions: Sendable {
    public var config: SchoolConfig
    public var seatID: String
    /// The seat's own identity (certificate, key, CA).
    public var identity: IdentityBundle
    /// X display to drive (`:1`); nil uses `$DISPLAY`.
    public var display: String?
    /// Where the agent keeps what must survive a restart (the remembered lock).
    public var stateDir: String
    /// Path of the `vigie-ui` helper.
    public var uiPath: String
    /// Address to listen on; by default the seat's address in the config.
    public var listenHost: String?
    public var listenPort: Int?
    /// The `Signage/` templates (the login notice's words).
    public var signageDirectory: String?
    /// The login of the seat's session user, for `vigie run` (tests and demo:
    /// `--session-user`; on real seats logind will provide it).
    public var sessionUser: String?
    /// The seat's sessions from logind: the agent then follows the active
    /// session's display and user (real seats). Nil: `display` and
    /// `sessionUser` as given (tests and demo, `--display`).
    public var loginSessions: (any LoginSessions)?
    /// Where `vigie-input-hold` reports what it holds (real seats:
    /// `/run/vigie-input-hold/state.json`). When set, a lock whose keyboard and
    /// pointer are not held below X is answered and journaled as such
    /// (`lock.input-free`, `status.locked-input-free`), never as a plain lock.
    /// Nil: the X lock alone (tests on Xvfb, the demo).
    public var inputHoldState: String?
    /// The local socket where the session user asks for help (`vigie-ui help`):
    /// `/run/vigie/help.sock` on real seats (systemd's RuntimeDirectory); with
    /// `--display` (tests, demo), `help.sock` in the state folder.
    public var helpSocket: String?

    public init(
        config: SchoolConfig, seatID: String, identity: IdentityBundle, display: String?, stateDir: String,
        uiPath: String, listenHost: String? = nil, listenPort: Int? = nil, signageDirectory: String? = nil
    ) {
        self.signageDirectory = signageDirectory
        self.config = config
        self.seatID = seatID
        self.identity = identity
        self.display = display
        self.stateDir = stateDir
        self.uiPath = uiPath
        self.listenHost = listenHost
        self.listenPort = listenPort
    }
}

/// A seat agent that cannot start with what it was given.
public typealias AgentStartError = CodedError<AgentStartFailure>

/// What a ``AgentStartError`` can be.
public enum AgentStartFailure: String, Sendable {
    /// The seat is not in the configuration.
    case unknownSeat = "agent.unknown-seat"
    /// The seat names a room that is not in the configuration.
    case unknownRoom = "agent.unknown-room"
    /// The identity is not this seat's.
    case wrongIdentity = "agent.wrong-identity"
    /// The journal cannot be opened.
    case journal = "agent.journal"
}

/// The seat daemon: a mutual-TLS listener that checks every request against the
/// school's policy and carries it out on the seat's display.
public final class SeatAgent: Service, Sendable {
    let options: AgentOptions
    let seat: Seat
    let room: Room
    let texts: SeatTexts
    let logger: Logger
    /// The lock, windows, capture and power of this seat (what the pipeline acts through).
    let effects: AgentEffects
    var locks: LockKeeper { effects.locks }
    /// The display, session and user the agent drives now (see `follow`).
    let target: SeatTarget
    let tls: NIOSSLContext
    /// Counts and caps the connections of peers (``PeerLimits/seat``, fitted to the descriptor limit).
    let gate: PeerGate
    /// The connections being served, for a graceful shutdown.
    let drain = ConnectionDrain()
    /// Every decision, durable before it is carried out.
    let journal: SeatJournal
    /// Decode → policy → record → effects → answer, shared with the simulated seats.
    let pipeline: SeatPipeline
    let shipper: JournalShipper?
    /// The configuration in force (policy decisions read it on every request) and its follower.
    let live: LiveConfig
    let follower: ConfigFollower?
    /// « Demander de l’aide »: the session user's help requests.
    let helpDesk: HelpDesk

    public init(options: AgentOptions, logger: Logger) throws {
        guard let seat = options.config.seat(options.seatID), let room = options.config.room(seat.room) else {
            throw AgentStartError(.unknownSeat, "seat “\(options.seatID)” is not in the configuration")
        }
        guard options.identity.identity.seatID == seat.id, options.identity.identity.schoolID == options.config.school.id else {
            throw AgentStartError(.wrongIdentity, "the identity names \(options.identity.identity.uri), not seat \(seat.id) of school \(options.config.school.id)")
        }
        try FileManager.default.createDirectory(atPath: options.stateDir, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        self.options = options
        self.seat = seat
        self.room = room
        self.logger = logger
        self.texts = SeatTexts(language: options.config.school.language, timeZoneID: room.timeZone)
        let target = SeatTarget(SeatTarget.State(display: options.display, sessionUser: options.sessionUser))
        self.target = target
        let locks = LockKeeper(stateDir: options.stateDir, uiPath: options.uiPath, target: target, texts: texts,
                               inputHoldState: options.inputHoldState, logger: logger)
        self.effects = AgentEffects(
            locks: locks, screen: ScreenKeeper(target: target), messages: MessageShower(uiPath: options.uiPath, target: target),
            notices: NoticeShower(uiPath: options.uiPath, target: target, locks: locks, settings: options.config.signage, logger: logger),
            power: PowerKeeper(commands: options.config.power.commands, uiPath: options.uiPath, target: target, texts: texts, logger: logger),
            target: target, logger: logger)
        self.tls = try VigieTLS.serverContext(options.identity.tlsMaterial)
        self.gate = PeerGate.fitted(.seat, for: "the agent", logger: logger)
        let journalPath = URL(fileURLWithPath: options.stateDir).appendingPathComponent("journal.sqlite").path
        do {
            self.journal = try SeatJournal(path: journalPath, school: options.config.school.id, seat: seat.id)
        } catch {
            throw AgentStartError(.journal, "cannot open the journal \(journalPath): \(error)", cause: error)
        }
        self.live = LiveConfig(options.config)
        self.pipeline = SeatPipeline(seat: seat, room: room, texts: texts, live: live, journal: journal, effects: effects, logger: logger)
        if let server = options.config.server {
            self.shipper = try JournalShipper(journal: journal, server: server, identity: options.identity,
                                              school: options.config.school.id, seat: seat.id,
                                              seatRetentionDays: options.config.register.seatRetentionDays, logger: logger)
            let journal = self.journal, live = self.live, texts = self.texts
            let school = options.config.school.id, seatID = seat.id, roomID = room.id
            self.follower = try ConfigFollower(
                live: live, server: server, identity: options.identity, school: school, seat: seatID,
                stateDir: options.stateDir, logger: logger
            ) { feature, outcome, code, args in
                let now = Date()
                _ = try? journal.append(RegisterEvent(
                    school: school, seat: seatID, timeUTC: RegisterTime.utc(now), timeLocal: RegisterTime.local(now, texts.timeZone),
                    room: roomID, feature: feature, args: args, outcome: outcome, code: code,
                    configVersion: String(live.current.version)))
            }
            follower?.loadLastGood()
        } else {
            self.shipper = nil
            self.follower = nil
            logger.warning("no [server] in the configuration: the journal stays on this seat")
        }
        let helpPath = options.helpSocket
            ?? (options.display != nil ? URL(fileURLWithPath: options.stateDir).appendingPathComponent("help.sock").path : "/run/vigie/help.sock")
        self.helpDesk = HelpDesk(
            path: helpPath, pipeline: pipeline,
            server: try options.config.server.map { try ServerClient(server: $0, school: options.config.school.id, identity: options.identity) },
            logger: logger)
    }

    /// Listens and serves until the task is cancelled. `onBound` receives the
    /// port actually bound (useful with port 0).
    public func run(onBound: @Sendable (Int) -> Void) async throws {
        locks.start()
        // A live view the last run did not close (a crash) is closed in the register first.
        pipeline.closeStreamsLeftOpen()
        defer { locks.stop() }
        // Help requests: a seat whose socket cannot be made still serves everything else.
        do {
            try helpDesk.start()
        } catch {
            logger.error("help requests unavailable", metadata: ["error": "\(error)"])
        }
        defer { helpDesk.stop() }
        // A power action that runs at the end of its countdown is a decision of its own.
        effects.power.onFired = { [weak self] action, by, status, reason in
            guard let self else { return }
            do {
                try self.journal.append(self.pipeline.event(Feature.power.rawValue, ["action": action.rawValue], by: by, at: Date(), status: status, reason: reason))
            } catch {
                self.logger.error("journal write failed", metadata: ["error": "\(error)"])
            }
        }
        let verifier = try pipeline.peerVerifier(caPEM: options.identity.caCertificatePEM)
        let host = options.listenHost ?? seat.host
        let port = options.listenPort ?? seat.port
        // Bounded before trusted: caps and a handshake deadline for every peer, the
        // certificate checked (chain, school, person, revocation) inside the handshake.
        let server = try await GuardedListener.bind(host: host, port: port, tls: tls, gate: gate, verifier: verifier)
        let bound = server.channel.localAddress?.port ?? port
        logger.notice("agent listening", metadata: ["seat": "\(seat.id)", "address": "\(host):\(bound)", "display": "\(options.loginSessions == nil ? options.display ?? "$DISPLAY" : "logind")"])
        onBound(bound)
        // Until SIGTERM (a ServiceGroup's graceful shutdown): then requests in flight are
        // answered and journaled, and the agent returns. The lock is never lifted by a stop.
        try await GuardedListener.serve(server, drain: drain, logger: logger) { connection in
            await self.serve(connection)
        }
        logger.notice("agent stopped", metadata: ["seat": "\(seat.id)", "locked": "\(locks.lockedBy != nil)"])
    }

    /// The listener (with the lock keeper), until a graceful shutdown.
    public func run() async throws { try await run(onBound: { _ in }) }

    /// The agent's parts as the services of one `ServiceGroup` (``ServiceRunner``),
    /// in the order a graceful shutdown (SIGTERM) does *not* take: it stops them
    /// from the last. So the session follower stops first, then the listener
    /// (no new connection; the requests in flight are answered and journaled; the
    /// lock stays), then the config follower, and the journal shipper last, after
    /// one more try to send what the drain journaled.
    public var services: [any Service] {
        var services: [any Service] = []
        if let shipper { services.append(ClosureService { await shipper.runUntilShutdown() }) }
        if let follower { services.append(ClosureService { await cancelWhenGracefulShutdown { await follower.run() } }) }
        services.append(self)
        // Real seats follow logind's active session; with --display, the notice shows at start.
        services.append(ClosureService { [self] in
            locks.start()  // the remembered lock is known before the first session change (the listener may start later)
            if let sessions = options.loginSessions {
                await cancelWhenGracefulShutdown { await self.follow(sessions) }
            } else {
                await showLoginNotice()
                try? await gracefulShutdown()
            }
        })
        return services
    }

    /// One console connection: requests are answered in order; a protocol error
    /// is answered, then the connection is closed. Errors stay in this connection.
    func serve(_ connection: NIOAsyncChannel<Frame, Frame>) async {
        await SeatConnection.serve(connection, drain: drain, logger: logger) { frame, peer, connected in
            await self.answer(frame, from: peer, connected: connected)
        }
    }

    /// How many times the login notice is tried when its window cannot open.
    static let loginNoticeTries = 10

    /// The room's login notice (from the Signage templates), shown when a person's
    /// session starts (or the agent starts inside one); the information of the
    /// persons is journaled.
    func showLoginNotice() async {
        var words = texts.fallbackLoginNotice(room: room)
        if let dir = options.signageDirectory {
            do {
                words = try SignageTemplates(directory: dir).loginNotice(room: room, config: options.config, language: texts.language)
            } catch {
                logger.error("login notice template unusable; showing the built-in text", metadata: ["error": "\(error)"])
            }
        }
        // A display that refuses the agent at the very start of a session (its
        // access is granted as the session starts) is tried again, up to 10 times a
        // second apart; the outcome is journaled once.
        var shown: NoticePlacement?
        for attempt in 0..<Self.loginNoticeTries where shown == nil {
            if attempt > 0 { try? await Task.sleep(for: .seconds(1)) }
            // The session changed meanwhile: its successor gets its own notice.
            if Task.isCancelled { return }
            shown = await effects.notices.loginNotice(title: words.title, text: words.text)
        }
        pipeline.recordNotice("notice.login", text: words.title + "\n" + words.text, shown: shown, viewer: nil)
    }

    /// Decides and, when allowed and recorded, does what a request frame asks (``SeatPipeline``).
    func answer(_ frame: Frame, from peer: (identity: Identity, serial: String),
                connected: @escaping @Sendable () -> Bool = { true }) async -> SeatAnswer {
        await pipeline.answer(frame, from: peer, connected: connected)
    }
}
