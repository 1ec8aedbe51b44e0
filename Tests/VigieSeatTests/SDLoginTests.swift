import Foundation
import Testing
@testable import VigieLogin

/// The real sd-login code, called on this machine. In a container without
/// systemd it must say so (not crash, not invent a session); on a booted
/// seat it names a session or none.
@Suite struct SDLoginTests {
    @Test func activeSessionAnswersCleanly() {
        let sessions = SDLoginSessions(seat: "seat0")
        let answer = sessions.activeSession()
        print("sd-login on this machine: sd_booted=\(SDLoginSessions.systemdBooted), seat0: \(answer)")
        switch answer {
        case .unavailable(let why):
            #expect(!SDLoginSessions.systemdBooted || !why.isEmpty)
            if !SDLoginSessions.systemdBooted { #expect(why.contains("logind is not running")) }
        case .none:
            #expect(SDLoginSessions.systemdBooted)
        case .active(let s):
            #expect(SDLoginSessions.systemdBooted)
            #expect(!s.id.isEmpty)
            if s.kind == .x11 { #expect(s.display != nil) }
        }
    }

    @Test func unknownSeatIsNotASession() {
        let answer = SDLoginSessions(seat: "seat-vigie-does-not-exist").activeSession()
        if case .active = answer { Issue.record("an unknown seat has no active session, got \(answer)") }
    }

    @Test func loginNames() {
        #expect(SDLoginSessions.login(of: 0) == "root")
        #expect(SDLoginSessions.login(of: 4_000_000_000) == nil)
    }

    /// `changes()` yields (from the inotify monitor, or from polling where
    /// logind's folders do not exist) and stops when its consumer goes away.
    @Test func changesYieldAndStop() async throws {
        let sessions = SDLoginSessions(seat: "seat0", pollInterval: 0.5)
        let started = Date()
        var count = 0
        for await _ in sessions.changes() {
            count += 1
            if count == 2 { break }
            if Date().timeIntervalSince(started) > 300 { break }
        }
        // Generous: the whole suite shares two cores with Xvfb servers, and other
        // suites' blocking waits can hold this task back for a minute; by then the
        // next change is buffered, so the second value comes at once.
        #expect(count == 2)
    }
}
