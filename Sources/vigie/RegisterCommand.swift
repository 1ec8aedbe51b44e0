import ArgumentParser
import Foundation
import Logging
import VigieConfig
import VigieCLI
import VigieConsole
import VigieController
import VigieModel
import VigieWire
import VigiePKI
import VigieRegister

/// `vigie register …`: the head of school's register.
struct RegisterCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "register",
        abstract: "The processing register (GDPR art. 30): export, verify, purge, access requests.",
        subcommands: [Export.self, Verify.self, Purge.self, Subject.self, CheckpointCommand.self])

    /// Config and identity, as for the console.
    struct Access: ParsableArguments {
        @Option(help: ArgumentHelp("School configuration file (default: $VIGIE_CONFIG).", valueName: "file"))
        var config: String?
        @Option(help: ArgumentHelp("Identity folder (default: $VIGIE_IDENTITY): the head's for most commands.", valueName: "dir"))
        var identity: String?
        @Option(help: ArgumentHelp("Seconds to wait for each answer of the server, 0.5 to 3600 (default: 600).", valueName: "seconds"))
        var timeout: Double = 600

        func validate() throws {
            guard timeout >= 0.5, timeout <= 3600 else { throw ValidationError("--timeout: between 0.5 and 3600 seconds") }
        }

        func client() throws -> (ServerClient, SchoolConfig) {
            let env = ProcessInfo.processInfo.environment
            guard let path = config ?? env["VIGIE_CONFIG"] else { throw Failure.configuration("no configuration: pass --config FILE or set VIGIE_CONFIG") }
            guard let dir = identity ?? env["VIGIE_IDENTITY"] else { throw Failure.configuration("no identity: pass --identity DIR or set VIGIE_IDENTITY") }
            let school: SchoolConfig
            do { school = try ConfigLoader.load(path: path) } catch { throw Failure.configuration(error.description) }
            guard let server = school.server else { throw Failure.configuration("\(path): no [server] section: where is the school server?") }
            do {
                return (try ServerClient(server: server, school: school.school.id, identity: try IdentityBundle.load(from: dir)), school)
            } catch {
                throw Failure.configuration("\(error)")
            }
        }
    }

    /// Runs a call, prints its outcome in words, and returns the exit status.
    static func call(_ access: Access, _ feature: String, args: [String: String] = [:], body: [UInt8] = [], out: String? = nil,
                     lang: Language? = nil) async throws -> (Int32, RegisterAnswer?) {
        let (client, school) = try access.client()
        let env = ProcessInfo.processInfo.environment
        let language = lang ?? Language.fromLocale(env["LC_ALL"]) ?? Language.fromLocale(env["LANG"]) ?? school.school.language
        // Exports hold personal data: readable by their owner only.
        let handle = try out.map(createPrivateFile)
        let answer: RegisterAnswer
        do {
            answer = try await client.call(feature, args: args, body: body, output: handle, timeout: .milliseconds(Int64(access.timeout * 1000)))
        } catch {
            let why = (error as? WireError).map { Catalog.text($0.reason, language) } ?? "\(error)"
            let words = Catalog.text(Reason("server.unanswered", ["address": school.server!.address, "detail": why]), language)
            FileHandle.standardError.write(Data("vigie register: \(words)\n".utf8))
            return (Exit.someSeatsDidNot, nil)
        }
        try? handle?.close()
        let words = Catalog.text(answer.reason, language)
        if answer.status == .ok {
            print(out.map { "\(words) → \($0)" } ?? words)
            return (Exit.ok, answer)
        }
        FileHandle.standardError.write(Data("vigie register: \(answer.status.rawValue): \(words)\n".utf8))
        return (Exit.someSeatsDidNot, answer)
    }

    struct Filters: ParsableArguments {
        @Option(help: ArgumentHelp("From this local date (YYYY-MM-DD).", valueName: "date")) var from: String?
        @Option(help: ArgumentHelp("To this local date, included.", valueName: "date")) var to: String?
        @Option(help: "Only this room.") var room: String?
        @Option(help: "Only this seat.") var seat: String?
        @Option(help: "Only this actor (login, name or identity URI).") var actor: String?
        @Option(help: ArgumentHelp("Only events about this user at the seat (login).", valueName: "login")) var user: String?

        var args: [String: String] {
            var a: [String: String] = [:]
            a["from"] = from
            a["to"] = to
            a["room"] = room
            a["seat"] = seat
            a["actor"] = actor
            a["user"] = user
            return a
        }
    }

    struct Export: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "export", abstract: "Export the register (the art. 30 record heads it); the export is itself journaled.")
        @OptionGroup var access: Access
        @OptionGroup var filters: Filters
        @Option(help: "csv, jsonl or html.") var format = "csv"
        @Option(help: "events (the register) or interventions (one sheet per assistance, « incomplet » when its helper wrote none).")
        var kind = "events"
        @Option(help: ArgumentHelp("Output file (created 0600).", valueName: "file")) var out: String
        @Option(help: "Language of the HTML report: fr or en.") var lang: Language?

        func validate() throws {
            guard ["csv", "jsonl", "html"].contains(format) else { throw ValidationError("--format must be csv, jsonl or html") }
            guard ["events", "interventions"].contains(kind) else { throw ValidationError("--kind must be events or interventions") }
        }

        func run() async throws {
            try await runConsole {
                var args = filters.args
                args["format"] = format
                args["kind"] = kind
                args["lang"] = lang?.rawValue
                return try await RegisterCommand.call(access, "register.export", args: args, out: out, lang: lang).0
            }
        }
    }

    struct Verify: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "verify", abstract: "Prove that nobody edited, removed or reordered an event: on the server, or offline on a copy of the store.",
            discussion: """
                Checks every chain, every seat of the config and the server's own signed checkpoints. \
                Exit 0 when every chain is whole; 1 otherwise, naming the seat and the first bad event.
                """)
        @OptionGroup var access: Access
        @Option(help: ArgumentHelp("Verify this store file offline instead of asking the server.", valueName: "file")) var store: String?
        @Option(help: ArgumentHelp(
            "Also prove the register only grew since this signed checkpoint (sent to the server, or checked offline with --store).",
            valueName: "file")) var checkpoint: String?
        @Option(help: "Language of the report: fr or en.") var lang: Language?

        func run() async throws {
            try await runConsole {
                var point: Checkpoint?
                if let checkpoint {
                    do { point = try Checkpoint.read(from: checkpoint) } catch { throw Failure.configuration("\(checkpoint): \(error)") }
                }
                // `--store` is verified by `vigie-server verify-store` (Forward.handOver):
                // the console links no SQLite store.
                guard store == nil else { throw Failure.usage("--store is verified by vigie-server verify-store") }
                // The server checks the checkpoint against its own store.
                let body = try point.map { Array(try $0.jsonString().utf8) } ?? []
                let (code, answer) = try await RegisterCommand.call(
                    access, "register.verify", args: lang.map { ["lang": $0.rawValue] } ?? [:], body: body, lang: lang)
                if let answer { print(String(decoding: answer.body, as: UTF8.self)) }
                return code
            }
        }
    }

    struct Purge: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "purge", abstract: "Remove the content of events past the retention in the config; their hashes stay, so verify still passes.")
        @OptionGroup var access: Access

        func run() async throws {
            try await runConsole {
                let (code, answer) = try await RegisterCommand.call(access, "register.purge")
                if let answer, !answer.body.isEmpty {
                    print("Screenshots past retention, to remove where the consoles saved them:")
                    print(String(decoding: answer.body, as: UTF8.self))
                }
                return code
            }
        }
    }

    struct Subject: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "subject", abstract: "Everything the register holds about one person (an access request), as JSON Lines.")
        @OptionGroup var access: Access
        @Option(help: ArgumentHelp("The person's login.", valueName: "login")) var user: String
        @Option(help: ArgumentHelp("Output file (created 0600).", valueName: "file")) var out: String

        func run() async throws {
            try await runConsole { try await RegisterCommand.call(access, "register.subject", args: ["user": user], out: out).0 }
        }
    }

    struct CheckpointCommand: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "checkpoint", abstract: "Have the server sign a checkpoint (per seat: last sequence and hash) and save it.")
        @OptionGroup var access: Access
        @Option(help: ArgumentHelp("Output file.", valueName: "file")) var out: String

        func run() async throws {
            try await runConsole { try await RegisterCommand.call(access, "register.checkpoint", out: out).0 }
        }
    }
}
