import Foundation
import Testing
import VigieTestSupport

/// `vigie console` on a terminal (a pseudo-terminal driven like a keyboard)
/// against real agents on Xvfb.
@Suite(.serialized) struct InteractiveConsoleTests {
    func console(_ school: TestSchool, _ args: [String] = ["--room", "B204"]) throws -> PtyProcess {
        var env = ProcessInfo.processInfo.environment
        env["LANG"] = "fr_FR.UTF-8"
        env["VIGIE_LANG"] = "fr"
        return try PtyProcess([product("vigie"), "console"] + args + ["--config", school.configPath, "--identity", school.people["teacher"]!],
                              environment: env)
    }

    @Test func commandsASeatThatGoesAndComesBackAndQuit() throws {
        let school = try TestSchool(seats: [("B204-01", "B204"), ("B204-02", "B204")])
        let pty = try console(school)
        #expect(pty.waitFor("2 postes : 2 en ligne"), "\(pty.output)")
        #expect(pty.waitFor("vigie B204> "))
        // The first table came from a status request: the column says unlocked.
        #expect(pty.output.contains("B204-01   en ligne     en service, non verrouillé"), "\(pty.output)")

        pty.send("lock\r")
        #expect(pty.waitForAll(["B204-01   ok           poste verrouillé", "B204-02   ok           poste verrouillé"]), "\(pty.output)")

        // The agent dies: the console says so at once, and says when it is back.
        school.killAgent("B204-02")
        #expect(pty.waitFor("B204-02  hors ligne"), "\(pty.output)")
        pty.send("status\r")
        #expect(pty.waitForAll(["B204-02   unreachable", "B204-01   ok           verrouillé par M. Dupont"]), "\(pty.output)")
        try school.startAgent("B204-02")
        #expect(pty.waitFor("B204-02  en ligne", timeout: 20), "\(pty.output)")

        // Line editing: "unlck", twice ←, "o", Enter runs "unlock".
        pty.send("unlck\u{1B}[D\u{1B}[Do\r")
        #expect(pty.waitForAll(["B204-01   ok           poste déverrouillé", "B204-02   ok           poste déverrouillé"]), "\(pty.output)")
        // History: ↑ ↑ is "status" again; the seats now say they are unlocked.
        pty.send("\u{1B}[A\u{1B}[A\r")
        #expect(pty.waitForAll(["B204-01   ok           en service, non verrouillé", "B204-02   ok           en service, non verrouillé"]), "\(pty.output)")

        // The table of seats, then a clean exit.
        pty.send("seats\r")
        #expect(pty.waitFor("2 postes : 2 en ligne"))
        pty.send("quit\r")
        #expect(pty.wait(timeout: 10) == 0, "\(pty.output)")
    }

    @Test func ctrlDLeavesAndAnUnknownCommandIsExplained() throws {
        let school = try TestSchool(seats: [("B204-01", "B204")])
        let pty = try console(school, ["--seat", "B204-01"])
        #expect(pty.waitFor("vigie B204-01> "), "\(pty.output)")
        pty.send("vérouiller\r")
        #expect(pty.waitFor("commande inconnue « vérouiller »"), "\(pty.output)")
        pty.send("lock --for demain\r")
        #expect(pty.waitFor("n’est pas une durée"), "\(pty.output)")
        pty.send("\u{04}")
        #expect(pty.wait(timeout: 10) == 0, "\(pty.output)")
    }

    @Test func badInputIsExplainedAndTheConsoleKeepsRunning() throws {
        let school = try TestSchool(seats: [("B204-01", "B204"), ("CDI-01", "CDI")])
        let pty = try console(school, ["--room", "B204"])
        #expect(pty.waitFor("vigie B204> "), "\(pty.output)")
        // It used to trap on the overflow and end the console.
        pty.send("lock --for 99999999999999999h\r")
        #expect(pty.waitFor("« 99999999999999999h » est trop long : au plus 7 jours"), "\(pty.output)")
        pty.send("lock --for -5m\r")
        #expect(pty.waitFor("« -5m » n’est pas une durée positive"), "\(pty.output)")
        pty.send("status --timeout 0\r")
        #expect(pty.waitFor("de 0,1 à 600 secondes"), "\(pty.output)")
        pty.send("message " + String(repeating: "é", count: 1001) + "\r")
        #expect(pty.waitFor("le message fait 2002 octets : au plus 2000 octets", timeout: 30), "\(pty.output)")
        pty.send("status --room B204 --seat CDI-01\r")
        #expect(pty.waitFor("le poste CDI-01 n’est pas dans la salle B204"), "\(pty.output)")
        pty.send("screenshot --out /proc/version/shots\r")
        #expect(pty.waitFor("rien n’a été demandé aux postes"), "\(pty.output)")
        // Still running, still working.
        pty.send("lock --for 20m\r")
        #expect(pty.waitFor("B204-01   ok           poste verrouillé jusqu’à"), "\(pty.output)")
        pty.send("unlock\r")
        #expect(pty.waitFor("B204-01   ok           poste déverrouillé"), "\(pty.output)")
        pty.send("quit\r")
        #expect(pty.wait(timeout: 10) == 0, "\(pty.output)")
    }
}
