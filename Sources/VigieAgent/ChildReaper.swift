import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Reaps every child of the agent on one dedicated thread, and hands the exit
/// status to whoever registered for that pid (`vigie run`, power commands).
///
/// The agent keeps SIGCHLD at its default disposition: with `SIG_IGN` the kernel
/// would reap children by itself and no exit status could ever be read.
/// Helpers nobody waits for (lock, message, countdown windows) are reaped and
/// forgotten, so they never stay zombies.
///
/// Spawning and registering happen under one lock that the reaper also takes
/// before deciding what to do with a pid, so a child that exits at once is
/// never reaped before its waiter is known.
public final class ChildReaper: @unchecked Sendable {
    public static let shared = ChildReaper()

    /// The exit of one child.
    final class Waiter: @unchecked Sendable {
        private let condition = NSCondition()
        private var raw: Int32?

        /// The raw wait status, once the child has been reaped.
        var status: Int32? {
            condition.lock()
            defer { condition.unlock() }
            return raw
        }

        fileprivate func deliver(_ status: Int32) {
            condition.lock()
            raw = status
            condition.broadcast()
            condition.unlock()
        }

        /// Waits up to `timeout` seconds; the raw status, or nil if still running.
        func wait(timeout: Double) -> Int32? {
            let deadline = Date().addingTimeInterval(max(0, timeout))
            condition.lock()
            defer { condition.unlock() }
            while raw == nil {
                if !condition.wait(until: deadline) { break }
            }
            return raw
        }
    }

    private let lock = NSCondition()
    private var waiters: [pid_t: Waiter] = [:]
    private var started = false

    /// Starts the reaping thread (once). Call after setting SIGCHLD to SIG_DFL.
    public func start() {
        lock.lock()
        defer { lock.unlock() }
        guard !started else { return }
        started = true
        let thread = Thread { [self] in loop() }
        thread.name = "vigie.reaper"
        thread.start()
    }

    /// Runs `spawn` (which returns the new child's pid) and registers a waiter
    /// for it atomically with respect to the reaper.
    func spawnAndWatch<T>(_ spawn: () throws -> (pid_t, T)) rethrows -> (T, Waiter) {
        lock.lock()
        defer {
            lock.broadcast()  // the reaper may be idle, waiting for a child to exist
            lock.unlock()
        }
        let (pid, value) = try spawn()
        let waiter = Waiter()
        waiters[pid] = waiter
        return (value, waiter)
    }

    /// Tells an idle reaper that a child was started (unwatched helpers).
    func childStarted() {
        lock.lock()
        lock.broadcast()
        lock.unlock()
    }

    private func loop() {
        while true {
            var status: Int32 = 0
            let pid = waitpid(-1, &status, 0)
            if pid < 0 {
                if errno == EINTR { continue }
                // ECHILD: no child at all. Sleep until one is started (or a second passes).
                lock.lock()
                _ = lock.wait(until: Date().addingTimeInterval(1))
                lock.unlock()
                continue
            }
            lock.lock()
            let waiter = waiters.removeValue(forKey: pid)
            lock.unlock()
            waiter?.deliver(status)
        }
    }
}

/// Decoded wait statuses (the C macros are not imported into Swift).
enum WaitStatus {
    /// The exit code, when the child exited normally.
    static func exitCode(_ status: Int32) -> Int32? { status & 0x7F == 0 ? (status >> 8) & 0xFF : nil }
    /// The signal that ended the child, if one did.
    static func signal(_ status: Int32) -> Int32? {
        let s = status & 0x7F
        return s != 0 && s != 0x7F ? s : nil
    }
}
