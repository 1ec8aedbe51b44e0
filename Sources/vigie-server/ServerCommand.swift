import ArgumentParser
import Foundation
import Logging
import VigieCLI
import VigieConfig
import VigieModel
import VigiePKI
import VigieServer
import VigieService
import VigieWire

/// `vigie-server run` (or `vigie server`): the school server (journals from the seats, the register).
struct ServerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Run the school server: receive the seats' journals and keep the register.")

    @Option(help: ArgumentHelp("School configuration file (its [server] section).", valueName: "file"))
    var config: String
    @Option(help: ArgumentHelp("The server's identity folder (`vigie pki issue --server NAME`).", valueName: "dir"))
    var identity: String
    @Option(help: ArgumentHelp("Listen on host:port instead of [server] address.", valueName: "host:port"))
    var listen: String?
    @Option(help: ArgumentHelp("Register store instead of [server] store.", valueName: "file"))
    var store: String?
    @Option(help: ArgumentHelp("The school CA folder (ca.pem, ca-key.pem): lets seats enrol with one-time tokens.", valueName: "dir"))
    var ca: String?

    func run() async throws {
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = .info
            return handler
        }
        let options: ServerOptions
        do {
            let school = try ConfigLoader.load(path: config)
            let bundle = try IdentityBundle.load(from: identity)
            guard let settings = school.server else {
                throw Failure.configuration("\(config): no [server] section (address and store of the school server)")
            }
            var host = settings.host
            var port = settings.port
            if let listen {
                guard let colon = listen.lastIndex(of: ":"), let p = Int(listen[listen.index(after: colon)...]) else {
                    throw Failure.usage("--listen: “\(listen)” is not host:port")
                }
                host = String(listen[..<colon]).trimmingCharacters(in: CharacterSet(charactersIn: "[]"))
                port = p
            }
            options = ServerOptions(config: school, identity: bundle, storePath: store ?? settings.storePath, listenHost: host, listenPort: port,
                                    enrolmentCA: try ca.map { try SchoolCA.load(from: $0) })
        } catch let failure as Failure {
            FileHandle.standardError.write(Data("vigie-server: \(failure.description)\n".utf8))
            throw ExitCode(failure.exitCode)
        } catch {
            FileHandle.standardError.write(Data("vigie-server: \(error)\n".utf8))
            throw ExitCode(Exit.configuration)
        }
        let server: RegisterServer
        let logger = Logger(label: "vigie-server")
        do {
            server = try RegisterServer(options: options, logger: logger)
        } catch {
            FileHandle.standardError.write(Data("vigie-server: \(error)\n".utf8))
            throw ExitCode(Exit.configuration)
        }
        // SIGTERM (systemctl stop) drains the requests in flight and exits 0.
        try await ServiceRunner.run(server.services, logger: logger)
    }
}
