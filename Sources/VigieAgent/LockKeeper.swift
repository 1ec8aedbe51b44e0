import Foundation
import Logging
import NIOConcurrencyHelpers
import VigieModel
import VigieSeatState

/// What happened to a lock request.
public enum LockOutcome: Sendable {
    /// Locked now (until that time, if given); `inputHeld` is false when the
    /// input holder was expected to hold the keyboards and pointers and did
    /// not (within a second).
    case locked(until: Date?, inputHeld: Bool)
    /// It was already locked, by that person.
    case alreadyLocked(by: Identity)
    /// Not locked, for that reason.
    case failed(Reason)
}

/// Keeps the seat's lock: starts the `vigie-ui lock` helper in its own session,
/// remembers the lock on disk before answering, and brings the lock back when
/// its helper disappears (display restarted, process killed, X connection killed)
/// while it should hold: at once, on the helper's exit (a pidfd), with a look
/// every second for what has no event (expiry, a helper that cannot be watched).
/// All work runs on one serial queue: helpers block on X and on pipes.
final class LockKeeper: @unchecked Sendable {
    private let queue = DispatchQueue(label: "vigie.lock")
    private let stateFile: String
    /// The named pipe through which the lock process draws notices (see `vigie-ui lock --notice-pipe`).
    let noticePipe: String
    private let uiPath: String
    /// The display to lock: the seat's active session's, which may change.
    private let target: SeatTarget
    private let texts: SeatTexts
    private let logger: Logger
    private var current: RememberedLock? {
        didSet { holder.withLockedValue { $0 = current?.by } }
    }
    /// Who holds the lock, readable without waiting for the queue (which may be
    /// starting a helper for seconds).
    private let holder = NIOLockedValueBox<Identity?>(nil)
    private var timer: DispatchSourceTimer?
    /// The running helper's exit, watched through a pidfd (readable once it exits).
    private var exitWatch: (pid: pid_t, source: DispatchSourceRead)?
    /// A helper that could not be looked at was reported (once, until it can be again).
    private var reportedUnknown = false
    /// ``start()`` ran (the listener and the session follower both call it, whichever runs first).
    private var started = false

    /// `vigie-input-hold`'s report (``InputHoldState``), when the seat has one.
    private let inputHoldState: String?

    init(stateDir: String, uiPath: String, target: SeatTarget, texts: SeatTexts, inputHoldState: String? = nil, logger: Logger) {
        self.inputHoldState = inputHoldState
        self.stateFile = URL(fileURLWithPath: stateDir).appendingPathComponent("lock.json").path
        self.noticePipe = URL(fileURLWithPath: stateDir).appendingPathComponent("lock-notices.pipe").path
        self.uiPath = uiPath
        self.target = target
        self.texts = texts
        self.logger = logger
    }

    /// Loads the remembered lock, adopts the lock helpers of this seat left by a
    /// previous agent, and starts watching the lock (every second).
    func start() {
        queue.sync {
            guard !started else { return }
            started = true
            switch RememberedLock.read(stateFile) {
            case .absent:
                current = nil
            case .found(let lock):
                current = lock
                logger.notice("remembered lock found", metadata: ["by": "\(lock.by.displayName)"])
            case .unreadable(let why):
                // A record that exists but cannot be read must not unlock the seat: keep a lock with what we know.
                logger.error("lock state unreadable; locking anyway", metadata: ["file": "\(stateFile)", "error": "\(why)"])
                current = RememberedLock(by: Self.unknownLocker, since: Date(), until: nil, pid: nil)
            }
            adoptHelpers()
            enforce()
        }
        let t = DispatchSource.makeTimerSource(queue: queue)
        t.schedule(deadline: .now() + 1, repeating: 1)
        t.setEventHandler { [weak self] in self?.enforce() }
        t.resume()
        timer = t
    }

    func stop() {
        timer?.cancel()
        timer = nil
        queue.sync { watchExit(of: nil) }
    }

    /// Who holds the lock now, if any (as last recorded by the queue; never blocks).
    var lockedBy: Identity? { holder.withLockedValue { $0 } }

    /// Locks; the helper has `wait` seconds (at most ``Spawn/helperStartWait``) to hold the screen.
    func lock(by identity: Identity, until: Date?, wait: Double = Spawn.helperStartWait) async -> LockOutcome {
        let outcome = await withCheckedContinuation { continuation in
            queue.async { continuation.resume(returning: self.doLock(by: identity, until: until, wait: wait)) }
        }
        guard case .locked(let until, _) = outcome, inputHoldState != nil else { return outcome }
        let held = await inputHolder(holds: true)
        if !held { logger.error("locked, but vigie-input-hold does not hold the keyboards and pointers", metadata: ["report": "\(inputHoldState ?? "")"]) }
        return .locked(until: until, inputHeld: held)
    }

    /// Waits up to a second for the input holder, which follows lock.json by
    /// inotify (milliseconds), to report that it `holds` the devices or has let
    /// them go; true when it does.
    private func inputHolder(holds: Bool) async -> Bool {
        let deadline = ContinuousClock.now + .seconds(1)
        while inputHeld() != holds && ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(20))
        }
        return inputHeld() == holds
    }

    /// Whether the input holder holds the keyboards and pointers: nil when the
    /// seat has no holder configured, false when it reports nothing held (or
    /// no report at all: the holder is not running).
    func inputHeld() -> Bool? {
        guard let inputHoldState else { return nil }
        return InputHoldState.read(inputHoldState)?.holds ?? false
    }

    /// Unlocks; returns false if the seat was not locked. Answers once the input
    /// holder has let the keyboards and pointers go (up to a second), so that the
    /// first keys typed after "unlocked" reach the session.
    func unlock() async -> Bool {
        let unlocked = await withCheckedContinuation { continuation in
            queue.async { continuation.resume(returning: self.doUnlock()) }
        }
        if unlocked, inputHoldState != nil, !(await inputHolder(holds: false)) {
            logger.error("unlocked, but vigie-input-hold still holds the keyboards and pointers", metadata: ["report": "\(inputHoldState ?? "")"])
        }
        return unlocked
    }

    /// Applies the remembered lock to the display the agent drives now (a
    /// session started or ended), without waiting for the next second.
    func refresh() async {
        await withCheckedContinuation { continuation in
            queue.async {
                self.enforce()
                continuation.resume()
            }
        }
    }

    /// Removes every notice the lock shows; false when no lock reads its pipe.
    func clearNotices() -> Bool {
        let fd = open(noticePipe, O_WRONLY | O_NONBLOCK | O_CLOEXEC)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0, (info.st_mode & S_IFMT) == S_IFIFO else { return false }
        return "clear\n".withCString { write(fd, $0, strlen($0)) } > 0
    }

    /// Asks the running lock to draw a notice; false when no lock reads the pipe.
    func postNotice(seconds: Double, text: String) -> Bool {
        let fd = open(noticePipe, O_WRONLY | O_NONBLOCK | O_CLOEXEC)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0, (info.st_mode & S_IFMT) == S_IFIFO else { return false }
        var line = "notice \(max(1, min(3600, Int(seconds.rounded(.up))))) \(text.replacingOccurrences(of: "\n", with: " "))\n"
        while line.utf8.count > 4000 { line = String(line.dropLast(2)) + "\n" }
        return line.withCString { write(fd, $0, strlen($0)) } > 0
    }

    private func doLock(by identity: Identity, until: Date?, wait: Double) -> LockOutcome {
        if let held = current, let pid = held.pid, Spawn.helperState(pid, mode: "lock") != false {
            return .alreadyLocked(by: held.by)
        }
        if let why = target.unavailable { return .failed(why) }
        let previous = current
        var lock = RememberedLock(by: identity, since: Date(), until: until, pid: nil)
        // On disk before the helper is asked: a crash in between still leaves the
        // seat locked after a restart, never a lock window nobody knows of.
        current = lock
        do {
            try save()
        } catch {
            current = previous
            return .failed(Reason("lock.state", ["detail": "\(error)"]))
        }
        switch launch(&lock, wait: min(wait, Spawn.helperStartWait)) {
        case .success:
            watchExit(of: current?.pid)
            return .locked(until: until, inputHeld: true)
        case .failure(let reason):
            current = previous
            try? save()
            return .failed(reason)
        }
    }

    /// Unlocks, and makes sure the screen is free: the helper it knows and any
    /// other lock helper of this seat are stopped. False if nothing was locked.
    private func doUnlock() -> Bool {
        let held = current
        current = nil
        watchExit(of: nil)
        do {
            try save()  // forget first: the watchdog must not bring it back
        } catch {
            logger.error("cannot record the unlock; a restarted agent would lock again", metadata: ["error": "\(error)"])
        }
        var stopped = false
        if let pid = held?.pid { stopped = Spawn.stop(pid, mode: "lock") }
        // Helpers this agent does not know of (an earlier crash): found by their notice pipe.
        for _ in 0..<3 {
            guard let orphans = Spawn.findHelpers(mode: "lock", option: "--notice-pipe", value: noticePipe) else {
                usleep(100_000)
                continue
            }
            for pid in orphans.keys {
                logger.warning("stopping a lock helper this agent did not know of", metadata: ["pid": "\(pid)"])
                Spawn.stop(pid, mode: "lock")
                stopped = true
            }
            break
        }
        return held != nil || stopped
    }

    /// The person who locked, for a lock whose record is lost: read from a running helper's command line.
    static let unknownLocker = Identity(schoolID: "-", kind: .server(name: "vigie"), displayName: "Vigie")

    /// Adopts the lock helpers of this seat that are running (left by an agent
    /// that crashed or was restarted): kept when the record says locked, stopped
    /// when it says unlocked. Nothing is decided when /proc cannot be read.
    private func adoptHelpers() {
        guard let found = Spawn.findHelpers(mode: "lock", option: "--notice-pipe", value: noticePipe) else {
            logger.warning("cannot list the running lock helpers now; will look again")
            return
        }
        guard var lock = current else {
            for pid in found.keys {
                logger.notice("stopping a lock helper: the record says unlocked", metadata: ["pid": "\(pid)"])
                Spawn.stop(pid, mode: "lock")
            }
            return
        }
        if let pid = lock.pid, found[pid] != nil { return }
        // Prefer the helper on the display the seat shows now.
        guard let (pid, args) = found.first(where: { Self.option("--display", in: $0.value) == target.display }) ?? found.first else { return }
        lock.pid = pid
        lock.display = Self.option("--display", in: args)
        if lock.by == Self.unknownLocker, let uri = Self.option("--by", in: args), let name = Self.option("--by-name", in: args),
           let who = Identity.parse(uri: uri, displayName: name) {
            lock.by = who
        }
        logger.notice("adopted a running lock helper", metadata: ["pid": "\(pid)", "by": "\(lock.by.displayName)"])
        current = lock
        try? save()
        for other in found.keys where other != pid { Spawn.stop(other, mode: "lock") }
    }

    static func option(_ name: String, in args: [String]) -> String? {
        guard let i = args.firstIndex(of: name), i + 1 < args.count else { return nil }
        return args[i + 1]
    }

    /// Starts a helper for `lock` (already on disk); remembers its pid once known.
    private func launch(_ lock: inout RememberedLock, wait: Double = Spawn.helperStartWait) -> Result<Void, Reason> {
        let display = target.display
        var argv = [uiPath, "lock"]
        if let display { argv += ["--display", display] }
        argv += ["--title", texts.lockTitle]
        for line in texts.lockLines(by: lock.by, at: lock.since, until: lock.until) { argv += ["--line", line] }
        if let until = lock.until { argv += ["--until", String(Int(until.timeIntervalSince1970))] }
        argv += ["--notice-pipe", noticePipe, "--by", lock.by.uri, "--by-name", lock.by.displayName]
        var started = lock
        let result = Spawn.startHelper(argv, timeout: wait) { pid in
            started.pid = pid
            started.display = display
            current = started
            // The pid is a convenience (helpers are also found by their notice pipe).
            try? save()
        }
        lock = started
        return result.map { _ in () }
    }

    /// Called when the helper exits, and every second: expire, or bring back a helper that is gone.
    private func enforce() {
        defer { watchExit(of: current?.pid) }
        guard var lock = current else { return }
        if lock.isExpired() {
            logger.info("lock expired", metadata: ["by": "\(lock.by.displayName)"])
            _ = doUnlock()
            return
        }
        var running: Bool
        switch lock.pid.map({ Spawn.helperState($0, mode: "lock") }) ?? false {
        case nil:
            // Cannot tell (out of descriptors, /proc unreadable): never taken for gone.
            if !reportedUnknown {
                logger.warning("cannot look at the lock helper now; keeping the lock as it is", metadata: ["pid": "\(lock.pid ?? 0)"])
                reportedUnknown = true
            }
            return
        case let state?:
            reportedUnknown = false
            running = state
        }
        if !running {
            // A helper of ours may run without its pid on record (a crash right after it started).
            adoptHelpers()
            guard let adopted = current else { return }
            lock = adopted
            running = lock.pid.map { Spawn.helperState($0, mode: "lock") == true } ?? false
        }
        if running && lock.display == target.display { return }
        // No X session to lock (Wayland, text console, nobody): keep remembering.
        if target.unavailable != nil { return }
        if running, let pid = lock.pid {
            // The seat's active session moved to another display: the lock follows it.
            logger.notice("active session on another display; moving the lock", metadata: ["from": "\(lock.display ?? "$DISPLAY")", "to": "\(target.display ?? "$DISPLAY")"])
            Spawn.stop(pid, mode: "lock")
        } else {
            logger.warning("lock helper not running; locking the seat again", metadata: ["by": "\(lock.by.displayName)"])
        }
        if case .failure(let reason) = launch(&lock) {
            // Keep remembering: the display may come back (new session).
            current = lock
            current?.pid = nil
            try? save()
            logger.warning("relock failed; will retry", metadata: ["code": "\(reason.code)"])
        }
    }

    /// Watches `pid`'s exit (nil: nothing to watch) so that a killed helper is
    /// replaced at once. Without a pidfd (old kernel, seccomp) the look every
    /// second still brings it back.
    private func watchExit(of pid: pid_t?) {
        if exitWatch?.pid == pid { return }
        exitWatch?.source.cancel()
        exitWatch = nil
        guard let pid else { return }
        let fd = Spawn.pidfdOpen?(pid, 0) ?? -1
        guard fd >= 0 else {
            logger.debug("cannot watch the lock helper's exit; looking every second", metadata: ["errno": "\(errno)"])
            return
        }
        let source = DispatchSource.makeReadSource(fileDescriptor: fd, queue: queue)
        source.setEventHandler { [weak self] in
            guard let self, self.exitWatch?.pid == pid else { return }
            self.exitWatch = nil
            source.cancel()
            self.logger.info("lock helper exited", metadata: ["pid": "\(pid)"])
            self.enforce()
        }
        source.setCancelHandler { close(fd) }
        source.resume()
        exitWatch = (pid, source)
    }

    /// Writes the lock record (or removes it when unlocked); throws when it cannot.
    private func save() throws {
        do {
            try RememberedLock.write(current, to: stateFile)
        } catch {
            logger.error("cannot save lock state", metadata: ["file": "\(stateFile)", "error": "\(error)"])
            throw error
        }
    }
}
