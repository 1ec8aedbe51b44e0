import ArgumentParser
import Foundation
import VigieCLI
import VigieConfig
import VigieModel
import VigieSignage

extension SignageFormat: ExpressibleByArgument {}
extension SignageKind: ExpressibleByArgument {}

/// `vigie signage render` (handed over by the console to `vigie-server signage render`,
/// so that the templates' engine stays out of the console): fills the `Signage/` templates with a room's hours,
/// taken from the same policy the agents enforce.
struct SignageCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "signage", abstract: "Posters and notice texts from the Signage/ templates.",
        subcommands: [Render.self])

    struct Render: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "render", abstract: "Render a room's poster (A4 HTML ready to print, or text) or its login notice.",
            discussion: """
                The hours come from the room's policy in the configuration, so a poster never \
                disagrees with what the seats enforce. Templates are read from --templates, \
                $VIGIE_SIGNAGE, ./Signage, the Signage folder next to the configuration's folder, \
                /usr/local/share/vigie/Signage or /usr/share/vigie/Signage, in that order.
                Exit status: 0 written; 64 bad command line or unknown room; 78 bad configuration or template.
                """)

        @Option(help: ArgumentHelp("The room.", valueName: "room"))
        var room: String
        @Option(help: ArgumentHelp("Language: fr or en (default: the school's language).", valueName: "lang"))
        var lang: Language?
        @Option(help: ArgumentHelp("html (an A4 page ready to print) or txt.", valueName: "format"))
        var format: SignageFormat = .html
        @Option(help: ArgumentHelp("poster (classroom or library, by the room's purpose) or notice (the login notice).", valueName: "kind"))
        var kind: SignageKind = .poster
        @Option(help: ArgumentHelp("Where to write; - for standard output.", valueName: "file"))
        var out: String
        @Option(help: ArgumentHelp("School configuration file (default: $VIGIE_CONFIG).", valueName: "file"))
        var config: String?
        @Option(help: ArgumentHelp("The folder of the templates (default: see below).", valueName: "dir"))
        var templates: String?

        func run() throws {
            let env = ProcessInfo.processInfo.environment
            guard let path = config ?? env["VIGIE_CONFIG"] else {
                Self.complain("vigie: no configuration: pass --config FILE or set VIGIE_CONFIG")
                throw ExitCode(Exit.configuration)
            }
            let school: SchoolConfig
            do { school = try ConfigLoader.load(path: path) } catch {
                Self.complain(error.description)
                throw ExitCode(Exit.configuration)
            }
            guard let room = school.room(room) else {
                Self.complain("vigie: unknown room “\(self.room)” (rooms: \(school.rooms.map(\.id).joined(separator: ", ")))")
                throw ExitCode(Exit.usage)
            }
            let directory = templates ?? SignageTemplates.find(environment: env, configPath: path)
            let text: String
            do {
                let set = try SignageTemplates(directory: directory)
                text = try set.render(kind, room: room, config: school, language: lang ?? school.school.language, format: format)
            } catch {
                Self.complain(error.description)
                throw ExitCode(Exit.configuration)
            }
            if out == "-" {
                FileHandle.standardOutput.write(Data(text.utf8))
                return
            }
            do {
                try Data(text.utf8).write(to: URL(fileURLWithPath: out), options: .atomic)
            } catch {
                Self.complain("vigie: cannot write \(out): \(error.localizedDescription)")
                throw ExitCode(Exit.usage)
            }
        }

        static func complain(_ line: String) {
            FileHandle.standardError.write(Data((line + "\n").utf8))
        }
    }
}
