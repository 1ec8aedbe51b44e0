import ArgumentParser
import Foundation
import Logging
import VigieAgent
import VigieService
import VigieWire
import VigieConfig
import VigieLogin
import VigiePKI
import VigieSignage

@main
struct VigieAgentCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "vigie-agent",
        abstract: "The Vigie seat agent: carries out what the school's policy allows on this seat's display.",
        discussion: """
            Exit status: 0 stopped; 64 bad command line; 78 bad configuration or identity; 1 other error.
            To get this seat its certificate first: vigie-agent enroll --server HOST:PORT --token T --seat ID
            """
    )

    @Option(help: ArgumentHelp("School configuration file.", valueName: "file"))
    var config: String

    @Option(help: ArgumentHelp("This seat's id in the configuration (e.g. B204-02).", valueName: "id"))
    var seat: String

    @Option(help: ArgumentHelp("The seat's identity folder (cert.pem, key.pem, ca.pem).", valueName: "dir"))
    var identity: String

    @Option(help: ArgumentHelp("X display to drive (tests and demo). Without it, the agent follows the active session of logind's seat0 (its display and user), or $DISPLAY when logind does not run.", valueName: "display"))
    var display: String?

    @Option(help: ArgumentHelp("Folder for state that must survive a restart (default /var/lib/vigie).", valueName: "dir"))
    var state: String = "/var/lib/vigie"

    @Option(help: ArgumentHelp("Listen on this host:port instead of the seat's address in the configuration.", valueName: "host:port"))
    var listen: String?

    @Option(help: ArgumentHelp("Path of the vigie-ui helper (default: next to vigie-agent).", valueName: "path"))
    var ui: String?

    @Option(help: ArgumentHelp("The Signage templates folder (default: $VIGIE_SIGNAGE, ./Signage, next to the config, /usr/share/vigie/Signage).", valueName: "dir"))
    var signage: String?
    @Option(help: ArgumentHelp("Login of the seat's session user, as whom `vigie run` starts programs (tests and demo; on real seats logind will name it).", valueName: "login"))
    var sessionUser: String?
    @Option(help: ArgumentHelp("The local socket where the session user asks for help (vigie-ui help); default /run/vigie/help.sock, or help.sock in --state with --display.", valueName: "path"))
    var helpSocket: String?
    @Option(help: ArgumentHelp("vigie-input-hold's report (real seats: /run/vigie-input-hold/state.json): a lock whose keyboard and mouse it does not hold is reported as such.", valueName: "file"))
    var inputHoldState: String?

    /// The entry point. Under an LD_PRELOAD library such as libfaketime (used to
    /// test time windows with a faked clock), Swift's `CommandLine.arguments`
    /// comes back empty on Linux; the kernel's copy in /proc/self/cmdline is intact.
    static func main() async {
        var arguments = CommandLine.arguments
        if arguments.isEmpty, let data = FileManager.default.contents(atPath: "/proc/self/cmdline") {
            arguments = data.split(separator: 0, omittingEmptySubsequences: false).map { String(decoding: $0, as: UTF8.self) }
            if arguments.last == "" { arguments.removeLast() }
        }
        if arguments.count > 1 && arguments[1] == "enroll" {
            await EnrollCommand.main(Array(arguments.dropFirst(2)))
            return
        }
        await main(Array(arguments.dropFirst()))
    }

    func run() async throws {
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = .info
            return handler
        }
        let logger = Logger(label: "vigie-agent")
        var options: AgentOptions
        do {
            let school = try ConfigLoader.load(path: config)
            let bundle = try IdentityBundle.load(from: identity)
            var host: String?
            var port: Int?
            if let listen {
                guard let colon = listen.lastIndex(of: ":"), let p = Int(listen[listen.index(after: colon)...]) else {
                    throw ValidationError("--listen: “\(listen)” is not host:port")
                }
                host = String(listen[..<colon]).trimmingCharacters(in: CharacterSet(charactersIn: "[]"))
                port = p
            }
            let uiPath = ui ?? URL(fileURLWithPath: CommandLine.executablePath).deletingLastPathComponent().appendingPathComponent("vigie-ui").path
            options = AgentOptions(
                config: school, seatID: seat, identity: bundle, display: display, stateDir: state, uiPath: uiPath,
                listenHost: host, listenPort: port,
                signageDirectory: signage ?? SignageTemplates.find(environment: ProcessInfo.processInfo.environment, configPath: config))
            options.sessionUser = sessionUser
            options.inputHoldState = inputHoldState
            options.helpSocket = helpSocket
            if display == nil { options.loginSessions = SDLoginSessions(seat: "seat0") }
        } catch let error as ValidationError {
            throw error
        } catch {
            FileHandle.standardError.write(Data("vigie-agent: \(error)\n".utf8))
            throw ExitCode(78)
        }
        let agent: SeatAgent
        do {
            agent = try SeatAgent(options: options, logger: logger)
        } catch {
            FileHandle.standardError.write(Data("vigie-agent: \(error)\n".utf8))
            throw ExitCode(78)
        }
        // The process's signal dispositions are the executable's to set: a reader
        // that leaves a pipe (a lock's notice pipe, a helper) is an error to handle,
        // not a death; SIGCHLD stays at its default so that exit statuses can be read.
        signal(SIGPIPE, SIG_IGN)
        signal(SIGCHLD, SIG_DFL)
        // SIGTERM (systemctl stop) drains and exits 0; the lock stays on screen.
        try await ServiceRunner.run(agent.services, logger: logger)
    }
}
