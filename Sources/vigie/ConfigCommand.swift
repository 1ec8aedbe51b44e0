import ArgumentParser
import Foundation
import VigieCLI
import VigieConsole
import VigieConfig
import VigieModel
import VigiePKI

struct ConfigCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "config", abstract: "Check, sign and publish the school configuration.",
        subcommands: [Check.self, Sign.self, Publish.self])

    /// `vigie config sign`: the school CA signs a version of the config (on the admin's machine, where the CA key is).
    struct Sign: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "sign", abstract: "Sign a configuration with the school CA as version N, for the server to distribute to the seats.")
        @Argument(help: "The configuration file (TOML).") var file: String
        @Option(help: ArgumentHelp("The school CA folder (ca.pem, ca-key.pem).", valueName: "dir")) var ca: String
        @Option(help: ArgumentHelp("Version number; seats accept only a higher one than they enforce.", valueName: "n")) var version: Int
        @Option(help: ArgumentHelp("Output file (the signed bundle, JSON).", valueName: "file")) var out: String

        func validate() throws {
            guard version > 0 else { throw ValidationError("--version must be a positive number") }
        }

        func run() throws {
            let text: String
            do {
                text = try String(contentsOfFile: file, encoding: .utf8)
                let config = try ConfigLoader.parse(text: text, file: file)
                let authority = try SchoolCA.load(from: ca)
                guard authority.schoolID == config.school.id else {
                    throw Failure.configuration("\(file) is the config of school \(config.school.id); the CA in \(ca) is of \(authority.schoolID)")
                }
                try SignedConfig.sign(toml: text, version: version, ca: authority).jsonData().write(to: URL(fileURLWithPath: out))
            } catch let error as ConfigError {
                FileHandle.standardError.write(Data((error.description + "\n").utf8))
                throw ExitCode(Exit.configuration)
            } catch {
                FileHandle.standardError.write(Data("vigie config sign: \(error)\n".utf8))
                throw ExitCode(Exit.configuration)
            }
            print("\(file) signed as version \(version) → \(out); publish it with: vigie config publish \(out)")
        }
    }

    /// `vigie config publish`: an admin hands a signed config to the server.
    struct Publish: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "publish", abstract: "Give a signed configuration to the school server; every seat fetches it and enforces it.")
        @Argument(help: "The signed bundle made by `vigie config sign`.") var bundle: String
        @OptionGroup var access: RegisterCommand.Access

        func run() async throws {
            try await runConsole {
                guard let data = FileManager.default.contents(atPath: bundle) else { throw Failure.usage("cannot read \(bundle)") }
                let (client, school) = try access.client()
                let answer = try await client.call("config.publish", body: Array(data))
                let lang = Language.fromLocale(ProcessInfo.processInfo.environment["LANG"]) ?? school.school.language
                if answer.status == .ok {
                    print(Catalog.text(answer.reason, lang))
                    return Exit.ok
                }
                FileHandle.standardError.write(Data("vigie config publish: \(answer.status.rawValue): \(Catalog.text(answer.reason, lang))\n".utf8))
                return Exit.someSeatsDidNot
            }
        }
    }


    struct Check: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "check", abstract: "Report every error of a configuration file, with its line and field; exit 78 if there is one.")
        @Argument(help: "The configuration file (TOML).")
        var file: String

        func run() throws {
            do {
                let config = try ConfigLoader.load(path: file)
                let seats = config.seats.count
                print("\(file): ok — \(config.school.name) (\(config.school.id)), \(config.rooms.count) rooms, \(seats) seats")
                for room in config.rooms {
                    print("  \(room.id)  \(room.purpose.rawValue)  \(room.seats.count) seats  \(room.timeZone)")
                }
            } catch {
                FileHandle.standardError.write(Data((error.description + "\n").utf8))
                throw ExitCode(Exit.configuration)
            }
        }
    }
}
