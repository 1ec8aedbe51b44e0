import ArgumentParser
import Foundation
import VigieCLI
import VigieConfig
import VigieModel
import VigiePKI
import VigieRegister
import VigieStore
import VigieServer

/// `vigie-server enroll-token --seat S` (or `vigie pki enroll-token`): on the school server, a one-time token a
/// seat uses to enrol (`vigie-agent enroll`). Valid 24 hours, once.
struct PKIEnrollToken: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "enroll-token",
        abstract: "Print a one-time enrolment token for a seat (valid 24 h, once). Run it on the school server.")

    @Option(help: ArgumentHelp("The seat (must be in the configuration).", valueName: "id"))
    var seat: String
    @Option(help: ArgumentHelp("School configuration file (default: $VIGIE_CONFIG); its [server] store is used.", valueName: "file"))
    var config: String?
    @Option(help: ArgumentHelp("Hours the token stays valid.", valueName: "hours"))
    var hours = 24.0

    func validate() throws {
        guard hours > 0 && hours <= 24 * 7 else { throw ValidationError("--hours must be between 0 and 168") }
    }

    func run() throws {
        guard let path = config ?? ProcessInfo.processInfo.environment["VIGIE_CONFIG"] else {
            FileHandle.standardError.write(Data("vigie: no configuration: pass --config FILE or set VIGIE_CONFIG\n".utf8))
            throw ExitCode(Exit.configuration)
        }
        let school: SchoolConfig
        do { school = try ConfigLoader.load(path: path) } catch {
            FileHandle.standardError.write(Data("\(error.description)\n".utf8))
            throw ExitCode(Exit.configuration)
        }
        guard let server = school.server else {
            FileHandle.standardError.write(Data("vigie: \(path): no [server] section: tokens live next to the server's store\n".utf8))
            throw ExitCode(Exit.configuration)
        }
        guard school.seat(seat) != nil else {
            FileHandle.standardError.write(Data("vigie: unknown seat “\(seat)” in \(path)\n".utf8))
            throw ExitCode(Exit.usage)
        }
        let token = Enrolment.newToken()
        let now = Date()
        do {
            let tokens = try EnrolmentStore(path: EnrolmentStore.path(forStore: server.storePath))
            try tokens.addToken(hash: Enrolment.tokenHash(token), school: school.school.id, seat: seat,
                                createdUTC: RegisterTime.utc(now), lifetime: hours * 3600)
            // Who made a token for which seat is in the server's chain (the token itself is not).
            let who = ProcessInfo.processInfo.environment["SUDO_USER"] ?? ProcessInfo.processInfo.environment["USER"] ?? "root"
            let store = try SQLiteRegisterStore(path: server.storePath)
            let zone = TimeZone(identifier: school.rooms.first?.timeZone ?? "Europe/Paris") ?? .current
            _ = try store.appendServer(RegisterEvent(
                school: school.school.id, seat: RegisterEvent.serverSeat, date: now, timeZone: zone, actor: "local:\(who)",
                actorName: who, feature: "pki.enroll-token", args: ["seat": seat, "hours": String(hours)], outcome: .done,
                code: "done"), school: school.school.id)
        } catch {
            FileHandle.standardError.write(Data("vigie: cannot keep the token next to \(server.storePath): \(error)\n".utf8))
            throw ExitCode(Exit.configuration)
        }
        print(token)
        FileHandle.standardError.write(Data("On \(seat): vigie-agent enroll --server \(server.address) --seat \(seat) --token \(token)\n".utf8))
    }
}
