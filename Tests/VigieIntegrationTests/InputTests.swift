import Foundation
import Testing
import VigieConfig
import VigieController
import VigieModel
import VigiePKI
import VigieTestSupport

/// Input that used to crash or confuse (issue 11, points 6 and 8): the real
/// `vigie` and `vigie-agent` binaries, their exit status and their words.
@Suite(.serialized) struct InputTests {
    /// Processes of `vigie-ui MODE` drawing on `display`.
    func helpers(_ mode: String, on display: String) throws -> Int {
        try run(["pgrep", "-f", "vigie-ui \(mode) --display \(display) "]).stdout.split(separator: "\n").count
    }

    @Test func durationsTimeoutsAndMessagesAreUsageErrorsInBothLanguages() throws {
        let school = try TestSchool(seats: [("B204-01", "B204")])
        func refused(_ args: [String], _ words: [String], absent: [String] = []) throws {
            let r = try school.vigie(args, json: false)
            #expect(r.status == 64, "\(args): \(r)")
            for w in words { #expect(r.result.stderr.contains(w), "\(args) should say \(w): \(r)") }
            for w in absent + ["Missing value", "between 0 and 600", "mal formé", "does not fit", "NSCocoaErrorDomain"] {
                #expect(!r.result.stderr.contains(w), "\(args) should not say \(w): \(r)")
            }
        }
        // Overflow: it used to trap (exit 132).
        try refused(["lock", "--room", "B204", "--for", "99999999999999999h"], ["--for : « 99999999999999999h » est trop long : au plus 7 jours"])
        try refused(["lock", "--room", "B204", "--for", "999999999999999999999999s"], ["au plus 7 jours"])
        try refused(["lock", "--room", "B204", "--for", "169h"], ["--for : « 169h » est trop long : au plus 7 jours (168h)"])
        try refused(["lock", "--room", "B204", "--for", "169h", "--lang", "en"], ["--for: “169h” is too long: at most 7 days (168h)"])
        try refused(["lock", "--room", "B204", "--for", "-5m"], ["--for : « -5m » n’est pas une durée positive"])
        try refused(["lock", "--room", "B204", "--for=-5m"], ["--for : « -5m » n’est pas une durée positive"])
        try refused(["lock", "--room", "B204", "--for", "0m"], ["n’est pas une durée positive"])
        try refused(["lock", "--room", "B204", "--for", "1h30"], ["n’est pas une durée (par ex. 90s, 20m, 1h30m ; au plus 7 jours)"])
        try refused(["status", "--room", "B204", "--timeout", "0"], ["--timeout : « 0 » n’est pas accepté : de 0,1 à 600 secondes"])
        try refused(["status", "--room", "B204", "--timeout", "601", "--lang", "en"], ["--timeout: “601” is not accepted: from 0.1 to 600 seconds"])
        try refused(["status", "--room", "B204", "--timeout", "-1"], ["de 0,1 à 600 secondes"])

        // Bytes, not characters: one character with 30,000 combining marks is 60 KB.
        let heavy = "e" + String(repeating: "\u{0301}", count: 30_000)
        #expect(heavy.count == 1 && heavy.utf8.count == 60_001)
        try refused(["message", "--room", "B204", heavy], ["le message fait 60001 octets : au plus 2000 octets"])
        // 80 KB: a size error, never a frame error.
        try refused(["message", "--room", "B204", String(repeating: "a", count: 80_000)], ["le message fait 80000 octets"])
        try refused(["message", "--room", "B204", String(repeating: "é", count: 1001), "--lang", "en"], ["the message is 2002 bytes long: at most 2000 bytes"])
        #expect(try helpers("message", on: school.seats["B204-01"]!.display) == 0, "no window for a refused message")

        // A valid timed lock still works.
        let lock = try school.vigie(["lock", "--room", "B204", "--for", "1h30m"])
        #expect(lock.status == 0 && lock.code(of: "B204-01") == "lock.done-until", "\(lock)")
        #expect(try school.vigie(["unlock", "--room", "B204"]).status == 0)
    }

    @Test func aScreenshotToAFolderThatCannotBeWrittenAsksNoSeat() throws {
        let school = try TestSchool(seats: [("B204-01", "B204")])
        let display = school.seats["B204-01"]!.display
        let file = school.dir + "/not-a-folder"
        try "x".write(toFile: file, atomically: true, encoding: .utf8)
        for out in [file, file + "/shots"] {
            let r = try school.vigie(["screenshot", "--room", "B204", "--out", out], json: false)
            #expect(r.status == 64, "\(r)")
            #expect(r.result.stderr.contains("impossible d’écrire dans le dossier \(out)"), "\(r)")
            #expect(r.result.stderr.contains("rien n’a été demandé aux postes"), "\(r)")
            #expect(!r.result.stderr.contains("NSCocoaErrorDomain") && r.result.stdout.isEmpty, "\(r)")
        }
        // The seat was not captured: no indicator shown, no screenshot journaled.
        #expect(try helpers("indicator", on: display) == 0)
        let shot = try school.vigie(["screenshot", "--room", "B204", "--out", school.dir + "/shots"])
        #expect(shot.status == 0, "\(shot)")
        #expect(eventually(5) { (try? helpers("indicator", on: display)) == 1 }, "a real screenshot shows the indicator (the check above can fail)")
    }

    @Test func enrolWithAMissingCAFileSaysSoInOneLine() throws {
        let missing = FileManager.default.temporaryDirectory.appendingPathComponent("vigie-no-such-\(getpid())/ca.pem").path
        var env = ProcessInfo.processInfo.environment
        env["LANG"] = "fr_FR.UTF-8"
        let r = try run([product("vigie-agent"), "enroll", "--server", "127.0.0.1:9", "--seat", "B204-01", "--token", "t",
                         "--ca", missing, "--identity", FileManager.default.temporaryDirectory.path + "/vigie-enrol-\(getpid())"], environment: env)
        #expect(r.status == 78, "\(r)")
        #expect(r.stderr == "vigie-agent enroll: --ca : le fichier \(missing) n’existe pas\n", "\(r)")
        env["LANG"] = "en_GB.UTF-8"
        let english = try run([product("vigie-agent"), "enroll", "--server", "127.0.0.1:9", "--seat", "B204-01", "--token", "t", "--ca", missing], environment: env)
        #expect(english.stderr == "vigie-agent enroll: --ca: the file \(missing) does not exist\n", "\(english)")
    }

    @Test func aRoomAndASeatMeanThatSeatOfThatRoom() throws {
        let school = try TestSchool(seats: [("B204-01", "B204"), ("B204-02", "B204"), ("CDI-01", "CDI")])
        let one = try school.vigie(["lock", "--room", "B204", "--seat", "B204-02"])
        #expect(one.status == 0, "\(one)")
        #expect(one.lines.map { $0["seat"] as? String } == ["B204-02"], "exactly one seat: \(one)")
        let status = try school.vigie(["status", "--room", "B204"])
        #expect(status.code(of: "B204-02") == "status.locked" && status.code(of: "B204-01") == "status.unlocked", "\(status)")
        #expect(try school.vigie(["unlock", "--room", "B204", "--seat", "B204-02"]).lines.count == 1)

        // A seat outside the named room is a usage error that names it; nothing is sent.
        let outside = try school.vigie(["status", "--room", "B204", "--seat", "B204-01,CDI-01"], as: "admin", json: false)
        #expect(outside.status == 64, "\(outside)")
        #expect(outside.result.stderr.contains("le poste CDI-01 n’est pas dans la salle B204"), "\(outside)")
        #expect(outside.result.stdout.isEmpty)

        // Repeated values still add up; --all stands alone.
        #expect(try school.vigie(["status", "--seat", "B204-01", "--seat", "CDI-01"], as: "admin").lines.count == 2)
        #expect(try school.vigie(["status", "--room", "B204", "--room", "CDI"], as: "admin").lines.count == 3)
        #expect(try school.vigie(["status", "--room", "B204", "--seat", "B204-01", "--seat", "B204-02"]).lines.count == 2)
        let all = try school.vigie(["status", "--all", "--room", "B204"], json: false)
        #expect(all.status == 64 && all.result.stderr.contains("--all"), "\(all)")
        // --all for someone who may reach no seat says so instead of printing nothing.
        let head = try school.vigie(["status", "--all"], as: "head", json: false)
        #expect(head.status == 64 && head.result.stderr.contains("votre rôle n’a accès à aucun poste"), "\(head)")
    }

    @Test func messageWindowsAreCappedPerSeat() throws {
        let school = try TestSchool(seats: [("B204-01", "B204")], extraConfig: "\n[messages]\nmax_open = 3\nexpire_minutes = 30\n")
        let display = school.seats["B204-01"]!.display
        for i in 1...7 {
            let r = try school.vigie(["message", "--room", "B204", "Message \(i)"])
            #expect(r.code(of: "B204-01") == "message.shown", "\(r)")
            #expect(try helpers("message", on: display) <= 3)
        }
        #expect(try helpers("message", on: display) == 3)
        // The newest stay: 5, 6 and 7.
        let tree = try run(["xwininfo", "-root", "-tree", "-display", display]).stdout
        #expect(try run(["pgrep", "-af", "vigie-ui message --display \(display) "]).stdout.contains("Message 7"))
        #expect(!(try run(["pgrep", "-af", "vigie-ui message --display \(display) "]).stdout.contains("Message 4")), "\(tree)")
    }

    @Test func messageWindowsExpire() throws {
        // 0.05 minutes: 3 seconds.
        let school = try TestSchool(seats: [("B204-01", "B204")], extraConfig: "\n[messages]\nexpire_minutes = 0.05\n")
        let display = school.seats["B204-01"]!.display
        #expect(try school.vigie(["message", "--room", "B204", "Bientôt fermé"]).code(of: "B204-01") == "message.shown")
        #expect(try helpers("message", on: display) == 1)
        #expect(eventually(15) { (try? helpers("message", on: display)) == 0 }, "the window closes by itself")
    }

    @Test func theAgentRefusesAnOversizeMessageByBytes() async throws {
        let school = try TestSchool(seats: [("B204-01", "B204")])
        // A modified console: straight to the seat, no check on this side.
        let config = try ConfigLoader.load(path: school.configPath)
        let fanOut = try FanOut(identity: try IdentityBundle.load(from: school.people["teacher"]!), schoolID: TestSchool.schoolID)
        let heavy = "e" + String(repeating: "\u{0301}", count: 1_500)  // one character, 3,001 bytes
        var results: [SeatResult] = []
        // A roomy deadline: this test is about the refusal, and an in-process client needs this process's
        // concurrency pool, which the synchronous tests running alongside may hold for seconds.
        for await r in fanOut.send(.message, args: ["text": heavy], to: config.seats, timeout: .seconds(30)) { results.append(r) }
        #expect(results.first?.status == .failed)
        #expect(results.first?.reason == Reason("message.too-long", ["bytes": "3001", "max": "2000"]), "\(results)")
        #expect(try helpers("message", on: school.seats["B204-01"]!.display) == 0)
    }
}
