import ArgumentParser
import Foundation
import VigieCLI
import VigieConsole
import VigieConfig
import VigieModel

/// `vigie policy --room CDI [--at …]`: the room's week and whether monitoring is
/// allowed at an instant, computed by the same rules the agents enforce.
struct PolicyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "policy",
        abstract: "Show a room's opening hours and monitoring windows, and whether monitoring is allowed now or at --at.")

    @Option(help: ArgumentHelp("The room.", valueName: "room"))
    var room: String
    @Option(help: ArgumentHelp("The instant: 2026-11-23T12:30:00+01:00, or 2026-11-23T12:30 in the room's time zone (default: now).", valueName: "time"))
    var at: String?
    @Option(help: ArgumentHelp("School configuration file (default: $VIGIE_CONFIG).", valueName: "file"))
    var config: String?
    @Option(help: ArgumentHelp("Language: fr or en.", valueName: "lang"))
    var lang: Language?
    @Flag(help: "Print JSON.")
    var json = false

    func run() throws {
        let env = ProcessInfo.processInfo.environment
        guard let path = config ?? env["VIGIE_CONFIG"] else {
            FileHandle.standardError.write(Data("vigie: no configuration: pass --config FILE or set VIGIE_CONFIG\n".utf8))
            throw ExitCode(Exit.configuration)
        }
        let school: SchoolConfig
        do { school = try ConfigLoader.load(path: path) } catch {
            FileHandle.standardError.write(Data("\(error.description)\n".utf8))
            throw ExitCode(Exit.configuration)
        }
        guard let room = school.room(room) else {
            FileHandle.standardError.write(Data("vigie: unknown room “\(self.room)” (rooms: \(school.rooms.map(\.id).joined(separator: ", ")))\n".utf8))
            throw ExitCode(Exit.usage)
        }
        let zone = TimeZone(identifier: room.timeZone)!
        var instant = Date()
        if let at {
            guard let parsed = Self.parseInstant(at, zone: zone) else {
                FileHandle.standardError.write(Data("vigie: --at: “\(at)” is not a time like 2026-11-23T12:30:00+01:00\n".utf8))
                throw ExitCode(Exit.usage)
            }
            instant = parsed
        }
        let language = lang ?? Language.fromLocale(env["LC_ALL"]) ?? Language.fromLocale(env["LANG"]) ?? school.school.language
        let verdict = room.monitoring(at: instant)
        let next = verdict.next.map { ScheduleText.nextCode($0, from: verdict.moment.date) }
        json ? printJSON(room, verdict, next) : printText(room, verdict, next, language)
    }

    static func parseInstant(_ text: String, zone: TimeZone) -> Date? {
        let iso = ISO8601DateFormatter()
        if let d = iso.date(from: text) { return d }
        let f = DateFormatter()
        f.locale = Locale(identifier: "en_US_POSIX")
        f.timeZone = zone
        for format in ["yyyy-MM-dd'T'HH:mm:ss", "yyyy-MM-dd'T'HH:mm", "yyyy-MM-dd HH:mm"] {
            f.dateFormat = format
            if let d = f.date(from: text) { return d }
        }
        return nil
    }

    func printText(_ room: Room, _ v: MonitoringVerdict, _ next: String?, _ lang: Language) {
        let fr = lang == .fr
        let purpose = room.purpose == .surveillance ? (fr ? "surveillance (CDI)" : "surveillance (library)") : (fr ? "pédagogique" : "pedagogy")
        print("\(room.id) — \(room.name) — \(purpose) — \(room.timeZone)")
        for day in Weekday.allCases {
            let open = room.schedule.opening(on: day).map(\.description).joined(separator: ", ")
            let watch = room.monitoringSpans(on: day).map(\.description).joined(separator: ", ")
            var line = "  " + ScheduleText.dayName(day, lang).padding(toLength: 10, withPad: " ", startingAt: 0)
            if open.isEmpty {
                line += room.schedule.opening.isEmpty ? (fr ? "horaires non affichés" : "no posted hours") : (fr ? "fermé" : "closed")
            } else {
                line += (fr ? "ouvert " : "open ") + open
            }
            line += fr ? " · surveillance " : " · monitoring "
            line += watch.isEmpty ? (fr ? "aucune" : "none") : watch
            if room.purpose == .surveillance && !open.isEmpty {
                line += fr ? " · sans surveillance ≥ \(room.schedule.longestUnmonitored(on: day)) min d’affilée" : " · unmonitored ≥ \(room.schedule.longestUnmonitored(on: day)) min in a row"
            }
            print(line)
        }
        if !room.schedule.closed.isEmpty {
            let dates = room.schedule.closed.map { $0.first == $0.last ? "\($0.first)" : "\($0.first) → \($0.last)" }
            print((fr ? "  fermé : " : "  closed: ") + dates.joined(separator: ", "))
        }
        if room.purpose == .surveillance {
            print(fr ? "  créneau minimal sans surveillance chaque jour ouvert : \(room.schedule.minimumUnmonitoredMinutes) min"
                : "  minimum unmonitored slot every open day: \(room.schedule.minimumUnmonitoredMinutes) min")
        }
        let when = "\(v.moment.date) \(v.moment.time) (\(ScheduleText.dayName(v.moment.weekday, lang)))"
        let why: String
        switch (v.why, fr) {
        case (.insideWindow, true): why = "dans une plage de surveillance"
        case (.insideWindow, false): why = "inside a monitoring window"
        case (.noPostedHours, true): why = "salle pédagogique sans horaires affichés"
        case (.noPostedHours, false): why = "classroom with no posted hours"
        case (.outsideWindows, true): why = "hors des plages de surveillance"
        case (.outsideWindows, false): why = "outside the monitoring windows"
        case (.closedDay, true): why = "salle fermée ce jour"
        case (.closedDay, false): why = "room closed that day"
        case (.unknownTimeZone, true): why = "fuseau horaire de la salle inconnu sur cette machine"
        case (.unknownTimeZone, false): why = "the room's time zone is unknown on this machine"
        }
        var verdict = fr ? "À \(when) : surveillance \(v.allowed ? "autorisée" : "refusée") — \(why)" : "At \(when): monitoring \(v.allowed ? "allowed" : "refused") — \(why)"
        if !v.allowed {
            verdict += fr ? " ; prochaine plage : " : "; next window: "
            verdict += next.map { ScheduleText.next(code: $0, lang) } ?? (fr ? "aucune" : "none")
        }
        print(verdict)
    }

    func printJSON(_ room: Room, _ v: MonitoringVerdict, _ next: String?) {
        let week: [[String: Any]] = Weekday.allCases.map { day in
            var entry: [String: Any] = [
                "day": day.code,
                "opening": room.schedule.opening(on: day).map { "\($0.from)-\($0.to)" },
                "monitoring": room.monitoringSpans(on: day).map { "\($0.from)-\($0.to)" },
            ]
            if room.purpose == .surveillance { entry["longest_unmonitored_minutes"] = room.schedule.longestUnmonitored(on: day) }
            return entry
        }
        var object: [String: Any] = [
            "room": room.id, "purpose": room.purpose.rawValue, "time_zone": room.timeZone, "week": week,
            "closed": room.schedule.closed.map { $0.first == $0.last ? "\($0.first)" : "\($0.first)..\($0.last)" },
            "min_unmonitored_minutes": room.schedule.minimumUnmonitoredMinutes,
            "at": "\(v.moment.date)T\(v.moment.time)", "weekday": v.moment.weekday.code,
            "allowed": v.allowed, "why": v.why.rawValue,
        ]
        if let next { object["next"] = next }
        let data = try! JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])
        print(String(decoding: data, as: UTF8.self))
    }
}
