import Foundation
import Testing
import VigieModel
import VigiePKI
import VigieTestSupport

/// A small real school for integration tests: a CA and people on disk, a config
/// on loopback, one Xvfb and one `vigie-agent` process per seat. Everything is
/// stopped when the school is released.
final class TestSchool: @unchecked Sendable {
    struct SeatRig {
        let id: String
        let room: String
        let port: Int
        var xvfb: Xvfb
        var agent: ChildProcess?
        let stateDir: String
        let identityDir: String
        var display: String { xvfb.display }
    }

    static let schoolID = "0750001A"
    let dir: String
    let ca: SchoolCA
    let configPath: String
    var seats: [String: SeatRig] = [:]
    var order: [String] = []
    /// Identity folders by name: teacher, librarian, head, admin, revoked, stranger.
    var people: [String: String] = [:]
    /// The school server, when the school has one (`withServer`).
    let serverPort: Int?
    var server: ChildProcess?
    var serverIdentity: String { dir + "/server/identity" }
    var storePath: String { dir + "/server/register.sqlite" }
    /// TOML appended to the config; extra `vigie-agent` arguments; seat MACs.
    let extraConfig: String
    let agentArguments: [String]
    /// More arguments for one seat's agent (a session user on one seat only).
    var agentArgumentsBySeat: [String: [String]] = [:]
    /// A command the agent runs under (`prlimit --nofile=… --`), if any.
    let agentWrapper: [String]
    let macs: [String: String]
    let serverTimeout: Double?

    /// - Parameters:
    ///   - seats: (seat id, room) pairs; rooms are B204 (pedagogy) and CDI (surveillance).
    ///   - extraConfig: TOML appended to the config (grants, people…).
    ///   - runServer: false to name a server in the config (and issue its identity) without starting it.
    ///   - runAgents: false to start the seats' agents later (`startAgent`).
    ///   - serverTimeout: the config's `[server] timeout`, when set.
    init(seats layout: [(String, String)] = [("B204-01", "B204"), ("B204-02", "B204"), ("CDI-01", "CDI")], width: Int = 640, height: Int = 480,
         fixedDisplays: Bool = false, withServer: Bool = false, extraConfig: String = "", agentArguments: [String] = [],
         macs: [String: String] = [:], agentWrapper: [String] = [], runServer: Bool = true, runAgents: Bool = true,
         serverTimeout: Double? = nil) throws {
        self.serverTimeout = serverTimeout
        self.agentWrapper = agentWrapper
        self.extraConfig = extraConfig
        self.agentArguments = agentArguments
        self.macs = macs
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("vigie-it-\(getpid())-\(UUID().uuidString.prefix(8))").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        ca = try SchoolCA.create(schoolID: Self.schoolID, schoolName: "Lycée d’intégration")
        _ = try ca.save(to: dir + "/ca")

        for (key, name, login, role) in [
            ("teacher", "M. Dupont", "pdupont", Role.teacher), ("librarian", "Mme Martin", "mmartin", .librarian),
            ("head", "Mme Leroy", "cleroy", .head), ("admin", "M. Bernard", "jbernard", .admin),
            ("revoked", "M. Révoqué", "revoque", .teacher), ("technician", "M. Lemaire", "jlemaire", .technician),
        ] {
            let identity = Identity(schoolID: Self.schoolID, kind: .person(login: login, role: role), displayName: name)
            _ = try ca.issue(identity: identity).save(to: "\(dir)/people/\(key)", caCertificatePEM: ca.certificatePEM)
            people[key] = "\(dir)/people/\(key)"
        }
        // A teacher of the same school id, signed by another CA.
        let otherCA = try SchoolCA.create(schoolID: Self.schoolID, schoolName: "Faux lycée")
        let stranger = Identity(schoolID: Self.schoolID, kind: .person(login: "intrus", role: .admin), displayName: "Intrus")
        _ = try otherCA.issue(identity: stranger).save(to: "\(dir)/people/stranger", caCertificatePEM: otherCA.certificatePEM)
        people["stranger"] = "\(dir)/people/stranger"

        var ports: [Int] = []
        for (id, room) in layout {
            let port = try freePort(excluding: ports)
            ports.append(port)
            let seatDir = "\(dir)/seats/\(id)"
            let identity = Identity(schoolID: Self.schoolID, kind: .seat(id: id), displayName: id)
            _ = try ca.issue(identity: identity, ipAddresses: ["127.0.0.1"]).save(to: seatDir + "/identity", caCertificatePEM: ca.certificatePEM)
            self.seats[id] = SeatRig(id: id, room: room, port: port, xvfb: try Xvfb(width: width, height: height, number: fixedDisplays ? Xvfb.unusedHighNumber() : nil), agent: nil,
                                stateDir: seatDir + "/state", identityDir: seatDir + "/identity")
            order.append(id)
        }
        if withServer {
            serverPort = try freePort(excluding: ports)
            let identity = Identity(schoolID: Self.schoolID, kind: .server(name: "vigie-server"), displayName: "vigie-server")
            _ = try ca.issue(identity: identity).save(to: dir + "/server/identity", caCertificatePEM: ca.certificatePEM)
        } else {
            serverPort = nil
        }
        let revokedSerial = try IdentityBundle.load(from: people["revoked"]!).serialHex
        configPath = dir + "/school.toml"
        try configText(revoked: revokedSerial).write(toFile: configPath, atomically: true, encoding: .utf8)
        if withServer && runServer { try startServer() }
        if runAgents { for id in order { try startAgent(id) } }
    }

    deinit { stopAll() }

    func configText(revoked: String, addressOverride: [String: Int] = [:]) -> String {
        var text = """
            [school]
            id = "\(Self.schoolID)"
            name = "Lycée d’intégration"
            language = "fr"

            [pki]
            revoked = ["\(revoked)"]

            [console]
            timeout = 3

            """
        if let serverPort {
            text += """

                [server]
                address = "127.0.0.1:\(serverPort)"
                store = "server/register.sqlite"
                config_poll_seconds = 1
                \(serverTimeout.map { "timeout = \($0)" } ?? "")

                [register]
                controller = "Lycée d’intégration, représenté par sa proviseure"
                dpo = "dpd@ac-exemple.fr"
                purpose = "Contrôle des postes à des fins pédagogiques et surveillance du CDI"
                legal_basis = "Mission d’intérêt public (RGPD art. 6.1.e)"
                people = ["élèves", "personnels"]
                data = ["horodatage", "identité de la personne qui agit", "texte des messages"]
                recipients = ["chef d’établissement"]
                retention_days = 30
                security = ["TLS 1.3 mutuel", "journal chaîné et signé"]
                transfers = "Aucun"

                """
        }
        for (room, purpose) in [("B204", "pedagogy"), ("CDI", "surveillance")] where order.contains(where: { seats[$0]!.room == room }) {
            text += "\n[rooms.\(room)]\npurpose = \"\(purpose)\"\ntime_zone = \"Europe/Paris\"\n"
            if room == "CDI" {
                // The library's posted hours: Mon–Fri 09:15–11:45 and 13:15–16:45.
                text += """
                    [[rooms.CDI.opening]]
                    days = "mon-fri"
                    from = "08:00"
                    to = "17:30"

                    [[rooms.CDI.monitoring]]
                    days = "mon-fri"
                    from = "09:15"
                    to = "11:45"

                    [[rooms.CDI.monitoring]]
                    days = "mon-fri"
                    from = "13:15"
                    to = "16:45"

                    """
            }
            for id in order where seats[id]!.room == room {
                let port = addressOverride[id] ?? seats[id]!.port
                text += "\n[[rooms.\(room).seats]]\nid = \"\(id)\"\naddress = \"127.0.0.1:\(port)\"\n"
                if let mac = macs[id] { text += "mac = \"\(mac)\"\n" }
            }
        }
        let rooms = Set(order.map { seats[$0]!.room })
        text += """

            [[grants]]
            role = "teacher"
            rooms = \(rooms.contains("B204") ? "[\"B204\"]" : "[]")
            features = ["lock", "unlock", "message", "screenshot", "thumbnail", "watch", "view", "control", "status"]

            [[grants]]
            role = "librarian"
            rooms = \(rooms.contains("CDI") ? "[\"CDI\"]" : "[]")
            features = ["screenshot", "thumbnail", "watch", "view", "message", "lock", "unlock", "status"]

            """
        return text + extraConfig
    }

    /// The agent's exact command line for a seat.
    func agentCommand(_ id: String) -> [String] {
        let seat = seats[id]!
        return agentWrapper + [product("vigie-agent"), "--config", configPath, "--seat", id, "--identity", seat.identityDir,
                "--display", seat.display, "--state", seat.stateDir] + agentArguments + (agentArgumentsBySeat[id] ?? [])
    }

    /// Starts a seat's agent; `clock` fakes its wall clock from that local
    /// Paris time on (libfaketime, advancing, monotonic clock untouched).
    func startAgent(_ id: String, clock: String? = nil) throws {
        var environment: [String: String]?
        if let clock {
            var env = ProcessInfo.processInfo.environment
            env["LD_PRELOAD"] = TestSchool.libfaketime
            env["FAKETIME"] = "@\(clock)"
            env["FAKETIME_DONT_FAKE_MONOTONIC"] = "1"
            env["FAKETIME_DONT_RESET"] = "1"
            env["TZ"] = "Europe/Paris"
            environment = env
        }
        let agent = try ChildProcess(agentCommand(id), environment: environment)
        seats[id]!.agent = agent
        let deadline = Date().addingTimeInterval(20)
        while !waitForPort(seats[id]!.port, timeout: 0.1) {
            if !agent.process.isRunning || Date() > deadline {
                throw TestSupportError("agent \(id) did not listen: \(agent.readAllStderr())")
            }
        }
    }

    func startServer() throws {
        let server = try ChildProcess([product("vigie"), "server", "--config", configPath, "--identity", serverIdentity, "--ca", dir + "/ca"])
        self.server = server
        let deadline = Date().addingTimeInterval(20)
        while !waitForPort(serverPort!, timeout: 0.1) {
            if !server.process.isRunning || Date() > deadline {
                throw TestSupportError("the server did not listen: \(server.readAllStderr())")
            }
        }
    }

    func stopServer() {
        guard let server else { return }
        server.signal(SIGTERM)
        if server.wait(timeout: 5) == nil { server.kill(); _ = server.wait(timeout: 2) }
        self.server = nil
    }

    /// The register as the head exports it in JSON Lines (one object per event).
    func registerEvents() throws -> [[String: Any]] {
        let out = dir + "/export-\(UUID().uuidString).jsonl"
        defer { try? FileManager.default.removeItem(atPath: out) }
        let r = try vigie(["register", "export", "--format", "jsonl", "--out", out], as: "head", json: false)
        guard r.status == 0 else { throw TestSupportError("export failed: \(r)") }
        return try String(contentsOfFile: out, encoding: .utf8).split(separator: "\n").compactMap {
            try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]
        }
    }

    static let libfaketime = "/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1"

    /// Restarts a seat's agent with a faked clock.
    func restartAgent(_ id: String, clock: String) throws {
        killAgent(id)
        try startAgent(id, clock: clock)
    }

    /// Stops an agent the hard way (as a crash would).
    func killAgent(_ id: String) {
        guard let agent = seats[id]?.agent else { return }
        agent.kill()
        _ = agent.wait(timeout: 5)
        seats[id]!.agent = nil
    }

    func stopAll() {
        stopServer()
        for id in order {
            if let agent = seats[id]?.agent {
                agent.signal(SIGTERM)
                if agent.wait(timeout: 5) == nil { agent.kill(); _ = agent.wait(timeout: 2) }
            }
            // Lock and message helpers live in their own sessions; they end with their display.
            seats[id]?.xvfb.stop()
        }
        try? FileManager.default.removeItem(atPath: dir)
    }

    /// Runs the `vigie` console as `who` with `--json`; returns the parsed lines and the exit status.
    func vigie(_ args: [String], as who: String = "teacher", config: String? = nil, json: Bool = true) throws -> ConsoleRun {
        var common = ["--config", config ?? configPath, "--identity", people[who]!]
        if json { common.append("--json") }
        // Options go before `--` (what follows is a program's argv for `vigie run`).
        let split = args.firstIndex(of: "--") ?? args.endIndex
        let argv = [product("vigie")] + args[..<split] + common + args[split...]
        var env = ProcessInfo.processInfo.environment
        env["LANG"] = "fr_FR.UTF-8"
        let started = Date()
        let result = try run(argv, timeout: 60, environment: env)
        let lines = result.stdout.split(separator: "\n").compactMap { line -> [String: Any]? in
            guard json else { return nil }
            return (try? JSONSerialization.jsonObject(with: Data(line.utf8))) as? [String: Any]
        }
        return ConsoleRun(result: result, lines: lines, seconds: Date().timeIntervalSince(started))
    }
}

struct ConsoleRun: CustomStringConvertible {
    let result: ProcessResult
    let lines: [[String: Any]]
    let seconds: Double

    var status: Int32 { result.status }
    func seat(_ id: String) -> [String: Any]? { lines.first { $0["seat"] as? String == id } }
    func status(of id: String) -> String? { seat(id)?["status"] as? String }
    func code(of id: String) -> String? { seat(id)?["code"] as? String }
    var description: String { result.description }
}

/// Ports handed out in this test process: never the same twice, so that two
/// schools started by tests running in parallel never share a port (a console
/// would then reach the other school's agent). They come from below Linux's
/// ephemeral range, where the harness's and the clients' own ports live.
final class PortAllocator: @unchecked Sendable {
    static let shared = PortAllocator()
    private let lock = NSLock()
    private var next = Int.random(in: 15_000..<25_000)

    func take() throws -> Int {
        lock.lock()
        defer { lock.unlock() }
        for _ in 0..<200 {
            let port = next
            next = next >= 32_000 ? 15_000 : next + 1
            if Self.bindable(port) { return port }
        }
        throw TestSupportError("no free port")
    }

    static func bindable(_ port: Int) -> Bool {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        addr.sin_port = UInt16(port).bigEndian
        return withUnsafePointer(to: &addr) { p in
            p.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0 }
        }
    }
}

func freePort(excluding taken: [Int] = []) throws -> Int {
    while true {
        let port = try PortAllocator.shared.take()
        if !taken.contains(port) { return port }
    }
}

func waitForPort(_ port: Int, timeout: Double) -> Bool {
    let deadline = Date().addingTimeInterval(timeout)
    while Date() < deadline {
        if let fd = connectTo(port) { close(fd); return true }
        usleep(50_000)
    }
    return false
}

/// A plain TCP connection to 127.0.0.1:port.
func connectTo(_ port: Int) -> Int32? {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    var addr = sockaddr_in()
    addr.sin_family = sa_family_t(AF_INET)
    addr.sin_addr.s_addr = inet_addr("127.0.0.1")
    addr.sin_port = UInt16(port).bigEndian
    let ok = withUnsafePointer(to: &addr) { p in
        p.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0 }
    }
    if ok { return fd }
    close(fd)
    return nil
}

/// The date (`yyyy-MM-dd`, in Paris) of the first Monday strictly after today.
/// Tests that fake a seat's clock start from it, never from a fixed date: the
/// certificates a test issues are valid from the day it runs.
func parisDateOfNextMonday(after now: Date = Date()) -> String {
    var calendar = Calendar(identifier: .gregorian)
    calendar.timeZone = TimeZone(identifier: "Europe/Paris")!
    var day = calendar.startOfDay(for: now)
    repeat {
        day = calendar.date(byAdding: .day, value: 1, to: day)!
    } while calendar.component(.weekday, from: day) != 2
    let c = calendar.dateComponents([.year, .month, .day], from: day)
    return String(format: "%04d-%02d-%02d", c.year!, c.month!, c.day!)
}

/// The seat's session user in tests: `nobody` when the tests run as root (the
/// agent then switches to it to run programs), else the user running the tests:
/// an unprivileged agent, as on a real seat, cannot become anyone else.
let testSessionUser: String = geteuid() == 0 ? "nobody" : String(cString: getpwuid(geteuid())!.pointee.pw_name)
