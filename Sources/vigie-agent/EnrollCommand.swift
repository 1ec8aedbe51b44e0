import ArgumentParser
import Foundation
import VigieAgent
import VigieModel
import VigiePKI

/// `vigie-agent enroll`: gets this seat its certificate with a one-time token.
struct EnrollCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "vigie-agent enroll",
        abstract: "Enrol this seat: make its key here, send a certificate request with a one-time token, store the certificate.",
        discussion: """
            The admin prints the token on the server with `vigie pki enroll-token --seat ID` (valid 24 h, once). \
            The seat checks the server against the school CA certificate it was installed with (--ca).
            Exit status: 0 enrolled; 1 refused or unreachable; 64 bad command line; 78 bad CA file.
            """)

    @Option(help: ArgumentHelp("The school server, host:port.", valueName: "host:port"))
    var server: String
    @Option(help: ArgumentHelp("The one-time token.", valueName: "token"))
    var token: String
    @Option(help: ArgumentHelp("This seat's id (as in the configuration).", valueName: "id"))
    var seat: String
    @Option(help: ArgumentHelp("The school CA certificate installed with the seat.", valueName: "file"))
    var ca: String = "/etc/vigie/ca.pem"
    @Option(help: ArgumentHelp("Identity folder to write (cert.pem, key.pem 0600, ca.pem).", valueName: "dir"))
    var identity: String = "/etc/vigie/identity"

    func run() async throws {
        guard let colon = server.lastIndex(of: ":"), let port = Int(server[server.index(after: colon)...]) else {
            throw ValidationError("--server: “\(server)” is not host:port")
        }
        let host = String(server[..<colon]).trimmingCharacters(in: CharacterSet(charactersIn: "[]"))
        let lang = InputError.language()
        if let problem = InputError.unreadableFile(ca, option: "--ca", language: lang) {
            FileHandle.standardError.write(Data("vigie-agent enroll: \(problem)\n".utf8))
            throw ExitCode(78)
        }
        let caPEM: String
        let school: String
        do {
            caPEM = try String(contentsOfFile: ca, encoding: .utf8)
            guard let id = try CertificateSummary.read(path: ca).schoolID else { throw ValidationError("\(ca): not a Vigie school CA") }
            school = id
        } catch {
            let words = error is CocoaError ? error.localizedDescription : "\(error)"
            FileHandle.standardError.write(Data("vigie-agent enroll: \(ca): \(words.split(separator: "\n").first ?? "")\n".utf8))
            throw ExitCode(78)
        }
        do {
            let bundle = try await EnrolmentClient.enrol(server: host, port: port, school: school, seat: seat, token: token,
                                                         caPEM: caPEM, identityDirectory: identity)
            print("Enrolled \(bundle.identity.uri) (serial \(bundle.serialHex)); identity written to \(identity).")
        } catch let failure as EnrolmentClient.Failure {
            FileHandle.standardError.write(Data("vigie-agent enroll: \(Catalog.text(failure.reason, lang))\n".utf8))
            throw ExitCode(1)
        } catch {
            FileHandle.standardError.write(Data("vigie-agent enroll: \(server): \(error)\n".utf8))
            throw ExitCode(1)
        }
    }
}
