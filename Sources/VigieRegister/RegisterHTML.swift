import Foundation
import VigieModel

extension RegisterExport {
    /// Counts for the report's summary.
    public struct Summary: Sendable, Equatable {
        /// Events per local month (`2026-11`).
        public var months: [String: Int] = [:]
        /// Events per room (`—` when none).
        public var rooms: [String: Int] = [:]
        /// Events per feature.
        public var features: [String: Int] = [:]
        /// Events per outcome.
        public var outcomes: [String: Int] = [:]
        /// Events counted.
        public var total = 0
        /// Purged events among them.
        public var purged = 0

        /// Adds one event.
        public mutating func add(_ chained: ChainedEvent, _ event: RegisterEvent?) {
            total += 1
            guard let event else {
                purged += 1
                return
            }
            months[String(event.timeLocal.prefix(7)), default: 0] += 1
            rooms[event.room ?? "—", default: 0] += 1
            features[event.feature, default: 0] += 1
            outcomes[event.outcome.rawValue, default: 0] += 1
        }
    }

    /// Reads the summary of the events passing `filter` (one streaming pass).
    public static func summary(store: any RegisterStore, filter: RegisterFilter) throws -> Summary {
        var summary = Summary()
        try store.events(filter) { summary.add($0, $1) }
        return summary
    }

    /// Writes a printable HTML report (A4, no external resource): the art. 30 record,
    /// the filter, a summary (per month, room, feature, outcome), the verification
    /// result, the checkpoint, then the events. Returns the number of events.
    @discardableResult
    public static func html(
        store: any RegisterStore, filter: RegisterFilter, record: ProcessingRecord, schoolName: String? = nil,
        verification: VerifyReport?, checkpoint: Checkpoint?, language: Language = .fr, generatedAt: Date = Date(),
        timeZone: TimeZone = .current, to handle: FileHandle
    ) throws -> Int {
        let fr = language == .fr
        let summary = try summary(store: store, filter: filter)
        let out = ByteWriter(handle)
        let title = fr ? "Registre des traitements — supervision des postes" : "Processing register — seat supervision"
        try out.write("""
            <!DOCTYPE html>
            <html lang="\(language.rawValue)"><head><meta charset="utf-8">
            <title>\(h(title))</title>
            <style>
            @page { size: A4; margin: 15mm 12mm; }
            body { font-family: "DejaVu Sans", Arial, sans-serif; font-size: 10pt; color: #111; }
            h1 { font-size: 16pt; margin: 0 0 4pt 0; } h2 { font-size: 12.5pt; margin: 14pt 0 4pt 0; border-bottom: 1px solid #444; }
            table { border-collapse: collapse; width: 100%; margin: 4pt 0; }
            th, td { border: 1px solid #999; padding: 2pt 4pt; text-align: left; vertical-align: top; }
            th { background: #eee; } thead { display: table-header-group; } tr { page-break-inside: avoid; }
            table.record th { width: 30%; } table.counts { width: auto; min-width: 40%; } td.n { text-align: right; }
            .ok { color: #064; font-weight: bold; } .bad { color: #a00; font-weight: bold; }
            .events { font-size: 8.5pt; } .hash { font-family: monospace; font-size: 7.5pt; word-break: break-all; }
            .summary { display: flex; flex-wrap: wrap; gap: 12pt; } .summary > div { flex: 1 1 40%; }
            </style></head><body>
            <h1>\(h(title))</h1>
            <p>\(h(schoolName ?? filter.school ?? "")) — \(fr ? "édité le" : "generated on") \(h(RegisterTime.local(generatedAt, timeZone)))</p>

            """)

        // The art. 30 record.
        try out.write("<h2>\(fr ? "Fiche de registre (RGPD, art. 30)" : "Record of processing (GDPR art. 30)")</h2>\n<table class=\"record\">\n")
        let rows: [(String, String, String)] = [
            ("Responsable du traitement", "Controller", record.controller),
            ("Délégué à la protection des données", "Data protection officer", record.dpoContact),
            ("Finalité", "Purpose", record.purpose),
            ("Base légale", "Legal basis", record.legalBasis),
            ("Catégories de personnes", "Categories of people", record.peopleCategories.joined(separator: ", ")),
            ("Catégories de données", "Categories of data", record.dataCategories.joined(separator: ", ")),
            ("Destinataires", "Recipients", record.recipients.joined(separator: ", ")),
            ("Durée de conservation", "Retention", fr ? "\(record.retentionDays) jours" : "\(record.retentionDays) days"),
            ("Mesures de sécurité", "Security measures", record.securityMeasures.joined(separator: ", ")),
            ("Transferts hors UE", "Transfers outside the EU", record.transfers),
        ]
        for (f, e, value) in rows { try out.write("<tr><th>\(h(fr ? f : e))</th><td>\(h(value))</td></tr>\n") }
        try out.write("</table>\n")

        // The filter.
        var criteria: [String] = []
        if let from = filter.from { criteria.append("\(fr ? "du" : "from") \(RegisterTime.utc(from))") }
        if let to = filter.to { criteria.append("\(fr ? "au" : "to") \(RegisterTime.utc(to))") }
        if let v = filter.room { criteria.append("\(fr ? "salle" : "room") \(v)") }
        if let v = filter.seat { criteria.append("\(fr ? "poste" : "seat") \(v)") }
        if let v = filter.actor { criteria.append("\(fr ? "acteur" : "actor") \(v)") }
        if let v = filter.sessionUser { criteria.append("\(fr ? "utilisateur" : "user") \(v)") }
        if let v = filter.subject { criteria.append("\(fr ? "personne concernée" : "data subject") \(v)") }
        try out.write("<p>\(fr ? "Sélection" : "Selection") : \(h(criteria.isEmpty ? (fr ? "tout le registre" : "the whole register") : criteria.joined(separator: ", ")))</p>\n")

        // The summary.
        try out.write("<h2>\(fr ? "Synthèse" : "Summary")</h2>\n")
        try out.write("<p>\(summary.total) \(fr ? "événements" : "events")\(summary.purged > 0 ? (fr ? ", dont \(summary.purged) purgés" : ", \(summary.purged) purged") : "")</p>\n<div class=\"summary\">\n")
        func counts(_ heading: String, _ values: [String: Int], word: (String) -> String = { $0 }) throws {
            try out.write("<div><table class=\"counts\"><thead><tr><th>\(h(heading))</th><th>\(fr ? "nombre" : "count")</th></tr></thead><tbody>\n")
            for (key, n) in values.sorted(by: { $0.key < $1.key }) {
                try out.write("<tr><td>\(h(word(key)))</td><td class=\"n\">\(n)</td></tr>\n")
            }
            try out.write("</tbody></table></div>\n")
        }
        try counts(fr ? "mois" : "month", summary.months)
        try counts(fr ? "salle" : "room", summary.rooms)
        try counts(fr ? "fonction" : "feature", summary.features)
        try counts(fr ? "résultat" : "outcome", summary.outcomes, word: { outcomeWord($0, language) })
        try out.write("</div>\n")

        // Verification.
        try out.write("<h2>\(fr ? "Vérification de l’intégrité" : "Integrity check")</h2>\n")
        if let verification {
            let lines = verification.text(language).split(separator: "\n").map(String.init)
            try out.write("<p class=\"\(verification.ok ? "ok" : "bad")\">\(h(lines.first ?? ""))</p>\n")
            if lines.count > 1 { try out.write("<ul>\n" + lines.dropFirst().map { "<li>\(h($0.trimmingCharacters(in: .whitespaces)))</li>\n" }.joined() + "</ul>\n") }
        } else {
            try out.write("<p>\(fr ? "non vérifié" : "not verified")</p>\n")
        }

        // Checkpoint.
        try out.write("<h2>\(fr ? "Point de contrôle signé" : "Signed checkpoint")</h2>\n")
        if let checkpoint {
            let valid = checkpoint.verifySignature()
            try out.write("<p>\(fr ? "établi le" : "made on") \(h(checkpoint.createdUTC)) — \(fr ? "signature" : "signature") <span class=\"\(valid ? "ok" : "bad")\">\(valid ? (fr ? "valide" : "valid") : (fr ? "NON valide" : "NOT valid"))</span></p>\n")
            try out.write("<table class=\"counts\"><thead><tr><th>\(fr ? "poste" : "seat")</th><th>n°</th><th>\(fr ? "empreinte" : "hash")</th></tr></thead><tbody>\n")
            for link in checkpoint.seats {
                try out.write("<tr><td>\(h(link.seat))</td><td class=\"n\">\(link.seq)</td><td class=\"hash\">\(h(link.hash))</td></tr>\n")
            }
            try out.write("</tbody></table>\n<p class=\"hash\">\(fr ? "signature" : "signature") : \(h(checkpoint.signature))</p>\n")
        } else {
            try out.write("<p>\(fr ? "aucun" : "none")</p>\n")
        }

        // Events.
        try out.write("<h2>\(fr ? "Événements" : "Events")</h2>\n<table class=\"events\"><thead><tr>")
        let headers = fr
            ? ["heure locale", "poste", "n°", "salle", "acteur", "fonction", "arguments", "résultat", "détail", "utilisateur"]
            : ["local time", "seat", "seq", "room", "actor", "feature", "arguments", "outcome", "detail", "user"]
        try out.write(headers.map { "<th>\(h($0))</th>" }.joined() + "</tr></thead><tbody>\n")
        var count = 0
        try store.placedEvents(filter) { school, seat, chained, event in
            count += 1
            guard let e = event else {
                try out.write("<tr><td>\(h(chained.timeUTC))</td><td>\(h(seat))</td><td class=\"n\">\(chained.seq)</td><td colspan=\"7\">\(fr ? "contenu purgé" : "content purged")</td></tr>\n")
                return
            }
            let actor = [e.actorName, e.actorRole.map { "(\($0))" }].compactMap { $0 }.joined(separator: " ")
            let args = e.args.sorted { $0.key < $1.key }.map { "\($0.key): \($0.value)" }.joined(separator: "\n")
            try out.write(
                "<tr><td>\(h(e.timeLocal))</td><td>\(h(seat))</td><td class=\"n\">\(chained.seq)</td><td>\(h(e.room ?? ""))</td>"
                    + "<td>\(h(actor.isEmpty ? (e.actor ?? "") : actor))</td><td>\(h(e.feature))</td><td>\(h(args).replacingOccurrences(of: "\n", with: "<br>"))</td>"
                    + "<td>\(h(outcomeWord(e.outcome.rawValue, language)))</td><td>\(h(Catalog.text(Reason(e.code, e.params), language)))</td>"
                    + "<td>\(h(e.sessionUser ?? ""))</td></tr>\n")
        }
        try out.write("</tbody></table>\n</body></html>\n")
        try out.flush()
        return count
    }

    static func outcomeWord(_ outcome: String, _ language: Language) -> String {
        switch (outcome, language) {
        case ("done", .fr): return "fait"
        case ("refused", .fr): return "refusé"
        case ("failed", .fr): return "échec"
        case ("started", .fr): return "commencé"
        default: return outcome
        }
    }

    /// HTML-escapes `&`, `<`, `>`, `"` and `'`, after making control characters and
    /// bidi overrides visible (``RegisterExport/visible(_:)``): the report shows what
    /// was sent, and no text can reorder or hide its neighbours.
    static func h(_ s: String) -> String {
        var out = ""
        out.reserveCapacity(s.utf8.count)
        for c in RegisterExport.visible(s).unicodeScalars {
            switch c {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            default: out.unicodeScalars.append(c)
            }
        }
        return out
    }
}
