import Foundation
import Testing
import VigieModel

let paris = TimeZone(identifier: "Europe/Paris")!

/// The CDI of the example config: open Mon, Tue, Thu, Fri 08:00–17:30 and Wed
/// 08:00–12:30; watched Mon–Fri 09:15–11:45 and Mon, Tue, Thu, Fri 13:15–16:45.
func cdiRoom(closed: [DateRange] = []) -> Room {
    func slot(_ days: [Weekday], _ from: String, _ to: String) -> WeeklySlot {
        WeeklySlot(days: Set(days), span: DaySpan(from: TimeOfDay(from)!, to: TimeOfDay(to)!))
    }
    let mtTF: [Weekday] = [.monday, .tuesday, .thursday, .friday]
    let schedule = RoomSchedule(
        opening: [slot(mtTF, "08:00", "17:30"), slot([.wednesday], "08:00", "12:30")],
        monitoring: [slot([.monday, .tuesday, .wednesday, .thursday, .friday], "09:15", "11:45"), slot(mtTF, "13:15", "16:45")],
        closed: closed, minimumUnmonitoredMinutes: 60)
    return Room(id: "CDI", name: "CDI", purpose: .surveillance, timeZone: "Europe/Paris", seats: [], schedule: schedule)
}

/// An instant from a local Paris wall-clock time.
func local(_ text: String) -> Date {
    let f = DateFormatter()
    f.locale = Locale(identifier: "en_US_POSIX")
    f.timeZone = paris
    f.dateFormat = "yyyy-MM-dd HH:mm:ss"
    return f.date(from: text)!
}

func utc(_ text: String) -> Date { ISO8601DateFormatter().date(from: text)! }

@Suite struct MonitoringWindows {
    @Test func windowEdgesStartIncludedEndExcluded() {
        let cdi = cdiRoom()
        // Monday 2026-11-23.
        #expect(!cdi.monitoring(at: local("2026-11-23 09:14:59")).allowed)
        #expect(cdi.monitoring(at: local("2026-11-23 09:15:00")).allowed)
        #expect(cdi.monitoring(at: local("2026-11-23 11:44:59")).allowed)
        #expect(!cdi.monitoring(at: local("2026-11-23 11:45:00")).allowed, "the last minute ends at 11:44:59")
        #expect(!cdi.monitoring(at: local("2026-11-23 12:30:00")).allowed)
        #expect(cdi.monitoring(at: local("2026-11-23 16:44:59")).allowed)
        #expect(!cdi.monitoring(at: local("2026-11-23 16:45:00")).allowed)
        // Wednesday afternoon: closed. Saturday, Sunday: never.
        #expect(!cdi.monitoring(at: local("2026-11-25 14:00:00")).allowed)
        #expect(!cdi.monitoring(at: local("2026-11-28 10:00:00")).allowed)
    }

    @Test func theNextWindowIsNamedInLocalTime() {
        let cdi = cdiRoom()
        let noon = cdi.monitoring(at: local("2026-11-23 12:30:00"))
        #expect(noon.why == .outsideWindows)
        #expect(noon.next?.weekday == .monday && noon.next?.time == TimeOfDay("13:15"))
        // Friday evening → Monday morning.
        let friday = cdi.monitoring(at: local("2026-11-27 17:00:00"))
        #expect(friday.next?.date == LocalDate("2026-11-30") && friday.next?.time == TimeOfDay("09:15"))
        // Just before midnight on Sunday → Monday 09:15; just after midnight → the same day.
        #expect(cdi.monitoring(at: local("2026-11-29 23:59:59")).next?.date == LocalDate("2026-11-30"))
        #expect(cdi.monitoring(at: local("2026-11-30 00:00:00")).next?.date == LocalDate("2026-11-30"))
    }

    @Test func refusalsAreWordedWithTheWeekAndTheNextWindow() {
        let cdi = cdiRoom()
        let seat = Seat(id: "CDI-01", room: "CDI", host: "h", port: 1, mac: nil)
        let config = SchoolConfig(school: School(id: "S", name: "S", language: .fr), revokedSerials: [], rooms: [cdi],
                                  grants: [], people: [], consoleTimeout: 5)
        let librarian = Identity(schoolID: "S", kind: .person(login: "mmartin", role: .librarian), displayName: "Mme Martin")
        let decision = Policy.decide(identity: librarian, serialHex: "01", feature: .screenshot, seat: seat, config: config, at: local("2026-11-23 12:30:00"))
        guard case .refuse(let reason) = decision else {
            Issue.record("a screenshot at 12:30 must be refused")
            return
        }
        #expect(reason.code == "policy.time-window")
        #expect(Catalog.text(reason, .fr)
            == "surveillance autorisée lun., mar., jeu., ven. 09:15–11:45, 13:15–16:45 ; mer. 09:15–11:45 ; prochaine plage : lundi 13:15")
        #expect(Catalog.text(reason, .en)
            == "monitoring allowed Mon, Tue, Thu, Fri 09:15–11:45, 13:15–16:45; Wed 09:15–11:45; next window: Monday 13:15")
        #expect(ScheduleText.week(code: "mon=09:15-11:45,13:15-16:45;tue=09:15-11:45,13:15-16:45;wed=09:15-11:45,13:15-16:45;thu=09:15-11:45,13:15-16:45;fri=09:15-11:45,13:15-16:45", .fr)
            == "lun.–ven. 09:15–11:45, 13:15–16:45")
        // Locking is not monitoring: no time window.
        #expect(Policy.decide(identity: librarian, serialHex: "01", feature: .lock, seat: seat, config: config, at: local("2026-11-23 12:30:00")) == .allow)
        #expect(Policy.decide(identity: librarian, serialHex: "01", feature: .thumbnail, seat: seat, config: config, at: local("2026-11-23 10:00:00")) == .allow)
    }

    @Test func closedDatesStopMonitoringAndPushTheNextWindow() {
        let holidays = DateRange(first: LocalDate("2026-12-19")!, last: LocalDate("2027-01-03")!)
        let cdi = cdiRoom(closed: [holidays, DateRange(first: LocalDate("2026-11-11")!, last: LocalDate("2026-11-11")!)])
        let armistice = cdi.monitoring(at: local("2026-11-11 10:00:00"))
        #expect(!armistice.allowed && armistice.why == .closedDay)
        #expect(armistice.next?.date == LocalDate("2026-11-12"))
        let christmas = cdi.monitoring(at: local("2026-12-21 10:00:00"))
        #expect(christmas.why == .closedDay)
        #expect(christmas.next?.date == LocalDate("2027-01-04") && christmas.next?.time == TimeOfDay("09:15"))
        #expect(ScheduleText.next(code: ScheduleText.nextCode(christmas.next!, from: christmas.moment.date), .fr) == "lundi 4 janvier 09:15")
        #expect(cdi.monitoring(at: local("2027-01-04 09:15:00")).allowed)
    }

    @Test func daylightSavingWeeksKeepLocalHours() {
        let cdi = cdiRoom()
        // Spring: clocks go forward on Sunday 2026-03-29; Monday 30 is in summer time (UTC+2).
        #expect(cdi.monitoring(at: utc("2026-03-27T08:15:00Z")).allowed, "Friday 09:15 winter time is 08:15 UTC")
        #expect(cdi.monitoring(at: utc("2026-03-30T07:15:00Z")).allowed, "Monday 09:15 summer time is 07:15 UTC")
        #expect(!cdi.monitoring(at: utc("2026-03-30T07:14:59Z")).allowed)
        #expect(!cdi.monitoring(at: utc("2026-03-30T09:45:00Z")).allowed, "11:45 summer time is 09:45 UTC")
        // Autumn: clocks go back on Sunday 2026-10-25; Monday 26 is in winter time (UTC+1).
        #expect(cdi.monitoring(at: utc("2026-10-23T07:15:00Z")).allowed, "Friday 09:15 summer time")
        #expect(!cdi.monitoring(at: utc("2026-10-26T07:15:00Z")).allowed, "08:15 local on Monday after the change")
        #expect(cdi.monitoring(at: utc("2026-10-26T08:15:00Z")).allowed)
        // The next window across the change is still 09:15 local.
        let saturday = cdi.monitoring(at: utc("2026-10-24T12:00:00Z"))
        #expect(saturday.next?.date == LocalDate("2026-10-26") && saturday.next?.time == TimeOfDay("09:15"))
    }

    @Test func anInstantOutsideEveryWindowIsNeverAllowed() {
        // Property: for random instants over two years (DST changes included), the
        // verdict agrees with an independent reading of the local wall clock.
        let cdi = cdiRoom(closed: [DateRange(first: LocalDate("2026-12-19")!, last: LocalDate("2027-01-03")!)])
        let f = DateFormatter()
        f.locale = Locale(identifier: "en_US_POSIX")
        f.timeZone = paris
        f.dateFormat = "yyyy-MM-dd EEE HH mm"
        var rng = SystemRandomNumberGenerator()
        let start = utc("2026-01-01T00:00:00Z").timeIntervalSince1970
        for _ in 0..<20_000 {
            let t = Date(timeIntervalSince1970: start + Double(Int.random(in: 0..<(2 * 365 * 86_400), using: &rng)))
            let p = f.string(from: t).split(separator: " ").map(String.init)
            let minute = Int(p[2])! * 60 + Int(p[3])!
            let weekday = Weekday(code: p[1])!
            let closed = p[0] >= "2026-12-19" && p[0] <= "2027-01-03"
            let inside = !closed && cdi.schedule.monitoring.contains { $0.days.contains(weekday) && $0.span.contains(minute) }
            #expect(cdi.monitoring(at: t).allowed == inside, "\(p)")
            if !inside, let next = cdi.monitoring(at: t).next {
                #expect(next.date.description >= p[0])
            }
        }
    }

    @Test func aClassroomWithoutPostedHoursMayBeWatchedWhenItsTeacherIsThere() {
        let b204 = Room(id: "B204", name: "B204", purpose: .pedagogy, timeZone: "Europe/Paris", seats: [])
        #expect(b204.monitoring(at: local("2026-11-22 03:00:00")).allowed)
        var open = b204
        open.schedule.opening = [WeeklySlot(days: [.monday], span: DaySpan(from: TimeOfDay("08:00")!, to: TimeOfDay("18:00")!))]
        #expect(open.monitoring(at: local("2026-11-23 10:00:00")).allowed)
        #expect(!open.monitoring(at: local("2026-11-23 19:00:00")).allowed)
    }

    @Test func theLongestUnmonitoredSlotIsUnbrokenNotATotal() {
        let cdi = cdiRoom()
        // Monday: 08:00–09:15 (75), 11:45–13:15 (90), 16:45–17:30 (45): the longest is 90.
        #expect(cdi.schedule.longestUnmonitored(on: .monday) == 90)
        #expect(cdi.schedule.longestUnmonitored(on: .wednesday) == 75)
        var tight = cdi.schedule
        tight.monitoring = [WeeklySlot(days: [.monday], span: DaySpan(from: TimeOfDay("08:20")!, to: TimeOfDay("17:10")!))]
        #expect(tight.longestUnmonitored(on: .monday) == 20, "20 + 20 minutes is not a 40-minute slot")
    }
}
