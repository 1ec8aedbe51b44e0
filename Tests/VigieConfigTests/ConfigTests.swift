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
