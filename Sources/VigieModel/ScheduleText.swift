import Foundation

/// Puts schedules into words (French or English), from the compact forms agents
/// send (``Room/monitoringWeekCode`` and ``ScheduleText/nextCode(_:)``).
public enum ScheduleText {
    static let shortFR = ["lun.", "mar.", "mer.", "jeu.", "ven.", "sam.", "dim."]
    static let longFR = ["lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi", "dimanche"]
    static let shortEN = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]
    static let longEN = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
    static let monthsFR = ["janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août", "septembre", "octobre", "novembre", "décembre"]
    static let monthsEN = ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October", "November", "December"]

    public static func dayName(_ d: Weekday, _ lang: Language, short: Bool = false) -> String {
        let i = d.rawValue - 1
        switch (lang, short) {
        case (.fr, true): return shortFR[i]
        case (.fr, false): return longFR[i]
        case (.en, true): return shortEN[i]
        case (.en, false): return longEN[i]
        }
    }

    /// `lun.–ven. 09:15–11:45, 13:15–16:45` from `mon=09:15-11:45,13:15-16:45;tue=…`:
    /// days with the same spans are grouped, consecutive days as a range.
    public static func week(code: String, _ lang: Language) -> String {
        var byDay: [(Weekday, String)] = []
        for part in code.split(separator: ";") {
            let kv = part.split(separator: "=", maxSplits: 1)
            guard kv.count == 2, let day = Weekday(code: String(kv[0])) else { continue }
            byDay.append((day, kv[1].split(separator: ",").map { $0.replacingOccurrences(of: "-", with: "–") }.joined(separator: ", ")))
        }
        if byDay.isEmpty { return lang == .fr ? "à aucun moment" : "at no time" }
        var groups: [(days: [Weekday], spans: String)] = []
        for (day, spans) in byDay {
            if let i = groups.firstIndex(where: { $0.spans == spans }) { groups[i].days.append(day) } else { groups.append(([day], spans)) }
        }
        return groups.map { "\(days($0.days, lang)) \($0.spans)" }.joined(separator: lang == .fr ? " ; " : "; ")
    }

    /// `lun.–ven.`, `lun., mar., jeu.`, `lun.–mer., ven.`
    public static func days(_ days: [Weekday], _ lang: Language) -> String {
        let sorted = days.sorted()
        var runs: [[Weekday]] = []
        for d in sorted {
            if let last = runs.last?.last, last.rawValue + 1 == d.rawValue { runs[runs.count - 1].append(d) } else { runs.append([d]) }
        }
        return runs.map { run in
            run.count >= 3 ? "\(dayName(run.first!, lang, short: true))–\(dayName(run.last!, lang, short: true))"
                : run.map { dayName($0, lang, short: true) }.joined(separator: ", ")
        }.joined(separator: ", ")
    }

    /// The compact form of a next window: `mon 13:15`, or with its date when it
    /// is a week or more away: `mon 2027-01-04 09:15`.
    public static func nextCode(_ next: (date: LocalDate, weekday: Weekday, time: TimeOfDay), from today: LocalDate) -> String {
        let days = daysBetween(today, next.date)
        return days < 7 ? "\(next.weekday.code) \(next.time)" : "\(next.weekday.code) \(next.date) \(next.time)"
    }

    /// `lundi 13:15`, `lundi 4 janvier 09:15` / `Monday 13:15`, `Monday 4 January 09:15`.
    public static func next(code: String, _ lang: Language) -> String {
        let p = code.split(separator: " ").map(String.init)
        guard let first = p.first, let day = Weekday(code: first) else { return code }
        if p.count == 3, let date = LocalDate(p[1]) {
            let month = (lang == .fr ? monthsFR : monthsEN)[date.month - 1]
            return "\(dayName(day, lang)) \(date.day) \(month) \(p[2])"
        }
        return p.count == 2 ? "\(dayName(day, lang)) \(p[1])" : code
    }

    static func daysBetween(_ a: LocalDate, _ b: LocalDate) -> Int {
        var c = Calendar(identifier: .gregorian)
        c.timeZone = TimeZone(identifier: "UTC")!
        let da = c.date(from: DateComponents(year: a.year, month: a.month, day: a.day))!
        let db = c.date(from: DateComponents(year: b.year, month: b.month, day: b.day))!
        return c.dateComponents([.day], from: da, to: db).day ?? 0
    }
}
