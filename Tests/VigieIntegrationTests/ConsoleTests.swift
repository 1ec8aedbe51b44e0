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

/// The console is thin: the server and the developer's tools are their own
/// executables, reached through `vigie server|demo|bench|harness` and `vigie pki enroll-token`.
@Suite struct ThinConsoleTests {
    @Test func theServerAndTheDevelopersToolsAreReachedThroughTheConsole() throws {
        let server = try run([product("vigie"), "server", "--help"])
        #expect(server.status == 0 && server.stdout.contains("vigie-server run") && server.stdout.contains("--identity"), "\(server)")
        let token = try run([product("vigie"), "pki", "enroll-token", "--help"])
        #expect(token.status == 0 && token.stdout.contains("vigie-server enroll-token") && token.stdout.contains("--seat"), "\(token)")
        let demo = try run([product("vigie"), "demo", "--help"])
        #expect(demo.status == 0 && demo.stdout.contains("vigie-dev demo"), "\(demo)")
        let help = try run([product("vigie"), "--help"])
        for word in ["server", "demo", "bench", "harness", "lock", "register"] {
            #expect(help.stdout.contains("  \(word) "), "vigie --help does not list \(word)")
        }
    }

    @Test func aMissingSiblingIsNamedNotSkipped() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("vigie-alone-\(getpid())").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try FileManager.default.copyItem(atPath: product("vigie"), toPath: dir + "/vigie")
        let demo = try run([dir + "/vigie", "demo", "--seats", "2"])
        #expect(demo.status == 127 && demo.stderr.contains("\(dir)/vigie-dev"), "\(demo)")
        let server = try run([dir + "/vigie", "server", "--config", "x"])
        #expect(server.status == 127 && server.stderr.contains("\(dir)/vigie-server"), "\(server)")
        // The console's own commands do not need them.
        let policy = try run([dir + "/vigie", "policy", "--room", "CDI", "--config", exampleConfig, "--json"])
        #expect(policy.status == 0, "\(policy)")
    }

    @Test func theConsoleLinksNoAgentServerOrHarness() throws {
        // Swift symbols carry their module's name (`$s10VigieAgent…`): none of these is in the console.
        let count = try run(["sh", "-c", "nm --defined-only \"$0\" | grep -oE '[$]s(8VigieCLI|10VigieAgent|11VigieServer|12VigieHarness|10VigieLogin)' | sort | uniq -c",
                             product("vigie")], timeout: 120)
        #expect(count.status == 0, "\(count)")
        var modules: [String: Int] = [:]
        for line in count.stdout.split(separator: "\n") {
            let fields = line.split(separator: " ")
            if fields.count == 2, let n = Int(fields[0]) { modules[String(fields[1].dropFirst(2).drop { $0.isNumber })] = n }
        }
        #expect((modules["VigieCLI"] ?? 0) > 0, "nm saw no Swift symbols of the console: \(count)")
        for module in ["VigieAgent", "VigieServer", "VigieHarness", "VigieLogin"] {
            #expect(modules[module] == nil, "the console links \(module): \(modules[module] ?? 0) symbols")
        }
    }
}
