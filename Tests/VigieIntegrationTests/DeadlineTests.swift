import Foundation
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import NIOSSL
import Testing
import VigieController
import VigieModel
import VigiePKI
import VigieTestSupport
import VigieWire

/// A school server that accepts connections and never answers: in `plain`
/// mode it does not even speak TLS; with an identity it completes the mutual-TLS
/// handshake, reads requests (and remembers their features), and stays silent.
final class SilentServer: Sendable {
    let channel: Channel
    private let state = NIOLockedValueBox<(accepted: Int, features: [String])>((0, []))

    var accepted: Int { state.withLockedValue { $0.accepted } }
    var features: [String] { state.withLockedValue { $0.features } }

    init(port: Int, identity: IdentityBundle?) async throws {
        let tls = try identity.map { try VigieTLS.serverContext($0.tlsMaterial) }
        let state = self.state
        channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    state.withLockedValue { $0.accepted += 1 }
                    if let tls {
                        try channel.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: tls))
                        try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(FrameDecoder()))
                        try channel.pipeline.syncOperations.addHandler(Listener(state: state))
                    }
                }
            }
            .bind(host: "127.0.0.1", port: port).get()
    }

    /// Remembers each request's feature; answers nothing.
    final class Listener: ChannelInboundHandler, Sendable {
        typealias InboundIn = Frame
        let state: NIOLockedValueBox<(accepted: Int, features: [String])>
        init(state: NIOLockedValueBox<(accepted: Int, features: [String])>) { self.state = state }
        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            if let request = try? unwrapInboundIn(data).decodeHeader(Request.self) {
                state.withLockedValue { $0.features.append(request.feature) }
            }
        }
    }

    func close() async { try? await channel.close() }
}

/// Every client call to the school server has a deadline: a server that accepts
/// and never answers makes the seat's journal shipper and config follower give
/// up and try again, and the head's register commands give up with a clear error.
@Suite(.serialized) struct Deadlines {
    /// Lines of `text` that contain every one of `parts`.
    func lines(_ text: String, containing parts: String...) -> Int {
        text.split(separator: "\n").filter { line in parts.allSatisfy { line.contains($0) } }.count
    }

    @Test(arguments: [false, true])
    func theSeatGivesUpOnASilentServerAndTriesAgain(tls: Bool) async throws {
        // With TLS, a deadline roomy enough for the handshake on a loaded machine: the answer's is the one tested.
        let deadline = tls ? 3 : 1
        let school = try TestSchool(seats: [("B204-01", "B204")], withServer: true, runServer: false, runAgents: false,
                                    serverTimeout: Double(deadline))
        let silent = try await SilentServer(port: school.serverPort!, identity: tls ? try IdentityBundle.load(from: school.serverIdentity) : nil)
        try school.startAgent("B204-01")
        let agent = school.seats["B204-01"]!.agent!
        // Each gives up at its deadline (the handshake's without TLS, the answer's with it), and tries again.
        let gaveUp = await eventually(60) {
            let log = agent.readAllStderr()
            return lines(log, containing: "journal shipping paused", "no answer within \(deadline) s") >= 2
                && lines(log, containing: "config fetch failed", "no answer within \(deadline) s") >= 2
        }
        #expect(gaveUp, "\(agent.readAllStderr())")
        #expect(silent.accepted >= 4)
        if tls {
            // The requests reached the server: the deadline is the answer's, not the connection's.
            #expect(silent.features.filter { $0 == "register.head" }.count >= 2, "\(silent.features)")
            #expect(silent.features.filter { $0 == "config.fetch" }.count >= 2, "\(silent.features)")
        }
        // The seat still serves its console meanwhile.
        #expect(try school.vigie(["status", "--seat", "B204-01"]).status == 0)
        await silent.close()
    }

    @Test(arguments: [false, true])
    func registerCommandsGiveUpOnASilentServer(tls: Bool) async throws {
        let school = try TestSchool(seats: [("B204-01", "B204")], withServer: true, runServer: false, runAgents: false,
                                    serverTimeout: tls ? 3 : 1)
        let silent = try await SilentServer(port: school.serverPort!, identity: tls ? try IdentityBundle.load(from: school.serverIdentity) : nil)
        let out = school.dir + "/export.csv"
        for command in [["register", "verify"], ["register", "export", "--out", out], ["register", "purge"]] {
            // Without TLS the handshake's deadline ([server] timeout = 1) ends it; with TLS, the answer's (--timeout 2).
            let r = try school.vigie(command + ["--timeout", "2"], as: "head", json: false)
            let seconds = tls ? "2" : "1"
            #expect(r.status == 1, "\(r)")
            #expect(r.result.stderr.contains("n’a pas répondu : pas de réponse en \(seconds) s"), "\(r)")
            #expect(r.seconds >= Double(seconds)! && r.seconds < Double(seconds)! + 5, "\(command): \(r.seconds) s")
        }
        if tls {
            #expect(silent.features == ["register.verify", "register.export", "register.purge"], "\(silent.features)")
        }
        await silent.close()
    }

    /// A seat whose port accepts and stays silent (without TLS, or with the seat's
    /// own certificate and no answer): the one-shot console and a console session
    /// report `unreachable net.timeout` at the deadline, and the session's link
    /// gives up its handshake and says so.
    @Test(arguments: [false, true])
    func theConsoleGivesUpOnASilentSeat(tls: Bool) async throws {
        let school = try TestSchool(seats: [("B204-01", "B204"), ("B204-02", "B204")], runAgents: false)
        let port = try freePort(excluding: school.order.map { school.seats[$0]!.port })
        let silent = try await SilentServer(port: port, identity: tls ? try IdentityBundle.load(from: school.seats["B204-02"]!.identityDir) : nil)
        try school.startAgent("B204-01")
        let config = school.dir + "/silent.toml"
        try school.configText(revoked: "01", addressOverride: ["B204-02": port]).write(toFile: config, atomically: true, encoding: .utf8)

        // With TLS, room for the handshake on a loaded machine: the request must be sent, and its answer never comes.
        let timeout = tls ? 8.0 : 3.0
        let r = try school.vigie(["status", "--room", "B204", "--timeout", String(timeout)], config: config)
        #expect(r.status(of: "B204-01") == "ok", "\(r)")
        #expect(r.status(of: "B204-02") == "unreachable", "\(r)")
        #expect(r.code(of: "B204-02") == "net.timeout", "\(r)")
        #expect(r.seconds >= timeout && r.seconds < timeout + 5, "\(r.seconds) s")
        if tls { #expect(silent.features == ["status"], "the request was sent after the handshake: \(silent.features)") }

        var options = ConsoleSession.Options()
        options.connectTimeout = .seconds(1)
        let session = try ConsoleSession(identity: try IdentityBundle.load(from: school.people["teacher"]!), schoolID: TestSchool.schoolID, options: options)
        let seats = [Seat(id: "B204-02", room: "B204", host: "127.0.0.1", port: port, mac: nil)]
        var results: [String: SeatResult] = [:]
        let started = ContinuousClock.now
        for await result in session.send(.status, args: [:], to: seats, timeout: .seconds(3)) { results[result.seat.id] = result }
        // (Roomy: an in-process client needs this process's concurrency pool, which synchronous tests alongside may hold.)
        #expect(ContinuousClock.now - started < .seconds(15))
        #expect(results["B204-02"]?.status == .unreachable)
        #expect(results["B204-02"]?.reason.code == "net.timeout")
        if !tls {
            // No handshake within the session's 1 s: the link is offline for that reason, and retried.
            await session.settle(timeout: .seconds(5))
            let link = await session.states().first { $0.seat.id == "B204-02" }
            #expect(link?.connection == .offline(Reason("net.timeout", ["seconds": "1"])), "\(String(describing: link))")
            #expect(await eventually(10) { silent.accepted >= 2 })
        }
        await session.close()
        await silent.close()
    }

    /// A console session whose config sends it to another seat's agent refuses it
    /// in the TLS handshake: nothing is sent, the link is rejected.
    @Test func aConsoleSessionRefusesTheWrongSeatInTheHandshake() async throws {
        let school = try TestSchool(seats: [("B204-01", "B204"), ("B204-02", "B204")])
        let session = try ConsoleSession(identity: try IdentityBundle.load(from: school.people["teacher"]!), schoolID: TestSchool.schoolID)
        // B204-02's address leads to B204-01's agent.
        let wrong = Seat(id: "B204-02", room: "B204", host: "127.0.0.1", port: school.seats["B204-01"]!.port, mac: nil)
        var results: [SeatResult] = []
        // A roomy deadline: the refusal comes at the handshake, and an in-process client needs this
        // process's concurrency pool, which synchronous tests alongside may hold for seconds.
        for await result in session.send(.lock, args: [:], to: [wrong], timeout: .seconds(30)) { results.append(result) }
        #expect(results.first?.status == .failed)
        #expect(results.first?.reason.code == "tls.wrong-seat")
        #expect(results.first?.reason.params["got"]?.contains("B204-01") == true, "\(results)")
        let link = await session.states().first
        if case .rejected(let reason) = link?.connection { #expect(reason.code == "tls.wrong-seat") } else {
            Issue.record("the link should be rejected: \(String(describing: link))")
        }
        #expect(try !keyboardHeld(school.seats["B204-01"]!.display), "the request must not reach the wrong seat")
        await session.close()
    }
}
