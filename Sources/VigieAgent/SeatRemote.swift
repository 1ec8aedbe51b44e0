import Foundation
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import VigieModel
import VigieRegister
import VigieWire

/// The remote view and remote control of one seat: a `view` or `control`
/// request opens a byte stream that carries RFB (VNC) between the console and
/// the seat's VNC helper (`vigie-vnc`), which never listens on the network.
///
/// - Opening it runs the policy like any request: the role and room, and in a
///   surveillance room the posted windows (outside them a view is refused, and
///   one that is open ends when the window does). A locked seat can be viewed,
///   not controlled; one controller at a time.
/// - The console gives a one-time VNC password (`args.password`, at most 8
///   characters) that the local viewer must present; it is never journaled.
///   It may ask a picture quality (`args.quality`: low, medium, high). The
///   clipboard passes only in control, and only when `[watch]
///   control_clipboard` allows it.
/// - The register gets one event when it starts and one when it stops (why, how
///   long, bytes); never a pixel or a key. The person at the seat sees a lasting
///   notice naming who views or controls, since when.
extension SeatPipeline {
    func openRemote(_ request: Request, feature: Feature, frame: Frame, peer: (identity: Identity, serial: String),
                    decision: Decision, at now: Date, connected: @escaping @Sendable () -> Bool) async -> SeatAnswer {
        let identity = peer.identity
        let assist = feature == .assist
        if case .refuse(let why) = decision { return SeatAnswer(recordOnce(request, feature, by: identity, at: now, .refused, why)) }
        // The keyboard and mouse asked inside a running assistance: a question of its own.
        if assist, let intervention = request.args["intervention"] {
            return await giveControl(request, within: intervention, by: identity, frame: frame, at: now, connected: connected)
        }
        // An assistance says what it asks (to see, or to see and control) and why.
        var why = ""
        var byCode = false
        if assist {
            guard let mode = request.args["mode"], mode == "view" || mode == "control" else {
                return SeatAnswer(recordOnce(request, feature, by: identity, at: now, .failed,
                                             Reason("request.bad-argument", ["name": "mode", "detail": "view or control"])))
            }
            why = request.args["reason"]?.trimmingCharacters(in: .whitespacesAndNewlines) ?? ""
            // The code the person read to the helper (`vigie-ui help`): checked here again, used up,
            // wrong ones counted per helper and for the seat, journaled.
            if let code = request.args["code"] {
                switch helpCodes.check(code, who: [identity.uri, "@seat"], seat: seat.id) {
                case .matched(let pending):
                    byCode = true
                    if why.isEmpty { why = pending.description.isEmpty ? texts.helpRequested : pending.description }
                case .wrong(let left):
                    return SeatAnswer(recordOnce(request, feature, by: identity, at: now, .refused, Reason("assist.bad-code", ["left": String(left)])))
                case .locked(let until):
                    return SeatAnswer(recordOnce(request, feature, by: identity, at: now, .refused,
                                                 Reason("assist.code-locked", ["until": texts.time(until)])))
                }
            }
            guard (1...200).contains(why.count) else {
                return SeatAnswer(recordOnce(request, feature, by: identity, at: now, .failed,
                                             Reason("request.bad-argument", ["name": "reason", "detail": "1 to 200 characters: the person at the seat reads it"])))
            }
        }
        let asksControl = assist ? request.args["mode"] == "control" : feature == .control
        // Someone other than a teacher or a librarian sees a person's screen only with
        // their consent (an assistance asks it); with nobody logged in a view or
        // control is maintenance, and the register says so.
        let consent = Policy.needsConsent(identity, for: feature)
        if consent, !assist, effects.sessionUser != nil {
            return SeatAnswer(recordOnce(request, feature, by: identity, at: now, .refused, Reason("consent.required")))
        }
        if assist, let unavailable = effects.sessionUnavailable, unavailable.code == "session.wayland" {
            return SeatAnswer(recordOnce(request, feature, by: identity, at: now, .refused, Reason("assist.wayland", unavailable.params)))
        }
        if assist, effects.sessionUser == nil {
            return SeatAnswer(recordOnce(request, feature, by: identity, at: now, .refused, Reason("assist.nobody")))
        }
        if assist, let by = effects.lockedBy {
            return SeatAnswer(recordOnce(request, feature, by: identity, at: now, .refused, Reason("assist.locked", ["by": by.displayName])))
        }
        guard let password = request.args["password"], (1...8).contains(password.utf8.count),
              password.utf8.allSatisfy({ $0 > 32 && $0 < 127 }) else {
            return SeatAnswer(recordOnce(request, feature, by: identity, at: now, .failed,
                                         Reason("request.bad-argument", ["name": "password", "detail": "1 to 8 printable ASCII characters"])))
        }
        let quality: RemoteQuality
        if let asked = request.args["quality"] {
            guard let known = RemoteQuality(rawValue: asked) else {
                return SeatAnswer(recordOnce(request, feature, by: identity, at: now, .failed,
                                             Reason("request.bad-argument", ["name": "quality", "detail": "low, medium or high"])))
            }
            quality = known
        } else {
            quality = .standard
        }
        if let deadline = Self.deadline(of: frame, request), deadline <= .now() {
            let late = (NIODeadline.now() - deadline).nanoseconds / 1_000_000
            return SeatAnswer(recordOnce(request, feature, by: identity, at: now, .failed, Reason("request.expired", ["late": String(late)])))
        }
        if asksControl, let by = effects.lockedBy {
            return SeatAnswer(recordOnce(request, feature, by: identity, at: now, .refused, Reason("control.locked", ["by": by.displayName])))
        }
        // One controller at a time: the seat's keyboard and mouse are one person's.
        let key = UUID()
        if asksControl {
            let taken = controller.withLockedValue { current -> Bool in
                if current != nil { return true }
                current = key
                return false
            }
            if taken { return SeatAnswer(recordOnce(request, feature, by: identity, at: now, .refused, Reason("control.busy"))) }
        }
        let release: @Sendable () -> Void = { [controller] in
            if asksControl { controller.withLockedValue { if $0 == key { $0 = nil } } }
        }
        // An assistance opens only once the person at the seat said yes, on the seat:
        // first to being seen, then, asked separately, to the keyboard and mouse.
        var begun = now
        var controlGiven = asksControl
        if assist {
            // No longer than the helper's console waits for the answer (its request's deadline).
            var seconds = Double(live.current.config.assistance.consentSeconds)
            if let deadline = Self.deadline(of: frame, request) {
                seconds = max(1, min(seconds, Double((deadline - .now()).nanoseconds) / 1e9))
            }
            let person = effects.sessionUser ?? ""
            for asking in asksControl ? [false, true] : [false] {
                let question = texts.assistQuestion(by: identity, reason: why, control: asking, seconds: seconds)
                // The helper's console gone before the answer: the question is withdrawn.
                guard let answer = await askPerson(question, seconds: seconds, while: connected) else {
                    release()
                    return SeatAnswer(recordOnce(request, feature, by: identity, at: Date(), .failed, Reason("assist.withdrawn", ["user": person])))
                }
                // Control refused after the view was accepted: the view alone opens.
                if asking, answer != .accepted {
                    controlGiven = false
                    release()
                    break
                }
                switch answer {
                case .accepted:
                    begun = Date()
                case .refused:
                    release()
                    return SeatAnswer(recordOnce(request, feature, by: identity, at: Date(), .refused, Reason("assist.refused", ["user": person])))
                case .timeout:
                    release()
                    return SeatAnswer(recordOnce(request, feature, by: identity, at: Date(), .refused,
                                                 Reason("assist.timeout", ["user": person, "seconds": String(Int(seconds))])))
                case .unavailable:
                    release()
                    return SeatAnswer(recordOnce(request, feature, by: identity, at: Date(), .failed, Reason("assist.unavailable")))
                }
            }
        }
        let control = asksControl && controlGiven
        let screen: RemoteScreen
        let options = RemoteOptions(control: control, password: password, quality: quality,
                                    clipboard: live.current.config.watch.controlClipboard, mayControl: assist)
        switch await effects.remoteScreen(options) {
        case .success(let s): screen = s
        case .failure(let reason):
            release()
            return SeatAnswer(recordOnce(request, feature, by: identity, at: now, .failed, reason))
        }
        // A controller's input never answers a question to the person (held while one shows).
        let controlKey = UUID()
        if control { await registerControl(controlKey, screen) }
        let started: ChainedEvent
        do {
            // What the seat gives the viewer: the quality, and for a controller whether the clipboard passes.
            var given = ["quality": quality.rawValue]
            if consent && !assist { given["maintenance"] = "true" }
            if assist {
                given["consent"] = "accepted"
                given["mode"] = control ? "control" : "view"
                if asksControl && !control { given["control"] = "refused" }
                if let user = effects.sessionUser { given["user"] = user }
                if byCode { given["code"] = "true" }
            }
            if control { given["clipboard"] = options.clipboard ? "true" : "false" }
            // An assistance keeps the reason the person read (with a code: their own words).
            let kept = assist ? request.args.merging(["reason": why]) { _, new in new } : request.args
            started = try journal.append(event(feature.rawValue, kept, by: identity, at: begun, status: .started,
                                               reason: Reason("\(feature.rawValue).started", given)))
        } catch {
            unregisterControl(controlKey)
            screen.stop()
            close(screen.socket)
            release()
            return SeatAnswer(unavailable(request, error))
        }
        logger.notice("remote \(feature.rawValue) started", metadata: ["actor": "\(identity.uri)"])
        var opened = Reason("\(feature.rawValue).started")
        if let user = effects.sessionUser { opened.params["user"] = user }
        // The helper asked control and the person said no to it: the view alone, and they are told.
        if asksControl && !control { opened = Reason("assist.started-view-only", opened.params) }
        // The intervention's number: the helper completes its sheet with it (`vigie assist note`).
        if assist { opened.params["intervention"] = "\(seat.id)-\(started.seq)" }
        let startedAt = begun
        var running: RunningAssist?
        if assist {
            let intervention = "\(seat.id)-\(started.seq)"
            let r = RunningAssist(intervention: intervention, identity: identity, reason: why, screen: screen, started: started.seq, control: control)
            assists.withLockedValue { $0[intervention] = r }
            running = r
        }
        let stream = SeatStream { [self, running] link in
            await runRemote(link, feature: feature, control: control, screen: screen, identity: identity, serial: peer.serial,
                            args: request.args, started: started, startedAt: startedAt, running: running)
            unregisterControl(controlKey)
            release()
            // Control given later, inside the assistance, goes with it.
            if let running {
                assists.withLockedValue { _ = $0.removeValue(forKey: running.intervention) }
                if let given = running.end() {
                    unregisterControl(given)
                    controller.withLockedValue { if $0 == given { $0 = nil } }
                }
            }
        }
        return SeatAnswer(Response(id: request.id, status: .ok, reason: opened), stream: stream)
    }

    /// Relays RFB both ways until something ends the stream; the policy is run
    /// again every second, on the seat's own clock.
    func runRemote(_ link: StreamLink, feature: Feature, control startedInControl: Bool, screen: RemoteScreen, identity: Identity, serial: String,
                   args: [String: String], started: ChainedEvent, startedAt: Date, running: RunningAssist? = nil) async {
        // In control from the start, or since the person gave it (inside an assistance).
        var control: Bool { startedInControl || running?.inControl == true }
        let stop = NIOLockedValueBox<Reason?>(nil)
        let sent = NIOLockedValueBox(0)
        let sessionUser = effects.sessionUser
        let key = ObjectIdentifier(link)
        await watchers.join(key, identity: identity, since: Date(), mode: control ? .control : feature == .watch ? .watch : .view,
                            effects: effects, texts: texts)
        // An assistance: a banner with « Arrêter » the person can click at any time.
        var stoppedByPerson: AsyncStream<Void>?
        let banner = NIOLockedValueBox<(@Sendable () -> Void)?>(nil)
        let (clicks, click) = AsyncStream<Void>.makeStream(bufferingPolicy: .bufferingNewest(1))
        /// The banner says who helps and whether they control; shown again when control is given.
        let showBanner: @Sendable (Bool) async -> Void = { [effects, texts] inControl in
            let words = texts.assistBanner(by: identity, control: inControl)
            let takeDown = await effects.assistBanner(text: words.text, button: words.button, control: inControl) { click.yield() }
            banner.withLockedValue { $0 = takeDown }
        }
        if feature == .assist {
            assisting.withLockedValue { $0 += 1 }
            stoppedByPerson = clicks
            await showBanner(control)
        }
        do {
            let helper = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                .withConnectedSocket(screen.socket) { channel in
                    channel.eventLoop.makeCompletedFuture { try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel) }
                }
            try await helper.executeThenClose { inbound, outbound in
                await withTaskGroup(of: Void.self) { group in
                    // The seat's screen to the console.
                    group.addTask {
                        do {
                            for try await buffer in inbound {
                                let bytes = Array(buffer.readableBytesView)
                                try await link.send(StreamMessage(id: link.id, event: .data), body: bytes)
                                sent.withLockedValue { $0 += bytes.count }
                            }
                            stop.withLockedValue { if $0 == nil { $0 = Reason("view.helper-ended") } }
                        } catch {
                            stop.withLockedValue { if $0 == nil { $0 = link.endReason ?? Reason("watch.connection-closed") } }
                        }
                    }
                    // The viewer's side to the helper (in view mode it drops what is not RFB housekeeping).
                    group.addTask {
                        for await bytes in link.received {
                            do {
                                try await outbound.write(ByteBuffer(bytes: bytes))
                            } catch {
                                break
                            }
                            link.consumed(bytes.count)
                        }
                    }
                    // The person at the seat clicked « Arrêter ».
                    if let stoppedByPerson {
                        group.addTask {
                            for await _ in stoppedByPerson {
                                stop.withLockedValue { if $0 == nil { $0 = Reason("assist.ended-by-person") } }
                                break
                            }
                        }
                    }
                    // Control given inside the assistance: the person is told, the notice says it.
                    if let running {
                        group.addTask { [self] in
                            for await _ in running.controlGiven {
                                await watchers.join(key, identity: identity, since: startedAt, mode: .control, effects: effects, texts: texts)
                                let old = banner.withLockedValue { b -> (@Sendable () -> Void)? in defer { b = nil }; return b }
                                old?()
                                await showBanner(true)
                            }
                            // Ends only with the others (the stream ending finishes it).
                            while !Task.isCancelled { await link.wait(.seconds(1)) }
                        }
                    }
                    // An assistance's longest time ([assistance] max_minutes), from the consent; as the
                    // end nears the person is asked whether to go on ([assistance] extend_minutes).
                    if feature == .assist {
                        let settings = live.current.config.assistance
                        group.addTask { [self] in
                            var end = startedAt.addingTimeInterval(settings.maxMinutes * 60)
                            var asked = false
                            while Date() < end, stop.withLockedValue({ $0 }) == nil, !Task.isCancelled {
                                let lead = min(Double(settings.consentSeconds), settings.maxMinutes * 30)
                                if settings.extendMinutes > 0, !asked, end.timeIntervalSinceNow <= lead {
                                    asked = true
                                    let words = texts.assistExtension(by: identity, minutes: settings.extendMinutes, end: end)
                                    let wait = max(1, end.timeIntervalSinceNow)
                                    let answer = await askPerson {
                                        await self.effects.askConsent(title: words.title, text: words.text, refuse: words.refuse,
                                                                      accept: words.accept, timeout: wait)
                                    }
                                    switch answer {
                                    case .accepted:
                                        end = max(end, Date()).addingTimeInterval(settings.extendMinutes * 60)
                                        asked = false
                                        let minutes = Self.minutes(settings.extendMinutes)
                                        _ = try? journal.append(event(feature.rawValue, [:], by: identity, at: Date(), status: .ok,
                                                                      reason: Reason("assist.extended", ["minutes": minutes, "started": String(started.seq)])))
                                    case .refused:
                                        stop.withLockedValue { if $0 == nil { $0 = Reason("assist.ended-by-person") } }
                                    case .timeout:
                                        break
                                    case .unavailable:
                                        // Not shown (a busy seat's window slow to start): asked again
                                        // while a few seconds remain, so the person still has the choice.
                                        if end.timeIntervalSinceNow > 3 {
                                            logger.warning("the extension question could not be shown: asked again")
                                            asked = false
                                            await link.wait(.seconds(1))
                                        }
                                    }
                                    continue
                                }
                                let untilAsk = settings.extendMinutes > 0 && !asked ? end.timeIntervalSinceNow - lead : end.timeIntervalSinceNow
                                await link.wait(.milliseconds(Int64(min(1000, max(10, untilAsk * 1000)))))
                            }
                            if Date() >= end {
                                stop.withLockedValue { if $0 == nil { $0 = Reason("assist.time-limit", ["minutes": Self.minutes(settings.maxMinutes)]) } }
                            }
                        }
                    }
                    // The policy, the person at the seat, the console's heartbeat.
                    group.addTask { [self] in
                        while stop.withLockedValue({ $0 }) == nil {
                            if let reason = link.endReason { stop.withLockedValue { if $0 == nil { $0 = reason } }; break }
                            if effects.sessionUser != sessionUser { stop.withLockedValue { if $0 == nil { $0 = Reason("watch.session-changed") } }; break }
                            let decision = Policy.decide(identity: identity, serialHex: serial, feature: feature, seat: seat,
                                                         config: live.current.config, at: Date())
                            if case .refuse(let why) = decision { stop.withLockedValue { if $0 == nil { $0 = why } }; break }
                            if control, let by = effects.lockedBy {
                                stop.withLockedValue { if $0 == nil { $0 = Reason("control.locked", ["by": by.displayName]) } }
                                break
                            }
                            await link.wait(.seconds(1))
                        }
                    }
                    // The first to finish ends the others.
                    await group.next()
                    group.cancelAll()
                    screen.stop()
                    outbound.finish()
                    link.end(stop.withLockedValue { $0 } ?? Reason("watch.connection-closed"))
                }
            }
        } catch {
            stop.withLockedValue { if $0 == nil { $0 = Reason("view.unavailable", ["detail": "\(error)"]) } }
            screen.stop()
        }
        // The console first (its viewer closes at once), then the seat's notices.
        let why = stop.withLockedValue { $0 } ?? Reason("watch.connection-closed")
        try? await link.send(StreamMessage(id: link.id, event: .end, reason: why))
        running?.finishChanges()
        banner.withLockedValue { b -> (@Sendable () -> Void)? in defer { b = nil }; return b }?()
        await watchers.leave(key, effects: effects, texts: texts)
        // The end of an assistance is said clearly, whoever ended it.
        if feature == .assist {
            assisting.withLockedValue { $0 -= 1 }
            _ = await effects.showIndicator(texts.assistEnded(by: identity))
        }
        let seconds = Int(Date().timeIntervalSince(startedAt).rounded())
        logger.notice("remote \(feature.rawValue) stopped", metadata: ["actor": "\(identity.uri)", "why": "\(why.code)", "seconds": "\(seconds)"])
        var params = ["why": why.code, "seconds": String(seconds), "bytes": String(sent.withLockedValue { $0 }), "started": String(started.seq)]
        for (name, value) in why.params where params[name] == nil { params[name] = value }
        do {
            try journal.append(event(feature.rawValue, args, by: identity, at: Date(), status: .ok, reason: Reason("\(feature.rawValue).stopped", params)))
        } catch {
            logger.error("journal write failed for a remote view", metadata: ["error": "\(error)"])
        }
    }
}

/// An assistance running on the seat: the person may give its helper the
/// keyboard and mouse later, with an answer of their own.
final class RunningAssist: Sendable {
    let intervention: String
    let identity: Identity
    /// What the person read when they accepted (asked again with the control).
    let reason: String
    let screen: RemoteScreen
    /// The `assist.started` event's number.
    let started: Int64
    private let state: NIOLockedValueBox<(control: Bool, ended: Bool, given: UUID?)>
    /// Yields once when control is given.
    let controlGiven: AsyncStream<Void>
    private let gave: AsyncStream<Void>.Continuation

    init(intervention: String, identity: Identity, reason: String, screen: RemoteScreen, started: Int64, control: Bool) {
        self.intervention = intervention
        self.identity = identity
        self.reason = reason
        self.screen = screen
        self.started = started
        state = NIOLockedValueBox((control, false, nil))
        (controlGiven, gave) = AsyncStream<Void>.makeStream(bufferingPolicy: .bufferingNewest(1))
    }

    var inControl: Bool { state.withLockedValue { $0.control } }
    var ended: Bool { state.withLockedValue { $0.ended } }

    /// Control given (the controller's slot `key`); false when the assistance ended meanwhile.
    func give(_ key: UUID) -> Bool {
        let ok = state.withLockedValue { s -> Bool in
            guard !s.ended else { return false }
            s.control = true
            s.given = key
            return true
        }
        if ok { gave.yield() }
        return ok
    }

    /// The assistance ended; returns the controller's slot given inside it, to release.
    func end() -> UUID? {
        state.withLockedValue { s -> UUID? in
            s.ended = true
            return s.given
        }
    }

    func finishChanges() { gave.finish() }
}

extension SeatPipeline {
    /// The keyboard and mouse, asked inside a running assistance (`vigie assist control
    /// ID`): only its helper may ask, the person answers on the seat as for the first
    /// consent, and the view turns to control in place (the helper's VNC viewer stays).
    func giveControl(_ request: Request, within intervention: String, by identity: Identity, frame: Frame, at now: Date,
                     connected: @escaping @Sendable () -> Bool) async -> SeatAnswer {
        let feature = Feature.assist
        func refuse(_ status: SeatStatus, _ reason: Reason) -> SeatAnswer {
            SeatAnswer(recordOnce(request, feature, by: identity, at: Date(), status, reason))
        }
        guard let running = assists.withLockedValue({ $0[intervention] }), !running.ended else {
            return refuse(.refused, Reason("assist.not-running", ["id": intervention]))
        }
        guard running.identity.uri == identity.uri else {
            return refuse(.refused, Reason("assist.not-yours", ["id": intervention, "helper": running.identity.displayName]))
        }
        if running.inControl { return refuse(.refused, Reason("assist.already-control", ["id": intervention])) }
        if let by = effects.lockedBy { return refuse(.refused, Reason("control.locked", ["by": by.displayName])) }
        guard let takeControl = running.screen.takeControl else {
            return refuse(.failed, Reason("view.unavailable", ["detail": "this view cannot turn to control"]))
        }
        let key = UUID()
        let taken = controller.withLockedValue { current -> Bool in
            if current != nil { return true }
            current = key
            return false
        }
        if taken { return refuse(.refused, Reason("control.busy")) }
        let release: @Sendable () -> Void = { [controller] in controller.withLockedValue { if $0 == key { $0 = nil } } }

        var seconds = Double(live.current.config.assistance.consentSeconds)
        if let deadline = Self.deadline(of: frame, request) {
            seconds = max(1, min(seconds, Double((deadline - .now()).nanoseconds) / 1e9))
        }
        let person = effects.sessionUser ?? ""
        let question = texts.assistQuestion(by: identity, reason: running.reason, control: true, seconds: seconds)
        let answer = await askPerson(question, seconds: seconds) { connected() && !running.ended }
        switch answer {
        case nil:
            release()
            return refuse(.failed, Reason("assist.withdrawn", ["user": person]))
        case .accepted?:
            break
        case .refused?:
            release()
            return refuse(.refused, Reason("assist.control-refused", ["user": person, "id": intervention]))
        case .timeout?:
            release()
            return refuse(.refused, Reason("assist.timeout", ["user": person, "seconds": String(Int(seconds))]))
        case .unavailable?:
            release()
            return refuse(.failed, Reason("assist.unavailable"))
        }
        // Journaled before it is done; the helper turns to control, then the banner says so.
        let given = Reason("assist.control-given", ["id": intervention, "user": person, "started": String(running.started)])
        let response = recordOnce(request, feature, by: identity, at: Date(), .ok, given)
        guard response.status == .ok else {
            release()
            return SeatAnswer(response)
        }
        let tookIt = await withCheckedContinuation { continuation in
            DispatchQueue.global().async { continuation.resume(returning: takeControl()) }
        }
        guard tookIt, running.give(key) else {
            // Failing closed: a helper that did not say so ends its stream.
            logger.warning("an assistance's VNC helper did not turn to control: its stream ends")
            release()
            running.screen.stop()
            return refuse(.failed, Reason("view.unavailable", ["detail": "the seat's VNC server did not take the keyboard and mouse"]))
        }
        await registerControl(key, running.screen)
        return SeatAnswer(response)
    }
}

extension SeatPipeline {
    /// An assistance's question on the seat, withdrawn (nil) as soon as `present`
    /// no longer holds: the helper's console left, or the assistance ended.
    func askPerson(_ question: (title: String, text: String, refuse: String, accept: String), seconds: Double,
                   while present: @escaping @Sendable () -> Bool) async -> ConsentAnswer? {
        await askPerson {
            await withTaskGroup(of: ConsentAnswer?.self) { group in
                group.addTask {
                    await self.effects.askConsent(title: question.title, text: question.text, refuse: question.refuse,
                                                  accept: question.accept, timeout: seconds)
                }
                group.addTask {
                    while present(), !Task.isCancelled { try? await Task.sleep(for: .milliseconds(200)) }
                    return nil
                }
                let first = await group.next() ?? nil
                group.cancelAll()
                return first
            }
        }
    }

    /// Minutes as the register writes them: `60`, `0.05`.
    static func minutes(_ m: Double) -> String { m == m.rounded() ? String(Int(m)) : String(m) }

    /// Asks the person something with every controller's input held: each control
    /// helper stops injecting and says so before the question shows; one that does
    /// not is stopped (its stream ends). Injection resumes when the last question closes.
    func askPerson<T: Sendable>(_ question: @Sendable () async -> T) async -> T {
        let screens = inputHolds.withLockedValue { state -> [RemoteScreen] in
            state.questions += 1
            return state.questions == 1 ? Array(state.screens.values) : []
        }
        for screen in screens { await Self.hold(screen, true, logger: logger) }
        let answer = await question()
        let resume = inputHolds.withLockedValue { state -> [RemoteScreen] in
            state.questions -= 1
            return state.questions == 0 ? Array(state.screens.values) : []
        }
        for screen in resume { await Self.hold(screen, false, logger: logger) }
        return answer
    }

    /// A control stream that opens while a question shows is held at once.
    func registerControl(_ key: UUID, _ screen: RemoteScreen) async {
        let holdNow = inputHolds.withLockedValue { state -> Bool in
            state.screens[key] = screen
            return state.questions > 0
        }
        if holdNow { await Self.hold(screen, true, logger: logger) }
    }

    func unregisterControl(_ key: UUID) {
        inputHolds.withLockedValue { _ = $0.screens.removeValue(forKey: key) }
    }

    static func hold(_ screen: RemoteScreen, _ on: Bool, logger: Logger) async {
        guard let hold = screen.hold else { return }
        let ok = await withCheckedContinuation { continuation in
            DispatchQueue.global().async { continuation.resume(returning: hold(on)) }
        }
        logger.info(on ? "controller input held for a question to the person" : "controller input resumed", metadata: ["acknowledged": "\(ok)"])
        if !ok && on {
            // Failing closed: a controller that cannot be held loses the seat.
            logger.warning("a control helper did not hold its input for a question to the person: its stream ends")
            screen.stop()
        }
    }
}

extension SeatTexts {
    /// The reason shown when the person asked for help without a description.
    public var helpRequested: String { language == .fr ? "votre demande d’aide" : "your help request" }

    /// The banner while someone helps, and its button.
    public func assistBanner(by identity: Identity, control: Bool) -> (text: String, button: String) {
        switch (language, control) {
        case (.fr, false): return ("Assistance : \(actor(identity)) voit votre écran", "Arrêter (Pause)")
        case (.fr, true): return ("Assistance : \(actor(identity)) voit votre écran et a la main sur le clavier et la souris", "Arrêter (Pause)")
        case (.en, false): return ("Assistance: \(actor(identity)) sees your screen", "Stop (Pause)")
        case (.en, true): return ("Assistance: \(actor(identity)) sees your screen and has the keyboard and mouse", "Stop (Pause)")
        }
    }

    /// Said when an assistance ends, however it ended.
    public func assistEnded(by identity: Identity) -> String {
        switch language {
        case .fr: return "L’assistance est terminée : \(actor(identity)) n’a plus accès à votre écran."
        case .en: return "The assistance has ended: \(actor(identity)) no longer has access to your screen."
        }
    }

    /// The question as an assistance nears its end.
    public func assistExtension(by identity: Identity, minutes: Double, end: Date) -> (title: String, text: String, refuse: String, accept: String) {
        let m = minutes == minutes.rounded() ? String(Int(minutes)) : String(minutes)
        switch language {
        case .fr:
            return ("L’assistance arrive à sa fin",
                    "L’assistance de \(actor(identity)) se termine à \(time(end)).\nLa prolonger de \(m) min ? Sans réponse, elle se termine à l’heure prévue.",
                    "Terminer maintenant", "Prolonger de \(m) min")
        case .en:
            return ("The assistance is ending",
                    "\(actor(identity))’s assistance ends at \(time(end)).\nExtend it by \(m) min? Without an answer it ends on time.",
                    "End now", "Extend by \(m) min")
        }
    }

    /// The consent window's words: who asks, what, and why.
    public func assistQuestion(by identity: Identity, reason: String, control: Bool, seconds: Double)
        -> (title: String, text: String, refuse: String, accept: String) {
        let who = actor(identity)
        switch language {
        case .fr:
            let what = control ? "prendre aussi la main sur votre clavier et votre souris" : "voir votre écran"
            return (control ? "Prise en main demandée par \(who)" : "Demande d’assistance de \(who)",
                    "\(who) demande à \(what), pour : « \(reason) ».\nRien n’est enregistré. Sans réponse dans \(Int(seconds)) s, c’est un refus.",
                    "Refuser", "Accepter")
        case .en:
            let what = control ? "also take your keyboard and mouse" : "see your screen"
            return (control ? "Control requested by \(who)" : "Assistance requested by \(who)",
                    "\(who) asks to \(what), for: “\(reason)”.\nNothing is recorded. No answer within \(Int(seconds)) s is a refusal.",
                    "Refuse", "Accept")
        }
    }
}
