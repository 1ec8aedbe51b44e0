import Foundation
import Testing
import VigieConfig
import VigieModel
import VigieTestSupport
@testable import VigieSignage

/// The repository's root (for `Signage/` and `Config/`).
let repo = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
let signageDir = repo.appendingPathComponent("Signage").path
let exampleConfig = repo.appendingPathComponent("Config/school.example.toml").path
let vigie = product("vigie")

/// A config for one library room with `monitoring` windows (TOML `[[rooms.CDI.monitoring]]` bodies).
func libraryConfig(monitoring: [(days: String, from: String, to: String)], opening: String = "\"mon-fri\"",
                   extra: String = "") -> String {
    var text = """
        [school]
        id = "0750001A"
        name = "Lycée Exemple"
        \(extra)
        [rooms.CDI]
        purpose = "surveillance"
        min_unmonitored_minutes = 30
        [[rooms.CDI.opening]]
        days = \(opening)
        from = "08:00"
        to = "18:00"
        [[rooms.CDI.seats]]
        id = "CDI-01"
        address = "10.0.0.1:7443"

        """
    for w in monitoring {
        text += "[[rooms.CDI.monitoring]]\ndays = \(w.days)\nfrom = \"\(w.from)\"\nto = \"\(w.to)\"\n"
    }
    return text
}

func load(_ text: String) throws -> SchoolConfig { try ConfigLoader.parse(text: text, file: "school.toml") }

func render(_ config: SchoolConfig, room: String = "CDI", _ kind: SignageKind = .poster, _ lang: Language = .fr,
            _ format: SignageFormat = .txt) throws -> String {
    try SignageTemplates(directory: signageDir).render(kind, room: config.room(room)!, config: config, language: lang, format: format)
}

@Suite struct PosterTextTests {
    @Test func libraryPosterCarriesTheConfiguredHoursAndFollowsTheConfig() throws {
        let a = try load(libraryConfig(monitoring: [("\"mon-fri\"", "09:15", "11:45"), ("\"mon-fri\"", "13:15", "16:45")]))
        let text = try render(a)
        #expect(text.contains("LES POSTES INFORMATIQUES DE CETTE SALLE PEUVENT FAIRE L’OBJET D’UN CONTRÔLE VISUEL DE LEUR UTILISATION SUR LES PLAGES HORAIRES SUIVANTES : 9H15 – 11H45, 13H15 – 16H45"), "\(text)")
        // Every open day has the same windows: no day names.
        #expect(!text.contains("LUNDI"))

        let b = try load(libraryConfig(monitoring: [("\"mon-fri\"", "10:00", "11:30"), ("\"mon-fri\"", "14:00", "15:00")]))
        let changed = try render(b)
        #expect(changed.contains("SUIVANTES : 10H00 – 11H30, 14H00 – 15H00"), "\(changed)")
        #expect(!changed.contains("9H15"))
        // The HTML poster follows too.
        let html = try render(b, .poster, .fr, .html)
        #expect(html.contains("10H00 – 11H30") && html.contains("14H00 – 15H00") && !html.contains("9H15"))
    }

    @Test func daysWithDifferentHoursAreGrouped() throws {
        let config = try ConfigLoader.load(path: exampleConfig)
        let text = try render(config)
        #expect(text.contains("SUIVANTES : LUNDI, MARDI, JEUDI, VENDREDI : 9H15 – 11H45, 13H15 – 16H45 ; MERCREDI : 9H15 – 11H45"), "\(text)")
        let facts = SignageFacts(room: config.room("CDI")!, config: config)
        #expect(!facts.uniform)
        #expect(facts.groups.map(\.days) == [[.monday, .tuesday, .thursday, .friday], [.wednesday]])
        // Same windows on the days it is watched but an open day without any: days are named.
        let sat = try load(libraryConfig(monitoring: [("\"mon-fri\"", "09:15", "11:45")], opening: "\"mon-sat\""))
        #expect(try render(sat).contains("SUIVANTES : LUNDI, MARDI, MERCREDI, JEUDI, VENDREDI : 9H15 – 11H45"))
    }

    @Test func theHoursAreThoseThePolicyEnforces() throws {
        let config = try ConfigLoader.load(path: exampleConfig)
        let room = config.room("CDI")!
        let facts = SignageFacts(room: room, config: config)
        // Every 5 minutes of a week, the policy's verdict (what the agent enforces)
        // against what the poster lists for that weekday.
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: room.timeZone)!
        let start = calendar.date(from: DateComponents(year: 2027, month: 3, day: 1))!  // a Monday
        var checked = 0, watched = 0
        for step in 0..<(7 * 24 * 12) {
            let instant = start.addingTimeInterval(Double(step * 300))
            let verdict = room.monitoring(at: instant)
            if verdict.why == .closedDay { continue }
            let day = verdict.moment.weekday
            let listed = facts.groups.first { $0.days.contains(day) }?.spans ?? []
            let posted = listed.contains { $0.contains(verdict.moment.minute) }
            #expect(posted == verdict.allowed, "\(day) minute \(verdict.moment.minute): poster \(posted), policy \(verdict.allowed)")
            checked += 1
            if verdict.allowed { watched += 1 }
        }
        #expect(checked > 7 * 24 * 12 / 2 && watched > 0 && watched < checked, "checked \(checked), watched \(watched)")
    }

    @Test func reminderAndEnglish() throws {
        let config = try ConfigLoader.load(path: exampleConfig)
        let fr = try render(config)
        #expect(fr.contains("RAPPEL : DANS LE CADRE DE LA PROTECTION DES MINEUR·E·S, TOUS LES ACCÈS À INTERNET SONT FILTRÉS, AUTHENTIFIÉS ET JOURNALISÉS."))
        let en = try render(config, .poster, .en)
        #expect(en.contains("THE USE OF THE COMPUTERS IN THIS ROOM MAY BE VISUALLY MONITORED DURING THE FOLLOWING HOURS: MONDAY, TUESDAY, THURSDAY, FRIDAY: 9:15 – 11:45, 13:15 – 16:45; WEDNESDAY: 9:15 – 11:45"), "\(en)")
        #expect(en.contains("REMINDER: TO PROTECT MINORS"))
        #expect(!en.contains("RAPPEL"))
        // No [signage] section: no reminder line.
        let bare = try load(libraryConfig(monitoring: [("\"mon-fri\"", "09:15", "11:45")]))
        #expect(!(try render(bare)).contains("RAPPEL"))
        // One text for every language.
        let one = try load(libraryConfig(monitoring: [("\"mon-fri\"", "09:15", "11:45")], extra: "[signage]\nreminder = \"RAPPEL : accès filtrés.\""))
        #expect(try render(one, .poster, .en).contains("RAPPEL : accès filtrés."))
    }

    @Test func classroomPoster() throws {
        let config = try ConfigLoader.load(path: exampleConfig)
        let text = try render(config, room: "B204")
        #expect(text.hasPrefix("LES POSTES INFORMATIQUES DE CETTE SALLE PEUVENT ÊTRE PRIS EN MAIN À DISTANCE DEPUIS LE POSTE ENSEIGNANT À DES FINS PÉDAGOGIQUES.\n"), "\(text)")
        #expect(try render(config, room: "B204", .poster, .en).contains("THE COMPUTERS IN THIS ROOM MAY BE REMOTELY CONTROLLED FROM THE TEACHER’S COMPUTER FOR TEACHING PURPOSES."))
        // A classroom with windows of its own lists them.
        var withWindows = config
        withWindows.rooms[0].schedule.monitoring = [WeeklySlot(days: [.monday, .tuesday, .wednesday, .thursday, .friday], span: DaySpan(from: TimeOfDay("08:00")!, to: TimeOfDay("12:00")!))]
        withWindows.rooms[0].schedule.opening = []
        #expect(try render(withWindows, room: "B204").contains("À DES FINS PÉDAGOGIQUES, SUR LES PLAGES HORAIRES SUIVANTES : 8H00 – 12H00"))
    }

    @Test func loginNoticeSaysWhoAndWhen() throws {
        let config = try ConfigLoader.load(path: exampleConfig)
        let set = try SignageTemplates(directory: signageDir)
        let (title, text) = try set.loginNotice(room: config.room("CDI")!, config: config, language: .fr)
        #expect(title == "Ce poste peut faire l’objet d’un contrôle visuel")
        #expect(text.contains("par le professeur documentaliste et l’administrateur"), "\(text)")
        #expect(text.contains("lundi, mardi, jeudi, vendredi : 9h15 – 11h45, 13h15 – 16h45 ; mercredi : 9h15 – 11h45"), "\(text)")
        let en = try set.loginNotice(room: config.room("B204")!, config: config, language: .en)
        #expect(en.title == "This computer may be remotely controlled")
        #expect(en.text.contains("by teachers and the administrator"), "\(en.text)")
    }
}

@Suite struct TemplateErrorTests {
    /// A copy of `Signage/` where `file` is replaced by `text`.
    func brokenCopy(_ file: String, _ text: String) throws -> String {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("vigie-signage-\(UUID().uuidString)")
        // cp, not FileManager.copyItem: Foundation also copies the owner, which an
        // unprivileged test user may not do with the checkout's files.
        let copied = try run(["cp", "-R", signageDir, dir.path])
        guard copied.status == 0 else { throw TestSupportError("cp: \(copied)") }
        try text.write(to: dir.appendingPathComponent(file), atomically: true, encoding: .utf8)
        return dir.path
    }

    @Test func aSyntaxErrorNamesTheTemplateAndLine() throws {
        let dir = try brokenCopy("fr/poster-library.txt.mustache", "{{% CONTENT_TYPE: TEXT}}\nLIGNE 2\n{{#lists_hours}}\nLIGNE 4 {{week}\n{{/lists_hours}}\n")
        do {
            _ = try SignageTemplates(directory: dir)
            Issue.record("a broken template was accepted")
        } catch {
            #expect(error.file.hasSuffix("fr/poster-library.txt.mustache"), "\(error)")
            #expect(error.line == 4, "\(error)")
            #expect(error.description.contains("poster-library.txt.mustache:4:"), "\(error)")
        }
        // Through the CLI: exit 78 and the same words on stderr.
        let r = try run([vigie, "signage", "render", "--room", "CDI", "--config", exampleConfig, "--templates", dir, "--format", "txt", "--out", "-"])
        #expect(r.status == 78, "\(r)")
        #expect(r.stderr.contains("fr/poster-library.txt.mustache:4:"), "\(r)")
    }

    @Test func anUnknownNameIsRefusedWithItsLine() throws {
        let dir = try brokenCopy("fr/poster-library.txt.mustache", "{{% CONTENT_TYPE: TEXT}}\n\nPLAGES : {{hourz}}\n")
        let config = try ConfigLoader.load(path: exampleConfig)
        do {
            _ = try SignageTemplates(directory: dir).render(.poster, room: config.room("CDI")!, config: config, language: .fr, format: .txt)
            Issue.record("an unknown name was accepted")
        } catch {
            #expect(error.line == 3 && error.description.contains("“hourz”"), "\(error)")
        }
        let partial = try brokenCopy("fr/poster-library.html.mustache", "<html>\n{{> a4-styles}}\n</html>\n")
        do {
            _ = try SignageTemplates(directory: partial).render(.poster, room: config.room("CDI")!, config: config, language: .fr, format: .html)
            Issue.record("a missing partial was accepted")
        } catch {
            #expect(error.line == 2 && error.description.contains("a4-styles"), "\(error)")
        }
    }
}

@Suite struct SignageCommandTests {
    @Test func rendersFilesAndReportsBadUse() throws {
        let out = FileManager.default.temporaryDirectory.appendingPathComponent("vigie-poster-\(getpid()).txt").path
        defer { unlink(out) }
        var env = ProcessInfo.processInfo.environment
        env["VIGIE_CONFIG"] = exampleConfig
        let r = try run([vigie, "signage", "render", "--room", "CDI", "--format", "txt", "--templates", signageDir, "--out", out], environment: env)
        #expect(r.status == 0, "\(r)")
        let text = try String(contentsOfFile: out, encoding: .utf8)
        #expect(text.contains("CONTRÔLE VISUEL") && text.contains("MERCREDI : 9H15 – 11H45"))
        let notice = try run([vigie, "signage", "render", "--room", "CDI", "--kind", "notice", "--lang", "en", "--format", "txt", "--templates", signageDir, "--out", "-"], environment: env)
        #expect(notice.status == 0 && notice.stdout.hasPrefix("This computer may be visually monitored\n"), "\(notice)")
        let unknown = try run([vigie, "signage", "render", "--room", "B999", "--templates", signageDir, "--out", "-"], environment: env)
        #expect(unknown.status == 64, "\(unknown)")
        let badFormat = try run([vigie, "signage", "render", "--room", "CDI", "--format", "pdf", "--out", "-"], environment: env)
        #expect(badFormat.status == 64, "\(badFormat)")
        var noConfig = env
        noConfig["VIGIE_CONFIG"] = nil
        #expect(try run([vigie, "signage", "render", "--room", "CDI", "--out", "-"], environment: noConfig).status == 78)
        let badConfig = try run([vigie, "signage", "render", "--room", "CDI", "--out", "-", "--config", "/nonexistent.toml"])
        #expect(badConfig.status == 78)
    }

    @Test func signageSectionErrorsHaveTheirLines() throws {
        let text = libraryConfig(monitoring: [], extra: "[signage]\nindicator_seconds = 0\nreminder = { fr = \"\" }\ncolour = \"red\"")
        do {
            _ = try load(text)
            Issue.record("bad [signage] accepted")
        } catch {
            let d = String(describing: error)
            #expect(d.contains("school.toml:5: signage.indicator_seconds:"), "\(d)")
            #expect(d.contains("school.toml:6: signage.reminder.fr:"), "\(d)")
            #expect(d.contains("school.toml:7: signage.colour: unknown field"), "\(d)")
        }
        let ok = try load(libraryConfig(monitoring: [], extra: "[signage]\nlogin_notice_seconds = 0\nindicator_seconds = 5"))
        #expect(ok.signage.loginNoticeSeconds == 0 && ok.signage.indicatorSeconds == 5)
        #expect(try load(libraryConfig(monitoring: [])).signage == SignageSettings())
    }
}

/// The printed page, checked in a real browser: headless Chromium prints the HTML
/// poster to PDF, and poppler reads the PDF back.
@Suite struct BrowserTests {
    static let chromium = ["chromium", "chromium-browser", "google-chrome"].first { which($0) != nil }
    static let tools = chromium != nil && which("pdftotext") != nil && which("pdfinfo") != nil

    static func which(_ name: String) -> String? {
        for dir in (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin").split(separator: ":") {
            let p = "\(dir)/\(name)"
            if FileManager.default.isExecutableFile(atPath: p) { return p }
        }
        return nil
    }

    @Test func theLibraryPosterIsOneA4PageWithTheHoursAndAccents() throws {
        guard Self.tools else {
            // Not a silent pass: the test is reported with this issue when the browser is missing.
            Issue.record("SKIPPED: chromium or poppler-utils not installed (apt-get install chromium poppler-utils); the printed poster was not checked in a browser")
            return
        }
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("vigie-browser-\(getpid())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let html = dir.appendingPathComponent("cdi.html").path
        let pdf = dir.appendingPathComponent("cdi.pdf").path
        let r = try run([vigie, "signage", "render", "--room", "CDI", "--config", exampleConfig, "--templates", signageDir, "--out", html])
        #expect(r.status == 0, "\(r)")
        let print = try run([Self.chromium!, "--headless", "--no-sandbox", "--disable-gpu", "--no-pdf-header-footer",
                             "--user-data-dir=\(dir.path)/profile", "--print-to-pdf=\(pdf)", "file://\(html)"], timeout: 90)
        try #require(FileManager.default.fileExists(atPath: pdf), "chromium printed nothing: \(print)")
        let info = try run(["pdfinfo", pdf])
        #expect(info.stdout.contains("Pages:           1"), "\(info.stdout)")
        #expect(info.stdout.contains("(A4)"), "\(info.stdout)")
        let text = try run(["pdftotext", "-layout", pdf, "-"]).stdout
        let flat = text.split(whereSeparator: \.isWhitespace).joined(separator: " ")
        #expect(flat.contains("CONTRÔLE VISUEL"), "\(flat)")
        #expect(flat.contains("LUNDI, MARDI, JEUDI, VENDREDI : 9H15 – 11H45, 13H15 – 16H45 ;"), "\(flat)")
        #expect(flat.contains("MERCREDI : 9H15 – 11H45"), "\(flat)")
        #expect(flat.contains("AUTHENTIFIÉS ET JOURNALISÉS."), "\(flat)")
        // The foot of the page made it onto the page: nothing was pushed off it.
        #expect(flat.contains("Plages horaires issues de la configuration Vigie"), "\(flat)")
        // No external resource: the page loads nothing but itself.
        let source = try String(contentsOfFile: html, encoding: .utf8)
        #expect(!source.contains("http://") && !source.contains("https://") && !source.contains("src="))
    }
}
