import Foundation
import Testing
import VigieTestSupport

let exampleConfig = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent().appendingPathComponent("Config/school.example.toml").path

@Suite struct PolicyCommandTests {
    @Test func theLibrarysWeekAndANoonRefusalInFrench() throws {
        let r = try run([product("vigie"), "policy", "--room", "CDI", "--config", exampleConfig, "--at", "2026-11-23T12:30:00+01:00", "--lang", "fr"])
        #expect(r.status == 0, "\(r)")
        #expect(r.stdout.contains("lundi     ouvert 08:00–17:30 · surveillance 09:15–11:45, 13:15–16:45"))
        #expect(r.stdout.contains("mercredi  ouvert 08:00–12:30 · surveillance 09:15–11:45"))
        #expect(r.stdout.contains("fermé : 2026-12-19 → 2027-01-03"))
        #expect(r.stdout.contains("À 2026-11-23 12:30 (lundi) : surveillance refusée — hors des plages de surveillance ; prochaine plage : lundi 13:15"))
    }

    @Test func jsonSaysAllowedInsideAWindowAndUsesTheRoomsTimeZone() throws {
        // 09:30 UTC is 10:30 in Paris in November.
        let r = try run([product("vigie"), "policy", "--room", "CDI", "--config", exampleConfig, "--at", "2026-11-23T09:30:00Z", "--json"])
        let object = try #require(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])
        #expect(object["allowed"] as? Bool == true)
        #expect(object["at"] as? String == "2026-11-23T10:30")
        #expect(object["why"] as? String == "inside-window")
        let closed = try run([product("vigie"), "policy", "--room", "CDI", "--config", exampleConfig, "--at", "2026-12-24T10:00", "--json"])
        let c = try #require(try JSONSerialization.jsonObject(with: Data(closed.stdout.utf8)) as? [String: Any])
        #expect(c["allowed"] as? Bool == false)
        #expect(c["why"] as? String == "closed-day")
        #expect(c["next"] as? String == "mon 2027-01-04 09:15")
    }

    @Test func anUnknownRoomOrABadInstantIsAUsageError() throws {
        #expect(try run([product("vigie"), "policy", "--room", "Z", "--config", exampleConfig]).status == 64)
        #expect(try run([product("vigie"), "policy", "--room", "CDI", "--config", exampleConfig, "--at", "lundi"]).status == 64)
    }

    @Test func configCheckReportsEveryErrorWithItsLineAndExits78() throws {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("vigie-check-\(getpid()).toml").path
        defer { try? FileManager.default.removeItem(atPath: file) }
        try String(contentsOfFile: exampleConfig, encoding: .utf8)
            .replacingOccurrences(of: "from = \"13:15\"", with: "from = \"10:15\"")
            .write(toFile: file, atomically: true, encoding: .utf8)
        let r = try run([product("vigie"), "config", "check", file])
        #expect(r.status == 78)
        #expect(r.stderr.contains("rooms.CDI.monitoring[1]: monitoring window 10:15–16:45 overlaps 09:15–11:45 (monitoring[0]) on Monday"), "\(r)")
        let ok = try run([product("vigie"), "config", "check", exampleConfig])
        #expect(ok.status == 0)
    }
}
