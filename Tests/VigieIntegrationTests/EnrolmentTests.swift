import Foundation
import NIOCore
import NIOPosix
import NIOSSL
import Testing
import VigieModel
import VigiePKI
import VigieTestSupport
import VigieWire

@Suite(.serialized) struct EnrolmentIntegration {
    func token(_ school: TestSchool, seat: String, hours: String = "24") throws -> String {
        let r = try run([product("vigie"), "pki", "enroll-token", "--seat", seat, "--config", school.configPath, "--hours", hours])
        guard r.status == 0 else { throw TestSupportError("enroll-token: \(r)") }
        return r.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    func enrol(_ school: TestSchool, seat: String, token: String, into dir: String) throws -> ProcessResult {
        var env = ProcessInfo.processInfo.environment
        env["LANG"] = "en_GB.UTF-8"
        return try run([product("vigie-agent"), "enroll", "--server", "127.0.0.1:\(school.serverPort!)", "--token", token,
                        "--seat", seat, "--ca", school.dir + "/ca/ca.pem", "--identity", dir], environment: env)
    }

    @Test func aSeatEnrolsOnceWithItsTokenAndThenServes() throws {
        let school = try TestSchool(seats: [("B204-01", "B204"), ("B204-02", "B204")], withServer: true)
        let t = try token(school, seat: "B204-02")
        #expect(t.count == 32)
        let dir = school.dir + "/enrolled"
        let first = try enrol(school, seat: "B204-02", token: t, into: dir)
        #expect(first.status == 0, "\(first)")
        let bundle = try IdentityBundle.load(from: dir)
        #expect(bundle.identity.uri == "vigie://0750001A/seat/B204-02")
        let mode = try FileManager.default.attributesOfItem(atPath: dir + "/key.pem")[.posixPermissions] as? Int
        #expect(mode == 0o600)

        // A token works once.
        let again = try enrol(school, seat: "B204-02", token: t, into: school.dir + "/again")
        #expect(again.status == 1)
        #expect(again.stderr.contains("already used"), "\(again)")
        // A token is for one seat; an unknown token is refused.
        let other = try token(school, seat: "B204-01")
        #expect(try enrol(school, seat: "B204-02", token: other, into: school.dir + "/other").stderr.contains("not the one of seat"))
        #expect(try enrol(school, seat: "B204-02", token: "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", into: school.dir + "/x").stderr.contains("unknown token"))

        // The enrolled identity is a real seat identity: the agent serves with it.
        school.killAgent("B204-02")
        let seatDir = school.seats["B204-02"]!.identityDir
        try FileManager.default.removeItem(atPath: seatDir)
        try FileManager.default.copyItem(atPath: dir, toPath: seatDir)
        try school.startAgent("B204-02")
        #expect(try school.vigie(["status", "--seat", "B204-02"]).status(of: "B204-02") == "ok")

        // The server's chain says who enrolled, and who made tokens.
        let events = try school.registerEvents().filter { $0["seat"] as? String == "@server" }
        #expect(events.filter { $0["feature"] as? String == "pki.enrol" }.map { $0["code"] as? String }
            == ["enrol.done", "enrol.token-used", "enrol.token-other-seat", "enrol.token-unknown"])
        #expect(events.filter { $0["feature"] as? String == "pki.enroll-token" }.count == 2)
    }

    @Test func anonymousEnrolmentsAreRateLimitedPerAddressAndDoNotFloodTheRegister() throws {
        let school = try TestSchool(seats: [("B204-01", "B204")], withServer: true)
        var refusedByRate = 0, unknown = 0
        for i in 0..<30 {
            let r = try enrol(school, seat: "B204-01", token: String(repeating: "b", count: 31) + String(i % 10), into: school.dir + "/x\(i)")
            #expect(r.status == 1)
            if r.stderr.contains("too many enrolment requests") { refusedByRate += 1 }
            if r.stderr.contains("unknown token") { unknown += 1 }
        }
        // A burst of 5 per address, then about 10 a minute: the rest is refused without a look at the token.
        #expect(unknown >= 5 && unknown <= 8, "\(unknown) tokens looked at")
        #expect(refusedByRate == 30 - unknown)
        // Each look at a well-formed token is its own event; the refusals by rate are not (one counted event a minute).
        let events = try school.registerEvents().filter { $0["seat"] as? String == "@server" && $0["feature"] as? String == "pki.enrol" }
        #expect(events.filter { $0["code"] as? String == "enrol.token-unknown" }.count == unknown)
        #expect(events.count <= unknown + 1, "\(events.count) register events for 30 anonymous requests")
        // A seat's certificate is still served on the same address.
        #expect(try school.vigie(["register", "verify"], as: "head", json: false).status == 0)
    }

    @Test func anExpiredTokenIsRefused() throws {
        let school = try TestSchool(seats: [("B204-01", "B204")], withServer: true)
        let t = try token(school, seat: "B204-01", hours: "0.0003")  // 1.08 s
        // Issued before now, so expired once 1.08 s from now have passed: wait for that instant.
        let expired = Date().addingTimeInterval(0.0003 * 3600)
        while Date() <= expired { usleep(20_000) }
        let r = try enrol(school, seat: "B204-01", token: t, into: school.dir + "/late")
        #expect(r.status == 1)
        #expect(r.stderr.contains("expired"), "\(r)")
        #expect(!FileManager.default.fileExists(atPath: school.dir + "/late/cert.pem"))
    }

    @Test func aSeatSeenFromAnotherAddressIsFlagged() async throws {
        let school = try TestSchool(seats: [("B204-01", "B204")], withServer: true)
        // The real agent ships from 127.0.0.1.
        #expect(try school.vigie(["status", "--seat", "B204-01"]).status == 0)
        #expect(await eventually(10) { decisions((try? school.registerEvents()) ?? [], seat: "B204-01").count == 1 })
        // Someone presents the same seat certificate from 127.0.0.2.
        let identity = try IdentityBundle.load(from: school.seats["B204-01"]!.identityDir)
        let context = try VigieTLS.clientContext(identity.tlsMaterial)
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .bind(to: try SocketAddress(ipAddress: "127.0.0.2", port: 0))
            .connect(host: "127.0.0.1", port: school.serverPort!) { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(try NIOSSLClientHandler(context: context, serverHostname: nil))
                    try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(FrameDecoder()))
                    try channel.pipeline.syncOperations.addHandler(MessageToByteHandler(FrameEncoder()))
                    return try NIOAsyncChannel<Frame, Frame>(wrappingChannelSynchronously: channel)
                }
            }
        try await channel.executeThenClose { inbound, outbound in
            try await outbound.write(.request(Request(id: 1, feature: "register.append"), body: Array("{}".utf8)))
            for try await _ in inbound { break }
        }
        // (The real agent's next connection from 127.0.0.1 is flagged back again.)
        let flagged = try school.registerEvents().filter {
            $0["feature"] as? String == "seat.address-changed" && ($0["args"] as? [String: String])?["address"] == "127.0.0.2"
        }
        #expect(flagged.count == 1)
        #expect((flagged.first?["args"] as? [String: String])?["previous"] == "127.0.0.1")
        #expect((flagged.first?["args"] as? [String: String])?["seat"] == "B204-01")
    }
}
