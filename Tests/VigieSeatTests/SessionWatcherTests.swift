import Testing
import VigieLogin
import VigieModel
@testable import VigieAgent

/// The pure part of following logind: which changes a sequence of looks makes,
/// and what the agent drives for each.
@Suite struct SessionWatcherTests {
    let greeter = SeatSession(id: "c1", kind: .x11, sessionClass: "greeter", display: ":0", uid: 110, user: "lightdm")
    let pupil = SeatSession(id: "c2", kind: .x11, sessionClass: "user", display: ":0", uid: 1001, user: "eleve1")
    let wayland = SeatSession(id: "3", kind: .wayland, sessionClass: "user", display: nil, uid: 1002, user: "eleve2")
    let fallback = SeatTarget.State(display: ":7", sessionID: nil, sessionUser: "demo", unavailable: nil)

    @Test func loginLogoutAndSwitches() {
        var w = SessionWatcher()
        #expect(w.update(.active(greeter)) == [.started(greeter)])
        #expect(w.update(.active(greeter)) == [])
        #expect(w.update(.active(pupil)) == [.ended(greeter), .started(pupil)])
        var moved = pupil
        moved.display = ":1"
        #expect(w.update(.active(moved)) == [.updated(moved)])
        #expect(w.update(.none) == [.ended(moved)])
        #expect(w.update(.none) == [])
        #expect(w.update(.active(wayland)) == [.started(wayland)])
        #expect(w.active == wayland)
    }

    @Test func logindGoingAwayIsReportedOnce() {
        var w = SessionWatcher()
        #expect(w.update(.unavailable("no logind")) == [.unavailable("no logind")])
        #expect(w.update(.unavailable("no logind")) == [])
        #expect(w.update(.active(pupil)) == [.started(pupil)])
        #expect(w.update(.unavailable("gone")) == [.ended(pupil), .unavailable("gone")])
    }

    @Test func targets() {
        let atGreeter = SessionWatcher.target(for: .active(greeter), fallback: fallback)
        #expect(atGreeter == SeatTarget.State(display: ":0", sessionID: "c1", sessionUser: nil, unavailable: nil))
        let logged = SessionWatcher.target(for: .active(pupil), fallback: fallback)
        #expect(logged == SeatTarget.State(display: ":0", sessionID: "c2", sessionUser: "eleve1", unavailable: nil))
        let way = SessionWatcher.target(for: .active(wayland), fallback: fallback)
        #expect(way.unavailable?.code == "session.wayland")
        #expect(way.sessionUser == "eleve2")
        #expect(way.display == nil)
        let tty = SessionWatcher.target(for: .active(SeatSession(id: "5", kind: .tty, sessionClass: "user", display: nil, uid: 0, user: "root")), fallback: fallback)
        #expect(tty.unavailable?.code == "session.none")
        #expect(SessionWatcher.target(for: .none, fallback: fallback).unavailable?.code == "session.none")
        #expect(SessionWatcher.target(for: .unavailable("x"), fallback: fallback) == fallback)
    }

    @Test func sessionCodesAreWorded() {
        for code in ["session.wayland", "session.none"] {
            #expect(Catalog.templates[code] != nil, "\(code) has no words")
        }
    }
}
