import Foundation
import Testing
import VigieTestSupport

/// Events of a seat in an export.
func events(_ all: [[String: Any]], seat: String) -> [[String: Any]] { all.filter { $0["seat"] as? String == seat } }

/// The decisions among them: how each request ended (notices shown to the person at
/// the seat, and the records of a start that precede an outcome, left out).
func decisions(_ all: [[String: Any]], seat: String) -> [[String: Any]] {
    events(all, seat: seat).filter { !(($0["feature"] as? String)?.hasPrefix("notice.") ?? false) && $0["outcome"] as? String != "started" }
}

/// Minimal RFC 4180 reader for checking CSV exports.
func parseCSV(_ text: String) -> [[String]] {
    var rows: [[String]] = [], row: [String] = [], field = "", quoted = false
    var chars = Array(text.hasPrefix("\u{FEFF}") ? String(text.dropFirst()) : text)
    var i = 0
    while i < chars.count {
        let c = chars[i]
        if quoted {
            if c == "\"" {
                if i + 1 < chars.count && chars[i + 1] == "\"" { field.append("\""); i += 1 } else { quoted = false }
            } else { field.append(c) }
        } else if c == "\"" { quoted = true
        } else if c == "," { row.append(field); field = ""
        } else if c == "\r\n" || c == "\n" { row.append(field); rows.append(row); row = []; field = ""
        } else { field.append(c) }
        i += 1
    }
    if !field.isEmpty || !row.isEmpty { row.append(field); rows.append(row) }
    chars = []
    return rows
}

@Suite(.serialized) struct RegisterIntegration {
    @Test func everyDecisionReachesTheServerAndTheHeadExportsAndVerifiesIt() throws {
        let school = try TestSchool(seats: [("B204-01", "B204"), ("CDI-01", "CDI")], withServer: true)
        let text = "Rangez vos affaires, le cours se termine à 11 h 45 — merci, « L’équipe »\nligne 2"
        #expect(try school.vigie(["lock", "--seat", "B204-01", "--for", "30s"]).status == 0)
        #expect(try school.vigie(["message", "--seat", "B204-01", text]).status == 0)
        #expect(try school.vigie(["lock", "--seat", "B204-01"], as: "librarian").status == 1)
        #expect(try school.vigie(["screenshot", "--seat", "B204-01", "--out", school.dir + "/shots"]).status == 0)

        // Shipped within a few seconds.
        var all: [[String: Any]] = []
        #expect(eventually(15) { all = (try? school.registerEvents()) ?? []; return events(all, seat: "B204-01").count >= 9 })
        // The seat told its user first (login notice at agent start), then each decision —
        // what it carried out recorded as started before its outcome, a refusal once —
        // and after the screenshot the indicator shown on that seat.
        #expect(events(all, seat: "B204-01").map { "\($0["feature"] as? String ?? "") \($0["outcome"] as? String ?? "")" }
            == ["notice.login done", "lock started", "lock done", "message started", "message done", "lock refused",
                "screenshot started", "screenshot done", "notice.indicator done"])
        #expect(events(all, seat: "B204-01").map { $0["seq"] as? Int } == Array(1...9))
        #expect((events(all, seat: "B204-01")[4]["params"] as? [String: String])?["started"] == "4", "the outcome names its start")
        let indicator = try #require(events(all, seat: "B204-01").last)
        #expect((indicator["args"] as? [String: String])?["text"]?.hasPrefix("Écran consulté par M. Dupont (professeur) à ") == true)
        #expect(eventually(10) { events((try? school.registerEvents()) ?? [], seat: "CDI-01").map { $0["feature"] as? String } == ["notice.login"] },
                "CDI-01 told its user, and nobody looked at it")
        let seat = decisions(all, seat: "B204-01")
        #expect(seat.map { $0["outcome"] as? String } == ["done", "done", "refused", "done"])
        #expect(seat[2]["code"] as? String == "policy.room")
        #expect((seat[1]["args"] as? [String: String])?["text"] == text)
        #expect(seat[0]["actor"] as? String == "vigie://0750001A/person/teacher/pdupont")
        // No pixels in the register: only the size.
        #expect((seat[3]["params"] as? [String: String])?["width"] == "640")
        #expect(!String(describing: seat[3]).contains("iVBOR"))
        // The console reported the saved screenshot to the server's own chain.
        let server = events(all, seat: "@server")
        #expect(server.contains { $0["feature"] as? String == "screenshot.saved" && ($0["args"] as? [String: String])?["seat"] == "B204-01" })
        #expect(server.contains { $0["feature"] as? String == "register.export" && $0["actor"] as? String == "vigie://0750001A/person/head/cleroy" })

        // CSV opens as a spreadsheet would read it: the message text comes back whole.
        let csvPath = school.dir + "/register.csv"
        #expect(try school.vigie(["register", "export", "--format", "csv", "--seat", "B204-01", "--out", csvPath], as: "head", json: false).status == 0)
        let attributes = try FileManager.default.attributesOfItem(atPath: csvPath)
        #expect((attributes[.posixPermissions] as? Int) == 0o600)
        let rows = parseCSV(try String(contentsOfFile: csvPath, encoding: .utf8))
        let header = try #require(rows.first)
        let argsColumn = try #require(header.firstIndex(of: "arguments"), "\(header)")
        let texts = rows.dropFirst().compactMap { row -> String? in
            guard row.count == header.count, let object = try? JSONSerialization.jsonObject(with: Data(row[argsColumn].utf8)) as? [String: String] else { return nil }
            return object["text"]
        }
        #expect(texts.contains(text), "\(rows)")

        // HTML: the art. 30 record heads it, with a summary and the verification.
        let htmlPath = school.dir + "/register.html"
        #expect(try school.vigie(["register", "export", "--format", "html", "--out", htmlPath], as: "head", json: false).status == 0)
        let html = try String(contentsOfFile: htmlPath, encoding: .utf8)
        #expect(html.contains("Lycée d’intégration, représenté par sa proviseure"))
        #expect(html.contains("Mission d’intérêt public"))

        let verify = try school.vigie(["register", "verify"], as: "head", json: false)
        #expect(verify.status == 0, "\(verify)")

        // Only the head exports; a teacher is refused, and the refusal is in the register too.
        let teacher = try school.vigie(["register", "export", "--format", "csv", "--out", school.dir + "/t.csv"], json: false)
        #expect(teacher.status == 1)
        #expect(teacher.result.stderr.contains("refused"))
    }

    @Test func aServerDownForAWhileEndsWithEveryEventStoredOnce() throws {
        let school = try TestSchool(seats: [("B204-01", "B204")], withServer: true)
        #expect(try school.vigie(["status", "--seat", "B204-01"]).status == 0)
        #expect(eventually(10) { decisions((try? school.registerEvents()) ?? [], seat: "B204-01").count == 1 })
        school.stopServer()
        for _ in 0..<5 { #expect(try school.vigie(["status", "--seat", "B204-01"]).status == 0) }
        // The seat keeps serving while the server is away, and its shipper finds it away
        // (and backs off); then the server comes back.
        let agent = school.seats["B204-01"]!.agent!
        #expect(eventually(30) { agent.readAllStderr().contains("journal shipping paused") }, "\(agent.readAllStderr())")
        try school.startServer()
        var seat: [[String: Any]] = []
        #expect(eventually(30) { seat = events((try? school.registerEvents()) ?? [], seat: "B204-01"); return seat.count >= 7 })
        #expect(seat.compactMap { $0["seq"] as? Int } == Array(1...7), "every event once, in order")
        #expect(seat.filter { $0["feature"] as? String == "status" }.count == 6)
    }

    @Test func killingTheAgentLosesNothingItAcknowledged() throws {
        let school = try TestSchool(seats: [("B204-01", "B204")], withServer: true)
        var acknowledged = 0
        for round in 0..<4 {
            for _ in 0..<3 {
                let r = try school.vigie(["status", "--seat", "B204-01"])
                if r.status(of: "B204-01") == "ok" { acknowledged += 1 }
            }
            // kill -9 right after answering, before any shipping can finish.
            school.killAgent("B204-01")
            if round < 3 { try school.startAgent("B204-01") }
        }
        try school.startAgent("B204-01")
        var seat: [[String: Any]] = []
        #expect(eventually(30) { seat = decisions((try? school.registerEvents()) ?? [], seat: "B204-01"); return seat.count >= acknowledged })
        #expect(acknowledged == 12)
        #expect(seat.count == acknowledged, "every status the console saw answered is in the register, once")
        let chain = events((try? school.registerEvents()) ?? [], seat: "B204-01")
        #expect(chain.compactMap { $0["seq"] as? Int } == Array(1...chain.count), "no event twice, none missing")
    }

    @Test func offlineVerifyNamesTheEditedEvent() throws {
        let school = try TestSchool(seats: [("B204-01", "B204")], withServer: true)
        for _ in 0..<4 { _ = try school.vigie(["status", "--seat", "B204-01"]) }
        #expect(eventually(10) { decisions((try? school.registerEvents()) ?? [], seat: "B204-01").count == 4 })
        school.stopServer()
        let copy = school.dir + "/copy.sqlite"
        try FileManager.default.copyItem(atPath: school.storePath, toPath: copy)
        for suffix in ["-wal", "-shm"] where FileManager.default.fileExists(atPath: school.storePath + suffix) {
            try FileManager.default.copyItem(atPath: school.storePath + suffix, toPath: copy + suffix)
        }
        let clean = try school.vigie(["register", "verify", "--store", copy], as: "head", json: false)
        #expect(clean.status == 0, "\(clean)")
        // Someone rewrites the third event's content in the database file.
        let edit = try run(["python3", "-c", """
            import sqlite3, sys
            db = sqlite3.connect(sys.argv[1])
            cols = [r[1] for r in db.execute("PRAGMA table_info(events)")]
            n = db.execute("UPDATE events SET content = replace(content, 'status', 'unlock') WHERE seat = 'B204-01' AND seq = 3").rowcount
            db.commit()
            print(n, cols)
            """, copy])
        #expect(edit.stdout.hasPrefix("1 "), "\(edit)")
        let tampered = try school.vigie(["register", "verify", "--store", copy], as: "head", json: false)
        #expect(tampered.status == 1, "\(tampered)")
        #expect(tampered.result.stdout.contains("B204-01"))
        #expect(tampered.result.stdout.contains("3"))
    }

    /// Copies the server's store (with its WAL files) from `from` to `to`, replacing what is there.
    func copyStore(_ from: String, _ to: String) throws {
        for suffix in ["", "-wal", "-shm"] {
            try? FileManager.default.removeItem(atPath: to + suffix)
            if FileManager.default.fileExists(atPath: from + suffix) { try FileManager.default.copyItem(atPath: from + suffix, toPath: to + suffix) }
        }
    }

    @Test func aStoreRestoredFromAnOlderCopyIsRefilledByTheSeats() throws {
        let school = try TestSchool(seats: [("B204-01", "B204")], withServer: true)
        for _ in 0..<3 { #expect(try school.vigie(["status", "--seat", "B204-01"]).status == 0) }
        #expect(eventually(15) { decisions((try? school.registerEvents()) ?? [], seat: "B204-01").count == 3 })
        // The nightly backup.
        school.stopServer()
        let backup = school.dir + "/backup.sqlite"
        try copyStore(school.storePath, backup)
        try school.startServer()
        // The day goes on: more decisions, shipped and acknowledged.
        for _ in 0..<4 { #expect(try school.vigie(["status", "--seat", "B204-01"]).status == 0) }
        var before: [[String: Any]] = []
        #expect(eventually(15) { before = events((try? school.registerEvents()) ?? [], seat: "B204-01"); return decisions(before, seat: "B204-01").count == 7 })
        let seqs = before.compactMap { $0["seq"] as? Int }
        let hashes = before.compactMap { $0["hash"] as? String }
        // The server's disk dies; the backup is restored. The seat's events after it are gone from the store.
        school.stopServer()
        try copyStore(backup, school.storePath)
        try school.startServer()
        // The seat notices at its next connection and sends them again; nobody has to touch it.
        var after: [[String: Any]] = []
        #expect(eventually(30) { after = events((try? school.registerEvents()) ?? [], seat: "B204-01"); return after.count >= seqs.count },
                "the seat refilled the restored store")
        #expect(after.compactMap { $0["seq"] as? Int } == seqs, "every event once, in order")
        #expect(after.compactMap { $0["hash"] as? String } == hashes, "the same events, not new ones")
        let server = events(try school.registerEvents(), seat: "@server")
        let resent = try #require(server.first { $0["feature"] as? String == "register.resent" }, "the return is journaled")
        #expect((resent["args"] as? [String: String])?["seat"] == "B204-01")
        #expect((resent["args"] as? [String: String])?["to"] == String(seqs.last!))
        let verify = try school.vigie(["register", "verify"], as: "head", json: false)
        #expect(verify.status == 0, "\(verify)")
    }

    @Test func verifyWithACheckpointHasTheServerCheckIt() throws {
        let school = try TestSchool(seats: [("B204-01", "B204")], withServer: true)
        for _ in 0..<2 { #expect(try school.vigie(["status", "--seat", "B204-01"]).status == 0) }
        #expect(eventually(15) { decisions((try? school.registerEvents()) ?? [], seat: "B204-01").count == 2 })
        let checkpoint = school.dir + "/checkpoint.json"
        #expect(try school.vigie(["register", "checkpoint", "--out", checkpoint], as: "head", json: false).status == 0)
        #expect(try school.vigie(["register", "verify", "--checkpoint", checkpoint], as: "head", json: false).status == 0)
        // Someone cuts the tail of the server's own chain, and the checkpoints it kept.
        school.stopServer()
        let cut = try run(["python3", "-c", """
            import sqlite3, sys
            db = sqlite3.connect(sys.argv[1])
            last = db.execute("SELECT MAX(seq) FROM events WHERE seat = '@server'").fetchone()[0]
            # The checkpoint saw last - 2 (then came `register checkpoint` and `register verify`).
            db.execute("DELETE FROM events WHERE seat = '@server' AND seq >= ?", (last - 2,))
            db.execute("DELETE FROM checkpoints")
            db.commit()
            print(last - 2, last)
            """, school.storePath])
        let range = cut.stdout.split(separator: " ").compactMap { Int($0.trimmingCharacters(in: .whitespacesAndNewlines)) }
        #expect(range.count == 2, "\(cut)")
        try school.startServer()
        // Without --store, the checkpoint is sent to the server, which checks it against its store.
        let verify = try school.vigie(["register", "verify", "--checkpoint", checkpoint], as: "head", json: false)
        #expect(verify.status == 1, "\(verify)")
        #expect(verify.result.stdout.contains("registre NON intègre"), "\(verify)")
        #expect(verify.result.stdout.contains("l’événement \(range[0]) de @server manque (présent au point de contrôle)"), "\(verify)")
    }

    @Test func aSeatThatPrunedWhatTheServerLostSaysSoOnceInsteadOfLooping() throws {
        let school = try TestSchool(seats: [("B204-01", "B204")], withServer: true)
        #expect(try school.vigie(["status", "--seat", "B204-01"]).status == 0)
        #expect(eventually(15) { decisions((try? school.registerEvents()) ?? [], seat: "B204-01").count == 1 })
        school.stopServer()
        let backup = school.dir + "/backup.sqlite"
        try copyStore(school.storePath, backup)
        try school.startServer()
        for _ in 0..<2 { #expect(try school.vigie(["status", "--seat", "B204-01"]).status == 0) }
        #expect(eventually(15) { decisions((try? school.registerEvents()) ?? [], seat: "B204-01").count == 3 })
        // Past the seat retention, the seat prunes the content of what the server acknowledged
        // (the agent's own hourly pruning, run here on the stopped agent's journal).
        school.killAgent("B204-01")
        let journal = school.seats["B204-01"]!.stateDir + "/journal.sqlite"
        let pruned = try run([product("vigie-register-helper"), "prune", journal, TestSchool.schoolID, "B204-01", "0"])
        #expect(pruned.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == "4", "\(pruned)")
        try school.startAgent("B204-01")
        // Its new login notice (event 5) is stored: the seat and the server agree again.
        #expect(eventually(15) { events((try? school.registerEvents()) ?? [], seat: "B204-01").count == 5 })
        // Now the server's store is restored from the old backup.
        school.stopServer()
        try copyStore(backup, school.storePath)
        try school.startServer()
        var lost: [[String: Any]] = []
        #expect(eventually(30) {
            lost = events((try? school.registerEvents()) ?? [], seat: "@server").filter { $0["feature"] as? String == "register.lost" }
            return !lost.isEmpty
        }, "the seat told the server what it can no longer send")
        let args = try #require(lost.first?["args"] as? [String: String])
        #expect(args["seat"] == "B204-01" && args["from"] == "3" && args["to"] == "4", "\(args)")
        #expect(lost.first?["outcome"] as? String == "failed")
        // Said once: later connections do not repeat it every minute.
        _ = try school.registerEvents()
        #expect(events(try school.registerEvents(), seat: "@server").filter { $0["feature"] as? String == "register.lost" }.count == 1)
    }

    @Test func routineVerifyOnTheServerNamesASeatThatVanishedFromTheStore() throws {
        let school = try TestSchool(seats: [("B204-01", "B204"), ("B204-02", "B204")], withServer: true)
        for _ in 0..<2 { #expect(try school.vigie(["status", "--seat", "B204-01"]).status == 0) }
        #expect(eventually(15) { decisions((try? school.registerEvents()) ?? [], seat: "B204-01").count == 2 })
        #expect(try school.vigie(["register", "verify"], as: "head", json: false).status == 0)
        // The seat is switched off (so it cannot send its events again), and someone removes
        // every trace of it from the store: its events and its batch signatures.
        school.killAgent("B204-01")
        school.stopServer()
        let removed = try run(["python3", "-c", """
            import sqlite3, sys
            db = sqlite3.connect(sys.argv[1])
            n = db.execute("DELETE FROM events WHERE seat = 'B204-01'").rowcount
            db.execute("DELETE FROM batches WHERE seat = 'B204-01'")
            db.commit()
            print(n)
            """, school.storePath])
        let count = Int(removed.stdout.trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0
        #expect(count >= 3, "\(removed)")
        try school.startServer()
        // The seat is in the config and the server's own checkpoints (one per export) saw it.
        let verify = try school.vigie(["register", "verify"], as: "head", json: false)
        #expect(verify.status == 1, "\(verify)")
        // As many of them as the server's last checkpoint had seen (the exports above
        // may have run before all three arrived): from event 1 on, the seat named.
        let named = verify.result.stdout.contains("les événements 1–") && verify.result.stdout.contains("de B204-01 manquent")
            || verify.result.stdout.contains("l’événement 1 de B204-01 manque")
        #expect(named, "\(verify)")
    }

    @Test func theAgentPrunesAcknowledgedContentAfterTheSeatRetentionAndItsChainStillVerifies() throws {
        let school = try TestSchool(seats: [("B204-01", "B204")], withServer: true)
        for _ in 0..<2 { #expect(try school.vigie(["status", "--seat", "B204-01"]).status == 0) }
        #expect(eventually(15) { decisions((try? school.registerEvents()) ?? [], seat: "B204-01").count == 2 })
        // Forty days later by the seat's clock (the config keeps content 30 days on seats).
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "Europe/Paris")
        formatter.dateFormat = "yyyy-MM-dd HH:mm:ss"
        try school.restartAgent("B204-01", clock: formatter.string(from: Date().addingTimeInterval(40 * 86_400)))
        let journal = school.seats["B204-01"]!.stateDir + "/journal.sqlite"
        var check: ProcessResult?
        #expect(eventually(15) {
            check = try? run([product("vigie-register-helper"), "verify", journal, TestSchool.schoolID, "B204-01"])
            // The login notice and the two statuses lost their content; the restart's notice keeps it.
            return check?.stdout.hasPrefix("ok 4 3") == true
        }, "\(String(describing: check))")
        #expect(check?.status == 0, "the links stay: the seat's chain still verifies")
        // The server's copy is untouched by the seat's pruning.
        #expect(decisions(try school.registerEvents(), seat: "B204-01").count == 2)
        #expect(try school.vigie(["register", "verify"], as: "head", json: false).status == 0)
    }
}
