import Foundation
import VigieModel

/// Days of a week that share the same monitoring spans, as a poster lists them.
public struct HoursGroup: Sendable, Hashable {
    /// The days, Monday first.
    public var days: [Weekday]
    /// The spans of each of these days, sorted and merged.
    public var spans: [DaySpan]

    public init(days: [Weekday], spans: [DaySpan]) {
        self.days = days
        self.spans = spans
    }
}

/// What the wall and the screen say about a room, computed from the same rules
/// the agents enforce (``Room/monitoringSpans(on:)``): the posters and the login
/// notice cannot disagree with the policy because they read nothing else.
public struct SignageFacts: Sendable, Hashable {
    /// The room.
    public var room: Room
    /// Whether the poster and notice list hours.
    ///
    /// A library (surveillance room) always does: its seats may be watched only
    /// inside its windows. A classroom does when it sets monitoring windows of its
    /// own; a classroom that only posts opening hours is watched during them,
    /// which is whenever it is in use, so its poster keeps the framework's single
    /// sentence (and a classroom that posts no hours has none to list).
    public var listsHours: Bool
    /// Days with the same spans grouped, in the order of their first day.
    /// Days with no monitoring are left out.
    public var groups: [HoursGroup]
    /// True when every open day has the same spans: the hours need no day names.
    public var uniform: Bool
    /// The roles that may watch or take control of the room's seats (per the
    /// grants in force), in the order teacher, librarian, head, admin.
    public var watchers: [Role]

    /// Features that count as "taking control" of a classroom seat.
    static let controlFeatures: Set<Feature> = [.lock, .message, .screenshot, .thumbnail]

    /// The facts for `room` under `config`.
    public init(room: Room, config: SchoolConfig) {
        self.room = room
        listsHours = room.purpose == .surveillance || !room.schedule.monitoring.isEmpty
        var groups: [HoursGroup] = []
        for day in Weekday.allCases {
            let spans = room.monitoringSpans(on: day)
            guard !spans.isEmpty else { continue }
            if let i = groups.firstIndex(where: { $0.spans == spans }) {
                groups[i].days.append(day)
            } else {
                groups.append(HoursGroup(days: [day], spans: spans))
            }
        }
        self.groups = groups
        // Open days: those with opening hours; a room that posts none is open the days it is watched.
        let openDays = room.schedule.opening.isEmpty
            ? Set(groups.flatMap(\.days))
            : Set(Weekday.allCases.filter { !room.schedule.opening(on: $0).isEmpty })
        uniform = groups.count == 1 && Set(groups[0].days) == openDays
        let features = room.purpose == .surveillance ? Set(Feature.allCases.filter(\.isMonitoring)) : Self.controlFeatures
        watchers = Role.allCases.sorted { Self.roleOrder($0) < Self.roleOrder($1) }.filter { role in
            Policy.grants(for: role, in: config).contains { grant in
                (grant.rooms == nil || grant.rooms!.contains(room.id)) && !grant.features.isDisjoint(with: features)
            }
        }
    }

    static func roleOrder(_ r: Role) -> Int { [.teacher, .librarian, .head, .admin, .technician].firstIndex(of: r)! }
}

/// How times, days and lists read in each language.
public enum SignageWords {
    /// `9h15` / `9:15`; a whole hour keeps its minutes (`14h00`) so a list reads evenly.
    public static func time(_ t: TimeOfDay, _ lang: Language) -> String {
        let h = t.minutes / 60, m = t.minutes % 60
        let mm = m < 10 ? "0\(m)" : "\(m)"
        return lang == .fr ? "\(h)h\(mm)" : "\(h):\(mm)"
    }

    /// `9h15 – 11h45, 13h15 – 16h45`
    public static func spans(_ spans: [DaySpan], _ lang: Language) -> String {
        spans.map { "\(time($0.from, lang)) – \(time($0.to, lang))" }.joined(separator: ", ")
    }

    /// `lundi, mardi, jeudi, vendredi` / `Monday, Tuesday, …`
    public static func days(_ days: [Weekday], _ lang: Language) -> String {
        days.map { ScheduleText.dayName($0, lang) }.joined(separator: ", ")
    }

    /// The role as a person at the seat knows it (the words of the lock screen).
    public static func role(_ role: Role, _ lang: Language) -> String {
        SeatTexts(language: lang, timeZoneID: "UTC").roleName(role)
    }

    /// The role with its article, as a sentence names who may act:
    /// `les professeurs`, `le professeur documentaliste` / `teachers`, `the librarian`.
    public static func rolePhrase(_ role: Role, _ lang: Language) -> String {
        switch (role, lang) {
        case (.teacher, .fr): return "les professeurs"
        case (.librarian, .fr): return "le professeur documentaliste"
        case (.head, .fr): return "le chef d’établissement"
        case (.admin, .fr): return "l’administrateur"
        case (.teacher, .en): return "teachers"
        case (.librarian, .en): return "the librarian"
        case (.head, .en): return "the head of school"
        case (.admin, .en): return "the administrator"
        case (.technician, .fr): return "les techniciens informatiques"
        case (.technician, .en): return "the IT technicians"
        }
    }

    /// `a, b et c` / `a, b and c`
    public static func list(_ items: [String], _ lang: Language) -> String {
        guard items.count > 1 else { return items.first ?? "" }
        return items.dropLast().joined(separator: ", ") + (lang == .fr ? " et " : " and ") + items.last!
    }

    /// The whole week on one line: `lundi, mardi : 9h15 – 11h45 ; mercredi : 9h15 – 11h45`,
    /// or the spans alone when `uniform`.
    public static func week(_ facts: SignageFacts, _ lang: Language) -> String {
        if facts.uniform, let g = facts.groups.first { return spans(g.spans, lang) }
        let colon = lang == .fr ? " : " : ": "
        return facts.groups.map { days($0.days, lang) + colon + spans($0.spans, lang) }
            .joined(separator: lang == .fr ? " ; " : "; ")
    }
}
