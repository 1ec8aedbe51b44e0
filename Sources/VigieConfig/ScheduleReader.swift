import Foundation
import TOMLKit
import VigieModel

extension Reader {
    /// Reads and checks a room's opening hours, monitoring windows, closed dates
    /// and minimum unmonitored slot.
    mutating func readSchedule(_ t: TOMLTable, _ path: String, purpose: RoomPurpose) -> RoomSchedule {
        let opening = readSlots(t, "opening", path)
        let monitoring = readSlots(t, "monitoring", path)
        var schedule = RoomSchedule(opening: opening.map(\.slot), monitoring: monitoring.map(\.slot))

        if let v = t["min_unmonitored_minutes"] {
            if let m = v.int, (0...1440).contains(m) { schedule.minimumUnmonitoredMinutes = m } else {
                fail("\(path).min_unmonitored_minutes", "must be a number of minutes between 0 and 1440")
            }
        }
        for (i, text) in (stringList(t, "closed", path) ?? []).enumerated() {
            let parts = text.components(separatedBy: "..")
            guard parts.count <= 2, let first = LocalDate(parts[0].trimmingCharacters(in: .whitespaces)),
                  let last = parts.count == 2 ? LocalDate(parts[1].trimmingCharacters(in: .whitespaces)) : first else {
                fail("\(path).closed[\(i)]", "“\(text)” is not a date (2026-11-11) or a range of dates (2026-12-19..2027-01-03)")
                continue
            }
            if last < first {
                fail("\(path).closed[\(i)]", "“\(text)” ends before it starts")
                continue
            }
            schedule.closed.append(DateRange(first: first, last: last))
        }

        checkOverlaps(opening, path, "opening", what: "opening hours")
        checkOverlaps(monitoring, path, "monitoring", what: "monitoring window")

        if purpose == .surveillance && opening.isEmpty && t["opening"] == nil {
            fail(path, "a surveillance room needs its opening hours ([[\(path).opening]] with days, from, to): monitoring is checked against them")
        }
        // Every monitoring window must lie inside the opening hours of each of its days.
        if !opening.isEmpty {
            for w in monitoring {
                for day in w.slot.days.sorted() {
                    let open = schedule.opening(on: day)
                    guard !open.contains(where: { $0.contains(w.slot.span) }) else { continue }
                    let hours = open.isEmpty ? "the room is closed that day" : "opening hours \(open.map(\.description).joined(separator: ", "))"
                    fail("\(path).monitoring[\(w.index)]", "on \(ScheduleText.dayName(day, .en)) the window \(w.slot.span) is outside the opening hours (\(hours))")
                    break
                }
            }
        }
        // Each open day keeps an unbroken slot without monitoring (surveillance rooms).
        if purpose == .surveillance {
            let minimum = schedule.minimumUnmonitoredMinutes
            for day in Weekday.allCases where !schedule.opening(on: day).isEmpty {
                let longest = schedule.longestUnmonitored(on: day)
                guard longest < minimum else { continue }
                let first = monitoring.first { $0.slot.days.contains(day) }
                let field = first.map { "\(path).monitoring[\($0.index)]" } ?? "\(path).monitoring"
                let hours = schedule.opening(on: day).map(\.description).joined(separator: ", ")
                fail(field, "on \(ScheduleText.dayName(day, .en)) the monitoring windows leave at most \(longest) min without monitoring inside the opening hours (\(hours)); every open day must keep an unbroken slot of at least \(minimum) min (min_unmonitored_minutes)")
            }
        }
        return schedule
    }

    /// `[[PATH.KEY]]` tables with `days`, `from` and `to`.
    mutating func readSlots(_ t: TOMLTable, _ key: String, _ path: String) -> [(index: Int, slot: WeeklySlot)] {
        var out: [(Int, WeeklySlot)] = []
        for (i, s) in tables(t, key, path).enumerated() {
            let sp = "\(path).\(key)[\(i)]"
            checkKeys(s, sp, allowed: ["days", "from", "to"])
            let days = readDays(s, sp)
            let from = readTime(s, "from", sp)
            let to = readTime(s, "to", sp)
            guard let days, let from, let to else { continue }
            guard from < to else {
                fail("\(sp).to", "\(to) is not after \(from) (a slot ends after it starts, on the same day; 24:00 ends a day)")
                continue
            }
            out.append((i, WeeklySlot(days: days, span: DaySpan(from: from, to: to))))
        }
        return out
    }

    /// `days = "mon-fri"` or `days = ["mon", "tue", "thu-fri"]`.
    mutating func readDays(_ s: TOMLTable, _ sp: String) -> Set<Weekday>? {
        var items: [String] = []
        if let one = s["days"]?.string { items = [one] } else if s["days"]?.array != nil { items = stringList(s, "days", sp) ?? [] } else {
            fail("\(sp).days", s["days"] == nil ? "missing (required): e.g. \"mon-fri\" or [\"mon\", \"tue\"]" : "must be a day, a range like \"mon-fri\", or a list of them")
            return nil
        }
        var days = Set<Weekday>()
        for item in items.flatMap({ $0.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) } }) {
            let ends = item.split(separator: "-").map(String.init)
            guard (1...2).contains(ends.count), let a = Weekday(code: ends[0]), let b = Weekday(code: ends.last!), a <= b else {
                fail("\(sp).days", "“\(item)” is not a day or a range of days (mon, tue, wed, thu, fri, sat, sun; e.g. mon-fri)")
                return nil
            }
            for r in a.rawValue...b.rawValue { days.insert(Weekday(rawValue: r)!) }
        }
        if days.isEmpty { fail("\(sp).days", "names no day") }
        return days.isEmpty ? nil : days
    }

    mutating func readTime(_ s: TOMLTable, _ key: String, _ sp: String) -> TimeOfDay? {
        guard let text = string(s, key, sp) else { return nil }
        guard let time = TimeOfDay(text) else {
            fail("\(sp).\(key)", "“\(text)” is not a time HH:MM between 00:00 and 24:00 (e.g. 09:15)")
            return nil
        }
        return time
    }

    /// Two slots of the same list may not overlap on a day.
    mutating func checkOverlaps(_ slots: [(index: Int, slot: WeeklySlot)], _ path: String, _ key: String, what: String) {
        for (n, b) in slots.enumerated() {
            for a in slots[..<n] {
                let shared = a.slot.days.intersection(b.slot.days)
                guard let day = shared.min(), a.slot.span.overlaps(b.slot.span) else { continue }
                fail("\(path).\(key)[\(b.index)]", "\(what) \(b.slot.span) overlaps \(a.slot.span) (\(key)[\(a.index)]) on \(ScheduleText.dayName(day, .en))")
                break
            }
        }
    }
}
