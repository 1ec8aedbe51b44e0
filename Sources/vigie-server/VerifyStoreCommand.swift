import ArgumentParser
import Foundation
import VigieCLI
import VigieConfig
import VigieModel
import VigieRegister
import VigieStore

/// `vigie-server verify-store --store FILE` (or `vigie register verify --store FILE`):
/// every chain of a copy of the server's store, offline. Here rather than in the
/// console, which links no SQLite store.
struct VerifyStore: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify-store",
        abstract: "Prove offline, on a copy of the store, that nobody edited, removed or reordered an event.",
        discussion: "Exit 0 when every chain is whole; 1 otherwise, naming the seat and the first bad event.")

    @Option(help: ArgumentHelp("The store file to verify.", valueName: "file")) var store: String
    @Option(help: ArgumentHelp("School configuration file (default: $VIGIE_CONFIG): its seats are checked too.", valueName: "file"))
    var config: String?
    @Option(help: ArgumentHelp("Also prove the register only grew since this signed checkpoint.", valueName: "file"))
    var checkpoint: String?
    @Option(help: "Language of the report: fr or en.") var lang: Language?
    // What `vigie register verify` also accepts, unused offline.
    @Option(help: .hidden) var identity: String?
    @Option(help: .hidden) var timeout: Double?

    func run() async throws {
        try await runConsole {
            var point: Checkpoint?
            if let checkpoint {
                do { point = try Checkpoint.read(from: checkpoint) } catch { throw Failure.configuration("\(checkpoint): \(error)") }
            }
            guard FileManager.default.fileExists(atPath: store) else { throw Failure.usage("no store at \(store)") }
            let opened: SQLiteRegisterStore
            do { opened = try SQLiteRegisterStore(path: store) } catch { throw Failure.configuration("\(store): \(error)") }
            let language = lang ?? Language.fromLocale(ProcessInfo.processInfo.environment["LANG"]) ?? .fr
            // With a config, the seats it lists are checked too (a seat deleted from the store shows).
            var seats: [String] = []
            var school = point?.school
            if let path = config ?? ProcessInfo.processInfo.environment["VIGIE_CONFIG"] {
                let loaded: SchoolConfig
                do { loaded = try ConfigLoader.load(path: path) } catch { throw Failure.configuration("\(error)") }
                if school == nil || school == loaded.school.id {
                    seats = loaded.seats.map(\.id)
                    school = loaded.school.id
                }
            }
            let report = RegisterVerifier.verify(store: opened, school: school, seats: seats, checkpoint: point)
            print(report.text(language))
            return report.ok ? Exit.ok : Exit.someSeatsDidNot
        }
    }
}
