import Foundation
import Testing
import VigieTestSupport

@Suite(.serialized) struct Lifecycle {
    /// `systemctl stop` sends SIGTERM: the agent stops accepting, answers and journals
    /// what is in flight, exits 0, and leaves the seat locked.
    @Test func sigtermDrainsTheRequestsInFlightExitsZeroAndKeepsTheLock() throws {
        let school = try TestSchool(seats: [("B204-01", "B204")], withServer: true)
        let seat = school.seats["B204-01"]!
        #expect(try school.vigie(["lock", "--seat", "B204-01"]).status(of: "B204-01") == "ok")

        // A burst of messages from eight consoles, and SIGTERM while they arrive.
        let consoles = try (0..<8).map { i in
            try ChildProcess([product("vigie"), "message", "--seat", "B204-01", "rafale \(i)", "--config", school.configPath,
                              "--identity", school.people["teacher"]!, "--json"])
        }
        // SIGTERM once the first console has its answer: the others are in flight or not yet sent.
        _ = eventually(10) { consoles.contains { !$0.process.isRunning } }
        let agent = try #require(seat.agent)
        agent.signal(SIGTERM)
        #expect(agent.wait(timeout: 10) == 0, "a stopped agent exits 0: \(agent.readAllStderr())")
        var answered: [String] = []
        for (i, console) in consoles.enumerated() {
            _ = console.wait(timeout: 10)
            let line = console.readAllStdout()
            if line.contains("\"status\":\"ok\"") { answered.append("rafale \(i)") }
        }
        // The seat stays locked without its agent.
        #expect(!lockHelpers(stateDir: seat.stateDir).isEmpty, "the lock went with the agent")
        #expect(try keyboardHeld(seat.display))

        // The shipper stops last and sends what the drain journaled: when it says it did
        // (it may not, when the drain used the whole 5-s limit on a loaded machine), the
        // register already holds every message a console saw shown.
        let log = agent.readAllStderr()
        #expect(log.contains("journal shipped before stopping") || log.contains("journal not shipped before stopping"), "\(log)")
        if log.contains("journal shipped before stopping") {
            let events = try school.registerEvents()
            let shipped = Set(events.filter { $0["feature"] as? String == "message" && $0["outcome"] as? String == "done" }
                .compactMap { ($0["args"] as? [String: String])?["text"] })
            #expect(Set(answered).isSubset(of: shipped), "answered \(answered), in the register at the stop \(shipped.sorted())")
        }

        // Every message a console saw shown is in the register (shipped once the agent is back, at the latest).
        school.seats["B204-01"]!.agent = nil
        try school.startAgent("B204-01")
        var shown: Set<String> = []
        #expect(eventually(15) {
            let events = (try? school.registerEvents()) ?? []
            shown = Set(events.filter { $0["feature"] as? String == "message" && $0["outcome"] as? String == "done" }
                .compactMap { ($0["args"] as? [String: String])?["text"] })
            return Set(answered).isSubset(of: shown)
        }, "answered \(answered), journaled \(shown.sorted())")
        #expect(try school.vigie(["status", "--seat", "B204-01"]).code(of: "B204-01") == "status.locked")

        // The server drains and exits 0 as well.
        let server = try #require(school.server)
        server.signal(SIGTERM)
        #expect(server.wait(timeout: 10) == 0, "\(server.readAllStderr())")
        school.server = nil
    }
}
