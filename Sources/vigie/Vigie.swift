import ArgumentParser
import Foundation
import VigieCLI

/// The console: what a teacher, a librarian, the head and the admin run. It
/// links what a console needs (config, PKI, the wire, the register's reader) and
/// starts on every one-shot command, so the school server and the developer's
/// tools are their own executables, installed beside it; `vigie server`, `vigie
/// pki enroll-token` and `vigie demo|bench|harness` are handed to them by exec,
/// before any parsing, with the same arguments.
@main
enum VigieMain {
    static func main() async {
        Forward.handOver(CommandLine.arguments)
        // Parsed here, on the main thread, rather than in `Vigie.main()`, which
        // hops to the concurrency pool first: `--help`, a usage error or a
        // command that needs no network never starts the pool's threads.
        var command: any ParsableCommand
        do {
            command = try Vigie.parseAsRoot()
        } catch {
            Vigie.exit(withError: error)
        }
        do {
            if var asynchronous = command as? any AsyncParsableCommand {
                try await asynchronous.run()
            } else {
                try command.run()
            }
        } catch {
            Vigie.exit(withError: error)
        }
    }
}

struct Vigie: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "vigie",
        abstract: "Vigie: classroom supervision that tells people when they are watched.",
        discussion: """
            Exit status: 0 every targeted seat did it; 1 at least one did not; \
            64 bad command line; 78 bad configuration or identity.
            The configuration and identity come from --config/--identity or from \
            VIGIE_CONFIG/VIGIE_IDENTITY.
            """,
        subcommands: [
            LockCommand.self, UnlockCommand.self, MessageCommand.self, ScreenshotCommand.self, Forward.Watch.self, StatusCommand.self,
            PolicyCommand.self, RegisterCommand.self, Forward.Server.self, ConfigCommand.self, Forward.Signage.self,
            PKICommand.self, Forward.Demo.self, Forward.Bench.self, PowerCommand.self, LogoffCommand.self, RunCommand.self,
            ConsoleCommand.self, Forward.Harness.self,
        ]
    )
}

/// Commands that live in a sibling executable.
enum Forward {
    /// `vigie WORDS… [OPTION]…` → `EXECUTABLE ARGS…`: the first rule whose words
    /// start the command (and whose option, when it names one, is given).
    static let rules: [(words: [String], option: String?, executable: String, replacement: [String])] = [
        (["server"], nil, "vigie-server", ["run"]),
        (["pki", "enroll-token"], nil, "vigie-server", ["enroll-token"]),
        // Offline verification of a copy of the store: what reads SQLite stays out of the console.
        (["register", "verify"], "--store", "vigie-server", ["verify-store"]),
        // The live overview: its web server (Hummingbird) stays out of the console.
        (["watch"], nil, "vigie-watch", []),
        // The remote view: a local VNC endpoint (NIO server) stays out of the console.
        (["view"], nil, "vigie-view", ["view"]),
        (["control"], nil, "vigie-view", ["control"]),
        (["assist", "requests"], nil, "vigie-view", ["assist-requests"]),
        (["assist", "note"], nil, "vigie-view", ["assist-note"]),
        (["assist", "report"], nil, "vigie-view", ["assist-report"]),
        (["assist", "control"], nil, "vigie-view", ["assist-control"]),
        (["assist"], "--code", "vigie-view", ["assist-code"]),
        (["assist"], nil, "vigie-view", ["assist"]),
        // Posters: the templates' engine (swift-mustache) stays out of the console.
        (["signage"], nil, "vigie-server", ["signage"]),
        (["demo"], nil, "vigie-dev", ["demo"]),
        (["bench"], nil, "vigie-dev", ["bench"]),
        (["harness"], nil, "vigie-dev", ["harness"]),
    ]

    /// Replaces this process with the sibling executable when the command is one
    /// of the rules; returns when it is not. A sibling that is missing is a clear
    /// error (exit 127), never a silent fallback.
    static func handOver(_ arguments: [String]) {
        let given = Array(arguments.dropFirst())
        guard let rule = rules.first(where: { rule in
            given.starts(with: rule.words)
                && rule.option.map { option in given.contains { $0 == option || $0.hasPrefix(option + "=") } } ?? true
        }) else { return }
        let directory = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe"))
            .map { URL(fileURLWithPath: $0).deletingLastPathComponent().path } ?? "."
        let path = directory + "/" + rule.executable
        let argv = [path] + rule.replacement + given.dropFirst(rule.words.count)
        var cArguments = argv.map { strdup($0) } + [nil]
        execv(path, &cArguments)
        let why = String(cString: strerror(errno))
        let what = rule.executable == "vigie-dev"
            ? "it is a developer's tool, built from source (make demo)"
            : "it comes with the vigie-agent package"
        FileHandle.standardError.write(Data("vigie: `\(rule.words.joined(separator: " "))` runs \(path), which cannot start (\(why)); \(what)\n".utf8))
        exit(127)
    }

    /// Listed in `vigie --help`; never parsed here (``handOver(_:)`` runs first).
    struct Server: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "server", abstract: "Run the school server (vigie-server run): receive the seats' journals and keep the register.")
        @Argument(parsing: .captureForPassthrough) var arguments: [String] = []
    }

    struct Watch: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "watch", abstract: "Watch the seats live: a dashboard of thumbnails while each seat's policy allows (vigie-watch).")
        @Argument(parsing: .captureForPassthrough) var arguments: [String] = []
    }

    struct Signage: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "signage", abstract: "Posters and notice texts from the Signage/ templates (vigie-server signage render).")
        @Argument(parsing: .captureForPassthrough) var arguments: [String] = []
    }

    struct Demo: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "demo", abstract: "A demo school on this machine: Xvfb seats, real agents and server (vigie-dev demo).")
        @Argument(parsing: .captureForPassthrough) var arguments: [String] = []
    }

    struct Bench: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "bench", abstract: "Measure Vigie's figures on this machine (vigie-dev bench).")
        @Argument(parsing: .captureForPassthrough) var arguments: [String] = []
    }

    struct Harness: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "harness", abstract: "Simulate many seats in this process, for scale tests (vigie-dev harness).")
        @Argument(parsing: .captureForPassthrough) var arguments: [String] = []
    }

    struct EnrollToken: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "enroll-token",
            abstract: "Print a one-time enrolment token for a seat (vigie-server enroll-token). Run it on the school server.")
        @Argument(parsing: .captureForPassthrough) var arguments: [String] = []
    }
}
