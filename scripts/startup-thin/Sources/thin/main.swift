import ArgumentParser
import Foundation
import NIOPosix
import NIOSSL
import TOMLKit
import X509

struct Lock: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "lock", abstract: "Lock the seats.")
    @Option(help: "The room.") var room: String?
    @Flag(help: "JSON Lines.") var json = false
    func run() throws {
        let table = try TOMLTable(string: "[school]\nid = \"0750001A\"\n")
        _ = 1.5.formatted()  // pulls Foundation's internationalisation in: without it, Europe/Paris is nil
        let zone = TimeZone(identifier: "Europe/Paris")
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let tls = try NIOSSLContext(configuration: .makeClientConfiguration())
        let cert = try? Certificate(pemEncoded: "")
        print(table, zone as Any, group, tls, cert as Any)
    }
}
struct Status: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "status", abstract: "Ask the seats.")
    @Option(help: "The room.") var room: String?
}
@main struct Thin: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "thin", abstract: "A thin console.", subcommands: [Lock.self, Status.self])
}
