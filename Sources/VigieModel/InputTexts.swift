import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A mistake in what a person typed (an option's value, a file, a target): a
/// stable code with its parameters, worded in French or English by ``Catalog``.
public struct InputError: Error, Sendable, CustomStringConvertible {
    /// Stable code, e.g. `input.duration.too-long`.
    public let code: String
    /// The values the words name (option, value, limit…).
    public let params: [String: String]
    /// The language of ``description``.
    public var language: Language

    /// An error with `code` and `params`, worded in `language`.
    public init(_ code: String, _ params: [String: String] = [:], language: Language) {
        self.code = code
        self.params = params
        self.language = language
    }

    /// The code and parameters as a reason (for JSON output).
    public var reason: Reason { Reason(code, params) }

    /// One line a person can act on.
    public var description: String { Catalog.text(reason, language) }

    /// The language for input errors shown before any configuration is read:
    /// `explicit` (`--lang`), then `$VIGIE_LANG`, `$LC_ALL`, `$LANG`, then French.
    public static func language(_ explicit: Language? = nil, environment: [String: String] = ProcessInfo.processInfo.environment) -> Language {
        explicit ?? Language.fromLocale(environment["VIGIE_LANG"]) ?? Language.fromLocale(environment["LC_ALL"])
            ?? Language.fromLocale(environment["LANG"]) ?? .fr
    }

    /// Nil when `path` is a regular file this process can read; else the error naming
    /// the file and `option` (e.g. `--ca`) in one line.
    public static func unreadableFile(_ path: String, option: String, language: Language) -> InputError? {
        var info = stat()
        guard stat(path, &info) == 0 else {
            let e = errno
            let code = e == ENOENT || e == ENOTDIR ? "input.file.missing" : "input.file.unreadable"
            return InputError(code, ["option": option, "file": path, "detail": String(cString: strerror(e))], language: language)
        }
        if (info.st_mode & S_IFMT) == S_IFDIR {
            return InputError("input.file.is-folder", ["option": option, "file": path], language: language)
        }
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else {
            return InputError("input.file.unreadable", ["option": option, "file": path, "detail": String(cString: strerror(errno))], language: language)
        }
        close(fd)
        return nil
    }
}

/// What a teacher may send as a message, shared by the console (checked before
/// sending) and the agent (the enforcement point).
public enum MessageLimits {
    /// The most UTF-8 bytes a message text may have: bytes, not characters, so that
    /// one character with thousands of combining marks cannot pass as « one ».
    public static let maxBytes = 2000

    /// Nil when `text` may be sent; else the reason it may not.
    public static func problem(_ text: String) -> Reason? {
        if text.unicodeScalars.allSatisfy({ $0.properties.isWhitespace || $0.value < 0x20 }) {
            return Reason("input.message.empty")
        }
        let bytes = text.utf8.count
        if bytes > maxBytes { return Reason("input.message.too-long", ["bytes": String(bytes), "max": String(maxBytes)]) }
        return nil
    }
}

/// Lock durations typed by a teacher: `90s`, `20m`, `1h30m`, `2d`, or plain seconds.
public enum DurationText {
    /// The longest lock a seat accepts: 7 days.
    public static let maxSeconds = 7 * 24 * 3600

    /// The outcome of reading a duration.
    public enum Parsed: Equatable, Sendable {
        case seconds(Int)
        /// Not a duration at all (`abc`, `5x`, `m`).
        case malformed
        /// Zero or below (`0m`, `-5m`).
        case notPositive
        /// Above ``maxSeconds`` (`169h`), including numbers too large for any integer.
        case tooLong
    }

    /// Reads `text` without ever overflowing: every step is checked against ``maxSeconds``.
    public static func parse(_ text: String) -> Parsed {
        var body = Substring(text.trimmingCharacters(in: .whitespaces))
        var negative = false
        if body.first == "-" || body.first == "+" {
            negative = body.first == "-"
            body = body.dropFirst()
        }
        guard !body.isEmpty else { return .malformed }
        var total = 0
        var number = ""
        var sawUnit = false
        func add(_ digits: String, _ unit: Int) -> Bool {
            // Digits that no integer holds are far above 7 days anyway.
            guard let n = Int(digits) else { return false }
            let (product, o1) = n.multipliedReportingOverflow(by: unit)
            let (sum, o2) = total.addingReportingOverflow(product)
            guard !o1, !o2, sum <= maxSeconds else { return false }
            total = sum
            return true
        }
        var tooLong = false
        for c in body {
            if c.isASCII && c.isNumber { number.append(c); continue }
            guard !number.isEmpty else { return .malformed }
            let unit: Int
            switch c {
            case "s": unit = 1
            case "m": unit = 60
            case "h": unit = 3600
            case "d", "j": unit = 86_400
            default: return .malformed
            }
            if !tooLong && !add(number, unit) { tooLong = true }
            sawUnit = true
            number = ""
        }
        if !number.isEmpty {
            // Plain seconds only: « 1h30 » (1 h 30 min in French usage) must say its unit.
            guard !sawUnit else { return .malformed }
            if !add(number, 1) { tooLong = true }
        }
        if negative { return .notPositive }
        if tooLong { return .tooLong }
        return total > 0 ? .seconds(total) : .notPositive
    }

    /// Nil for a good duration; else the error naming `option` and what is accepted.
    public static func problem(_ text: String, option: String, language: Language) -> InputError? {
        let params = ["option": option, "value": text]
        switch parse(text) {
        case .seconds: return nil
        case .malformed: return InputError("input.duration.malformed", params, language: language)
        case .notPositive: return InputError("input.duration.not-positive", params, language: language)
        case .tooLong: return InputError("input.duration.too-long", params, language: language)
        }
    }
}

/// Words for input errors (French first), kept apart from the main catalog.
extension Catalog {
    static let inputTemplates: [String: (fr: String, en: String)] = [
        "input.duration.malformed": (
            "{option} : « {value} » n’est pas une durée (par ex. 90s, 20m, 1h30m ; au plus 7 jours)",
            "{option}: “{value}” is not a duration (e.g. 90s, 20m, 1h30m; at most 7 days)"),
        "input.duration.not-positive": (
            "{option} : « {value} » n’est pas une durée positive (au moins 1s, au plus 7 jours ; par ex. 20m)",
            "{option}: “{value}” is not a positive duration (at least 1s, at most 7 days; e.g. 20m)"),
        "input.duration.too-long": (
            "{option} : « {value} » est trop long : au plus 7 jours (168h)",
            "{option}: “{value}” is too long: at most 7 days (168h)"),
        "input.timeout.range": (
            "--timeout : « {value} » n’est pas accepté : de 0,1 à 600 secondes (par ex. 5)",
            "--timeout: “{value}” is not accepted: from 0.1 to 600 seconds (e.g. 5)"),
        "input.option.needs-value": (
            "{option} : il manque la valeur (pour une valeur qui commence par -, écrivez {option}={example})",
            "{option}: the value is missing (for a value starting with -, write {option}={example})"),
        "input.message.empty": ("le message est vide", "the message is empty"),
        "input.message.too-long": (
            "le message fait {bytes} octets : au plus {max} octets en UTF-8 (les accents et symboles comptent pour plusieurs octets)",
            "the message is {bytes} bytes long: at most {max} bytes of UTF-8 (accented letters and symbols take several bytes)"),
        "message.too-long": (
            "message refusé : {bytes} octets, au plus {max}",
            "message refused: {bytes} bytes, at most {max}"),
        "input.folder.not-writable": (
            "--out : impossible d’écrire dans le dossier {folder} ({detail}) ; rien n’a été demandé aux postes",
            "--out: cannot write to the folder {folder} ({detail}); nothing was asked of the seats"),
        "input.file.missing": ("{option} : le fichier {file} n’existe pas", "{option}: the file {file} does not exist"),
        "input.file.unreadable": ("{option} : le fichier {file} ne peut pas être lu ({detail})", "{option}: the file {file} cannot be read ({detail})"),
        "input.file.is-folder": ("{option} : {file} est un dossier, pas un fichier", "{option}: {file} is a folder, not a file"),
        "input.target.none": (
            "dites quels postes : --room SALLE, --seat POSTE,… ou --all",
            "say which seats: --room R, --seat S,… or --all"),
        "input.target.none-reachable": (
            "--all : votre rôle n’a accès à aucun poste (voyez les droits [[grants]] de la configuration)",
            "--all: your role may reach no seat (see the [[grants]] of the configuration)"),
        "input.target.all-alone": (
            "--all désigne déjà tous vos postes : ne le combinez pas avec --room ou --seat",
            "--all already means every seat you may reach: do not combine it with --room or --seat"),
        "input.target.unknown-room": ("salle inconnue « {room} » (salles : {rooms})", "unknown room “{room}” (rooms: {rooms})"),
        "input.target.unknown-seat": ("poste inconnu « {seat} »", "unknown seat “{seat}”"),
        "input.target.seat-outside-room": (
            "le poste {seat} n’est pas dans la salle {rooms} (avec --room, --seat choisit des postes de cette salle ; il est dans {room})",
            "seat {seat} is not in room {rooms} (with --room, --seat picks seats of that room; it is in {room})"),
    ]
}
