import Foundation
import Logging
import VigieModel

/// A lock the seat remembers until it is unlocked or expires: it survives an
/// agent restart, and a display that comes back (a new session) is locked again.
struct RememberedLock: Codable, Equatable {
    var by: Identity
    var since: Date
    var until: Date?
    /// The lock helper's pid, when one is running.
    var pid: Int32?
    /// The display that helper was started on (nil: `$DISPLAY`).
    var display: String?
}

/// What happened to a lock request.
enum LockOutcome {
    case locked(until: Date?)
    case alreadyLocked(by: Identity)
    case failed(Reason)
}

/// Keeps the seat's lock: starts the `vigie-ui lock` helper in its own session,
/// remembers the lock on disk before answering, and brings the lock back when
/// its helper disappears (display restarted, process killed) while it should hold.
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
    private var current: RememberedLock?
    private var timer: DispatchSourceTimer?

    init(stateDir: String, uiPath: String, target: SeatTarget, texts: SeatTexts, logger: Logger) {
        self.stateFile = URL(fileURLWithPath: stateDir).appendingPathComponent("lock.json").path
        self.noticePipe = URL(fileURLWithPath: stateDir).appendingPathComponent("lock-notices.pipe").path
        self.uiPath = uiPath
        self.target = target
        self.texts = texts
        self.logger = logger
    }

    /// Loads the remembered lock and starts watching it (every second).
    func start() {
        queue.sync {
            if let data = FileManager.default.contents(atPath: stateFile) {
                do {
                    current = try JSONDecoder().decode(RememberedLock.self, from: data)
                    logger.notice("remembered lock found", metadata: ["by": "\(current!.by.displayName)"])
                } catch {
                    // A damaged state file must not unlock the seat: keep a lock with what we know.
                    logger.error("lock state unreadable; locking anyway", metadata: ["file": "\(stateFile)"])
                    current = RememberedLock(by: Identity(schoolID: "-", kind: .server(name: "vigie"), displayName: "Vigie"), since: Date(), until: nil, pid: nil)
                }
            }
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
    }

    /// Who holds the lock now, if any.
    var lockedBy: Identity? { queue.sync { current?.by } }

    func lock(by identity: Identity, until: Date?) async -> LockOutcome {
        await withCheckedContinuation { continuation in
            queue.async { continuation.resume(returning: self.doLock(by: identity, until: until)) }
        }
    }

    /// Unlocks; returns false if the seat was not locked.
    func unlock() async -> Bool {
        await withCheckedContinuation { continuation in
            queue.async { continuation.resume(returning: self.doUnlock()) }
        }
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

    private func doLock(by identity: Identity, until: Date?) -> LockOutcome {
        if let held = current, let pid = held.pid, Spawn.isHelper(pid, mode: "lock") {
            return .alreadyLocked(by: held.by)
        }
        if let why = target.unavailable { return .failed(why) }
        var lock = RememberedLock(by: identity, since: Date(), until: until, pid: nil)
        current = lock
        switch launch(&lock) {
        case .success:
            return .locked(until: until)
        case .failure(let reason):
            current = nil
            save()
            return .failed(reason)
        }
    }

    private func doUnlock() -> Bool {
        guard let held = current else { return false }
        current = nil
        save()  // forget first: the watchdog must not bring it back
        if let pid = held.pid { Spawn.stop(pid, mode: "lock") }
        return true
    }

    /// Starts a helper for `lock`; the lock is on disk before the helper is
    /// asked, so that a crash between the two still leaves the seat locked.
    private func launch(_ lock: inout RememberedLock) -> Result<Void, Reason> {
        let display = target.display
        var argv = [uiPath, "lock"]
        if let display { argv += ["--display", display] }
        argv += ["--title", texts.lockTitle]
        for line in texts.lockLines(by: lock.by, at: lock.since, until: lock.until) { argv += ["--line", line] }
        if let until = lock.until { argv += ["--until", String(Int(until.timeIntervalSince1970))] }
        argv += ["--notice-pipe", noticePipe]
        var started = lock
        let result = Spawn.startHelper(argv) { pid in
            started.pid = pid
            started.display = display
            current = started
            save()
        }
        lock = started
        return result.map { _ in () }
    }

    /// Called every second: expire, or bring back a helper that is gone.
    private func enforce() {
        guard var lock = current else { return }
        if let until = lock.until, until <= Date() {
            logger.info("lock expired", metadata: ["by": "\(lock.by.displayName)"])
            if let pid = lock.pid { Spawn.stop(pid, mode: "lock") }
            current = nil
            save()
            return
        }
        let running = lock.pid.map { Spawn.isHelper($0, mode: "lock") } ?? false
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
            save()
            logger.warning("relock failed; will retry", metadata: ["code": "\(reason.code)"])
        }
    }

    private func save() {
        do {
            if let lock = current {
                let data = try JSONEncoder().encode(lock)
                try Self.writeDurably(data, to: stateFile)
            } else if FileManager.default.fileExists(atPath: stateFile) {
                try FileManager.default.removeItem(atPath: stateFile)
            }
        } catch {
            logger.error("cannot save lock state", metadata: ["file": "\(stateFile)", "error": "\(error)"])
        }
    }

    /// Writes a file atomically and durably (temporary file, fsync, rename, fsync of the folder).
    static func writeDurably(_ data: Data, to path: String) throws {
        let tmp = path + ".tmp"
        let fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw SpawnError(description: "\(tmp): \(String(cString: strerror(errno)))") }
        let ok = data.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) == $0.count }
        fsync(fd)
        close(fd)
        guard ok, rename(tmp, path) == 0 else { throw SpawnError(description: "\(path): \(String(cString: strerror(errno)))") }
        let dir = open(URL(fileURLWithPath: path).deletingLastPathComponent().path, O_RDONLY | O_DIRECTORY)
        if dir >= 0 {
            fsync(dir)
            close(dir)
        }
    }
}
