import Foundation
import Testing
import VigieModel
import VigieTestSupport

/// A folder for the traces the harmless power commands leave.
func traceDir() throws -> String {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("vigie-trace-\(getpid())-\(UUID().uuidString.prefix(8))").path
    try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    return dir
}

func traceLines(_ file: String) -> [String] {
    ((try? String(contentsOfFile: file, encoding: .utf8)) ?? "").split(separator: "\n").map(String.init)
}

/// Power commands that append a line to `trace` instead of shutting anything down.
func harmlessPower(_ trace: String, allowed: [String] = []) -> String {
    """

    [[grants]]
    role = "teacher"
    rooms = ["B204"]
    features = ["power", "run", "wake"]

    [power]
    off = ["/bin/sh", "-c", "echo off >> \(trace)"]
    reboot = ["/bin/sh", "-c", "echo reboot >> \(trace)"]
    logoff = ["/bin/sh", "-c", "echo logoff {user} >> \(trace)"]

    [programs]
    allowed = [\(allowed.map { "\"\($0)\"" }.joined(separator: ", "))]

    """
}

func countdownShown(_ display: String) throws -> Bool {
    try run(["xwininfo", "-root", "-tree", "-display", display]).stdout.contains("\"vigie-countdown\"")
}

@Suite(.serialized) struct PowerActions {
    @Test func offWithADelayShowsTheCountdownThenRunsTheCommand() throws {
        let dir = try traceDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let trace = dir + "/trace"
        let school = try TestSchool(seats: [("B204-01", "B204"), ("B204-02", "B204")], extraConfig: harmlessPower(trace))
        let off = try school.vigie(["power", "off", "--room", "B204", "--delay", "3"])
        #expect(off.status == 0, "\(off)")
        for id in ["B204-01", "B204-02"] {
            #expect(off.code(of: id) == "power.scheduled")
            let params = off.seat(id)?["params"] as? [String: String]
            #expect(params?["action"] == "off")
            #expect(params?["by"] == "M. Dupont")
            #expect((off.seat(id)?["message"] as? String)?.hasPrefix("extinction à ") == true, "\(off)")
            let tree = try run(["xwininfo", "-root", "-tree", "-display", school.seats[id]!.display]).stdout
            #expect(tree.contains("\"vigie-countdown\""), "\(tree)")
            #expect(tree.contains("Extinction du poste à"), "\(tree)")
        }
        #expect(traceLines(trace).isEmpty, "the command ran before the countdown ended")
        #expect(eventually(8) { traceLines(trace) == ["off", "off"] }, "\(traceLines(trace))")
        for id in ["B204-01", "B204-02"] {
            #expect(eventually(3) { (try? countdownShown(school.seats[id]!.display)) == false })
        }
    }

    @Test func cancelStopsThePendingActionAndNowRunsAtOnce() throws {
        let dir = try traceDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let trace = dir + "/trace"
        let school = try TestSchool(seats: [("B204-01", "B204")], extraConfig: harmlessPower(trace), agentArguments: ["--session-user", testSessionUser])
        let display = school.seats["B204-01"]!.display
        let reboot = try school.vigie(["power", "reboot", "--seat", "B204-01", "--delay", "3"])
        #expect(reboot.code(of: "B204-01") == "power.scheduled", "\(reboot)")
        #expect(try countdownShown(display))
        let cancel = try school.vigie(["power", "cancel", "--seat", "B204-01"])
        #expect(cancel.status == 0, "\(cancel)")
        #expect(cancel.code(of: "B204-01") == "power.cancelled")
        let scheduled = (reboot.seat("B204-01")?["params"] as? [String: String])?.filter { $0.key != "epoch" }
        #expect(cancel.seat("B204-01")?["params"] as? [String: String] == scheduled)
        #expect(eventually(3) { (try? countdownShown(display)) == false })
        #expect(try school.vigie(["power", "cancel", "--seat", "B204-01"]).code(of: "B204-01") == "power.nothing-pending")
        // No fixed wait to show that the cancelled reboot never runs: a log off
        // scheduled now, 4 s ahead, comes after the reboot's time on the agent's
        // own clock; when it has run, the reboot would have run before it.
        let later = try school.vigie(["logoff", "--seat", "B204-01", "--delay", "4"])
        #expect(later.code(of: "B204-01") == "power.scheduled", "\(later)")
        #expect(eventually(30) { !traceLines(trace).isEmpty })
        #expect(traceLines(trace) == ["logoff \(testSessionUser)"], "a cancelled reboot ran: \(traceLines(trace))")

        // --now: no countdown, the command has run when the answer comes; {user} is the session user.
        let logoff = try school.vigie(["logoff", "--seat", "B204-01", "--now"])
        #expect(logoff.code(of: "B204-01") == "power.done", "\(logoff)")
        #expect(traceLines(trace) == ["logoff \(testSessionUser)", "logoff \(testSessionUser)"])

        // Librarians never get power by default; a head has nothing on seats.
        let librarian = try school.vigie(["power", "off", "--seat", "B204-01", "--now"], as: "librarian")
        #expect(librarian.status(of: "B204-01") == "refused")
        #expect(traceLines(trace) == ["logoff \(testSessionUser)", "logoff \(testSessionUser)"], "a refused power off ran")
    }

    @Test func wakeOnLANSendsTheExactMagicPacketForEachMAC() throws {
        let socket = try UDPReceiver()
        let macs = ["B204-01": "52:54:00:20:04:41", "B204-02": "52:54:00:AB:cd:ef"]
        let extra = """

            [[grants]]
            role = "teacher"
            rooms = ["B204"]
            features = ["wake"]

            [wake]
            broadcast = "127.0.0.1"
            port = \(socket.port)

            """
        let school = try TestSchool(seats: [("B204-01", "B204"), ("B204-02", "B204"), ("B204-03", "B204")],
                                    extraConfig: extra, macs: macs)
        let on = try school.vigie(["power", "on", "--room", "B204"])
        #expect(on.status == 1, "B204-03 has no MAC: \(on)")
        #expect(on.code(of: "B204-03") == "wake.no-mac")
        #expect(on.status(of: "B204-03") == "failed")
        var expected: [[UInt8]] = []
        for id in ["B204-01", "B204-02"] {
            #expect(on.code(of: id) == "wake.sent", "\(on)")
            #expect(on.seat(id)?["broadcast"] as? String == "127.0.0.1")
            #expect(on.seat(id)?["port"] as? Int == socket.port)
            let mac = macs[id]!.split(separator: ":").map { UInt8($0, radix: 16)! }
            let packet = [UInt8](repeating: 0xFF, count: 6) + (0..<16).flatMap { _ in mac }
            #expect(on.seat(id)?["packet"] as? String == packet.map { String(format: "%02x", $0) }.joined())
            expected.append(packet)
        }
        let received = [socket.receive(), socket.receive()].compactMap { $0 }
        #expect(received.count == 2)
        #expect(Set(received) == Set(expected))
        #expect(received.allSatisfy { $0.count == 102 })

        // The librarian's grants have no wake: nothing is sent.
        let librarian = try school.vigie(["power", "on", "--seat", "B204-01"], as: "librarian")
        #expect(librarian.status(of: "B204-01") == "refused", "\(librarian)")
        #expect(socket.receive(timeout: 0.5) == nil)
    }
}

@Suite(.serialized) struct RunPrograms {
    static let allowed = ["/usr/bin/echo", "/usr/bin/id", "/usr/bin/false", "/usr/bin/ls"]

    @Test func runReturnsExitCodesAndOutputAsTheSessionUser() throws {
        let dir = try traceDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let school = try TestSchool(seats: [("B204-01", "B204"), ("B204-02", "B204")],
                                    extraConfig: harmlessPower(dir + "/trace", allowed: Self.allowed), agentArguments: ["--session-user", testSessionUser])
        // /bin/echo resolves to the allowlisted /usr/bin/echo (usrmerge symlink).
        let echo = try school.vigie(["run", "--room", "B204", "--", "/bin/echo", "bonjour", "à tous", "$HOME;`x`"])
        #expect(echo.status == 0, "\(echo)")
        for id in ["B204-01", "B204-02"] {
            #expect(echo.code(of: id) == "run.done")
            #expect(echo.seat(id)?["exit"] as? Int == 0)
            #expect(echo.seat(id)?["stdout"] as? String == "bonjour à tous $HOME;`x`\n", "no shell: arguments arrive as given")
            #expect(echo.seat(id)?["truncated"] as? Bool == false)
            #expect(echo.seat(id)?["timed_out"] as? Bool == false)
        }
        let id = try school.vigie(["run", "--seat", "B204-01", "--", "/usr/bin/id", "-un"])
        #expect(id.seat("B204-01")?["stdout"] as? String == "\(testSessionUser)\n", "\(id)")

        let ls = try school.vigie(["run", "--seat", "B204-01", "--", "/usr/bin/ls", "/nonexistent-vigie"])
        #expect(ls.status == 1)
        #expect(ls.status(of: "B204-01") == "failed")
        #expect(ls.code(of: "B204-01") == "run.exit")
        #expect(ls.seat("B204-01")?["exit"] as? Int == 2)
        #expect((ls.seat("B204-01")?["stderr"] as? String)?.contains("nonexistent-vigie") == true, "\(ls)")

        // Human output: status line, then the output indented.
        let human = try school.vigie(["run", "--seat", "B204-01", "--", "/usr/bin/echo", "salut"], json: false)
        #expect(human.result.stdout.contains("B204-01   ok           /usr/bin/echo terminé, code de sortie 0\n    stdout:\n      salut\n"), "\(human)")
    }

    @Test func theAllowlistBindsTeachersAndPrivilegedIsForAdmins() throws {
        let dir = try traceDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let school = try TestSchool(seats: [("B204-01", "B204")],
                                    extraConfig: harmlessPower(dir + "/trace", allowed: Self.allowed), agentArguments: ["--session-user", testSessionUser])
        let yes = try school.vigie(["run", "--seat", "B204-01", "--", "/usr/bin/yes"])
        #expect(yes.status(of: "B204-01") == "refused", "\(yes)")
        #expect(yes.code(of: "B204-01") == "policy.program")
        #expect(yes.seat("B204-01")?["params"] as? [String: String] == ["program": "/usr/bin/yes", "why": "not-allowed"])
        #expect((yes.seat("B204-01")?["message"] as? String)?.contains("absent de la liste des programmes autorisés") == true)

        let dots = try school.vigie(["run", "--seat", "B204-01", "--", "/usr/bin/../bin/yes"])
        #expect(dots.code(of: "B204-01") == "policy.program")
        #expect((dots.seat("B204-01")?["params"] as? [String: String])?["why"] == "dot-dot")

        let relative = try school.vigie(["run", "--seat", "B204-01", "--", "echo", "x"])
        #expect(relative.status == 64, "the console refuses a relative path: \(relative)")

        let privileged = try school.vigie(["run", "--seat", "B204-01", "--privileged", "--", "/usr/bin/id", "-u"])
        #expect(privileged.status(of: "B204-01") == "refused")
        #expect(privileged.code(of: "B204-01") == "policy.privileged")

        // Admins run anything, as the session user, or as the agent with --privileged.
        let admin = try school.vigie(["run", "--seat", "B204-01", "--", "/usr/bin/whoami"], as: "admin")
        #expect(admin.seat("B204-01")?["stdout"] as? String == "\(testSessionUser)\n", "\(admin)")
        let root = try school.vigie(["run", "--seat", "B204-01", "--privileged", "--", "/usr/bin/id", "-u"], as: "admin")
        #expect(root.seat("B204-01")?["stdout"] as? String == "\(geteuid())\n", "\(root)")
    }

    @Test func aTimeoutKillsTheProgramAndAFloodStaysBounded() throws {
        let school = try TestSchool(seats: [("B204-01", "B204")], agentArguments: ["--session-user", testSessionUser])
        let sleep = try school.vigie(["run", "--seat", "B204-01", "--timeout", "2", "--", "/usr/bin/sleep", "60"], as: "admin")
        #expect(sleep.code(of: "B204-01") == "run.timeout", "\(sleep)")
        #expect(sleep.seat("B204-01")?["timed_out"] as? Bool == true)
        #expect(sleep.seconds < 8)
        #expect(try run(["pgrep", "-x", "sleep", "-u", testSessionUser]).stdout.isEmpty, "the timed-out program is still running")

        let agent = try #require(school.seats["B204-01"]!.agent)
        // More than a pipe's worth of JSON: read it while the console runs.
        let console = try ChildProcess([product("vigie"), "run", "--seat", "B204-01", "--timeout", "4", "--config", school.configPath,
                                        "--identity", school.people["admin"]!, "--json", "--", "/usr/bin/yes", "vigie"])
        let text = console.readAllStdout(timeout: 30)
        #expect(console.wait(timeout: 10) == 1)
        let flood = try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any], "\(text.prefix(500))")
        #expect(flood["code"] as? String == "run.timeout")
        #expect(flood["truncated"] as? Bool == true)
        #expect((flood["stdout"] as? String)?.utf8.count == 64 * 1024)
        let peak = try #require(residentPeakKiB(agent.pid))
        #expect(peak < 100 * 1024, "agent peak RSS \(peak) KiB")

        // The agent still answers.
        #expect(try school.vigie(["status", "--seat", "B204-01"]).status == 0)
    }

    @Test func withoutASessionUserNothingRunsUnlessAnAdminSaysPrivileged() throws {
        let school = try TestSchool(seats: [("B204-01", "B204")], extraConfig: harmlessPower("/dev/null", allowed: Self.allowed))
        let r = try school.vigie(["run", "--seat", "B204-01", "--", "/usr/bin/echo", "x"])
        #expect(r.status(of: "B204-01") == "failed")
        #expect(r.code(of: "B204-01") == "run.no-session-user", "\(r)")
        let admin = try school.vigie(["run", "--seat", "B204-01", "--privileged", "--", "/usr/bin/echo", "x"], as: "admin")
        #expect(admin.code(of: "B204-01") == "run.done", "\(admin)")
    }
}

/// VmHWM (peak resident set) of a process, in KiB.
func residentPeakKiB(_ pid: Int32) -> Int? {
    guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8) else { return nil }
    for line in status.split(separator: "\n") where line.hasPrefix("VmHWM:") {
        return Int(line.dropFirst(6).trimmingCharacters(in: .whitespaces).split(separator: " ").first ?? "")
    }
    return nil
}

/// A UDP socket on 127.0.0.1 and a free port, for Wake-on-LAN packets.
final class UDPReceiver {
    let fd: Int32
    let port: Int

    init() throws {
        let fd = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
        self.fd = fd
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        let ok = withUnsafeMutablePointer(to: &addr) { p in
            p.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, len) == 0 && getsockname(fd, $0, &len) == 0 }
        }
        guard ok else { throw TestSupportError("cannot bind a UDP socket") }
        port = Int(UInt16(bigEndian: addr.sin_port))
    }

    deinit { close(fd) }

    /// The next datagram, or nil after `timeout` seconds.
    func receive(timeout: Double = 3) -> [UInt8]? {
        var pfd = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        guard poll(&pfd, 1, Int32(timeout * 1000)) == 1 else { return nil }
        var buffer = [UInt8](repeating: 0, count: 2048)
        let n = recv(fd, &buffer, buffer.count, 0)
        return n > 0 ? Array(buffer[0..<n]) : nil
    }
}
