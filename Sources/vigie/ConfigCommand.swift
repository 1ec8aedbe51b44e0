import ArgumentParser
import Foundation
import VigieConfig
import VigieModel

struct ConfigCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "config", abstract: "Check a school configuration.", subcommands: [Check.self])

    struct Check: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Report every error of a configuration file, with its line and field; exit 78 if there is one.")
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
