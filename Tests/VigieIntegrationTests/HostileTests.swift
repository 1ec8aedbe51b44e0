import Foundation
import NIOCore
import NIOPosix
import NIOSSL
import Testing
import VigieAgent
import VigieModel
import VigiePKI
import VigieTestSupport
import VigieWire

/// Hostile peers from 127.0.0.2–127.0.0.254 (never the legitimate console's
/// 127.0.0.1): idle TCP, half-open TLS, and TLS peers that promise a 32 MiB frame.
final class HostileCrowd: @unchecked Sendable {
    private var fds: [Int32] = []
    private var channels: [Channel] = []

    deinit { closeAll() }

    var count: Int { fds.count + channels.count }

    func closeAll() {
        fds.forEach { close($0) }
        fds = []
        channels.forEach { $0.close(promise: nil) }
        channels = []
    }

    static func address(_ i: Int) -> String { "127.0.0.\(2 + i % 253)" }

    /// A non-blocking TCP connection from a hostile address; writes `bytes` if any.
    func raw(port: Int, index: Int, bytes: [UInt8] = []) {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return }
        _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
        var local = sockaddr_in()
        local.sin_family = sa_family_t(AF_INET)
        local.sin_addr.s_addr = inet_addr(Self.address(index))
        var remote = sockaddr_in()
        remote.sin_family = sa_family_t(AF_INET)
        remote.sin_addr.s_addr = inet_addr("127.0.0.1")
        remote.sin_port = UInt16(port).bigEndian
        let size = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafePointer(to: &local) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, size) } }
        _ = withUnsafePointer(to: &remote) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, size) } }
        if !bytes.isEmpty {
            var pfd = pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)
            if poll(&pfd, 1, 1000) == 1 { _ = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) } }
        }
        fds.append(fd)
    }

    /// A TLS connection from a hostile address with `tls`; once the handshake is
    /// done (or failed), writes a frame header promising 32 MiB and 64 KiB of it.
    func tlsBigFrame(port: Int, index: Int, tls: NIOSSLContext) async {
        var promise = ByteBuffer()
        promise.writeInteger(UInt32(vigieMaxFrameLength))
        promise.writeInteger(vigieProtocolVersion)
        promise.writeInteger(Frame.Kind.request.rawValue)
        promise.writeInteger(UInt32(64))
        promise.writeBytes([UInt8](repeating: 0x41, count: 64 * 1024))
        do {
            let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                .bind(to: try SocketAddress(ipAddress: Self.address(index), port: 0))
                .connectTimeout(.seconds(5))
                .channelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHandler(try NIOSSLClientHandler(context: tls, serverHostname: nil))
                    }
                }
                .connect(host: "127.0.0.1", port: port).get()
            channel.writeAndFlush(promise, promise: nil)
            channels.append(channel)
        } catch {
            // Refused or evicted: that is the listener defending itself.
        }
    }
}

/// Resident and peak memory of a process, in MB (from /proc).
func memoryMB(_ pid: Int32) -> (rss: Double, peak: Double) {
    let text = (try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)) ?? ""
    func field(_ name: String) -> Double {
        guard let line = text.split(separator: "\n").first(where: { $0.hasPrefix(name + ":") }) else { return -1 }
        return (Double(line.split(separator: " ").dropFirst().first.map(String.init) ?? "") ?? -1) / 1024
    }
    return (field("VmRSS"), field("VmHWM"))
}

/// The `vigie-ui lock` processes of one seat (found by the seat's notice pipe), whatever started them.
func lockHelpers(stateDir: String) -> [Int32] {
    let pipe = stateDir + "/lock-notices.pipe"
    let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
    return entries.compactMap { name -> Int32? in
        guard let pid = Int32(name), let data = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline") else { return nil }
        let args = data.split(separator: 0).map { String(decoding: $0, as: UTF8.self) }
        guard args.count > 2, args[0].hasSuffix("vigie-ui"), args[1] == "lock", let i = args.firstIndex(of: "--notice-pipe"),
              i + 1 < args.count, args[i + 1] == pipe else { return nil }
        return pid
    }
}

@Suite(.serialized) struct HoldUnderAttack {
    @Test func aThousandHostilePeersDoNotKeepTheTeacherOrTheHeadOut() async throws {
        _ = OpenFileLimit.raise(needed: 4096, what: "the hostile test")
        let school = try TestSchool(seats: [("B204-01", "B204")], withServer: true)
        let seatPort = school.seats["B204-01"]!.port
        let serverPort = school.serverPort!
        let head = try IdentityBundle.load(from: school.people["head"]!)
        let headTLS = try VigieTLS.clientContext(head.tlsMaterial)
        let anonymousTLS = try VigieTLS.enrolmentClientContext(caPEM: school.ca.certificatePEM)
        let halfOpenTLS: [UInt8] = [0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03] + [UInt8](repeating: 7, count: 64)

        let crowd = HostileCrowd()
        // 1,000 against the agent: idle, half-open TLS, bare connect-and-close, and the head's
        // certificate (valid, no seat rights) promising a 32 MiB frame.
        for i in 0..<400 { crowd.raw(port: seatPort, index: i) }
        for i in 400..<800 { crowd.raw(port: seatPort, index: i, bytes: halfOpenTLS) }
        for i in 800..<850 {
            if let fd = connectTo(seatPort) { close(fd) }
            _ = i
        }
        for i in 850..<1000 { await crowd.tlsBigFrame(port: seatPort, index: i, tls: headTLS) }
        // 1,000 against the server: idle, half-open, anonymous TLS (as an enrolling seat) promising 32 MiB.
        for i in 0..<400 { crowd.raw(port: serverPort, index: i) }
        for i in 400..<800 { crowd.raw(port: serverPort, index: i, bytes: halfOpenTLS) }
        for i in 800..<1000 { await crowd.tlsBigFrame(port: serverPort, index: i, tls: anonymousTLS) }

        // The teacher's console (127.0.0.1) is answered before its deadline (3 s in this school).
        let status = try school.vigie(["status", "--seat", "B204-01"])
        #expect(status.status == 0, "\(status)")
        #expect(status.status(of: "B204-01") == "ok")
        let lock = try school.vigie(["lock", "--seat", "B204-01"])
        #expect(lock.status(of: "B204-01") == "ok", "\(lock)")
        // The head still verifies the register on the server.
        let verify = try school.vigie(["register", "verify"], as: "head", json: false)
        #expect(verify.status == 0, "\(verify)")

        let agentPID = school.seats["B204-01"]!.agent!.process.processIdentifier
        let serverPID = school.server!.process.processIdentifier
        let agentMemory = memoryMB(agentPID), serverMemory = memoryMB(serverPID)
        print(String(format: "figure: under 1,000 hostile peers each: agent status %.2f s, lock %.2f s, RSS %.0f MB (peak %.0f MB); server verify %.2f s, RSS %.0f MB (peak %.0f MB)",
                     status.seconds, lock.seconds, agentMemory.rss, agentMemory.peak, verify.seconds, serverMemory.rss, serverMemory.peak))
        // Bounded: a 32 MiB frame per hostile peer would be gigabytes.
        #expect(agentMemory.peak > 0 && agentMemory.peak < 300, "agent peak RSS \(agentMemory.peak) MB")
        #expect(serverMemory.peak > 0 && serverMemory.peak < 300, "server peak RSS \(serverMemory.peak) MB")
        #expect(school.seats["B204-01"]!.agent!.process.isRunning && school.server!.process.isRunning)
        crowd.closeAll()
    }

    @Test func aKillNineDuringALockNeverLeavesALockThatAnAdminCannotLift() throws {
        let school = try TestSchool(seats: [("B204-01", "B204")])
        let seat = school.seats["B204-01"]!
        for attempt in 0..<6 {
            let console = try ChildProcess([product("vigie"), "lock", "--seat", "B204-01", "--config", school.configPath,
                                            "--identity", school.people["teacher"]!, "--json"])
            // Kill at a different moment of the lock each time (before, during and after the helper starts).
            usleep(useconds_t(attempt * 120_000))
            school.killAgent("B204-01")
            _ = console.wait(timeout: 10)
            try school.startAgent("B204-01")
            // What the restarted agent says matches the screen.
            let status = try school.vigie(["status", "--seat", "B204-01"], as: "admin")
            let helpers = lockHelpers(stateDir: seat.stateDir)
            #expect(helpers.count <= 1, "attempt \(attempt): \(helpers.count) lock helpers")
            if !helpers.isEmpty {
                #expect(status.code(of: "B204-01") == "status.locked", "attempt \(attempt): a lock on screen the agent does not know: \(status)")
            }
            let unlock = try school.vigie(["unlock", "--seat", "B204-01"], as: "admin")
            #expect(unlock.status(of: "B204-01") == "ok", "attempt \(attempt): \(unlock)")
            #expect(eventually(5) { lockHelpers(stateDir: seat.stateDir).isEmpty }, "attempt \(attempt): a lock helper is left")
            #expect(try !keyboardHeld(seat.display), "attempt \(attempt): the keyboard is still held after the admin's unlock")
        }
    }

    @Test func aRestartedAgentAdoptsTheLockItFindsAndEndsOnlyOneItsRecordSaysIsOver() throws {
        let school = try TestSchool(seats: [("B204-01", "B204")])
        let seat = school.seats["B204-01"]!
        #expect(try school.vigie(["lock", "--seat", "B204-01"]).status == 0)
        let helper = try #require(lockHelpers(stateDir: seat.stateDir).first)

        // The record lost its pid (a crash right after the helper started): adopted, not started again.
        school.killAgent("B204-01")
        let record = seat.stateDir + "/lock.json"
        var json = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: record))) as! [String: Any]
        json["pid"] = nil
        try JSONSerialization.data(withJSONObject: json).write(to: URL(fileURLWithPath: record))
        try school.startAgent("B204-01")
        let status = try school.vigie(["status", "--seat", "B204-01"])
        #expect(status.code(of: "B204-01") == "status.locked", "\(status)")
        #expect((status.seat("B204-01")?["message"] as? String)?.contains("M. Dupont") == true, "the locker comes back: \(status)")
        #expect(lockHelpers(stateDir: seat.stateDir) == [helper], "the running lock is adopted, not replaced")

        // The record says unlocked: the restarted agent ends the helper it finds.
        school.killAgent("B204-01")
        try FileManager.default.removeItem(atPath: record)
        try school.startAgent("B204-01")
        #expect(eventually(5) { lockHelpers(stateDir: seat.stateDir).isEmpty })
        #expect(try !keyboardHeld(seat.display))
    }

    @Test func anAgentWithFewDescriptorsUnderAFloodKeepsItsLockAndStillUnlocks() throws {
        _ = OpenFileLimit.raise(needed: 2048, what: "the hostile test")
        let school = try TestSchool(seats: [("B204-01", "B204")], agentWrapper: ["prlimit", "--nofile=100:100", "--"])
        let seat = school.seats["B204-01"]!
        #expect(try school.vigie(["lock", "--seat", "B204-01"]).status == 0)
        let helper = try #require(lockHelpers(stateDir: seat.stateDir).first)
        let crowd = HostileCrowd()
        for i in 0..<600 { crowd.raw(port: seat.port, index: i) }
        let agentPID = seat.agent!.process.processIdentifier
        let fds = { (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(agentPID)/fd").count) ?? 0 }
        // The flood reaches the agent's caps, not its descriptor limit: the lock keeps the same helper.
        var most = 0
        let until = Date().addingTimeInterval(3)
        while Date() < until {
            most = max(most, fds())
            #expect(lockHelpers(stateDir: seat.stateDir) == [helper], "the lock was lost or started again under the flood")
            usleep(200_000)
        }
        #expect(most > 20 && most < 100, "descriptors in use by the agent: \(most)")
        let unlock = try school.vigie(["unlock", "--seat", "B204-01"], as: "admin")
        #expect(unlock.code(of: "B204-01") == "unlock.done", "\(unlock)")
        #expect(eventually(5) { lockHelpers(stateDir: seat.stateDir).isEmpty })
        #expect(try !keyboardHeld(seat.display))
        crowd.closeAll()
    }
}
