import Foundation
import Testing
import VigieModel
@testable import VigieConfig

/// The repository's Config/ folder, from this file's path.
let repoConfig = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent().appendingPathComponent("Config").path

func issues(_ text: String) -> [ConfigIssue] {
    do {
        _ = try ConfigLoader.parse(text: text, file: "school.toml")
        return []
    } catch {
        return error.issues
    }
}

let minimal = """
    [school]
    id = "0750001A"
    name = "Lycée Exemple"

    [rooms.B204]
    purpose = "pedagogy"

    [[rooms.B204.seats]]
    id = "B204-01"
    address = "10.20.4.41:7443"
    """

@Suite struct ExampleConfig {
    @Test func theExampleParsesWithItsRoomsSeatsAndGrants() throws {
        let config = try ConfigLoader.load(path: repoConfig + "/school.example.toml")
        #expect(config.school.id == "0750001A")
        #expect(config.school.name == "Lycée Exemple")
        #expect(config.rooms.map(\.id) == ["B204", "CDI"])
        #expect(config.room("B204")?.purpose == .pedagogy)
        #expect(config.room("CDI")?.purpose == .surveillance)
        #expect(config.room("B204")?.seats.count == 4)
        #expect(config.room("CDI")?.seats.count == 4)
        let seat = try #require(config.seat("CDI-02"))
        #expect(seat.host == "10.20.9.12")
        #expect(seat.port == 7443)
        #expect(seat.mac == "52:54:00:20:09:12")
        #expect(config.grants.contains { $0.role == .librarian && $0.rooms == ["CDI"] })
        #expect(config.person(login: "mmartin")?.rooms == ["CDI"])
    }

    @Test func aMissingFileNamesIt() {
        #expect(throws: ConfigError.self) { try ConfigLoader.load(path: "/nonexistent/school.toml") }
        do {
            _ = try ConfigLoader.load(path: "/nonexistent/school.toml")
        } catch {
            #expect(error.description.contains("/nonexistent/school.toml"))
        }
    }
}

@Suite struct ConfigErrors {
    @Test func aMinimalConfigIsEnoughAndUsesDefaults() throws {
        let config = try ConfigLoader.parse(text: minimal, file: "school.toml")
        #expect(config.school.language == .fr)
        #expect(config.room("B204")?.timeZone == "Europe/Paris")
        #expect(config.consoleTimeout == 5)
        #expect(config.grants.isEmpty)
    }

    @Test func syntaxErrorsGiveTheLine() {
        let found = issues("[school]\nid = \"x\"\nname = \n")
        #expect(found.count == 1)
        #expect(found.first?.line == 3)
        #expect(found.first?.description.hasPrefix("school.toml:3: TOML syntax") == true)
    }

    @Test func valueErrorsNameFileLineAndField() {
        let text = minimal + """

            [[rooms.B204.seats]]
            id = "B204-02"
            address = "10.20.4.42"
            mac = "52:54:00"

            [rooms.CDI]
            purpose = "library"
            time_zone = "Europe/Lutece"
            seats = []
            """
        let found = issues(text)
        let byField = Dictionary(found.map { ($0.field, $0) }, uniquingKeysWith: { a, _ in a })
        #expect(byField["rooms.B204.seats[1].address"]?.line == 13)
        #expect(byField["rooms.B204.seats[1].mac"]?.line == 14)
        #expect(byField["rooms.CDI.purpose"]?.line == 17)
        #expect(byField["rooms.CDI.time_zone"]?.line == 18)
        #expect(byField["rooms.CDI.time_zone"]?.message.contains("Europe/Lutece") == true)
        #expect(found.allSatisfy { $0.file == "school.toml" })
    }

    @Test func duplicateSeatsUnknownFieldsRolesRoomsAndFeaturesAreRefused() {
        let text = minimal + """

            colour = "blue"

            [[rooms.B204.seats]]
            id = "B204-01"
            address = "10.20.4.42:7443"

            [[grants]]
            role = "pupil"
            rooms = ["B205"]
            features = ["lock", "teleport"]

            [[people]]
            login = "mmartin"
            rooms = ["CDI"]
            """
        let found = issues(text)
        let fields = Set(found.map(\.field))
        #expect(fields.contains("rooms.B204.seats[0].colour"))
        #expect(fields.contains("rooms.B204.seats[1].id"))
        #expect(fields.contains("grants[0].role"))
        #expect(fields.contains("grants[0].rooms[0]"))
        #expect(fields.contains("grants[0].features[1]"))
        #expect(fields.contains("people[0].rooms[0]"))
        #expect(found.first { $0.field == "grants[0].features[1]" }?.line == 20)
        #expect(found.first { $0.field == "rooms.B204.seats[1].id" }?.message.contains("already declared") == true)
    }

    @Test func aMissingSchoolAndBadPortsAreReported() {
        let found = issues("""
            [rooms.A]
            purpose = "pedagogy"
            [[rooms.A.seats]]
            id = "A-1"
            address = "10.0.0.1:70000"
            """)
        #expect(found.contains { $0.field == "school" })
        #expect(found.contains { $0.field == "rooms.A.seats[0].address" && $0.line == 5 })
    }

    @Test func revokedSerialsAreNormalised() throws {
        let config = try ConfigLoader.parse(text: minimal + "\n[pki]\nrevoked = [\"00:AB:CD:01\", \"0x0a1b\"]\n", file: "s.toml")
        #expect(config.revokedSerials == ["abcd01", "0a1b"])
        let found = issues(minimal + "\n[pki]\nrevoked = [\"not-hex\"]\n")
        #expect(found.first?.field == "pki.revoked[0]")
        #expect(found.first?.line == 12)
    }

    @Test func ipv6AddressesAndMultiLineArraysKeepLinesRight() throws {
        let text = """
            [school]
            id = "S"
            name = "S"

            [[grants]]
            role = "teacher"
            rooms = [
              "A",
            ]
            features = ["zap"]

            [rooms.A]
            purpose = "pedagogy"
            [[rooms.A.seats]]
            id = "A-1"
            address = "[fd00::11]:7443"
            """
        let found = issues(text)
        #expect(found.map(\.field) == ["grants[0].features[0]"])
        #expect(found.first?.line == 10)
    }
}

@Suite struct TOMLLineIndex {
    @Test func quotedKeysCommentsAndArraysOfTables() {
        let lines = TOMLLines(text: """
            # comment = 1
            [rooms."B-204"]  # trailing [not a table]
            name = "a # b"
            [[rooms."B-204".seats]]
            id = "x"
            [[rooms."B-204".seats]]
            id = "y"
            """)
        #expect(lines.line("rooms.B-204.name") == 3)
        #expect(lines.line("rooms.B-204.seats[0].id") == 5)
        #expect(lines.line("rooms.B-204.seats[1].id") == 7)
        #expect(lines.line("rooms.B-204.seats[1].mac") == 6)
        #expect(lines.line("nothing.here") == nil)
    }
}

@Suite struct ScheduleValidation {
    /// A surveillance room with `body` (opening/monitoring tables) after its header at line 5.
    /// Lines 1–11; `body` starts on line 12.
    func library(_ body: String, closed: String = "[]") -> String {
        """
        [school]
        id = "S"
        name = "S"
        [rooms.CDI]
        purpose = "surveillance"
        closed = \(closed)
        min_unmonitored_minutes = 60

        [[rooms.CDI.seats]]
        id = "CDI-01"
        address = "127.0.0.1:7443"

        """ + body
    }

    let opening = """
        [[rooms.CDI.opening]]
        days = "mon-fri"
        from = "08:00"
        to = "17:30"

        """

    @Test func theExampleLibraryIsValid() throws {
        let config = try ConfigLoader.load(path: repoConfig + "/school.example.toml")
        let cdi = try #require(config.room("CDI"))
        #expect(cdi.schedule.monitoring.count == 2)
        #expect(cdi.schedule.minimumUnmonitoredMinutes == 60)
        #expect(cdi.schedule.closed.contains { $0.first == LocalDate("2026-12-19") && $0.last == LocalDate("2027-01-03") })
        #expect(cdi.monitoringWeekCode.hasPrefix("mon=09:15-11:45,13:15-16:45;tue="))
    }

    @Test func aWindowOutsideOpeningHoursIsRefused() {
        let found = issues(library(opening + """
            [[rooms.CDI.monitoring]]
            days = ["mon", "sat"]
            from = "09:15"
            to = "11:45"
            """))
        #expect(found.count == 1, "\(found)")
        #expect(found.first?.field == "rooms.CDI.monitoring[0]")
        #expect(found.first?.line == 16)
        #expect(found.first?.message.contains("Saturday") == true)
    }

    @Test func overlappingAndInvertedWindowsAreRefused() {
        let found = issues(library(opening + """
            [[rooms.CDI.monitoring]]
            days = "mon-fri"
            from = "09:15"
            to = "11:45"

            [[rooms.CDI.monitoring]]
            days = "wed"
            from = "11:00"
            to = "12:00"

            [[rooms.CDI.monitoring]]
            days = "thu"
            from = "16:00"
            to = "14:00"
            """))
        #expect(found.contains { $0.field == "rooms.CDI.monitoring[1]" && $0.line == 21 && $0.message.contains("overlaps 09:15–11:45") })
        #expect(found.contains { $0.field == "rooms.CDI.monitoring[2].to" && $0.line == 29 && $0.message.contains("is not after 16:00") })
    }

    @Test func unknownDaysAndMalformedTimesAndDatesAreNamed() {
        let found = issues(library("""
            [[rooms.CDI.opening]]
            days = "mon-fry"
            from = "8h00"
            to = "25:00"
            """, closed: #"["2026-02-30", "2026-12-24..2026-12-20"]"#))
        let fields = Set(found.map(\.field))
        #expect(fields.isSuperset(of: ["rooms.CDI.opening[0].days", "rooms.CDI.opening[0].from", "rooms.CDI.opening[0].to",
                                       "rooms.CDI.closed[0]", "rooms.CDI.closed[1]"]), "\(found)")
        #expect(found.first { $0.field == "rooms.CDI.opening[0].from" }?.line == 14)
        #expect(found.first { $0.field == "rooms.CDI.closed[1]" }?.line == 6)
    }

    @Test func aDayWithoutAnUnbrokenUnmonitoredSlotIsRefused() {
        // 08:00–08:40 and 08:50–17:30 watched on Mondays: 40 + 10 minutes free, never 60 in a row.
        let found = issues(library(opening + """
            [[rooms.CDI.monitoring]]
            days = "mon-fri"
            from = "08:40"
            to = "08:50"

            [[rooms.CDI.monitoring]]
            days = "mon"
            from = "09:30"
            to = "17:00"
            """))
        #expect(found.count == 1, "\(found)")
        #expect(found.first?.message.contains("on Monday the monitoring windows leave at most 40 min") == true)
        #expect(found.first?.field == "rooms.CDI.monitoring[0]")
    }

    @Test func aLibraryNeedsOpeningHours() {
        let found = issues(library(""))
        #expect(found.first?.field == "rooms.CDI")
        #expect(found.first?.message.contains("opening hours") == true)
    }
}

@Suite struct SeatRetention {
    static let record = """

        [register]
        controller = "Lycée Exemple"
        dpo = "dpd@ac-exemple.fr"
        purpose = "Contrôle des postes"
        legal_basis = "Mission d’intérêt public"
        people = ["élèves"]
        data = ["horodatage"]
        recipients = ["chef d’établissement"]
        security = ["TLS"]
        retention_days = 60
        """

    @Test func defaultsToThirtyDaysCappedByTheRegisterRetention() throws {
        let config = try ConfigLoader.parse(text: minimal + Self.record + "\n", file: "school.toml")
        #expect(config.register.seatRetentionDays == 30)
        let short = try ConfigLoader.parse(text: minimal + Self.record.replacingOccurrences(of: "= 60", with: "= 10") + "\n", file: "school.toml")
        #expect(short.register.seatRetentionDays == 10)
        let set = try ConfigLoader.parse(text: minimal + Self.record + "\nseat_retention_days = 45\n", file: "school.toml")
        #expect(set.register.seatRetentionDays == 45)
    }

    @Test func aSeatRetentionLongerThanTheRegisterOrNotADayCountIsRefusedWithItsLine() {
        for bad in ["90", "0", "\"30\""] {
            let found = issues(minimal + Self.record + "\nseat_retention_days = \(bad)\n")
            let issue = found.first { $0.field == "register.seat_retention_days" }
            #expect(issue?.line == 21, "\(bad): \(found)")
            #expect(issue?.message.contains("retention_days (60)") == true)
        }
    }
}
