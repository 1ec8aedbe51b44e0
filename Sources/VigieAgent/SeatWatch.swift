import Foundation
import Logging
import NIOConcurrencyHelpers
import NIOCore
import VigieModel
import VigieRegister
import VigieWire

/// The live overview on the seat: a `watch` request opens a stream of
/// thumbnails, which the seat keeps under its own policy as time passes.
///
/// - Opening it runs the policy like any request. A role or room that may not
///   watch is refused (one event, no stream). Outside the room's monitoring
///   windows the stream opens *paused*: it carries no picture, says why and
///   when the next window opens, and starts sending when the window opens, on the
///   seat's own clock; it pauses again when the window ends.
/// - A new configuration that no longer lets the viewer watch (revoked, grant
///   removed) ends it, as do the console's `end`, its silence, the connection
///   closing, the agent stopping and a change of the person at the seat.
/// - The register gets one event when the viewer starts (`started`, written
///   before the first picture) and one when it stops (naming the first, with how
///   long it lasted and why it stopped); a pause and a resume are decisions and
///   are journaled too. Never a frame, never pixels.
/// - While pictures flow, the seat shows a lasting notice naming who watches
///   since when (``WatchBoard``), removed when the last viewer leaves.
extension SeatPipeline {
    /// Default and bounds of the viewer's choices (the seat enforces them).
    static let watchWidths = WatchSettings.widths
    static let defaultWatchWidth = 320
    static let watchIntervals = WatchSettings.intervalsMillis
    static let defaultWatchInterval = 1000

    /// Refusals that depend only on the time: the stream waits for the next window.
    static func isPause(_ reason: Reason) -> Bool {
        reason.code == "policy.time-window" || reason.code == "policy.closed-day"
    }

    func openWatch(_ request: Request, frame: Frame, peer: (identity: Identity, serial: String), decision: Decision, at now: Date) async -> SeatAnswer {
        let identity = peer.identity
        var paused: Reason?
        if case .refuse(let why) = decision {
            guard Self.isPause(why) else { return SeatAnswer(recordOnce(request, .watch, by: identity, at: now, .refused, why)) }
            paused = why
        }
        let askedWidth = request.args["width"].map { Int($0) } ?? Self.defaultWatchWidth
        guard let askedWidth, Self.watchWidths.contains(askedWidth) else {
            return SeatAnswer(recordOnce(request, .watch, by: identity, at: now, .failed,
                                         Reason("request.bad-argument", ["name": "width", "detail": "16 to 1920 pixels"])))
        }
        let askedInterval = request.args["interval"].map { Int($0) } ?? Self.defaultWatchInterval
        guard let askedInterval, Self.watchIntervals.contains(askedInterval) else {
            return SeatAnswer(recordOnce(request, .watch, by: identity, at: now, .failed,
                                         Reason("request.bad-argument", ["name": "interval", "detail": "200 to 60000 milliseconds"])))
        }
        // Within the school's bounds ([watch]): narrowed, and the answer says to what.
        let bounds = live.current.config.watch
        let width = min(askedWidth, bounds.maxWidth)
        let interval = max(askedInterval, bounds.minIntervalMillis)
        if let deadline = Self.deadline(of: frame, request), deadline <= .now() {
            let late = (NIODeadline.now() - deadline).nanoseconds / 1_000_000
            return SeatAnswer(recordOnce(request, .watch, by: identity, at: now, .failed, Reason("request.expired", ["late": String(late)])))
        }
        let source: any ThumbnailSource
        switch await effects.thumbnails() {
        case .success(let s): source = s
        case .failure(let reason): return SeatAnswer(recordOnce(request, .watch, by: identity, at: now, .failed, reason))
        }
        // The viewer's start, durable before any picture leaves the seat.
        let started: ChainedEvent
        var args = request.args
        args["width"] = String(width)
        args["interval"] = String(interval)
        do {
            var params = ["width": String(width), "interval": String(interval)]
            if let paused { params["paused"] = paused.code }
            started = try journal.append(event(Feature.watch.rawValue, args, by: identity, at: now, status: .started, reason: Reason("watch.started", params)))
        } catch {
            await source.close()
            return SeatAnswer(unavailable(request, error))
        }
        logger.notice("watch started", metadata: ["actor": "\(identity.uri)", "width": "\(width)", "paused": "\(paused?.code ?? "-")"])
        let kept = args
        let pausedAtStart = paused
        var opened = Reason("watch.started", ["width": String(width), "interval": String(interval)])
        if width != askedWidth || interval != askedInterval {
            // The viewer is told that the school's bounds narrowed what it asked for.
            opened = Reason("watch.started-narrowed", opened.params.merging(["asked_width": String(askedWidth), "asked_interval": String(askedInterval)]) { $1 })
        }
        if let paused { opened.params["paused"] = paused.code }
        // Who is logged in at the seat, for the viewer's tile (the register has it already).
        if let user = effects.sessionUser { opened.params["user"] = user }
        let stream = SeatStream { [self] link in
            await runWatch(link, source: source, identity: identity, serial: peer.serial, args: kept, width: width,
                           interval: .milliseconds(interval), started: started, startedAt: now, paused: pausedAtStart)
        }
        return SeatAnswer(Response(id: request.id, status: .ok, reason: opened), stream: stream)
    }

    /// Sends pictures while the policy allows, until something ends the stream.
    func runWatch(_ link: StreamLink, source: any ThumbnailSource, identity: Identity, serial: String, args: [String: String],
                  width: Int, interval: Duration, started: ChainedEvent, startedAt: Date, paused initialPause: Reason?) async {
        let sessionUser = effects.sessionUser
        var paused = initialPause
        var frames = 0
        var sent = 0
        var stop: Reason?
        var watching = false
        let key = ObjectIdentifier(link)
        if let paused {
            try? await link.send(StreamMessage(id: link.id, event: .paused, reason: paused))
        }
        while stop == nil {
            if let reason = link.endReason { stop = reason; break }
            if Task.isCancelled { stop = Reason("watch.connection-closed"); break }
            if effects.sessionUser != sessionUser {
                stop = Reason("watch.session-changed")
                break
            }
            // The seat's own policy, on its own clock, under the config in force now.
            let decision = Policy.decide(identity: identity, serialHex: serial, feature: .watch, seat: seat, config: live.current.config, at: Date())
            switch decision {
            case .refuse(let why) where Self.isPause(why):
                if paused == nil {
                    paused = why
                    if watching {
                        watching = false
                        await watchers.leave(key, effects: effects, texts: texts)
                    }
                    record(.refused, why, args: args, identity: identity, started: started)
                    do { try await link.send(StreamMessage(id: link.id, event: .paused, reason: why)) } catch { stop = link.endReason ?? Reason("watch.connection-closed") }
                }
            case .refuse(let why):
                stop = why
            case .allow:
                if paused != nil {
                    paused = nil
                    record(.ok, Reason("watch.resumed"), args: args, identity: identity, started: started)
                    do { try await link.send(StreamMessage(id: link.id, event: .resumed)) } catch { stop = link.endReason ?? Reason("watch.connection-closed") }
                }
            }
            if stop != nil { break }
            if paused == nil {
                if !watching {
                    watching = true
                    await watchers.join(key, identity: identity, since: Date(), effects: effects, texts: texts)
                } else {
                    await watchers.refresh(effects: effects, texts: texts)
                }
                switch await source.next(width: width) {
                case .success(let picture?):
                    frames += 1
                    do {
                        try await link.send(StreamMessage(id: link.id, event: .frame, seq: UInt32(truncatingIfNeeded: frames),
                                                          params: ["width": String(picture.width), "height": String(picture.height)]),
                                            body: picture.jpeg)
                        sent += picture.jpeg.count
                    } catch {
                        // Closed under it, or by the watch over a write the viewer never read.
                        stop = link.endReason ?? Reason("watch.connection-closed")
                    }
                case .success(nil):
                    break  // nothing changed on the screen: nothing to send
                case .failure(let reason):
                    stop = reason
                }
                if stop != nil { break }
            }
            await link.wait(interval)
        }
        let why = stop ?? Reason("watch.connection-closed")
        if watching { await watchers.leave(key, effects: effects, texts: texts) }
        await source.close()
        try? await link.send(StreamMessage(id: link.id, event: .end, reason: why))
        let seconds = Int(Date().timeIntervalSince(startedAt).rounded())
        logger.notice("watch stopped", metadata: ["actor": "\(identity.uri)", "why": "\(why.code)", "seconds": "\(seconds)", "frames": "\(frames)"])
        var params = ["why": why.code, "seconds": String(seconds), "frames": String(frames), "bytes": String(sent)]
        for (name, value) in why.params where params[name] == nil { params[name] = value }
        record(.ok, Reason("watch.stopped", params), args: args, identity: identity, started: started)
    }

    /// Streams the seat was running when it last stopped without closing them (a
    /// crash, a kill -9, a power cut): each gets its stop event now, saying so,
    /// with the longest it can have lasted (until this start). Called once, when
    /// the agent starts, before it serves anyone.
    public func closeStreamsLeftOpen(now: Date = Date()) {
        for feature in [Feature.watch, .view, .control, .assist] { closeStreamsLeftOpen(feature, now: now) }
    }

    private func closeStreamsLeftOpen(_ feature: Feature, now: Date) {
        let left: [(seq: Int64, event: RegisterEvent)]
        do {
            left = try journal.unfinished(feature: feature.rawValue, endCode: "\(feature.rawValue).stopped")
        } catch {
            logger.error("cannot read the journal for live views left open", metadata: ["error": "\(error)"])
            return
        }
        for (seq, started) in left {
            var stop = started
            let startedAt = RegisterTime.parseUTC(started.timeUTC)
            var params = ["why": "watch.agent-restarted", "started": String(seq)]
            if let startedAt { params["seconds_at_most"] = String(Int(now.timeIntervalSince(startedAt).rounded())) }
            stop.outcome = .done
            stop.code = "\(feature.rawValue).stopped"
            stop.params = params
            stop.timeUTC = RegisterTime.utc(now)
            stop.timeLocal = RegisterTime.local(now, texts.timeZone)
            stop.configVersion = String(live.current.version)
            do {
                try journal.append(stop)
                logger.notice("live view left open by the last run closed", metadata: ["started": "\(seq)", "actor": "\(started.actor ?? "-")"])
            } catch {
                logger.error("journal write failed", metadata: ["error": "\(error)"])
            }
        }
    }

    /// Journals a decision about a running stream, naming its `started` event.
    private func record(_ status: SeatStatus, _ reason: Reason, args: [String: String], identity: Identity, started: ChainedEvent) {
        var reason = reason
        reason.params["started"] = String(started.seq)
        do {
            try journal.append(event(Feature.watch.rawValue, args, by: identity, at: Date(), status: status, reason: reason))
        } catch {
            // The stream has begun under its `started` event; the register keeps that one.
            logger.error("journal write failed for a live view", metadata: ["error": "\(error)", "code": "\(reason.code)"])
        }
    }
}

/// Who watches the seat's screen live, and since when: the lasting notice the
/// person at the seat sees, shown when the first viewer starts, updated when
/// viewers come and go, removed when the last one leaves.
public final class WatchBoard: Sendable {
    private struct Viewer {
        var identity: Identity
        var since: Date
        /// `watch` (the overview), `view` or `control`.
        var mode: Feature
    }

    private let viewers = NIOLockedValueBox<[ObjectIdentifier: Viewer]>([:])
    /// One change of the notice at a time, in order.
    private let shown = AsyncSerial()
    /// Whether the seat was locked when the notice was last shown (the lock draws it then), and when.
    private let shownLocked = NIOLockedValueBox<(locked: Bool, at: ContinuousClock.Instant)?>(nil)
    /// The lock draws a notice for an hour at most (``NoticeShower/watchers(_:)``):
    /// a viewer watching longer has it drawn again before then (every half hour).
    let lockNoticeRenewal: Duration

    init(lockNoticeRenewal: Duration = .seconds(30 * 60)) {
        self.lockNoticeRenewal = lockNoticeRenewal
    }

    /// The viewers' names now, for tests and status.
    public var names: [String] { viewers.withLockedValue { $0.values.map(\.identity.displayName) } }

    func join(_ key: ObjectIdentifier, identity: Identity, since: Date, mode: Feature = .watch, effects: any SeatEffects, texts: SeatTexts) async {
        let notice = viewers.withLockedValue { v -> Notice? in
            v[key] = Viewer(identity: identity, since: since, mode: mode)
            return Self.notice(v, texts)
        }
        await show(notice, effects: effects)
    }

    func leave(_ key: ObjectIdentifier, effects: any SeatEffects, texts: SeatTexts) async {
        let notice = viewers.withLockedValue { v -> Notice? in
            v[key] = nil
            return Self.notice(v, texts)
        }
        await show(notice, effects: effects)
    }

    /// Shows the notice again when the seat was locked or unlocked since it was
    /// shown (the lock draws it while locked, a window of its own otherwise), or
    /// when the lock has drawn it for half an hour (it would go after an hour).
    func refresh(effects: any SeatEffects, texts: SeatTexts) async {
        let locked = effects.lockedBy != nil
        guard let was = shownLocked.withLockedValue({ $0 }) else { return }
        let renew = was.locked && locked && ContinuousClock.now - was.at > lockNoticeRenewal
        guard was.locked != locked || renew else { return }
        guard let notice = viewers.withLockedValue({ Self.notice($0, texts) }) else { return }
        await show(notice, effects: effects)
    }

    /// The notice's words, and whether someone has the keyboard and mouse (its own colour then).
    private struct Notice {
        var text: String
        var control: Bool
    }

    private func show(_ notice: Notice?, effects: any SeatEffects) async {
        await shown.run { [shownLocked] in
            shownLocked.withLockedValue { $0 = notice == nil ? nil : (effects.lockedBy != nil, ContinuousClock.now) }
            await effects.showWatchers(notice?.text, control: notice?.control ?? false)
        }
    }

    private static func notice(_ viewers: [ObjectIdentifier: Viewer], _ texts: SeatTexts) -> Notice? {
        guard !viewers.isEmpty else { return nil }
        // One line per person and way of looking, the earliest start for someone watching twice.
        var earliest: [String: Viewer] = [:]
        for viewer in viewers.values {
            let id = viewer.identity.uri + " " + viewer.mode.rawValue
            if let known = earliest[id], known.since <= viewer.since { continue }
            earliest[id] = viewer
        }
        let text = earliest.values.sorted { $0.since < $1.since }
            .map { texts.watching(by: $0.identity, since: $0.since, mode: $0.mode) }
            .joined(separator: " ; ")
        return Notice(text: text, control: viewers.values.contains { $0.mode == .control })
    }
}

/// Runs async jobs one at a time, in the order they were given.
final class AsyncSerial: Sendable {
    private let tail = NIOLockedValueBox<Task<Void, Never>?>(nil)

    func run(_ job: @escaping @Sendable () async -> Void) async {
        let task = tail.withLockedValue { tail -> Task<Void, Never> in
            let previous = tail
            let next = Task {
                await previous?.value
                await job()
            }
            tail = next
            return next
        }
        await task.value
    }
}

extension SeatTexts {
    /// The lasting notice while someone watches the screen live (`watch`: among
    /// the overview's thumbnails; `view`: full size; `control`: with keyboard and mouse).
    public func watching(by identity: Identity, since date: Date, mode: Feature = .watch) -> String {
        switch (language, mode) {
        case (.fr, .view): return "Écran affiché en grand par \(actor(identity)) depuis \(time(date))"
        case (.en, .view): return "Screen shown full size to \(actor(identity)) since \(time(date))"
        case (.fr, .control): return "Clavier et souris pris en main par \(actor(identity)) depuis \(time(date))"
        case (.en, .control): return "Keyboard and mouse controlled by \(actor(identity)) since \(time(date))"
        case (.fr, _): return "Écran regardé en direct par \(actor(identity)) depuis \(time(date))"
        case (.en, _): return "Screen watched live by \(actor(identity)) since \(time(date))"
        }
    }
}
