import Foundation
import Testing
import VigieScreen
import VigieTestSupport

/// Rows of the screen's top band that carry the indicator's yellow.
func indicatorShown(_ xvfb: Xvfb) throws -> Bool {
    let shot = try xvfb.screenshot()
    var hits = 0
    for x in stride(from: 0, to: shot.width, by: 8) {
        for y in 0..<min(60, shot.height) where shot.pixel(x: x, y: y) == Indicator.backgroundRGB { hits += 1 }
    }
    return hits > 20
}

/// The journal's notices on a seat (read straight from its SQLite file).
func journalCodes(_ school: TestSchool, _ seat: String) throws -> [String] {
    let path = school.seats[seat]!.stateDir + "/journal.sqlite"
    let r = try run(["python3", "-c", """
        import sqlite3, sys, json
        db = sqlite3.connect(sys.argv[1])
        for (content,) in db.execute("SELECT content FROM journal ORDER BY seq"):
            e = json.loads(content)
            print(e["feature"] + " " + e["code"])
        """, path])
    return r.stdout.split(separator: "\n").map(String.init)
}

@Suite(.serialized) struct SeatNotices {
    @Test func aScreenshotShowsWhoLookedOnThatSeatOnly() throws {
        let school = try TestSchool(seats: [("B204-01", "B204"), ("B204-02", "B204")])
        // Let the login notices time out of the way of the top band check.
        let shot = try school.vigie(["screenshot", "--seat", "B204-01", "--out", school.dir + "/shots"])
        #expect(shot.status == 0, "\(shot)")
        let b1 = school.seats["B204-01"]!, b2 = school.seats["B204-02"]!
        #expect(eventually(3) { (try? indicatorShown(b1.xvfb)) == true }, "the indicator is on the seat that was looked at")
        #expect(try !indicatorShown(b2.xvfb), "and not on the others")
        let tree = try run(["xwininfo", "-root", "-tree", "-display", b1.display]).stdout
        #expect(tree.contains("vigie-indicator"), "\(tree)")
        // It does not take the keyboard: another client can still grab it.
        let other = try XConnection(display: b1.display)
        defer { other.close() }
        #expect(other.canGrabKeyboard())
        #expect(try journalCodes(school, "B204-01").contains("notice.indicator notice.window"))
        // It goes away after the configured few seconds (default 8).
        #expect(eventually(12) { (try? indicatorShown(b1.xvfb)) == false })
    }

    @Test func theLoginNoticeAppearsWhenTheAgentStartsAndIsJournaled() throws {
        let school = try TestSchool(seats: [("CDI-01", "CDI")])
        let seat = school.seats["CDI-01"]!
        #expect(eventually(5) { (try? run(["xwininfo", "-root", "-tree", "-display", seat.display]).stdout.contains("vigie-notice")) == true })
        let tree = try run(["xwininfo", "-root", "-tree", "-display", seat.display]).stdout
        #expect(tree.contains("Ce poste peut faire l’objet d’un contrôle visuel"), "\(tree)")
        #expect(eventually(3) { (try? journalCodes(school, "CDI-01").first) == "notice.login notice.window" })
    }

    @Test func whileLockedTheLockDrawsTheIndicatorItself() throws {
        let school = try TestSchool(seats: [("B204-01", "B204")])
        let seat = school.seats["B204-01"]!
        #expect(try school.vigie(["lock", "--seat", "B204-01"]).status == 0)
        #expect(try school.vigie(["screenshot", "--seat", "B204-01", "--out", school.dir + "/s"]).status == 0)
        #expect(eventually(3) { (try? journalCodes(school, "B204-01").last) == "notice.indicator notice.lock" })
        let tree = try run(["xwininfo", "-root", "-tree", "-display", seat.display]).stdout
        #expect(!tree.contains("vigie-indicator"), "no window fights the lock for the top")
        #expect(try keyboardHeld(seat.display), "the lock still holds")
        // The lock draws the banner at its top, in the indicator's colours.
        #expect(eventually(3) { (try? indicatorShown(seat.xvfb)) == true })
    }
}
