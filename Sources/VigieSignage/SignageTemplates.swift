import Foundation
import Mustache
import VigieModel

/// What to render: the room's poster (classroom or library, chosen by the
/// room's purpose) or its login notice.
public enum SignageKind: String, Sendable, CaseIterable {
    case poster
    case notice
}

/// The output format: an A4 HTML page ready to print, or plain UTF-8 text.
public enum SignageFormat: String, Sendable, CaseIterable {
    case html
    case txt
}

/// A problem with a template: the file, the line when known, and what to fix.
public struct SignageError: Error, Sendable, CustomStringConvertible {
    private enum Code: Sendable { case missingDirectory, missingTemplate, syntax, unknownName, unreadable }
    private let code: Code
    /// The template file (or the templates' directory).
    public let file: String
    /// 1-based line in `file`, when known.
    public let line: Int?
    /// What is wrong, for a person to act on.
    public let message: String

    private init(_ code: Code, file: String, line: Int? = nil, _ message: String) {
        self.code = code
        self.file = file
        self.line = line
        self.message = message
    }

    static func missingDirectory(_ dir: String) -> Self {
        .init(.missingDirectory, file: dir, "no signage templates here (pass --templates DIR or set VIGIE_SIGNAGE to the Signage folder)")
    }
    static func missingTemplate(_ file: String, needed: String) -> Self {
        .init(.missingTemplate, file: file, "template missing (needed for \(needed))")
    }
    static func syntax(_ file: String, line: Int, column: Int, _ what: String) -> Self {
        .init(.syntax, file: file, line: line, "column \(column): \(what)")
    }
    static func unknownName(_ file: String, line: Int, _ what: String) -> Self {
        .init(.unknownName, file: file, line: line, what)
    }
    static func unreadable(_ file: String, _ why: String) -> Self {
        .init(.unreadable, file: file, "cannot read the template (\(why))")
    }

    /// `Signage/fr/poster-library.html.mustache:12: column 5: …`
    public var description: String {
        "\(file)\(line.map { ":\($0)" } ?? ""): \(message)"
    }
}

/// The Mustache templates of a `Signage/` folder, filled with a room's facts.
///
/// Templates are named `LANG/NAME.FORMAT.mustache` (`fr/poster-library.html.mustache`);
/// any other `*.mustache` file under the folder is a partial, by its path without
/// the extension (`{{> a4-style}}`). Every template is parsed when the folder is
/// loaded, so a syntax error is reported with its file and line before anything is
/// printed, and a name that no room could ever fill (a typo such as `{{hourz}}`) is
/// refused with its line instead of printing a poster with a hole in it.
public struct SignageTemplates: Sendable {
    /// The folder the templates were read from.
    public let directory: String
    private let library: MustacheLibrary
    private let sources: [String: String]

    /// Reads and parses every `*.mustache` file under `directory`.
    /// - Throws: ``SignageError`` naming the file and line of the first broken template.
    public init(directory: String) throws(SignageError) {
        self.directory = directory
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: directory, isDirectory: &isDir), isDir.boolValue,
              let paths = FileManager.default.enumerator(atPath: directory) else {
            throw .missingDirectory(directory)
        }
        var library = MustacheLibrary()
        var sources: [String: String] = [:]
        for case let relative as String in paths where relative.hasSuffix(".mustache") {
            let file = (directory as NSString).appendingPathComponent(relative)
            let text: String
            do { text = try String(contentsOfFile: file, encoding: .utf8) } catch {
                throw .unreadable(file, "\(error.localizedDescription)")
            }
            let name = String(relative.dropLast(".mustache".count))
            do {
                library.register(try MustacheTemplate(string: text), named: name)
            } catch let e as MustacheTemplate.ParserError {
                throw .syntax(file, line: e.context.lineNumber, column: e.context.columnNumber, Self.describe(e.error))
            } catch {
                throw .syntax(file, line: 1, column: 1, "\(error)")
            }
            sources[name] = text
        }
        if sources.isEmpty { throw .missingDirectory(directory) }
        self.library = library
        self.sources = sources
    }

    /// The name of the template for `kind` in `room`: `poster-classroom`, `poster-library` or `notice`.
    public static func templateName(_ kind: SignageKind, _ room: Room) -> String {
        switch kind {
        case .notice: return "notice"
        case .poster: return room.purpose == .surveillance ? "poster-library" : "poster-classroom"
        }
    }

    /// Fills the template for `kind`, `language` and `format` with `room`'s facts.
    /// - Throws: ``SignageError`` when the template is missing or uses a name no room provides.
    public func render(_ kind: SignageKind, room: Room, config: SchoolConfig, language: Language,
                       format: SignageFormat) throws(SignageError) -> String {
        let name = "\(language.rawValue)/\(Self.templateName(kind, room)).\(format.rawValue)"
        let file = (directory as NSString).appendingPathComponent(name + ".mustache")
        guard let template = library.getTemplate(named: name), let source = sources[name] else {
            throw .missingTemplate(file, needed: "\(kind.rawValue) of room \(room.id) in \(language.rawValue) as \(format.rawValue)")
        }
        let context = SignageContext.values(SignageFacts(room: room, config: config), config: config, language: language)
        try check(source, file: file, known: SignageContext.names(in: context), seen: [name])
        return template.render(context, library: library)
    }

    /// Where the templates are: `$VIGIE_SIGNAGE`, `./Signage`, the `Signage` folder
    /// next to the configuration's folder, then the installed copies. Returns the
    /// first that exists (the first candidate otherwise, for the error message).
    public static func find(environment env: [String: String], configPath: String) -> String {
        let configFolder = URL(fileURLWithPath: configPath).deletingLastPathComponent()
        var candidates = [String]()
        if let v = env["VIGIE_SIGNAGE"], !v.isEmpty { candidates.append(v) }
        // Next to the running program: a build tree (.build/debug/…) or an install prefix (bin/…).
        let exe = URL(fileURLWithPath: (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0])
            .deletingLastPathComponent()
        candidates += [
            "Signage",
            configFolder.deletingLastPathComponent().appendingPathComponent("Signage").path,
            exe.appendingPathComponent("../../../Signage").standardized.path,
            exe.appendingPathComponent("../share/vigie/Signage").standardized.path,
            "/usr/local/share/vigie/Signage",
            "/usr/share/vigie/Signage",
        ]
        var isDir: ObjCBool = false
        return candidates.first { FileManager.default.fileExists(atPath: $0, isDirectory: &isDir) && isDir.boolValue }
            ?? candidates[0]
    }

    /// The login notice of `room` as the seat shows it: the first line of the
    /// `notice.txt` template is the title, the rest (after a blank line) the text.
    public func loginNotice(room: Room, config: SchoolConfig, language: Language) throws(SignageError) -> (title: String, text: String) {
        let full = try render(.notice, room: room, config: config, language: language, format: .txt)
        var lines = full.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        let title = lines.isEmpty ? "" : lines.removeFirst().trimmingCharacters(in: .whitespaces)
        let text = lines.joined(separator: "\n").trimmingCharacters(in: .whitespacesAndNewlines)
        return (title, text)
    }

    /// Checks that every name `source` uses (and the partials it includes) is one the context provides.
    private func check(_ source: String, file: String, known: Set<String>, seen: Set<String>) throws(SignageError) {
        for tag in MustacheTags.scan(source) {
            switch tag.kind {
            case .partial:
                guard sources[tag.name] != nil else {
                    throw .unknownName(file, line: tag.line, "partial “\(tag.name)” not found (no \(tag.name).mustache in \(directory))")
                }
                if !seen.contains(tag.name) {
                    let partialFile = (directory as NSString).appendingPathComponent(tag.name + ".mustache")
                    try check(sources[tag.name]!, file: partialFile, known: known, seen: seen.union([tag.name]))
                }
            case .name:
                let first = String(tag.name.split(separator: ".", omittingEmptySubsequences: false).first ?? "")
                if tag.name == "." || known.contains(first) { continue }
                throw .unknownName(file, line: tag.line,
                                   "unknown name “\(tag.name)” (known: \(known.sorted().joined(separator: ", ")))")
            }
        }
    }

    static func describe(_ error: Error) -> String {
        switch error as? MustacheTemplate.Error {
        case .sectionCloseNameIncorrect: return "a section is closed with another name than it was opened ({{#x}}…{{/x}})"
        case .unfinishedName: return "a tag is not closed (missing }})"
        case .expectedSectionEnd: return "a section is never closed (missing {{/…}})"
        case .invalidSetDelimiter: return "bad set-delimiter tag"
        case .transformAppliedToInheritanceSection: return "a transform cannot apply to an inherited section"
        case .illegalTokenInsideInheritSection: return "tag not allowed inside an inherited section"
        case .textInsideInheritSection: return "text not allowed inside an inherited section"
        case .invalidConfigVariableSyntax: return "bad pragma ({{% NAME: value}})"
        case .unrecognisedConfigVariable: return "unknown pragma or content type (CONTENT_TYPE is TEXT or HTML)"
        case nil: return "\(error)"
        }
    }
}

/// A light scan of the tags of a template, for the names it uses and the line of each.
enum MustacheTags {
    struct Tag {
        enum Kind { case name, partial }
        var kind: Kind
        var name: String
        var line: Int
    }

    /// The variables, sections and partials of `source` (default delimiters; a
    /// template that changes them is not scanned past that point).
    static func scan(_ source: String) -> [Tag] {
        var tags: [Tag] = []
        var line = 1
        var rest = Substring(source)
        while let open = rest.range(of: "{{") {
            line += rest[..<open.lowerBound].filter { $0 == "\n" }.count
            let afterOpen = rest[open.upperBound...]
            guard let close = afterOpen.range(of: "}}") else { break }
            var body = afterOpen[..<close.lowerBound]
            let tagLine = line
            line += body.filter { $0 == "\n" }.count
            rest = afterOpen[close.upperBound...]
            if body.hasPrefix("{") {  // {{{name}}}
                body = body.dropFirst()
                if rest.hasPrefix("}") { rest = rest.dropFirst() }
            }
            guard let sigil = body.first else { continue }
            var kind = Tag.Kind.name
            switch sigil {
            case "!", "%", "/", "$": continue  // comments, pragmas, closings (checked when opened), blocks
            case "=": return tags
            case ">", "<": kind = .partial; body = body.dropFirst()
            case "#", "^", "&": body = body.dropFirst()
            default: break
            }
            var name = body.trimmingCharacters(in: .whitespacesAndNewlines)
            // transform(name) → name
            if kind == .name, let paren = name.firstIndex(of: "("), name.hasSuffix(")") {
                name = String(name[name.index(after: paren)..<name.index(before: name.endIndex)])
            }
            if kind == .partial, name.hasPrefix("*") { continue }  // dynamic partial name
            tags.append(Tag(kind: kind, name: name, line: tagLine))
        }
        return tags
    }
}
