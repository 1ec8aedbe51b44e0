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
/// 127.0.0.1), held by a helper process (Tests/Fixtures/hostile-crowd.py) so
/// that the test runner itself stays far from its descriptor limits.
final class HostileCrowd: @unchecked Sendable {
    static let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures/hostile-crowd.py").path
    let process: ChildProcess
    /// Connections held, and those the listener refused or closed while they were made.
    let held: Int
    let refused: Int

    /// Opens the crowd against 127.0.0.1:`port` and waits until every connection was tried.
    init(port: Int, idle: Int = 0, halfOpen: Int = 0, connectClose: Int = 0, tlsBig: Int = 0, identity: String? = nil, ca: String? = nil) throws {
        var argv = ["python3", Self.script, String(port), "--idle", String(idle), "--half-open", String(halfOpen),
                    "--connect-close", String(connectClose), "--tls-big", String(tlsBig)]
        if let ca { argv += ["--ca", ca] }
        if let identity { argv += ["--cert", identity + "/cert.pem", "--key", identity + "/key.pem"] }
        process = try ChildProcess(argv)
        guard let line = process.readLine(timeout: 120), line.hasPrefix("ready ") else {
            throw TestSupportError("hostile crowd did not start: \(process.readAllStderr())")
        }
        let counts = line.split(separator: " ").dropFirst().compactMap { Int($0) }
        held = counts.first ?? 0
        refused = counts.last ?? 0
    }

    /// Ends the helper, which closes every connection.
    func disperse() {
        process.signal(SIGTERM)
        if process.wait(timeout: 10) == nil { process.kill() }
    }

    deinit { disperse() }
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
        try await oneHeavyTestAtATime { try thousandHostilePeers() }
    }

    func thousandHostilePeers() throws {
        let school = try TestSchool(seats: [("B204-01", "B204")], withServer: true)
        let seatPort = school.seats["B204-01"]!.port
        let serverPort = school.serverPort!
        // 1,000 against the agent: idle, half-open TLS, bare connect-and-close, and the head's
        // certificate (valid, no seat rights) promising a 32 MiB frame.
        let atSeat = try HostileCrowd(port: seatPort, idle: 400, halfOpen: 400, connectClose: 50, tlsBig: 150,
                                      identity: school.people["head"]!, ca: school.dir + "/ca/ca.pem")
        // 1,000 against the server: idle, half-open, anonymous TLS (as an enrolling seat) promising 32 MiB.
        let atServer = try HostileCrowd(port: serverPort, idle: 400, halfOpen: 400, tlsBig: 200, ca: school.dir + "/ca/ca.pem")
        print("hostile peers: seat \(atSeat.held) held, \(atSeat.refused) refused; server \(atServer.held) held, \(atServer.refused) refused")
        // The attack really happened: nearly every hostile connection was made (the listeners
        // close the oldest half-open ones later, by themselves).
        #expect(atSeat.held + atSeat.refused == 950 && atSeat.held >= 900, "seat: \(atSeat.held) held")
        #expect(atServer.held + atServer.refused == 1000 && atServer.held >= 900, "server: \(atServer.held) held")

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
        atSeat.disperse()
        atServer.disperse()
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

    @Test func anAgentWithFewDescriptorsUnderAFloodKeepsItsLockAndStillUnlocks() async throws {
        try await oneHeavyTestAtATime { try fewDescriptorsUnderAFlood() }
    }

    func fewDescriptorsUnderAFlood() throws {
        let school = try TestSchool(seats: [("B204-01", "B204")], agentWrapper: ["prlimit", "--nofile=100:100", "--"])
        let seat = school.seats["B204-01"]!
        #expect(try school.vigie(["lock", "--seat", "B204-01"]).status == 0)
        let helper = try #require(lockHelpers(stateDir: seat.stateDir).first)
        let crowd = try HostileCrowd(port: seat.port, idle: 600)
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
        crowd.disperse()
    }
}
