import Foundation

/// A day of the week (ISO numbering: Monday = 1 … Sunday = 7).
public enum Weekday: Int, Sendable, Codable, CaseIterable, Comparable {
    case monday = 1, tuesday, wednesday, thursday, friday, saturday, sunday

    /// The code used in the config and on the wire: `mon` … `sun`.
    public var code: String { ["mon", "tue", "wed", "thu", "fri", "sat", "sun"][rawValue - 1] }

    public init?(code: String) {
        let names = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
        let long = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]
        let lower = code.lowercased()
        guard let i = names.firstIndex(of: lower) ?? long.firstIndex(of: lower) else { return nil }
        self.init(rawValue: i + 1)
    }

    /// From Foundation's weekday (Sunday = 1).
    public init(gregorian: Int) { self.init(rawValue: (gregorian + 5) % 7 + 1)! }

    public static func < (a: Weekday, b: Weekday) -> Bool { a.rawValue < b.rawValue }
}

/// A wall-clock time in a room, in minutes since midnight; 24:00 (1440) may end a slot.
public struct TimeOfDay: Sendable, Hashable, Codable, Comparable, CustomStringConvertible {
    public var minutes: Int

    public init(minutes: Int) { self.minutes = minutes }

    /// Parses `HH:MM` (00:00 to 24:00).
    public init?(_ text: String) {
        let parts = text.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count == 2, parts[0].count == 2, parts[1].count == 2,
              let h = Int(parts[0]), let m = Int(parts[1]), (0...24).contains(h), (0...59).contains(m),
              h * 60 + m <= 1440 else { return nil }
        minutes = h * 60 + m
    }

    /// `09:15`
    public var description: String { String(format: "%02d:%02d", minutes / 60, minutes % 60) }

    public static func < (a: TimeOfDay, b: TimeOfDay) -> Bool { a.minutes < b.minutes }
}

/// A span of one day, `from` included, `to` excluded (a window ending at 11:45
/// allows 11:44:59 and refuses 11:45:00).
public struct DaySpan: Sendable, Hashable, Codable, CustomStringConvertible {
    public var from: TimeOfDay
    public var to: TimeOfDay

    public init(from: TimeOfDay, to: TimeOfDay) {
        self.from = from
        self.to = to
    }

    public var minutes: Int { to.minutes - from.minutes }
    public func contains(_ minute: Int) -> Bool { minute >= from.minutes && minute < to.minutes }
    public func contains(_ other: DaySpan) -> Bool { other.from >= from && other.to <= to }
    public func overlaps(_ other: DaySpan) -> Bool { from < other.to && other.from < to }
    /// `09:15–11:45`
    public var description: String { "\(from)–\(to)" }
}

/// The same span on some days of every week.
public struct WeeklySlot: Sendable, Hashable, Codable {
    public var days: Set<Weekday>
    public var span: DaySpan

    public init(days: Set<Weekday>, span: DaySpan) {
        self.days = days
        self.span = span
    }
}

/// A calendar date in a room's time zone.
public struct LocalDate: Sendable, Hashable, Codable, Comparable, CustomStringConvertible {
    public var year: Int, month: Int, day: Int

    public init(year: Int, month: Int, day: Int) {
        self.year = year
        self.month = month
        self.day = day
    }

    /// Parses `YYYY-MM-DD` (a real date).
    public init?(_ text: String) {
        let p = text.split(separator: "-", omittingEmptySubsequences: false)
        guard p.count == 3, p[0].count == 4, p[1].count == 2, p[2].count == 2,
              let y = Int(p[0]), let m = Int(p[1]), let d = Int(p[2]) else { return nil }
        var c = Calendar(identifier: .gregorian)
        c.timeZone = TimeZone(identifier: "UTC")!
        guard let date = c.date(from: DateComponents(year: y, month: m, day: d)),
              c.component(.day, from: date) == d, c.component(.month, from: date) == m else { return nil }
        self.init(year: y, month: m, day: d)
    }

    public var description: String { String(format: "%04d-%02d-%02d", year, month, day) }

    public static func < (a: LocalDate, b: LocalDate) -> Bool { (a.year, a.month, a.day) < (b.year, b.month, b.day) }
}

/// Dates when a room is closed (holidays), first and last day included.
public struct DateRange: Sendable, Hashable, Codable {
    public var first: LocalDate
    public var last: LocalDate

    public init(first: LocalDate, last: LocalDate) {
        self.first = first
        self.last = last
    }

    public func contains(_ d: LocalDate) -> Bool { d >= first && d <= last }
}

/// When a room is open and when it may be watched.
public struct RoomSchedule: Sendable, Hashable, Codable {
    /// Opening hours; empty means the room has no posted hours.
    public var opening: [WeeklySlot]
    /// Monitoring windows (screenshots, thumbnails and later live view).
    public var monitoring: [WeeklySlot]
    public var closed: [DateRange]
    /// The shortest unbroken slot without monitoring that every open day must
    /// keep inside its opening hours (surveillance rooms).
    public var minimumUnmonitoredMinutes: Int

    public static let defaultMinimumUnmonitoredMinutes = 30

    public init(opening: [WeeklySlot] = [], monitoring: [WeeklySlot] = [], closed: [DateRange] = [],
                minimumUnmonitoredMinutes: Int = RoomSchedule.defaultMinimumUnmonitoredMinutes) {
        self.opening = opening
        self.monitoring = monitoring
        self.closed = closed
        self.minimumUnmonitoredMinutes = minimumUnmonitoredMinutes
    }

    /// The spans of `slots` on `day`, sorted and merged.
    public static func spans(_ slots: [WeeklySlot], on day: Weekday) -> [DaySpan] {
        let spans = slots.filter { $0.days.contains(day) }.map(\.span).sorted { $0.from < $1.from }
        var merged: [DaySpan] = []
        for s in spans {
            if let last = merged.last, s.from <= last.to {
                merged[merged.count - 1].to = max(last.to, s.to)
            } else {
                merged.append(s)
            }
        }
        return merged
    }

    public func opening(on day: Weekday) -> [DaySpan] { Self.spans(opening, on: day) }

    /// The longest unbroken slot of `day`'s opening hours with no monitoring window, in minutes.
    public func longestUnmonitored(on day: Weekday) -> Int {
        let windows = Self.spans(monitoring, on: day)
        var best = 0
        for open in opening(on: day) {
            var cursor = open.from.minutes
            for w in windows where w.to.minutes > cursor && w.from.minutes < open.to.minutes {
                best = max(best, w.from.minutes - cursor)
                cursor = max(cursor, w.to.minutes)
            }
            best = max(best, open.to.minutes - cursor)
        }
        return best
    }

    public func isClosed(_ date: LocalDate) -> Bool { closed.contains { $0.contains(date) } }
}

/// Where an instant falls in a room's local time.
public struct LocalMoment: Sendable, Hashable {
    public var date: LocalDate
    public var weekday: Weekday
    /// Minutes since local midnight (seconds dropped: window ends are exclusive).
    public var minute: Int

    public init(_ instant: Date, in zone: TimeZone) {
        var c = Calendar(identifier: .gregorian)
        c.timeZone = zone
        let p = c.dateComponents([.year, .month, .day, .weekday, .hour, .minute], from: instant)
        date = LocalDate(year: p.year!, month: p.month!, day: p.day!)
        weekday = Weekday(gregorian: p.weekday!)
        minute = p.hour! * 60 + p.minute!
    }

    public var time: TimeOfDay { TimeOfDay(minutes: minute) }
}

/// Whether monitoring (screenshots, thumbnails) is allowed in a room at an instant.
public struct MonitoringVerdict: Sendable, Hashable {
    public enum Why: String, Sendable, Hashable {
        /// Inside a monitoring window (or a pedagogy room's opening hours).
        case insideWindow = "inside-window"
        /// A pedagogy room with no posted hours: its poster announces pedagogical use at any time.
        case noPostedHours = "no-posted-hours"
        case outsideWindows = "outside-windows"
        case closedDay = "closed-day"
        /// The room's time zone is unknown to this program (no time zone data): its
        /// posted hours cannot be placed in time, so nobody may watch (the config
        /// loader refuses such a zone; this is the seat's last line, never UTC).
        case unknownTimeZone = "unknown-time-zone"
    }

    public var allowed: Bool
    public var why: Why
    public var moment: LocalMoment
    /// When monitoring may next start (nil when allowed now or never again within a year).
    public var next: (date: LocalDate, weekday: Weekday, time: TimeOfDay)?

    public static func == (a: MonitoringVerdict, b: MonitoringVerdict) -> Bool {
        a.allowed == b.allowed && a.why == b.why && a.moment == b.moment
            && a.next?.date == b.next?.date && a.next?.time == b.next?.time
    }

    public func hash(into h: inout Hasher) {
        h.combine(allowed)
        h.combine(why)
        h.combine(moment)
    }
}

extension Room {
    /// The monitoring spans of a weekday: the windows; in a pedagogy room without
    /// windows, its opening hours, or the whole day if it posts no hours.
    public func monitoringSpans(on day: Weekday) -> [DaySpan] {
        if !schedule.monitoring.isEmpty { return RoomSchedule.spans(schedule.monitoring, on: day) }
        guard purpose == .pedagogy else { return [] }
        if schedule.opening.isEmpty { return [DaySpan(from: TimeOfDay(minutes: 0), to: TimeOfDay(minutes: 1440))] }
        return schedule.opening(on: day)
    }

    /// True when the room's monitoring is not limited to posted hours.
    public var monitoringUnrestricted: Bool { purpose == .pedagogy && schedule.monitoring.isEmpty && schedule.opening.isEmpty }

    /// Decides whether monitoring is allowed at `instant` (local time of the room,
    /// daylight-saving correct, closed dates excluded, window ends exclusive).
    public func monitoring(at instant: Date) -> MonitoringVerdict {
        guard let zone = TimeZone(identifier: timeZone) else {
            return MonitoringVerdict(allowed: false, why: .unknownTimeZone, moment: LocalMoment(instant, in: TimeZone(identifier: "UTC")!), next: nil)
        }
        let now = LocalMoment(instant, in: zone)
        if monitoringUnrestricted {
            return MonitoringVerdict(allowed: true, why: .noPostedHours, moment: now, next: nil)
        }
        if schedule.isClosed(now.date) {
            return MonitoringVerdict(allowed: false, why: .closedDay, moment: now, next: nextStart(after: now, zone: zone))
        }
        if monitoringSpans(on: now.weekday).contains(where: { $0.contains(now.minute) }) {
            return MonitoringVerdict(allowed: true, why: .insideWindow, moment: now, next: nil)
        }
        return MonitoringVerdict(allowed: false, why: .outsideWindows, moment: now, next: nextStart(after: now, zone: zone))
    }

    /// The next start of a monitoring span after `now`, within a year.
    func nextStart(after now: LocalMoment, zone: TimeZone) -> (date: LocalDate, weekday: Weekday, time: TimeOfDay)? {
        var c = Calendar(identifier: .gregorian)
        c.timeZone = TimeZone(identifier: "UTC")!
        guard var day = c.date(from: DateComponents(year: now.date.year, month: now.date.month, day: now.date.day, hour: 12)) else { return nil }
        for offset in 0..<370 {
            if offset > 0 { day = c.date(byAdding: .day, value: 1, to: day)! }
            let p = c.dateComponents([.year, .month, .day, .weekday], from: day)
            let date = LocalDate(year: p.year!, month: p.month!, day: p.day!)
            if schedule.isClosed(date) { continue }
            let weekday = Weekday(gregorian: p.weekday!)
            for span in monitoringSpans(on: weekday) where offset > 0 || span.from.minutes > now.minute {
                return (date, weekday, span.from)
            }
        }
        return nil
    }

    /// The week's monitoring spans, compact and machine-readable, as agents send
    /// it in refusals: `mon=09:15-11:45,13:15-16:45;tue=…` (days without a span omitted).
    public var monitoringWeekCode: String {
        Weekday.allCases.compactMap { day in
            let spans = monitoringSpans(on: day)
            guard !spans.isEmpty else { return nil }
            return "\(day.code)=" + spans.map { "\($0.from)-\($0.to)" }.joined(separator: ",")
        }.joined(separator: ";")
    }
}
