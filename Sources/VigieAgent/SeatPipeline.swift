import Foundation
import Logging
import NIOConcurrencyHelpers
import NIOCore
import VigieModel
import VigieRegister
import VigieStore
import VigieThumbnails
import VigieWire

/// What a seat does to itself: the only part in which the real agent (X11 helpers,
/// logind, polkit) and a simulated seat of the scale harness differ. Everything
/// before and after — decoding, the policy, the arguments' checks, the journal, the
/// deadline, the answer — is ``SeatPipeline``'s, once.
public protocol SeatEffects: Sendable {
    /// The login of the user at the seat, when known.
    var sessionUser: String? { get }
    /// Why the seat's session offers no X display now (a Wayland session, nobody's session), if so.
    var sessionUnavailable: Reason? { get }
    /// Who holds the lock now, if anyone.
    var lockedBy: Identity? { get }
    /// Whether keyboards and pointers are held below X (`vigie-input-hold`):
    /// nil when the seat has no holder configured (the X lock alone).
    var inputHeld: Bool? { get }
    /// Locks the seat (until `until`, if given); the lock must hold within `wait` seconds or fail.
    func lock(by identity: Identity, until: Date?, wait: Double) async -> LockOutcome
    /// Unlocks; false if the seat was not locked.
    func unlock() async -> Bool
    /// Shows a message window (at most `maxOpen` at once, each closing after `expireAfter` seconds).
    func showMessage(title: String, text: String, expireAfter: Double, maxOpen: Int) async -> Result<Void, Reason>
    /// A PNG of the screen; scaled to `thumbnailWidth` pixels wide for a thumbnail.
    func capture(thumbnailWidth: Int?) async -> Result<Shot, Reason>
    /// Shows who looked at the screen, and when; nil if it could not be shown.
    func showIndicator(_ text: String) async -> NoticePlacement?
    /// Schedules a power action after `delay` seconds (a countdown the person at the seat sees).
    func schedulePower(_ action: PowerAction, delay: Int, by identity: Identity) async -> (SeatStatus, Reason)
    /// Cancels the pending power action, if any.
    func cancelPower(by identity: Identity) async -> (SeatStatus, Reason)
    /// Runs `command` (an allowed program's resolved path, then its arguments): as the
    /// seat's session user, or as the agent itself when `privileged`.
    func run(_ command: [String], program: String, privileged: Bool, timeout: Int, by identity: Identity) async -> (SeatStatus, Reason, [UInt8])
    /// A source of thumbnails for one viewer (its own record of what changed), or why there is none.
    func thumbnails() async -> Result<any ThumbnailSource, Reason>
    /// Shows the lasting notice naming who watches the screen live, replacing the
    /// one shown before; nil removes it (nobody watches any more). `control`: someone
    /// has the keyboard and mouse, and the notice says so in its own colour.
    func showWatchers(_ text: String?, control: Bool) async
    /// Starts the VNC helper for one remote viewer, its RFB on the returned
    /// socket; or why it cannot start.
    func remoteScreen(_ options: RemoteOptions) async -> Result<RemoteScreen, Reason>
    /// Asks the person at the seat (a window with `refuse` and `accept`, « Refuser »
    /// and « Accepter ») and waits for their answer, `timeout` seconds at most.
    func askConsent(title: String, text: String, refuse: String, accept: String, timeout: Double) async -> ConsentAnswer
    /// The banner of an assistance with its stop button (`stopped` at each click);
    /// returns how to take it down, nil if it could not be shown.
    func assistBanner(text: String, button: String, control: Bool, stopped: @escaping @Sendable () -> Void) async -> (@Sendable () -> Void)?
}

/// What the person at the seat answered.
public enum ConsentAnswer: String, Sendable {
    case accepted, refused
    /// No answer in time: a refusal.
    case timeout
    /// The question could not be shown (no display, the window did not open): no consent.
    case unavailable
}

/// How the seat's VNC helper serves one viewer.
public struct RemoteOptions: Sendable, Equatable {
    /// With keyboard and mouse (`control`), or to look only (`view`).
    public var control: Bool
    /// The one-time VNC password the viewer must give (never journaled).
    public var password: String
    /// The highest JPEG quality the viewer gets.
    public var quality: RemoteQuality
    /// Whether copied text passes both ways (in control only, when the config allows it).
    public var clipboard: Bool
    /// A view that may turn to control later (an assistance: the person may give
    /// the keyboard and mouse once it runs).
    public var mayControl: Bool

    public init(control: Bool, password: String, quality: RemoteQuality = .standard, clipboard: Bool = false, mayControl: Bool = false) {
        self.control = control
        self.password = password
        self.quality = quality
        self.mayControl = mayControl && !control
        self.clipboard = clipboard && (control || self.mayControl)
    }
}

/// The seat's VNC helper for one viewer: its end of the socket pair, and how to stop it.
public struct RemoteScreen: Sendable {
    /// The agent's end of the socket pair (the helper has the other).
    public var socket: Int32
    /// Stops the helper (it also ends by itself when the socket closes).
    public var stop: @Sendable () -> Void
    /// In control: stops (true) or resumes (false) injecting the controller's input;
    /// true once the helper acknowledged it (blocking, two seconds at most).
    public var hold: (@Sendable (Bool) -> Bool)?
    /// A view started with ``RemoteOptions/mayControl``: turns it to control; true
    /// once the helper said so (blocking, two seconds at most).
    public var takeControl: (@Sendable () -> Bool)?

    public init(socket: Int32, stop: @escaping @Sendable () -> Void, hold: (@Sendable (Bool) -> Bool)? = nil,
                takeControl: (@Sendable () -> Bool)? = nil) {
        self.socket = socket
        self.stop = stop
        self.hold = hold
        self.takeControl = takeControl
    }
}

/// Thumbnails of the seat's screen for one live viewer.
public protocol ThumbnailSource: Sendable {
    /// A JPEG `width` pixels wide, or nil when nothing changed on the screen since
    /// the last one this source gave (the first call always gives one).
    func next(width: Int) async -> Result<Thumbnail?, Reason>
    /// Releases the source (its X connection).
    func close() async
}


/// The one request pipeline of a seat: decode → policy → deadline → durable record →
/// effect (through ``SeatEffects``) → outcome record → answer.
///
/// Nothing is done without a durable record first. A request the policy refuses, or
/// whose deadline has passed, is journaled once (`refused`, or `failed
/// request.expired`) and nothing is done. An allowed request that changes or
/// looks at the seat is journaled `started` (committed, `synchronous = FULL`)
/// before its effect, then its outcome is journaled as a second event naming the
/// first (`params.started` = its seq): a seat killed in between leaves a `started`
/// event with no outcome, which a reader takes as "may or may not have been done"
/// (docs/REGISTER.md). A seat that cannot write the `started` event does nothing and
/// answers `failed journal.unavailable`. `status`, which changes nothing, is
/// journaled once, after it is read.
public final class SeatPipeline: Sendable {
    let seat: Seat
    let room: Room
    let texts: SeatTexts
    /// The configuration in force (read on every request).
    let live: LiveConfig
    /// Every decision, durable before it is carried out.
    public let journal: SeatJournal
    let effects: any SeatEffects
    let logger: Logger
    /// Who watches the screen live now (the lasting notice).
    let watchers = WatchBoard()
    /// Who controls the seat remotely now (one at a time).
    let controller = NIOLockedValueBox<UUID?>(nil)
    /// The control streams open now, and how many questions to the person are on
    /// screen: while one is, no controller's input is injected.
    let inputHolds = NIOLockedValueBox<(screens: [UUID: RemoteScreen], questions: Int)>(([:], 0))
    /// Assistances open now: nothing of the screen is kept while one is (no screenshot).
    let assisting = NIOLockedValueBox(0)
    /// The same, by intervention (`SEAT-SEQ`): the person may give one the keyboard and mouse later.
    let assists = NIOLockedValueBox<[String: RunningAssist]>([:])
    /// The help request of the person at the seat (`vigie-ui help`), its code as an HMAC.
    let helpCodes = HelpCodes()

    /// Features that change nothing on the seat nor look at it: one event, after.
    static let recordedOnce: Set<Feature> = [.status, .wake]
    /// Kept for the answer's way back when a helper's wait is cut to the deadline.
    static let answerMargin = 0.25
    /// Longest `vigie run` timeout a console may ask for, in seconds.
    static let maximumRunTimeout = 3600
    /// `vigie run` timeout when the console gives none, in seconds.
    static let defaultRunTimeout = 30

    /// A pipeline for `seat` under `config`, journaling into `journal`, acting through `effects`.
    public convenience init(seat: Seat, config: SchoolConfig, journal: SeatJournal, effects: any SeatEffects, logger: Logger) throws {
        guard let room = config.room(seat.room) else { throw AgentStartError(.unknownRoom, "seat “\(seat.id)” names room “\(seat.room)”, not in the configuration") }
        self.init(seat: seat, room: room, texts: SeatTexts(language: config.school.language, timeZoneID: room.timeZone),
                  live: LiveConfig(config), journal: journal, effects: effects, logger: logger)
    }

    init(seat: Seat, room: Room, texts: SeatTexts, live: LiveConfig, journal: SeatJournal, effects: any SeatEffects, logger: Logger) {
        self.seat = seat
        self.room = room
        self.texts = texts
        self.live = live
        self.journal = journal
        self.effects = effects
        self.logger = logger
    }

    /// Decides and, when allowed and recorded, does what a request frame asks;
    /// for `watch`, the answer carries the stream to run.
    /// `connected` says whether the console that asked is still there (a question
    /// to the person is taken down when it leaves).
    public func answer(_ frame: Frame, from peer: (identity: Identity, serial: String),
                       connected: @escaping @Sendable () -> Bool = { true }) async -> SeatAnswer {
        let (request, feature): (Request, Feature)
        switch SeatConnection.decode(frame) {
        case .answer(let response): return SeatAnswer(response)
        case .request(let r, let f): (request, feature) = (r, f)
        }
        let identity = peer.identity
        let now = Date()
        let decision = Policy.decide(identity: identity, serialHex: peer.serial, feature: feature, seat: seat, config: live.current.config, at: now)
        if feature == .watch {
            return await openWatch(request, frame: frame, peer: peer, decision: decision, at: now)
        }
        if feature == .view || feature == .control || feature == .assist {
            return await openRemote(request, feature: feature, frame: frame, peer: peer, decision: decision, at: now, connected: connected)
        }
        if case .refuse(let why) = decision {
            return SeatAnswer(recordOnce(request, feature, by: identity, at: now, .refused, why))
        }
        // The person accepted to be helped, not to have their screen kept.
        if feature == .screenshot, assisting.withLockedValue({ $0 }) > 0 {
            return SeatAnswer(recordOnce(request, feature, by: identity, at: now, .refused, Reason("assist.no-screenshot")))
        }
        let deadline = Self.deadline(of: frame, request)
        if let deadline, deadline <= .now() {
            let late = (NIODeadline.now() - deadline).nanoseconds / 1_000_000
            return SeatAnswer(recordOnce(request, feature, by: identity, at: now, .failed, Reason("request.expired", ["late": String(late)])))
        }
        if Self.recordedOnce.contains(feature) {
            let (status, reason, body) = await perform(feature, request.args, by: identity, deadline: deadline)
            let response = recordOnce(request, feature, by: identity, at: now, status, reason)
            return SeatAnswer(response, body: response.status == .failed && response.code == "journal.unavailable" ? [] : body)
        }
        // The durable record first: a seat that cannot write it does nothing.
        let started: ChainedEvent
        do {
            started = try journal.append(event(feature.rawValue, request.args, by: identity, at: now, status: .started, reason: Reason("request.started")))
        } catch {
            return SeatAnswer(unavailable(request, error))
        }
        let (status, reason, body) = await perform(feature, request.args, by: identity, deadline: deadline)
        logger.notice("\(status.rawValue)", metadata: ["feature": "\(feature.rawValue)", "actor": "\(identity.uri)", "code": "\(reason.code)"])
        var outcome = reason
        outcome.params["started"] = String(started.seq)
        do {
            // Its `started` event is on the disk already: the outcome needs only to
            // outlive this process (a power cut that loses it leaves the `started`
            // event, which says "may have been done"), and saves a second disk sync
            // on every action.
            try journal.append(event(feature.rawValue, request.args, by: identity, at: Date(), status: status, reason: outcome), durability: .process)
        } catch {
            // Done (or not) already: the console hears what happened; the register keeps
            // the `started` event, which a reader takes as "may or may not have been done".
            logger.error("journal write failed after the effect; the started event stands", metadata: [
                "error": "\(error)", "feature": "\(feature.rawValue)", "started": "\(started.seq)"])
        }
        if feature.isMonitoring && status == .ok {
            // The person at the seat sees who looked, and when (after the capture, so not in it).
            let words = texts.indicator(by: identity, at: now)
            recordNotice("notice.indicator", text: words, shown: await effects.showIndicator(words), viewer: identity)
        }
        return SeatAnswer(Response(id: request.id, status: status, reason: reason), body: body)
    }

    /// When the console stops waiting: `deadlineMillis` after the frame was read; nil without either.
    static func deadline(of frame: Frame, _ request: Request) -> NIODeadline? {
        guard let received = frame.receivedAt, let millis = request.deadlineMillis else { return nil }
        return received + .milliseconds(Int64(millis))
    }

    /// Journals a decision that is its only event (a refusal, an expired request, a status).
    func recordOnce(_ request: Request, _ feature: Feature, by identity: Identity, at date: Date, _ status: SeatStatus, _ reason: Reason) -> Response {
        logger.notice("\(status.rawValue)", metadata: ["feature": "\(feature.rawValue)", "actor": "\(identity.uri)", "code": "\(reason.code)"])
        do {
            try journal.append(event(feature.rawValue, request.args, by: identity, at: date, status: status, reason: reason))
        } catch {
            return unavailable(request, error)
        }
        return Response(id: request.id, status: status, reason: reason)
    }

    func unavailable(_ request: Request, _ error: any Error) -> Response {
        logger.error("journal write failed: the request is not carried out", metadata: ["error": "\(error)", "feature": "\(request.feature)"])
        return Response(id: request.id, status: .failed, reason: Reason("journal.unavailable", ["detail": "\(error)"]))
    }

    /// The check of every console's certificate, inside the TLS handshake: the
    /// chain to the school CA, then ``Policy/admit(identity:serialHex:config:)``
    /// under the config in force (school, a person, not revoked). A refused
    /// person is a decision of the seat: journaled (`connect`, `refused`).
    public func peerVerifier(caPEM: String) throws -> PeerVerifier {
        let live = self.live
        return try PeerVerifier(caPEM: caPEM, logger: logger, authorize: { identity, serial in
            Policy.admit(identity: identity, serialHex: serial, config: live.current.config)
        }, record: { [self] reason, identity in
            do {
                try journal.append(event("connect", [:], by: identity, at: Date(), status: SeatStatus.refused, reason: reason))
            } catch {
                logger.error("journal write failed", metadata: ["error": "\(error)"])
            }
        })
    }

    /// The register event of one decision: who, what, where, the arguments that
    /// matter (never screenshot pixels), the outcome and its reason.
    func event(_ feature: String, _ args: [String: String], by identity: Identity?, at date: Date, status: RegisterEvent.Outcome, reason: Reason) -> RegisterEvent {
        SeatConnection.event(
            school: live.current.config.school.id, seat: seat.id, room: room.id, zone: texts.timeZone, feature: feature, args: args,
            by: identity, at: date, outcome: status, reason: reason, sessionUser: effects.sessionUser, configVersion: live.current.version)
    }

    /// The register event of one decision, from the answer's status.
    func event(_ feature: String, _ args: [String: String], by identity: Identity?, at date: Date, status: SeatStatus, reason: Reason) -> RegisterEvent {
        event(feature, args, by: identity, at: date, status: RegisterEvent.Outcome(status), reason: reason)
    }

    /// Journals a notice shown to the person at the seat (or that could not be shown).
    func recordNotice(_ feature: String, text: String, shown: NoticePlacement?, viewer: Identity?) {
        let reason = Reason(shown.map { "notice.\($0.rawValue)" } ?? "notice.failed")
        do {
            try journal.append(event(feature, ["text": text], by: viewer, at: Date(), status: shown == nil ? .failed : .ok, reason: reason))
        } catch {
            logger.error("journal write failed", metadata: ["error": "\(error)", "feature": "\(feature)"])
        }
    }

    /// Checks the arguments and carries the feature out through the effects.
    func perform(_ feature: Feature, _ args: [String: String], by identity: Identity, deadline: NIODeadline?) async -> (SeatStatus, Reason, [UInt8]) {
        switch feature {
        case .lock:
            var until: Date?
            if let text = args["for"] {
                guard let seconds = Int(text), seconds > 0, seconds <= 7 * 24 * 3600 else {
                    return (.failed, Reason("request.bad-argument", ["name": "for", "detail": text]), [])
                }
                until = Date().addingTimeInterval(Double(seconds))
            }
            // Not started beyond what the console waits for: a lock that cannot hold in
            // time fails (and its helper is stopped) rather than holding after an `unreachable`.
            var wait = Spawn.helperStartWait
            if let deadline {
                wait = min(wait, max(0, Double((deadline - .now()).nanoseconds) / 1e9 - Self.answerMargin))
            }
            switch await effects.lock(by: identity, until: until, wait: wait) {
            case .locked(let until, let inputHeld):
                if !inputHeld { return (.ok, Reason("lock.input-free"), []) }
                if let until { return (.ok, Reason("lock.done-until", ["until": texts.time(until)]), []) }
                return (.ok, Reason("lock.done"), [])
            case .alreadyLocked(let by):
                return (.ok, Reason("lock.already", ["by": by.displayName]), [])
            case .failed(let reason):
                return (.failed, reason, [])
            }
        case .unlock:
            return await effects.unlock() ? (.ok, Reason("unlock.done"), []) : (.ok, Reason("unlock.not-locked"), [])
        case .message:
            // Bytes, not characters: the seat is the enforcement point, whatever the console checked.
            let text = args["text"] ?? ""
            if let problem = MessageLimits.problem(text) {
                if problem.code == "input.message.empty" {
                    return (.failed, Reason("request.bad-argument", ["name": "text", "detail": "empty"]), [])
                }
                return (.failed, Reason("message.too-long", problem.params), [])
            }
            let settings = live.current.config.messages
            switch await effects.showMessage(title: texts.messageTitle(from: identity, at: Date()), text: text,
                                             expireAfter: settings.expireMinutes * 60, maxOpen: settings.maxOpen) {
            case .success: return (.ok, Reason("message.shown"), [])
            case .failure(let reason): return (.failed, reason, [])
            }
        case .screenshot, .thumbnail:
            var width: Int?
            if feature == .thumbnail {
                guard let w = args["width"].flatMap(Int.init), (16...3840).contains(w) else {
                    return (.failed, Reason("request.bad-argument", ["name": "width", "detail": "16 to 3840 pixels"]), [])
                }
                width = w
            }
            switch await effects.capture(thumbnailWidth: width) {
            case .success(let shot):
                return (.ok, Reason("screenshot.taken", ["width": String(shot.width), "height": String(shot.height), "bytes": String(shot.png.count)]), shot.png)
            case .failure(let reason):
                return (.failed, reason, [])
            }
        case .status:
            if let by = effects.lockedBy {
                return (.ok, Reason(effects.inputHeld == false ? "status.locked-input-free" : "status.locked", ["by": by.displayName]), [])
            }
            return (.ok, Reason("status.unlocked"), [])
        case .power:
            return await performPower(args, by: identity)
        case .run:
            return await performRun(args, by: identity)
        case .wake:
            // Wake-on-LAN is sent by the console: a seat that answers is awake.
            return (.failed, Reason("request.bad-argument", ["name": "feature", "detail": "wake is sent by the console, not by a seat"]), [])
        case .watch, .view, .control, .assist:
            // Opened by `answer` (a stream), never performed as one request.
            return (.failed, Reason("agent.internal"), [])
        }
    }

    /// `power` with `action` = off | reboot | logoff | cancel and `delay` in seconds.
    func performPower(_ args: [String: String], by identity: Identity) async -> (SeatStatus, Reason, [UInt8]) {
        guard let text = args["action"], let action = PowerAction(rawValue: text) else {
            return (.failed, Reason("request.bad-argument", ["name": "action", "detail": "off, reboot, logoff or cancel"]), [])
        }
        if action == .cancel {
            let (status, reason) = await effects.cancelPower(by: identity)
            return (status, reason, [])
        }
        var delay = live.current.config.power.defaultDelay
        if let d = args["delay"] {
            guard let seconds = Int(d), (0...86_400).contains(seconds) else {
                return (.failed, Reason("request.bad-argument", ["name": "delay", "detail": "0 to 86400 seconds"]), [])
            }
            delay = seconds
        }
        let (status, reason) = await effects.schedulePower(action, delay: delay, by: identity)
        return (status, reason, [])
    }

    /// `run` with `argv` (a JSON array of strings), `timeout` in seconds and
    /// `privileged` = "1" to run as the agent's own identity (admins only).
    ///
    /// A teacher's request runs only an allowlisted program, and only as the
    /// seat's session user: a teacher's key never runs anything as the agent.
    func performRun(_ args: [String: String], by identity: Identity) async -> (SeatStatus, Reason, [UInt8]) {
        guard let json = args["argv"], let argv = try? JSONDecoder().decode([String].self, from: Data(json.utf8)),
              let program = argv.first, !program.isEmpty else {
            return (.failed, Reason("request.bad-argument", ["name": "argv", "detail": "a non-empty list: program and arguments"]), [])
        }
        var timeout = Self.defaultRunTimeout
        if let t = args["timeout"] {
            guard let seconds = Int(t), (1...Self.maximumRunTimeout).contains(seconds) else {
                return (.failed, Reason("request.bad-argument", ["name": "timeout", "detail": "1 to \(Self.maximumRunTimeout) seconds"]), [])
            }
            timeout = seconds
        }
        let role = identity.role
        let privileged = args["privileged"] == "1"
        if privileged && role != .admin {
            return (.refused, Reason("policy.privileged", ["role": role?.rawValue ?? "-"]), [])
        }
        let verdict = ProgramPolicy.check(program, allowed: live.current.config.programs.allowed, mayRunAnything: role == .admin, resolve: Self.realPath)
        guard case .allow(let path) = verdict else {
            if case .refuse(let why) = verdict {
                logger.notice("program refused", metadata: ["argv": "\(argv)", "actor": "\(identity.uri)", "why": "\(why.rawValue)"])
                return (.refused, Reason("policy.program", ["program": program, "why": why.rawValue]), [])
            }
            return (.failed, Reason("agent.internal"), [])
        }
        return await effects.run([path] + argv.dropFirst(), program: program, privileged: privileged, timeout: timeout, by: identity)
    }

    /// The canonical absolute path (symlinks resolved), or nil if it does not exist.
    static func realPath(_ path: String) -> String? {
        guard let resolved = realpath(path, nil) else { return nil }
        defer { free(resolved) }
        return String(cString: resolved)
    }
}

extension RegisterEvent.Outcome {
    /// The register's outcome of an answer's status.
    init(_ status: SeatStatus) {
        switch status {
        case .ok: self = .done
        case .refused: self = .refused
        default: self = .failed
        }
    }
}
