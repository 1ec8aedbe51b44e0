import Foundation
import VigieModel

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Exports of the register: CSV for a spreadsheet, JSON Lines for programs, and
/// a printable HTML report headed by the art. 30 record. All stream: events are
/// read from the store one at a time.
public enum RegisterExport {
    /// The export formats.
    public enum Format: String, Sendable, CaseIterable {
        case csv, jsonl, html
    }

    /// CSV choices.
    public struct CSVOptions: Sendable {
        /// The field separator: `,` (RFC 4180, LibreOffice, English Excel) or `;` (French Excel).
        public var separator: Character
        /// Puts a `'` before a cell starting with `=`, `+`, `-`, `@`, tab or CR, so that a
        /// spreadsheet never runs a message text as a formula.
        public var protectFormulas: Bool

        /// Options; `,` and protected formulas by default.
        public init(separator: Character = ",", protectFormulas: Bool = true) {
            self.separator = separator
            self.protectFormulas = protectFormulas
        }
    }

    /// The CSV columns, in order (stable names for programs).
    public static let csvColumns = [
        "school", "seat", "seq", "time_utc", "time_local", "room", "actor", "actor_name", "actor_role", "feature",
        "args", "outcome", "code", "params", "detail", "session_user", "config_version", "content_hash", "hash",
    ]

    static let csvHeaderFR = [
        "établissement", "poste", "n°", "heure UTC", "heure locale", "salle", "acteur", "nom de l’acteur", "rôle",
        "fonction", "arguments", "résultat", "code", "paramètres", "détail", "utilisateur du poste",
        "version de la configuration", "empreinte du contenu", "empreinte du maillon",
    ]

    /// The cells of one event, in ``csvColumns`` order (a purged event has only its chain fields).
    public static func csvCells(school: String, seat: String, chained: ChainedEvent, event: RegisterEvent?, language: Language) -> [String] {
        guard let e = event else {
            return [school, seat, String(chained.seq), chained.timeUTC, "", "", "", "", "", "", "",
                    "", "", "", language == .fr ? "contenu purgé" : "content purged", "", "", chained.contentHash, chained.hash]
        }
        return [
            e.school, e.seat, String(chained.seq), e.timeUTC, e.timeLocal, e.room ?? "", e.actor ?? "", e.actorName ?? "",
            e.actorRole ?? "", e.feature, jsonCell(e.args), e.outcome.rawValue, e.code, jsonCell(e.params),
            Catalog.text(Reason(e.code, e.params), language), e.sessionUser ?? "", e.configVersion ?? "",
            chained.contentHash, chained.hash,
        ]
    }

    static func jsonCell(_ object: [String: String]) -> String {
        object.isEmpty ? "" : String(decoding: CanonicalJSON.encode(object), as: UTF8.self)
    }

    /// Writes a CSV (UTF-8 with BOM, CRLF, RFC 4180 quoting, one header row in `language`
    /// then the column names' order of ``csvColumns``). Returns the number of events.
    @discardableResult
    public static func csv(
        store: any RegisterStore, filter: RegisterFilter, to handle: FileHandle, language: Language = .fr,
        options: CSVOptions = CSVOptions()
    ) throws -> Int {
        let out = ByteWriter(handle)
        try out.write([0xEF, 0xBB, 0xBF])
        let header = language == .fr ? csvHeaderFR : csvColumns
        let separator = Array(String(options.separator).utf8)
        var line: [UInt8] = []
        func emit(_ cells: [String]) throws {
            line.removeAll(keepingCapacity: true)
            for (i, cell) in cells.enumerated() {
                if i > 0 { line.append(contentsOf: separator) }
                appendCSVCell(cell, to: &line, separator: separator, protectFormulas: options.protectFormulas)
            }
            line.append(0x0D)
            line.append(0x0A)
            try out.write(line)
        }
        try emit(header)
        var count = 0
        try store.placedEvents(filter) { school, seat, chained, event in
            try emit(csvCells(school: school, seat: seat, chained: chained, event: event, language: language))
            count += 1
        }
        try out.flush()
        return count
    }

    static let formulaStarts: Set<UInt8> = [UInt8(ascii: "="), UInt8(ascii: "+"), UInt8(ascii: "-"), UInt8(ascii: "@"), 0x09, 0x0D]

    static func appendCSVCell(_ cell: String, to out: inout [UInt8], separator: [UInt8], protectFormulas: Bool) {
        // Texts are stored as received; here they are neutralised: no control
        // character or bidi override reaches the spreadsheet, and no formula runs.
        var bytes = Array(visible(cell).utf8)
        if protectFormulas, let first = cell.utf8.first, formulaStarts.contains(first) {
            bytes.insert(UInt8(ascii: "'"), at: 0)
        }
        let needsQuotes = bytes.contains { $0 == UInt8(ascii: "\"") || $0 == 0x0A || $0 == 0x0D || $0 == separator.first }
            || bytes.first == 0x20 || bytes.last == 0x20
        guard needsQuotes else {
            out.append(contentsOf: bytes)
            return
        }
        out.append(UInt8(ascii: "\""))
        for b in bytes {
            if b == UInt8(ascii: "\"") { out.append(b) }
            out.append(b)
        }
        out.append(UInt8(ascii: "\""))
    }

    /// `text` with what a reader must not receive raw made visible: C0 controls
    /// (but the line feed) and DEL become their symbols of the U+2400 block (␛, ␇,
    /// ␉, ␍, ␡), and C1 controls and bidirectional marks, embeddings, overrides and
    /// isolates (U+061C, U+200E–200F, U+202A–202E, U+2066–2069) become `\u{202E}`.
    /// Register texts are stored as received; exports show them this way.
    public static func visible(_ text: String) -> String {
        guard text.unicodeScalars.contains(where: needsEscape) else { return text }
        var out = String.UnicodeScalarView()
        for scalar in text.unicodeScalars {
            let v = scalar.value
            switch v {
            case 0x0A: out.append(scalar)
            case 0x00...0x1F: out.append(Unicode.Scalar(0x2400 + v)!)
            case 0x7F: out.append(Unicode.Scalar(0x2421)!)
            case _ where needsEscape(scalar):
                out.append(contentsOf: "\\u{\(String(format: "%04X", v))}".unicodeScalars)
            default: out.append(scalar)
            }
        }
        return String(out)
    }

    static func needsEscape(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.value {
        case 0x0A: return false
        case 0x00...0x1F, 0x7F...0x9F, 0x061C, 0x200E, 0x200F, 0x202A...0x202E, 0x2066...0x2069: return true
        default: return false
        }
    }

    /// Writes JSON Lines: one object per event, the content fields of the canonical
    /// encoding plus `seq` (a number), `prevHash`, `contentHash` and `hash`; a purged
    /// event has `school`, `seat`, `timeUTC` and `"purged":true` instead of its content.
    /// The content part of a line is the canonical content itself, so a reader can
    /// recompute `contentHash`. Returns the number of events.
    @discardableResult
    public static func jsonl(store: any RegisterStore, filter: RegisterFilter, to handle: FileHandle) throws -> Int {
        let out = ByteWriter(handle)
        var count = 0
        var line: [UInt8] = []
        try store.placedEvents(filter) { school, seat, chained, event in
            line.removeAll(keepingCapacity: true)
            line.append(contentsOf: "{\"seq\":\(chained.seq),\"prevHash\":\"\(chained.prevHash)\",\"contentHash\":\"\(chained.contentHash)\",\"hash\":\"\(chained.hash)\",".utf8)
            if let content = chained.content {
                line.append(contentsOf: content.utf8.dropFirst())
            } else {
                line.append(contentsOf: "\"school\":".utf8)
                CanonicalJSON.appendString(school, to: &line)
                line.append(contentsOf: ",\"seat\":".utf8)
                CanonicalJSON.appendString(seat, to: &line)
                line.append(contentsOf: ",\"timeUTC\":".utf8)
                CanonicalJSON.appendString(chained.timeUTC, to: &line)
                line.append(contentsOf: ",\"purged\":true}".utf8)
            }
            line.append(0x0A)
            try out.write(line)
            count += 1
        }
        try out.flush()
        return count
    }

    /// Opens `path` for an export: created or truncated, mode 0600 (an export holds personal data).
    public static func createFile(_ path: String) throws -> FileHandle {
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard fd >= 0 else {
            let e = errno
            throw RegisterError(.fileAccess, "\(path): cannot create: \(String(cString: strerror(e)))")
        }
        _ = fchmod(fd, 0o600)
        return FileHandle(fileDescriptor: fd, closeOnDealloc: true)
    }
}
