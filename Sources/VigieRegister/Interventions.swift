import Foundation
import VigieModel

/// One assistance as the register keeps it (the support charter's intervention
/// sheet): what Vigie knows — when, how long, who helped whom, the consent given
/// and who ended it — from the seat's `assist` events, and what the helper wrote
/// afterwards — problem, diagnosis and actions, state before and after, advice —
/// from the server's `assist.note` events. Nothing of the screen.
public struct Intervention: Sendable, Equatable {
    /// The helper's note (`vigie assist note`): the latest one counts, earlier ones stay in the chain.
    public struct Note: Sendable, Equatable {
        public var problem: String
        public var diagnosis: String
        public var before: String
        public var after: String
        public var advice: String
        /// Who wrote it (display name) and when (local time).
        public var by: String
        public var at: String
    }

    /// `SEAT-SEQ`: the seat and the sequence number of the event that opened it.
    public var id: String
    public var seat: String
    public var seq: Int64
    public var room: String
    /// Local time the person accepted (the assistance opened).
    public var startedLocal: String
    public var startedUTC: String
    /// Local time it ended; empty when no end is recorded (the seat stopped in between).
    public var endedLocal: String
    public var seconds: Int?
    public var helperName: String
    public var helperRole: String
    public var helperURI: String
    /// The login of the person at the seat.
    public var person: String
    /// Why the helper asked (what the person read).
    public var reason: String
    /// `view` or `control`: what the person gave.
    public var mode: String
    /// The helper asked control and the person refused it.
    public var controlRefused: Bool
    /// Local time the person gave control inside a running view (`vigie assist control`);
    /// empty when control came with the consent, or never.
    public var controlGivenLocal: String = ""
    /// A code the person gave opened it (`vigie assist --code`).
    public var byCode: Bool
    /// Why it ended (a catalog code: `assist.ended-by-person`, `assist.time-limit`, …).
    public var endedWhy: String
    public var endedParams: [String: String]
    public var note: Note?

    /// A record the helper never completed is exported as « incomplet ».
    public var complete: Bool { note != nil }

    /// Splits `SEAT-SEQ` (a seat id may hold dashes: the last one separates).
    public static func parse(id: String) -> (seat: String, seq: Int64)? {
        guard let dash = id.lastIndex(of: "-"), let seq = Int64(id[id.index(after: dash)...]), seq > 0 else { return nil }
        let seat = String(id[..<dash])
        return Identity.isValidToken(seat) ? (seat, seq) : nil
    }

    /// The fields of a note, in the sheet's order.
    public static let noteFields = ["problem", "diagnosis", "before", "after", "advice"]
}

/// Reads interventions from the register, and writes them out: CSV, JSON Lines,
/// a printable HTML sheet, a plain-text report for the person assisted.
public enum Interventions {
    /// The features an intervention is made of (kept for `[register] interventions_retention_days`).
    public static let features = ["assist", "assist.note"]

    /// The interventions that opened within `filter` (its dates, room, seat, actor,
    /// user), with their end and their latest note, oldest first.
    public static func collect(store: any RegisterStore, filter: RegisterFilter, only id: (seat: String, seq: Int64)? = nil) throws -> [Intervention] {
        var starts: [Intervention] = []
        var ends: [String: RegisterEvent] = [:]
        var notes: [String: RegisterEvent] = [:]
        var laterControl: [String: RegisterEvent] = [:]
        // Ends and notes come after their start: read from the filter's start on, to now.
        var wide = RegisterFilter(school: filter.school, from: filter.from, features: features)
        if let id { wide.from = nil; wide.features = ["assist"]; wide.seat = id.seat }
        try store.placedEvents(wide) { school, seat, chained, event in
            guard let event, event.feature == "assist" else { return }
            if event.outcome == .started, event.code == "assist.started" {
                if let id, chained.seq != id.seq { return }
                // The caller's filter decides which starts belong (dates, room, seat, actor, user).
                if id == nil, !filter.matches(school: school, seat: seat, chained, event) { return }
                starts.append(start(seat: seat, seq: chained.seq, event))
            } else if event.code == "assist.stopped", let started = event.params["started"] {
                ends["\(seat)-\(started)"] = event
            } else if event.code == "assist.control-given" || event.code == "assist.control-refused", let of = event.params["id"] {
                // Control asked later, inside the assistance: the person's answer.
                laterControl[of] = event
            }
        }
        var notesFilter = RegisterFilter(school: filter.school, from: filter.from, seat: RegisterEvent.serverSeat, features: ["assist.note"])
        if id != nil { notesFilter.from = nil }
        try store.placedEvents(notesFilter) { _, _, _, event in
            guard let event, event.outcome == .done, let of = event.args["intervention"] else { return }
            notes[of] = event
        }
        return starts.map { record in
            var record = record
            if let end = ends[record.id] {
                record.endedLocal = end.timeLocal
                record.seconds = end.params["seconds"].flatMap(Int.init)
                record.endedWhy = end.params["why"] ?? ""
                record.endedParams = end.params.filter { !["why", "seconds", "bytes", "started"].contains($0.key) }
            }
            if let later = laterControl[record.id] {
                if later.code == "assist.control-given" {
                    record.mode = "control"
                    record.controlRefused = false
                    record.controlGivenLocal = later.timeLocal
                } else if record.mode != "control" {
                    record.controlRefused = true
                }
            }
            if let note = notes[record.id] {
                let a = note.args
                record.note = Intervention.Note(
                    problem: a["problem"] ?? "", diagnosis: a["diagnosis"] ?? "", before: a["before"] ?? "", after: a["after"] ?? "",
                    advice: a["advice"] ?? "", by: note.actorName ?? note.actor ?? "", at: note.timeLocal)
            }
            return record
        }
    }

    static func start(seat: String, seq: Int64, _ e: RegisterEvent) -> Intervention {
        Intervention(
            id: "\(seat)-\(seq)", seat: seat, seq: seq, room: e.room ?? "", startedLocal: e.timeLocal, startedUTC: e.timeUTC,
            endedLocal: "", seconds: nil, helperName: e.actorName ?? "", helperRole: e.actorRole ?? "", helperURI: e.actor ?? "",
            person: e.params["user"] ?? e.sessionUser ?? "", reason: e.args["reason"] ?? "", mode: e.params["mode"] ?? "view",
            controlRefused: e.params["control"] == "refused", byCode: e.params["code"] == "true", endedWhy: "", endedParams: [:], note: nil)
    }

    // MARK: Words

    /// Who ended it, in words.
    public static func endedText(_ r: Intervention, _ language: Language) -> String {
        guard !r.endedWhy.isEmpty else {
            return language == .fr ? "fin non enregistrée (le poste s’est arrêté pendant l’assistance)"
                                   : "no end recorded (the seat stopped during the assistance)"
        }
        return Catalog.text(Reason(r.endedWhy, r.endedParams), language)
    }

    public static func consentText(_ r: Intervention, _ language: Language) -> String {
        let fr = language == .fr
        let what: String
        switch (r.mode, r.controlRefused) {
        case ("control", _) where !r.controlGivenLocal.isEmpty:
            what = fr ? "voir l’écran, puis prendre la main (accordée le \(localTime(r.controlGivenLocal)))"
                      : "see the screen, then take control (given on \(localTime(r.controlGivenLocal)))"
        case ("control", _): what = fr ? "voir l’écran et prendre la main (deux accords)" : "see the screen and take control (two consents)"
        case (_, true): what = fr ? "voir l’écran ; prise en main refusée" : "see the screen; control refused"
        default: what = fr ? "voir l’écran" : "see the screen"
        }
        return fr ? "donné le \(localTime(r.startedLocal)) par \(r.person) pour : \(what)"
                  : "given on \(localTime(r.startedLocal)) by \(r.person) to: \(what)"
    }

    public static func durationText(_ r: Intervention, _ language: Language) -> String {
        guard let s = r.seconds else { return language == .fr ? "inconnue" : "unknown" }
        let m = s / 60, rest = s % 60
        return m > 0 ? "\(m) min \(rest) s" : "\(rest) s"
    }

    /// `2026-11-23T10:02:00.123+01:00` → `2026-11-23 10:02:00`.
    static func localTime(_ t: String) -> String {
        guard t.count >= 19 else { return t }
        return String(t.prefix(10)) + " " + String(t.dropFirst(11).prefix(8))
    }

    /// The sheet's rows: (label, value), in the charter's order.
    public static func rows(_ r: Intervention, _ language: Language) -> [(String, String)] {
        let fr = language == .fr
        let missing = fr ? "incomplet" : "incomplete"
        var rows: [(String, String)] = [
            (fr ? "Intervention" : "Intervention", r.id),
            (fr ? "Date" : "Date", localTime(r.startedLocal)),
            (fr ? "Durée" : "Duration", durationText(r, language)),
            (fr ? "Poste" : "Seat", r.room.isEmpty ? r.seat : "\(r.seat) (\(r.room))"),
            (fr ? "Personne assistée" : "Person assisted", r.person),
            (fr ? "Intervenant" : "Helper", "\(r.helperName) (\(r.helperRole))"),
            (fr ? "Motif annoncé" : "Reason given", r.reason + (r.byCode ? (fr ? " — sur demande d’aide (code)" : " — on a help request (code)") : "")),
            (fr ? "Accord" : "Consent", consentText(r, language)),
            (fr ? "Fin" : "End", r.endedLocal.isEmpty ? endedText(r, language) : "\(localTime(r.endedLocal)) — \(endedText(r, language))"),
        ]
        let labels = fr
            ? ["Problème signalé", "Diagnostic et actions", "État avant", "État après", "Conseils donnés"]
            : ["Problem reported", "Diagnosis and actions", "State before", "State after", "Advice given"]
        if let n = r.note {
            for (label, value) in zip(labels, [n.problem, n.diagnosis, n.before, n.after, n.advice]) {
                rows.append((label, value.isEmpty ? "—" : value))
            }
            rows.append((fr ? "Fiche complétée" : "Sheet completed", "\(localTime(n.at)), \(n.by)"))
        } else {
            for label in labels { rows.append((label, missing)) }
            rows.append((fr ? "Fiche complétée" : "Sheet completed", fr ? "non : incomplet" : "no: incomplete"))
        }
        return rows
    }

    // MARK: Formats

    public static let csvColumns = [
        "id", "seat", "room", "started_local", "ended_local", "seconds", "helper", "helper_role", "person", "reason", "mode",
        "control_refused", "by_code", "ended_why", "ended", "status", "problem", "diagnosis", "before", "after", "advice",
        "noted_by", "noted_at", "control_given_local",
    ]

    static func cells(_ r: Intervention, _ language: Language) -> [String] {
        let n = r.note
        return [
            r.id, r.seat, r.room, r.startedLocal, r.endedLocal, r.seconds.map(String.init) ?? "", r.helperName, r.helperRole, r.person,
            r.reason, r.mode, r.controlRefused ? "true" : "false", r.byCode ? "true" : "false", r.endedWhy, endedText(r, language),
            r.complete ? (language == .fr ? "complet" : "complete") : (language == .fr ? "incomplet" : "incomplete"),
            n?.problem ?? "", n?.diagnosis ?? "", n?.before ?? "", n?.after ?? "", n?.advice ?? "", n?.by ?? "", n?.at ?? "",
            r.controlGivenLocal,
        ]
    }

    /// CSV (UTF-8 with BOM, CRLF, formulas neutralised), one row per intervention.
    public static func csv(_ records: [Intervention], language: Language, to handle: FileHandle) throws -> Int {
        let out = ByteWriter(handle)
        try out.write([0xEF, 0xBB, 0xBF])
        var line: [UInt8] = []
        for row in [csvColumns] + records.map({ cells($0, language) }) {
            line.removeAll(keepingCapacity: true)
            for (i, cell) in row.enumerated() {
                if i > 0 { line.append(UInt8(ascii: ",")) }
                RegisterExport.appendCSVCell(cell, to: &line, separator: [UInt8(ascii: ",")], protectFormulas: true)
            }
            line.append(contentsOf: [0x0D, 0x0A])
            try out.write(line)
        }
        try out.flush()
        return records.count
    }

    /// JSON Lines, one object per intervention (keys of ``csvColumns``).
    public static func jsonl(_ records: [Intervention], language: Language, to handle: FileHandle) throws -> Int {
        let out = ByteWriter(handle)
        for r in records {
            var object = Dictionary(uniqueKeysWithValues: zip(csvColumns, cells(r, language)))
            if r.note == nil { for key in Intervention.noteFields + ["noted_by", "noted_at"] { object.removeValue(forKey: key) } }
            var line = CanonicalJSON.encode(object)
            line.append(0x0A)
            try out.write(line)
        }
        try out.flush()
        return records.count
    }

    /// A printable HTML page: one sheet per intervention.
    public static func html(_ records: [Intervention], schoolName: String?, language: Language, to handle: FileHandle) throws -> Int {
        let out = ByteWriter(handle)
        try out.write(Array(htmlPage(records, schoolName: schoolName, language: language).utf8))
        try out.flush()
        return records.count
    }

    public static func htmlPage(_ records: [Intervention], schoolName: String?, language: Language) -> String {
        let fr = language == .fr
        let h = RegisterExport.h
        let title = fr ? "Fiches d’intervention — assistance à distance" : "Intervention sheets — remote assistance"
        var page = """
            <!DOCTYPE html>
            <html lang="\(language.rawValue)"><head><meta charset="utf-8">
            <title>\(h(title))</title>
            <style>
            @page { size: A4; margin: 15mm 12mm; }
            body { font-family: "DejaVu Sans", Arial, sans-serif; font-size: 10pt; color: #111; }
            section { page-break-inside: avoid; margin-bottom: 8mm; }
            table { border-collapse: collapse; width: 100%; }
            th { text-align: left; width: 28%; vertical-align: top; background: #f0f0f0; }
            th, td { border: 1px solid #999; padding: 2pt 4pt; }
            .incomplete { color: #b00; font-weight: bold; }
            </style></head><body>
            <h1>\(h(title))</h1>

            """
        if let schoolName { page += "<p>\(h(schoolName))</p>\n" }
        page += fr
            ? "<p>Aucune image de l’écran n’est conservée. Chaque assistance a eu lieu avec l’accord de la personne au poste.</p>\n"
            : "<p>No picture of the screen is kept. Every assistance took place with the consent of the person at the seat.</p>\n"
        if records.isEmpty { page += fr ? "<p>Aucune intervention.</p>\n" : "<p>No intervention.</p>\n" }
        for r in records {
            page += "<section><h2>\(h(fr ? "Intervention" : "Intervention")) \(h(r.id))\(r.complete ? "" : " <span class=\"incomplete\">(\(fr ? "incomplet" : "incomplete"))</span>")</h2>\n<table>\n"
            for (label, value) in rows(r, language) {
                let cls = value == "incomplet" || value == "incomplete" ? " class=\"incomplete\"" : ""
                page += "<tr><th>\(h(label))</th><td\(cls)>\(h(value))</td></tr>\n"
            }
            page += "</table></section>\n"
        }
        page += "</body></html>\n"
        return page
    }

    /// The report a person assisted may ask for, in plain text.
    public static func text(_ r: Intervention, schoolName: String?, language: Language) -> String {
        let fr = language == .fr
        var out = fr ? "Compte rendu d’intervention — assistance à distance\n" : "Intervention report — remote assistance\n"
        if let schoolName { out += schoolName + "\n" }
        out += "\n"
        let rows = rows(r, language)
        let width = rows.map { $0.0.count }.max() ?? 0
        for (label, value) in rows {
            out += label + String(repeating: " ", count: width - label.count) + " : " + RegisterExport.visible(value) + "\n"
        }
        out += "\n" + (fr ? "Aucune image de l’écran n’a été conservée.\n" : "No picture of the screen was kept.\n")
        return out
    }
}
