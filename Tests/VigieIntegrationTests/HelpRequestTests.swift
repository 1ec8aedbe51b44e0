import Foundation
import Testing
import VigieTestSupport

/// « Demander de l’aide », the code, and the intervention sheet, with real agents on
/// Xvfb, a real school server and the real console.
@Suite(.serialized) struct HelpRequests {
    static let grants = """

        [[grants]]
        role = "technician"
        rooms = ["B204"]
        features = ["assist", "status"]

        """

    /// `vigie-ui help` on the seat's display, as the session user: its answer and the code in it.
    static func askHelp(_ school: TestSchool, seat: String, problem: String?) throws -> (child: ChildProcess, ok: Bool, text: String, code: String?) {
        let rig = school.seats[seat]!
        var argv = [product("vigie-ui"), "help", "--display", rig.display, "--socket", rig.stateDir + "/help.sock", "--timeout", "120"]
        if let problem { argv += ["--text", problem] }
        let child = try ChildProcess(argv)
        let status = child.readLine(timeout: 20) ?? ""
        var text = child.readLine(timeout: 5) ?? ""
        // The text's lines, until the window says it is shown.
        while let line = child.readLine(timeout: 10), line != "ready" { text += "\n" + line }
        let digits = text.range(of: #"\d{3} \d{3}"#, options: .regularExpression).map { text[$0].replacingOccurrences(of: " ", with: "") }
        return (child, status == "ok", text, digits)
    }

    /// `vigie assist …` as `who` in the background (it waits for the person's answer).
    static func assist(_ school: TestSchool, _ args: [String], as who: String) throws -> ChildProcess {
        var env = ProcessInfo.processInfo.environment
        env["LANG"] = "fr_FR.UTF-8"
        return try ChildProcess([product("vigie"), "assist"] + args + ["--no-viewer", "--json", "--config", school.configPath,
                                                                       "--identity", school.people[who]!], environment: env)
    }

    static func firstJSON(_ child: ChildProcess, timeout: Double = 90) -> [String: String] {
        let line = child.readLine(timeout: timeout) ?? ""
        guard let object = (try? JSONSerialization.jsonObject(with: Data(line.utf8))) as? [String: Any] else {
            return ["line": line, "stderr": child.readAllStderr()]
        }
        var flat = object.mapValues { "\($0)" }
        // The answer's parameters (the intervention's number) alongside.
        if let params = object["params"] as? [String: Any] { for (k, v) in params where flat[k] == nil { flat[k] = "\(v)" } }
        return flat
    }

    static func fileHolds(_ path: String, _ text: String) -> Bool {
        guard let data = FileManager.default.contents(atPath: path) else { return false }
        return data.range(of: Data(text.utf8)) != nil
    }

    /// « Demander de l’aide » without --text: the person writes what is wrong in the
    /// window (a French keyboard, accents typed), « Demander » sends it with the
    /// request; Escape cancels and asks nothing.
    @Test func thePersonWritesWhatIsWrongInTheHelpWindow() async throws {
        let school = try await offThePool {
            try TestSchool(seats: [("B204-01", "B204")], withServer: true, extraConfig: Self.grants,
                           agentArguments: ["--session-user", testSessionUser])
        }
        let seat = school.seats["B204-01"]!
        var env = ProcessInfo.processInfo.environment
        env["DISPLAY"] = seat.display
        env["LANG"] = "fr_FR.UTF-8"
        let display = env
        let layout = try run(["setxkbmap", "-display", seat.display, "fr"])
        #expect(layout.status == 0, "\(layout) (apt-get install x11-xkb-utils: make deps)")
        let argv = [product("vigie-ui"), "help", "--display", seat.display, "--socket", seat.stateDir + "/help.sock", "--timeout", "120"]

        // Escape: nothing is asked.
        let cancelled = try ChildProcess(argv, environment: display)
        let form = try await offThePool { try Assistance.press(seat.display, ["Escape"], name: "Demander de l") }
        #expect(!form.isEmpty)
        #expect(try await offThePool { cancelled.readLine(timeout: 20) } == "cancelled")
        #expect(try journalEvents(school, "B204-01", features: ["assist.help"]).isEmpty, "a cancelled form asks nothing")

        // Written, then « Demander » (Enter): the code, and the request carries the words.
        let asking = try ChildProcess(argv, environment: display)
        try await offThePool {
            // The pointer over the window: keys go there.
            try Assistance.press(seat.display, [], name: "Demander de l")
            // xdotool reads the text in the locale's encoding: a UTF-8 one that is always there.
            var utf8 = display
            utf8["LANG"] = "C.UTF-8"
            let typed = try run(["xdotool", "type", "écran noir, ça plante"], environment: utf8)
            #expect(typed.status == 0, "\(typed)")
            _ = try run(["xdotool", "key", "Return"], environment: display)
        }
        let status = try await offThePool { asking.readLine(timeout: 20) ?? "" }
        let text = try await offThePool { asking.readLine(timeout: 5) ?? "" }
        #expect(status == "ok" && text.contains("Votre code d’assistance"), "\(status) \(text) \(asking.readAllStderr())")
        var listed = ""
        let seen = await eventually(15) {
            listed = (try? school.vigie(["assist", "requests"], as: "technician").result.stdout) ?? ""
            return listed.contains("écran noir, ça plante")
        }
        #expect(seen, "vigie assist requests: \(listed)")
        asking.kill()
    }

    @Test func aCodeFromTheSeatLetsTheHelperInOnceThenTheSheetIsCompletedExportedVerifiedAndReported() async throws {
        guard RemoteViewHelper.clientInstalled() else { return }
        let school = try await offThePool {
            try TestSchool(seats: [("B204-01", "B204"), ("CDI-01", "CDI")], withServer: true, extraConfig: Self.grants, runAgents: false)
        }
        school.agentArgumentsBySeat["B204-01"] = ["--session-user", testSessionUser]
        try school.startAgent("B204-01")
        try school.startAgent("CDI-01")
        let seat = school.seats["B204-01"]!

        // The person asks; the seat shows a six-digit code.
        let asked = try await offThePool { try Self.askHelp(school, seat: "B204-01", problem: "imprimante absente") }
        #expect(asked.ok, "\(asked.text)")
        #expect(asked.text.contains("Votre code d’assistance") && asked.text.contains("10 minutes"), "\(asked.text)")
        let code = try #require(asked.code, "no code in: \(asked.text)")
        asked.child.kill()
        let journaled = try journalEvents(school, "B204-01", features: ["assist.help"])
        #expect(journaled.last?.code == "assist.help-requested" && journaled.last?.params["user"] == testSessionUser, "\(journaled)")

        // The technician sees the request (the seat forwarded it to the server).
        var listed = ""
        let seen = await eventually(15) {
            listed = (try? school.vigie(["assist", "requests"], as: "technician").result.stdout) ?? ""
            return listed.contains("B204-01") && listed.contains("imprimante absente")
        }
        #expect(seen, "vigie assist requests: \(listed)")
        #expect(!listed.contains(code), "the code is never served: \(listed)")
        // The head has no business there.
        let head = try school.vigie(["assist", "requests"], as: "head")
        #expect(head.result.status != 0, "\(head)")
        // The server restarts: the request still waits (its code as an HMAC under a 0600 key, never in clear).
        school.stopServer()
        try school.startServer()
        let kept = (try? school.vigie(["assist", "requests"], as: "technician").result.stdout) ?? ""
        #expect(kept.contains("B204-01") && kept.contains("imprimante absente"), "after a restart: \(kept)")
        let stateDir = URL(fileURLWithPath: school.storePath).deletingLastPathComponent().path
        #expect(!Self.fileHolds(stateDir + "/enrolment.sqlite", code), "no code in clear in the server's state")
        var keyInfo = stat()
        #expect(stat(stateDir + "/help-codes.key", &keyInfo) == 0 && keyInfo.st_mode & 0o777 == 0o600, "the codes' key is 0600")

        // Wrong codes: refused, counted per helper, then locked out (5 within 10 minutes).
        let wrong = code == "000000" ? "000001" : "000000"
        var last: [String: String] = [:]
        for _ in 0..<5 {
            let attempt = try Self.assist(school, ["--code", wrong], as: "admin")
            _ = attempt.wait(timeout: 30)
            last = ["stderr": attempt.readAllStderr()]
        }
        #expect(last["stderr"]?.contains("trop de codes erronés") == true, "\(last)")
        let locked = try Self.assist(school, ["--code", code], as: "admin")
        _ = locked.wait(timeout: 30)
        #expect(locked.readAllStderr().contains("trop de codes erronés"), "a locked-out helper's right code is not checked")

        // The technician gives the right code: the seat asks the person, with their words.
        let helping = try Self.assist(school, ["--code", code], as: "technician")
        try await offThePool { try Assistance.press(seat.display, ["Tab", "space"]) }
        let opened = try await offThePool { Self.firstJSON(helping) }
        #expect(opened["code"] == "assist.started", "\(opened)")
        let intervention = try #require(opened["intervention"], "\(opened)")
        #expect(intervention.hasPrefix("B204-01-"))
        // Nothing of the screen is kept while it lasts: an admin's screenshot is refused.
        let shot = try school.vigie(["screenshot", "--seat", "B204-01", "--out", school.dir + "/shots"], as: "admin")
        #expect(shot.result.status != 0 && shot.result.stdout.contains("assist.no-screenshot"), "\(shot)")
        helping.signal(SIGINT)
        _ = try await offThePool { helping.wait(timeout: 20) }

        // Once only: the same code again is unknown.
        let again = try Self.assist(school, ["--code", code], as: "technician")
        _ = again.wait(timeout: 30)
        #expect(again.readAllStderr().contains("code inconnu, expiré ou déjà utilisé"), "a code is used once")
        // Straight to the seat (no server): a wrong code is refused there and journaled.
        let direct = try Self.assist(school, ["--code", wrong, "--seat", "B204-01"], as: "technician")
        let refused = try await offThePool { Self.firstJSON(direct) }
        #expect(refused["code"] == "assist.bad-code", "\(refused)")
        #expect(try journalEvents(school, "B204-01", features: ["assist"]).contains { $0.code == "assist.bad-code" })

        // A technician has no grant in the CDI; nobody is asked there.
        let cdi = try Self.assist(school, ["--seat", "CDI-01", "--reason", "écran noir"], as: "technician")
        let notThere = try await offThePool { Self.firstJSON(cdi) }
        #expect(notThere["code"] == "policy.room", "\(notThere)")

        // A second assistance, by reason, left without a note: its sheet is « incomplet ».
        let second = try Self.assist(school, ["--seat", "B204-01", "--reason", "session lente"], as: "technician")
        try await offThePool { try Assistance.press(seat.display, ["Tab", "space"]) }
        let secondOpened = try await offThePool { Self.firstJSON(second) }
        let incomplete = try #require(secondOpened["intervention"], "\(secondOpened)")
        second.signal(SIGINT)
        _ = try await offThePool { second.wait(timeout: 20) }

        // The helper completes the first sheet; nobody else but an admin may.
        let fields = ["--problem", "L’imprimante n’apparaît pas", "--diagnosis", "File d’attente bloquée ; redémarrée",
                      "--before", "Impression impossible", "--after", "Page de test imprimée", "--advice", "Redémarrer le poste si cela revient"]
        let byTeacher = try school.vigie(["assist", "note", intervention] + fields, as: "teacher")
        #expect(byTeacher.result.status != 0, "a teacher cannot write a sheet: \(byTeacher)")
        let noted = try school.vigie(["assist", "note", intervention] + fields, as: "technician", json: false)
        #expect(noted.result.status == 0 && noted.result.stdout.contains("fiche d’intervention \(intervention) complétée"), "\(noted)")

        // The head exports the sheets: every field, and « incomplet » for the other.
        let dir = try TempDir()
        let csv = dir.path + "/interventions.csv"
        // (The seats ship their journals within seconds: the export waits for both sheets.)
        var sheets = ""
        let both = await eventually(20) {
            let exported = try? run([product("vigie"), "register", "export", "--kind", "interventions", "--format", "csv", "--out", csv,
                                     "--config", school.configPath, "--identity", school.people["head"]!])
            sheets = (try? String(contentsOfFile: csv, encoding: .utf8)) ?? ""
            return exported?.status == 0 && sheets.contains(incomplete + ",") && sheets.contains(intervention + ",")
        }
        #expect(both, "\(sheets)")
        let rows = sheets.split(separator: "\r\n")
        let first = rows.first { $0.hasPrefix(intervention + ",") }.map(String.init) ?? ""
        for text in ["L’imprimante n’apparaît pas", "File d’attente bloquée", "Impression impossible", "Page de test imprimée",
                     "Redémarrer le poste", "M. Lemaire", testSessionUser, "imprimante absente", "complet"] {
            #expect(first.contains(text), "the sheet has \(text): \(first)")
        }
        let other = rows.first { $0.hasPrefix(incomplete + ",") }.map(String.init) ?? ""
        #expect(other.contains("incomplet"), "\(other)")
        #expect(!Self.fileHolds(csv, code), "no code in an export")
        // Nothing of the code in clear on the seat or the server.
        #expect(!Self.fileHolds(seat.stateDir + "/journal.sqlite", code) && !Self.fileHolds(school.storePath, code), "codes are never stored in clear")

        // The sheet is in the register: it verifies.
        let verified = try run([product("vigie"), "register", "verify", "--config", school.configPath, "--identity", school.people["head"]!])
        #expect(verified.status == 0, "\(verified)")

        // The person assisted gets a report, in French, with every field.
        let report = dir.path + "/report.txt"
        let reported = try school.vigie(["assist", "report", intervention, "--format", "txt", "--out", report], as: "technician", json: false)
        #expect(reported.result.status == 0, "\(reported)")
        let words = (try? String(contentsOfFile: report, encoding: .utf8)) ?? ""
        for label in ["Compte rendu d’intervention", "Date", "Durée", "Personne assistée", "Intervenant", "M. Lemaire (technician)",
                      "Accord", "voir l’écran", "Fin", "Problème signalé", "Diagnostic et actions", "État avant", "État après",
                      "Conseils donnés", "Redémarrer le poste si cela revient", "sur demande d’aide (code)"] {
            #expect(words.contains(label), "the report has « \(label) »: \(words)")
        }
        var info = stat()
        #expect(stat(report, &info) == 0 && info.st_mode & 0o777 == 0o600, "a report is 0600")
        let html = dir.path + "/report.html"
        let asHTML = try school.vigie(["assist", "report", incomplete, "--format", "html", "--out", html], as: "admin", json: false)
        #expect(asHTML.result.status == 0, "\(asHTML)")
        #expect(((try? String(contentsOfFile: html, encoding: .utf8)) ?? "").contains("incomplet"))
    }
}

/// Questions to the person act only on the person's own input: a control stream's
/// keys (XTEST, through the helper) are held while a question shows.
@Suite(.serialized) struct QuestionsIgnoreTheController {
    static func json(_ child: ChildProcess, timeout: Double = 90) -> [String: String] { HelpRequests.firstJSON(child, timeout: timeout) }

    /// The person's keys on a question; when none shows, why: the helper's answer and the agent's log.
    static func press(_ seat: TestSchool.SeatRig, _ keys: [String], name: String? = nil, asking helper: ChildProcess) async throws {
        do {
            try await offThePool { try Assistance.press(seat.display, keys, name: name) }
        } catch {
            let agentLog = String((seat.agent?.readAllStderr() ?? "").suffix(4000))
            Issue.record("\(error)\nthe helper: \(helper.readLine(timeout: 1) ?? "") \(helper.readAllStderr())\nthe agent: \(agentLog)")
            throw error
        }
    }

    /// The consent window and the assistance's extension.
    @Test func keysFromAControlStreamNeitherAnswerTheConsentNorExtendTheAssistance() async throws {
        guard RemoteViewHelper.clientInstalled() else { return }
        let school = try await offThePool {
            try TestSchool(seats: [("B204-01", "B204")], extraConfig: "\n[assistance]\nconsent_seconds = 20\nmax_minutes = 0.4\nextend_minutes = 0.1\n",
                           agentArguments: ["--session-user", testSessionUser])
        }
        let seat = school.seats["B204-01"]!
        let xev = try await offThePool { try keyPrinter(on: seat.display) }
        defer { xev.kill() }
        var environment = ProcessInfo.processInfo.environment
        environment["LANG"] = "fr_FR.UTF-8"
        environment["DISPLAY"] = seat.display
        let env = environment

        // The teacher controls the seat; an admin asks the person to see it.
        let teacher = try ChildProcess([product("vigie"), "control", "--seat", "B204-01", "--no-viewer", "--json", "--config", school.configPath,
                                        "--identity", school.people["teacher"]!], environment: env)
        let control = try await offThePool { Self.json(teacher) }
        let port = try #require(control["address"]?.split(separator: ":").last.flatMap { Int($0) }, "\(control)")
        let asking = try HelpRequests.assist(school, ["--seat", "B204-01", "--reason", "vérifier le pilote"], as: "admin")
        _ = try await offThePool { try run(["xdotool", "search", "--sync", "--onlyvisible", "--classname", "vigie-consent"], timeout: 20, environment: env) }
        // Through the teacher's stream: Tab, Space, Enter (the keyboard's « Accepter »), then, once
        // the question is gone, "ok".
        let typing = try ChildProcess([RemoteViewHelper.venv + "/vncdo", "-s", "127.0.0.1::\(port)", "-p", control["password"] ?? "",
                                       "move", "320", "240", "key", "tab", "key", "space", "key", "enter", "pause", "24", "move", "12", "470", "type", "ok", "pause", "0.5"])
        let answer = try await offThePool { Self.json(asking) }
        #expect(answer["code"] == "assist.timeout", "nothing but the person answers: \(answer)")
        let keys = try await offThePool { xevKeys(xev, until: ["6f", "6b"]) }
        #expect(keys.contains("6f") && keys.contains("6b"),
                "the control stream types again once the question is gone: \(keys) \(typing.readAllStderr())")
        #expect(!keys.contains("ff09") && !keys.contains("ff0d") && !keys.contains("20"), "held keys are dropped, not delayed: \(keys)")
        _ = try await offThePool { typing.wait(timeout: 30) }
        teacher.signal(SIGINT)
        _ = try await offThePool { teacher.wait(timeout: 15) }

        // An assistance with control; as its end nears, the person is asked to extend it. The
        // helper's own keys cannot answer: it ends on time.
        let helping = try HelpRequests.assist(school, ["--seat", "B204-01", "--reason", "réglages", "--control"], as: "admin")
        try await Self.press(seat, ["Tab", "space"], asking: helping)
        try await Self.press(seat, ["Tab", "space"], name: "Prise en main", asking: helping)
        let opened = try await offThePool { Self.json(helping) }
        #expect(opened["code"] == "assist.started", "\(opened)")
        let assistPort = try #require(opened["address"]?.split(separator: ":").last.flatMap { Int($0) }, "\(opened)")
        _ = try await offThePool { try run(["xdotool", "search", "--sync", "--onlyvisible", "--name", "arrive à sa fin"], timeout: 30, environment: env) }
        let pressing = try ChildProcess([RemoteViewHelper.venv + "/vncdo", "-s", "127.0.0.1::\(assistPort)", "-p", opened["password"] ?? "",
                                         "move", "320", "240", "key", "tab", "key", "space", "key", "enter", "pause", "30"])
        defer { pressing.kill() }
        let ended = try await offThePool { Self.json(helping, timeout: 60) }
        #expect(ended["state"] == "ended" && ended["code"] == "assist.time-limit", "\(ended)")
        #expect(try !journalEvents(school, "B204-01", features: ["assist"]).contains { $0.code == "assist.extended" })

        // A person who takes their time: the consent comes after the stream's heartbeat
        // limit, and the assistance still opens and lasts (the silence counts from the answer).
        let slow = try HelpRequests.assist(school, ["--seat", "B204-01", "--reason", "lenteur"], as: "admin")
        // Its own window (not the last question's, going away), shown: 20 s to answer.
        try await Self.press(seat, [], name: "assistance de", asking: slow)
        // The person reads for 6 s (the heartbeat limit is 4 s): the time itself is what is tested.
        try await Task.sleep(for: .seconds(6))
        try await Self.press(seat, ["Tab", "space"], asking: slow)
        let late = try await offThePool { Self.json(slow) }
        #expect(late["code"] == "assist.started", "\(late)")
        let stillOpen = try await offThePool { slow.readLine(timeout: 7) }
        #expect(stillOpen == nil, "the assistance ended by itself: \(stillOpen ?? "")")
        slow.signal(SIGINT)
        _ = try await offThePool { slow.wait(timeout: 15) }

        // The person's own answer extends it.
        let again = try HelpRequests.assist(school, ["--seat", "B204-01", "--reason", "réglages"], as: "admin")
        try await Self.press(seat, ["Tab", "space"], asking: again)
        let viewing = try await offThePool { Self.json(again) }
        #expect(viewing["code"] == "assist.started", "\(viewing)")
        try await Self.press(seat, ["Tab", "space"], name: "arrive à sa fin", asking: again)
        let extended = await eventually(10) {
            (try? journalEvents(school, "B204-01", features: ["assist"]).contains { $0.code == "assist.extended" && $0.params["minutes"] == "0.1" }) == true
        }
        #expect(extended, "the person extended the assistance")
        again.signal(SIGINT)
        _ = try await offThePool { again.wait(timeout: 15) }
    }
}
