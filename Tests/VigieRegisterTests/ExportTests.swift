import Foundation
import VigieTestSupport
import Testing
import VigieModel

@testable import VigieRegister

/// RFC 4180 records: quoted fields with "" for a quote, CRLF (or LF) between records.
func parseCSV(_ text: String, separator: Character = ",") -> [[String]] {
    var rows: [[String]] = []
    var row: [String] = []
    var field = ""
    var quoted = false
    var chars = Array(text)
    if chars.first == "\u{FEFF}" { chars.removeFirst() }
    var i = 0
    while i < chars.count {
        let c = chars[i]
        if quoted {
            if c == "\"" {
                if i + 1 < chars.count && chars[i + 1] == "\"" { field.append("\""); i += 1 } else { quoted = false }
            } else {
                field.append(c)
            }
        } else if c == "\"" {
            quoted = true
        } else if c == separator {
            row.append(field); field = ""
        } else if c == "\r\n" || c == "\n" {
            row.append(field); field = ""
            rows.append(row); row = []
        } else {
            field.append(c)
        }
        i += 1
    }
    if !field.isEmpty || !row.isEmpty { row.append(field); rows.append(row) }
    return rows
}

func stringsObject(_ json: String) throws -> [String: String] {
    try CanonicalJSON.parse(Array(json.utf8)).mapValues { value in
        guard case .string(let s) = value else { throw RegisterError(.invalidContent, "not a string") }
        return s
    }
}

func exported(_ body: (FileHandle) throws -> Int) throws -> (Int, String, [UInt8]) {
    let dir = try tempDir()
    let path = dir.sub("out")
    let handle = try RegisterExport.createFile(path)
    let n = try body(handle)
    try handle.close()
    #expect(try fileMode(path) == 0o600)
    let data = try Data(contentsOf: URL(fileURLWithPath: path))
    return (n, String(decoding: data, as: UTF8.self), Array(data))
}

let record = ProcessingRecord(
    controller: "Lycée Exemple, représenté par sa proviseure", dpoContact: "dpd@ac-exemple.fr",
    purpose: "Supervision des postes en cours et au CDI", legalBasis: "Mission d’intérêt public (RGPD art. 6-1-e)",
    peopleCategories: ["élèves", "personnels"], dataCategories: ["identifiants", "horaires", "actions"],
    recipients: ["chef d’établissement", "DPD"], retentionDays: 365,
    securityMeasures: ["TLS mutuel", "chaînes signées"], transfers: "aucun")

@Suite struct ExportTests {
    @Test func csvParsesBackToTheEvents() throws {
        let f = try Fixture()
        // A message that a spreadsheet would run as a formula, and one with every awkward character.
        let seat = try f.school.seat("C101-01")
        var e1 = sampleEvent("C101-01", 1)
        e1.args["text"] = "=HYPERLINK(\"http://x\")"
        var e2 = sampleEvent("C101-01", 2)
        e2.args["text"] = "Élèves, « attention » : \"ne touchez à rien\"\r\nmerci ; 😀"
        e2.actorName = "  Mme O’Neil, CDI  "
        let c1 = ChainedEvent.make(after: nil, school: school, seat: seat.id, event: e1)
        let c2 = ChainedEvent.make(after: (c1.seq, c1.hash), school: school, seat: seat.id, event: e2)
        try ingestAll(f.store, [try Batch.sign(school: school, seat: seat.id, events: [c1, c2], key: seat.key)], seat)

        let (n, text, bytes) = try exported { try RegisterExport.csv(store: f.store, filter: RegisterFilter(school: school), to: $0, language: .fr, options: .init(protectFormulas: false)) }
        #expect(Array(bytes.prefix(3)) == [0xEF, 0xBB, 0xBF])
        #expect(n == 45)
        let rows = parseCSV(text)
        #expect(rows.count == 46)
        #expect(rows[0].first == "établissement" && rows[0].count == RegisterExport.csvColumns.count)
        var expected: [[String]] = []
        try f.store.placedEvents(RegisterFilter(school: school)) { school, seat, c, e in
            expected.append(RegisterExport.csvCells(school: school, seat: seat, chained: c, event: e, language: .fr))
        }
        #expect(Array(rows.dropFirst()) == expected)
        // And back to the events themselves.
        for row in rows.dropFirst() {
            let stored = try #require(try f.store.event(school: row[0], seat: row[1], seq: Int64(row[2])!)?.event)
            #expect(stored.timeLocal == row[4] && stored.actorName ?? "" == row[7] && stored.feature == row[9])
            #expect(stored.args == (row[10].isEmpty ? [:] : try stringsObject(row[10])))
            #expect(stored.outcome.rawValue == row[11] && stored.sessionUser ?? "" == row[15])
        }
        #expect(rows.contains { $0[7] == "  Mme O’Neil, CDI  " })

        // With formula protection (the default), a leading = is neutralised.
        let (_, protected, _) = try exported { try RegisterExport.csv(store: f.store, filter: RegisterFilter(school: school, seat: "C101-01"), to: $0) }
        let cells = parseCSV(protected).dropFirst()
        #expect(cells.contains { $0[10] == #"{"text":"=HYPERLINK(\"http://x\")"}"# })  // inside JSON: harmless, kept
        // English header and semicolons for a French Excel.
        let (_, semi, _) = try exported { try RegisterExport.csv(store: f.store, filter: RegisterFilter(school: school, seat: "C101-01"), to: $0, language: .en, options: .init(separator: ";")) }
        let semiRows = parseCSV(semi, separator: ";")
        #expect(semiRows[0] == RegisterExport.csvColumns && semiRows.count == 3)
        #expect(semiRows[2][7] == "  Mme O’Neil, CDI  ")
    }

    @Test func formulaCellsAreProtected() {
        var out: [UInt8] = []
        RegisterExport.appendCSVCell("=1+1", to: &out, separator: [0x2C], protectFormulas: true)
        #expect(String(decoding: out, as: UTF8.self) == "'=1+1")
        out = []
        RegisterExport.appendCSVCell("a,\"b\"", to: &out, separator: [0x2C], protectFormulas: true)
        #expect(String(decoding: out, as: UTF8.self) == "\"a,\"\"b\"\"\"")
    }

    @Test func controlAndBidiCharactersAreNeutralisedOnOutputOnly() throws {
        let f = try Fixture()
        let seat = try f.school.seat("C101-01")
        // ESC and BEL (terminal tricks), U+202E and U+2066 (text that reads backwards or hides).
        let text = "Rangez\u{1B}[31m vos affaires\u{07} \u{202E}exe.txt\u{2066}"
        var e = sampleEvent("C101-01", 1)
        e.args["text"] = text
        e.actorName = "=cmd|' /C calc'!A0"
        e.sessionUser = "@élève\u{1B}"
        let c = ChainedEvent.make(after: nil, school: school, seat: seat.id, event: e)
        try ingestAll(f.store, [try Batch.sign(school: school, seat: seat.id, events: [c], key: seat.key)], seat)
        // Stored as received.
        #expect(try f.store.event(school: school, seat: seat.id, seq: c.seq)?.event?.args["text"] == text)

        let raw: [[UInt8]] = [[0x1B], [0x07], Array("\u{202E}".utf8), Array("\u{2066}".utf8)]
        func containsRaw(_ bytes: [UInt8]) -> Bool {
            raw.contains { needle in bytes.indices.contains { i in bytes[i...].starts(with: needle) } }
        }
        let (_, csv, csvBytes) = try exported { try RegisterExport.csv(store: f.store, filter: RegisterFilter(school: school, seat: seat.id), to: $0) }
        #expect(!containsRaw(csvBytes))
        let row = try #require(parseCSV(csv).dropFirst().first)
        #expect(row[10].contains("\\u{202E}exe.txt\\u{2066}"), "\(row[10])")
        #expect(row[7] == "'=cmd|' /C calc'!A0")  // a formula is never run
        #expect(row[15] == "'@élève␛")

        let (_, html, htmlBytes) = try exported {
            try RegisterExport.html(store: f.store, filter: RegisterFilter(school: school, seat: seat.id), record: record,
                                    verification: nil, checkpoint: nil, language: .fr, to: $0)
        }
        #expect(!containsRaw(htmlBytes))
        #expect(html.contains("Rangez␛[31m vos affaires␇ \\u{202E}exe.txt\\u{2066}"), "the message as visible symbols")
        #expect(html.contains("@élève␛"))
    }

    @Test func visibleKeepsPlainTextAndLineFeeds() {
        #expect(RegisterExport.visible("Élèves « ok » 😀\nligne 2") == "Élèves « ok » 😀\nligne 2")
        #expect(RegisterExport.visible("a\tb\rc\u{7F}\u{85}\u{200F}") == "a␉b␍c␡\\u{0085}\\u{200F}")
        var out: [UInt8] = []
        RegisterExport.appendCSVCell("\tcalc", to: &out, separator: [0x2C], protectFormulas: true)
        #expect(String(decoding: out, as: UTF8.self) == "'␉calc")
        out = []
        RegisterExport.appendCSVCell("-2+3", to: &out, separator: [0x2C], protectFormulas: true)
        #expect(String(decoding: out, as: UTF8.self) == "'-2+3")
    }

    @Test func jsonLinesCarryHashesAndContent() throws {
        let f = try Fixture()
        _ = try f.store.purge(school: school, olderThan: baseDate.addingTimeInterval(30))  // the 3 server events and seq 1 of each seat
        let (n, text, _) = try exported { try RegisterExport.jsonl(store: f.store, filter: RegisterFilter(school: school, includePurged: true), to: $0) }
        #expect(n == 43)
        let lines = text.split(separator: "\n")
        #expect(lines.count == 43)
        var purged = 0
        for line in lines {
            let object = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
            let seq = try #require(object["seq"] as? Int)
            let stored = try #require(try f.store.event(school: school, seat: object["seat"] as! String, seq: Int64(seq)))
            #expect(object["hash"] as? String == stored.hash && object["contentHash"] as? String == stored.contentHash)
            if object["purged"] as? Bool == true {
                purged += 1
                continue
            }
            // Dropping the chain fields leaves the canonical content: its hash is the contentHash.
            let prefix = "{\"seq\":\(seq),\"prevHash\":\"\(stored.prevHash)\",\"contentHash\":\"\(stored.contentHash)\",\"hash\":\"\(stored.hash)\","
            #expect(line.hasPrefix(prefix))
            #expect(ChainHash.content(Array(("{" + line.dropFirst(prefix.count)).utf8)) == stored.contentHash)
        }
        #expect(purged == 5)
    }

    @Test func htmlHasRecordSummaryVerificationAndEvents() throws {
        let f = try Fixture()
        let server = try f.school.server()
        let checkpoint = try Checkpoint.make(store: f.store, school: school, privateKeyPEM: server.keyPEM, certificatePEM: server.certificatePEM)
        let report = RegisterVerifier.verify(store: f.store, against: checkpoint)
        let (n, html, _) = try exported {
            try RegisterExport.html(
                store: f.store, filter: RegisterFilter(school: school), record: record, schoolName: "Lycée Exemple",
                verification: report, checkpoint: checkpoint, language: .fr, timeZone: paris, to: $0)
        }
        #expect(n == 43)
        for needle in [
            "Fiche de registre (RGPD, art. 30)", "Lycée Exemple, représenté par sa proviseure", "dpd@ac-exemple.fr",
            "Mission d’intérêt public", "365 jours", "Synthèse", "2026-11", "register.export", "refusé",
            "registre intègre", "Point de contrôle signé", checkpoint.seats[1].hash, "&quot;vite&quot;",
        ] {
            #expect(html.contains(needle), "missing \(needle)")
        }
        #expect(!html.contains("http://") && !html.contains("https://") && !html.contains("<script"))
        // Summary counts: 40 seat events in room B204, 3 server events without a room.
        #expect(html.contains("<tr><td>B204</td><td class=\"n\">40</td></tr>"))
        #expect(html.contains("<tr><td>—</td><td class=\"n\">3</td></tr>"))
        let (_, english, _) = try exported {
            try RegisterExport.html(store: f.store, filter: RegisterFilter(school: school), record: record, verification: nil, checkpoint: nil, language: .en, to: $0)
        }
        #expect(english.contains("Record of processing (GDPR art. 30)") && english.contains("not verified"))
    }

    @Test func processingRecordDefaultsRetention() throws {
        let r = try JSONDecoder().decode(ProcessingRecord.self, from: Data(#"{"controller":"C","dpoContact":"D"}"#.utf8))
        #expect(r.retentionDays == 365)
    }
}
