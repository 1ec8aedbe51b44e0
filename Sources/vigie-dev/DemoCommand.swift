import ArgumentParser
import Foundation
import VigieCLI
import NIOPosix
import VigieAgent
import VigieModel
import VigiePKI

/// `vigie demo`: a whole demo school on this machine — CA, people, a config on
/// loopback, one Xvfb display and one agent per seat.
struct DemoCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "demo",
        abstract: "Start a demo school on this machine (Xvfb displays, agents on loopback).",
        discussion: """
            The demo mirrors Config/school.example.toml: rooms B204 (pedagogy) and CDI (surveillance). \
            Under --state it writes the CA, identities for a teacher, a librarian, a head and an admin, \
            school.toml, env files to source, and demo.json (seats, pids, exact agent command lines).
            """,
        subcommands: [Start.self, Stop.self],
        defaultSubcommand: Start.self
    )

    struct Start: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "start", abstract: "Start the demo school (the default).")

        @Option(help: "Number of seats, split between B204 and CDI (2 to 64).")
        var seats = 8
        @Option(help: ArgumentHelp("Folder for the demo's files.", valueName: "dir"))
        var state = "demo-state"
        @Flag(help: "Leave the demo running in the background; stop it with `vigie demo stop`.")
        var detach = false
        @Option(help: ArgumentHelp("Size of each seat's display.", valueName: "WxH"))
        var screen = "1280x800"
        /// Internal: this process is the detached demo's keeper (see ``DemoKeeper``).
        @Flag(help: .hidden)
        var keeper = false

        func validate() throws {
            guard (2...64).contains(seats) else { throw ValidationError("--seats must be between 2 and 64") }
            guard DemoSchool.parseSize(screen) != nil else { throw ValidationError("--screen must look like 1280x800") }
        }

        func run() async throws {
            let stateDir = URL(fileURLWithPath: state).standardizedFileURL.path
            let demo = DemoSchool(stateDir: stateDir, seatCount: seats, screen: screen)
            if demo.isRunning() {
                FileHandle.standardError.write(Data("vigie: a demo is already running in \(state); stop it with: vigie demo stop --state \(state)\n".utf8))
                throw ExitCode(Exit.usage)
            }
            if detach && !keeper {
                // The detached demo runs under a keeper process of its own, the parent of
                // every part, which reaps them all (see DemoKeeper).
                let (code, text) = DemoKeeper.launch(stateDir: stateDir, seats: seats, screen: screen, stateArgument: state)
                if code == 0 { print(text) } else { FileHandle.standardError.write(Data(text.utf8)) }
                if code != 0 { throw ExitCode(code) }
                return
            }
            // Whatever the demo's parts leave behind (helpers of a stopped agent) is
            // adopted and reaped here, so that stopping leaves no zombie.
            DemoKeeper.adoptAndReap()
            if keeper { demo.keeper = getpid() }
            do {
                try demo.start()
            } catch {
                demo.stop()
                DemoKeeper.reapChildren()
                FileHandle.standardError.write(Data("vigie demo: \(error)\n".utf8))
                throw ExitCode(Exit.configuration)
            }
            if keeper {
                DemoKeeper.ready(demo.instructions(detached: true, stateArgument: state))
            } else {
                print(demo.instructions(detached: false, stateArgument: state))
            }
            await waitForInterrupt()
            if !keeper { print("\nStopping the demo…") }
            demo.stop()
            DemoKeeper.reapChildren()
            if !keeper { print("Stopped.") }
        }
    }

    struct Stop: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "stop", abstract: "Stop a demo started with --detach.")
        @Option(help: ArgumentHelp("Folder of the demo.", valueName: "dir"))
        var state = "demo-state"

        func run() throws {
            let demo = DemoSchool(stateDir: URL(fileURLWithPath: state).standardizedFileURL.path, seatCount: 0, screen: "")
            guard demo.isRunning() else {
                print("No demo is running in \(state).")
                return
            }
            if let keeper = demo.load()?.keeper, DemoKeeper.isKeeper(keeper) {
                // The keeper stops every part and reaps it (and what the agents left behind).
                guard DemoKeeper.stop(keeper, timeout: 60) else {
                    FileHandle.standardError.write(Data("vigie: the demo's keeper (pid \(keeper)) did not stop; see \(state)/demo.log\n".utf8))
                    throw ExitCode(1)
                }
            } else {
                demo.stop()
            }
            print("Stopped the demo in \(state).")
        }
    }
}

/// What `demo.json` holds about one seat.
struct DemoSeat: Codable {
    var id: String
    var room: String
    var address: String
    var display: String
    /// The agent's pid and exact argv, so a seat can be stopped and restarted by hand.
    var pid: Int32
    var command: [String]
    var xvfbPid: Int32
    var backdropPid: Int32?
    var log: String
}

/// What `demo.json` holds about the school server.
struct DemoServer: Codable {
    var address: String
    var store: String
    var pid: Int32
    var command: [String]
    var log: String
}

struct DemoFile: Codable {
    var school: String
    var config: String
    var ca: String
    var identities: [String: String]
    var server: DemoServer?
    var seats: [DemoSeat]
    /// The pid of the process that started every part and reaps them (`--detach`, or the foreground demo).
    var keeper: Int32?
}

/// Builds and runs the demo school.
final class DemoSchool {
    let stateDir: String
    let seatCount: Int
    let screen: String
    let bin: String
    var started: [DemoSeat] = []
    var server: DemoServer?
    var keeper: Int32?

    static let schoolID = "0750001A"
    static let schoolName = "Lycée Exemple (démo)"
    static let people: [(key: String, name: String, login: String, role: Role)] = [
        ("teacher", "M. Dupont", "pdupont", .teacher),
        ("librarian", "Mme Martin", "mmartin", .librarian),
        ("head", "Mme Leroy", "cleroy", .head),
        ("admin", "M. Bernard", "jbernard", .admin),
    ]

    init(stateDir: String, seatCount: Int, screen: String) {
        self.stateDir = stateDir
        self.seatCount = seatCount
        self.screen = screen
        self.bin = URL(fileURLWithPath: CommandLine.executablePath).deletingLastPathComponent().path
    }

    var demoFile: String { stateDir + "/demo.json" }
    var configPath: String { stateDir + "/school.toml" }

    static func parseSize(_ s: String) -> (Int, Int)? {
        let p = s.split(separator: "x").compactMap { Int($0) }
        guard p.count == 2, (320...7680).contains(p[0]), (200...4320).contains(p[1]) else { return nil }
        return (p[0], p[1])
    }

    func load() -> DemoFile? {
        guard let data = FileManager.default.contents(atPath: demoFile) else { return nil }
        return try? JSONDecoder().decode(DemoFile.self, from: data)
    }

    func isRunning() -> Bool {
        guard let file = load() else { return false }
        if let keeper = file.keeper, DemoKeeper.isKeeper(keeper) { return true }
        if let server = file.server, Spawn.commandLine(of: server.pid) != nil { return true }
        return file.seats.contains { Spawn.commandLine(of: $0.pid) != nil || Spawn.commandLine(of: $0.xvfbPid) != nil }
    }

    /// Seat ids: B204 gets the first half (rounded up), CDI the rest.
    func seatPlan() -> [(id: String, room: String)] {
        let b204 = (seatCount + 1) / 2
        return (1...seatCount).map { i in
            i <= b204 ? (String(format: "B204-%02d", i), "B204") : (String(format: "CDI-%02d", i - b204), "CDI")
        }
    }

    func start() throws {
        let fm = FileManager.default
        try fm.createDirectory(atPath: stateDir, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])

        // The CA and the people (kept across runs, so env files stay valid).
        let caDir = stateDir + "/pki/ca"
        let ca: SchoolCA
        if fm.fileExists(atPath: caDir + "/" + SchoolCA.certificateFileName) {
            ca = try SchoolCA.load(from: caDir)
        } else {
            ca = try SchoolCA.create(schoolID: Self.schoolID, schoolName: Self.schoolName)
            _ = try ca.save(to: caDir)
        }
        var identities: [String: String] = [:]
        for person in Self.people {
            let dir = "\(stateDir)/identities/\(person.key)"
            if !fm.fileExists(atPath: dir + "/cert.pem") {
                let identity = Identity(schoolID: Self.schoolID, kind: .person(login: person.login, role: person.role), displayName: person.name)
                _ = try ca.issue(identity: identity).save(to: dir, caCertificatePEM: ca.certificatePEM)
            }
            identities[person.key] = dir
        }

        // Ports on loopback, then the config the agents and consoles share.
        let plan = seatPlan()
        var ports: [Int] = []
        for _ in plan { ports.append(try Self.freePort(excluding: ports)) }
        let serverPort = try Self.freePort(excluding: ports)
        try (Self.configText(plan: plan, ports: ports, serverPort: serverPort) + powerConfig).write(toFile: configPath, atomically: true, encoding: .utf8)

        // The school server first, so that the agents ship their journals from the start.
        let serverDir = stateDir + "/server"
        if !fm.fileExists(atPath: serverDir + "/identity/cert.pem") {
            let identity = Identity(schoolID: Self.schoolID, kind: .server(name: "vigie-server"), displayName: "vigie-server")
            _ = try ca.issue(identity: identity, ipAddresses: ["127.0.0.1"]).save(to: serverDir + "/identity", caCertificatePEM: ca.certificatePEM)
        }
        let serverCommand = [bin + "/vigie-server", "run", "--config", configPath, "--identity", serverDir + "/identity", "--ca", caDir]
        let serverProcess = try Spawn.start(serverCommand, newSession: true, logPath: serverDir + "/server.log")
        close(serverProcess.stdout)
        server = DemoServer(address: "127.0.0.1:\(serverPort)", store: serverDir + "/register.sqlite", pid: serverProcess.pid,
                            command: serverCommand, log: serverDir + "/server.log")
        guard Self.waitForPort(serverPort, timeout: 20) else {
            throw SpawnError(.notUp, "the school server did not start (see \(serverDir)/server.log)")
        }

        let (width, height) = Self.parseSize(screen) ?? (1280, 800)
        for (index, seat) in plan.enumerated() {
            let seatDir = "\(stateDir)/seats/\(seat.id)"
            try fm.createDirectory(atPath: seatDir + "/state", withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
            if !fm.fileExists(atPath: seatDir + "/identity/cert.pem") {
                let identity = Identity(schoolID: Self.schoolID, kind: .seat(id: seat.id), displayName: seat.id)
                _ = try ca.issue(identity: identity, ipAddresses: ["127.0.0.1"]).save(to: seatDir + "/identity", caCertificatePEM: ca.certificatePEM)
            }
            let log = seatDir + "/agent.log"

            // A display of its own: Xvfb picks a free number and prints it when ready.
            let xvfb = try Spawn.start(
                [try Self.which("Xvfb"), "-displayfd", "1", "-screen", "0", "\(width)x\(height)x24", "-nolisten", "tcp"],
                newSession: true, logPath: seatDir + "/xvfb.log")
            let number = Spawn.readLine(xvfb.stdout, timeout: 15)
            close(xvfb.stdout)
            guard let number, Int(number) != nil else {
                kill(xvfb.pid, SIGTERM)
                throw SpawnError(.notUp, "Xvfb did not start for \(seat.id) (see \(seatDir)/xvfb.log; is the xvfb package installed?)")
            }
            let display = ":\(number)"
            var record = DemoSeat(id: seat.id, room: seat.room, address: "127.0.0.1:\(ports[index])", display: display, pid: 0, command: [], xvfbPid: xvfb.pid, backdropPid: nil, log: log)
            started.append(record)

            // Something to look at: a desktop-like backdrop with the seat's name.
            if let backdrop = try? Spawn.start([bin + "/vigie-ui", "backdrop", "--display", display, "--title", seat.id], newSession: true, logPath: seatDir + "/ui.log") {
                close(backdrop.stdout)
                record.backdropPid = backdrop.pid
            }

            let command = [
                bin + "/vigie-agent", "--config", configPath, "--seat", seat.id, "--identity", seatDir + "/identity",
                "--display", display, "--state", seatDir + "/state",
                "--session-user", ProcessInfo.processInfo.userName,
            ]
            let agent = try Spawn.start(command, newSession: true, logPath: log)
            close(agent.stdout)
            record.pid = agent.pid
            record.command = command
            started[started.count - 1] = record
        }

        // Wait until every agent accepts connections.
        for seat in started {
            let port = Int(seat.address.split(separator: ":").last!)!
            guard Self.waitForPort(port, timeout: 20) else {
                throw SpawnError(.notUp, "the agent of \(seat.id) did not start (see \(seat.log))")
            }
        }

        let file = DemoFile(school: Self.schoolID, config: configPath, ca: caDir + "/ca.pem", identities: identities, server: server, seats: started,
                            keeper: keeper)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        try encoder.encode(file).write(to: URL(fileURLWithPath: demoFile))

        for person in Self.people {
            let name = person.key == "teacher" ? "env" : "env.\(person.key)"
            let text = """
                # Vigie demo: \(person.name) (\(person.role.rawValue)). Use: source \(stateDir)/\(name)
                export VIGIE_CONFIG='\(configPath)'
                export VIGIE_IDENTITY='\(identities[person.key]!)'
                export PATH='\(bin)':"$PATH"

                """
            try text.write(toFile: "\(stateDir)/\(name)", atomically: true, encoding: .utf8)
        }
    }

    func stop() {
        let file = load()
        let seats = file?.seats ?? started
        for seat in seats where seat.pid > 0 {
            Spawn.stop(seat.pid) { $0.first?.hasSuffix("vigie-agent") ?? false }
        }
        if let server = file?.server ?? server {
            Spawn.stop(server.pid) { $0.count > 1 && $0[0].hasSuffix("vigie-server") && $0[1] == "run" }
        }
        for seat in seats {
            if let pid = seat.backdropPid { Spawn.stop(pid, mode: "backdrop") }
            Spawn.stop(seat.xvfbPid) { $0.first?.hasSuffix("Xvfb") ?? false }
        }
        started = []
    }

    func instructions(detached: Bool, stateArgument: String) -> String {
        let seats = load()?.seats ?? started
        var lines = ["Vigie demo school “\(Self.schoolName)” is running: \(seats.count) seats."]
        for seat in seats {
            lines.append("  \(seat.id.padding(toLength: 8, withPad: " ", startingAt: 0))  room \(seat.room.padding(toLength: 5, withPad: " ", startingAt: 0))  agent \(seat.address)  display \(seat.display)")
        }
        lines += [
            "",
            "In another terminal, as the teacher (M. Dupont, room B204):",
            "  source \(stateDir)/env",
            "  vigie lock --room B204",
            "  vigie message --room B204 \"Rangez vos affaires, le cours se termine à 11 h 45 — merci !\"",
            "  vigie screenshot --room B204 --out shots/",
            "  vigie unlock --room B204 --seat B204-02     # seat B204-02 of room B204 only",
            "  vigie status --all --json",
            "  vigie watch --room B204                     # the room live, in your browser",
            "  vigie view --seat B204-01                   # one seat full size in a VNC viewer (vigie control: with keyboard and mouse)",
            "As the librarian (CDI): source \(stateDir)/env.librarian; the head: env.head; the admin: env.admin.",
            "The CDI may be watched only in its posted hours: vigie policy --room CDI",
            "Helping someone at a seat, only if they accept in a window on its screen (as the admin: source \(stateDir)/env.admin):",
            "  vigie assist --seat B204-01 --reason \"l’imprimante n’apparaît pas\"   # answer on the seat's display (vigie view, as the teacher)",
            "The register (as the head: source \(stateDir)/env.head):",
            "  vigie register export --format html --out register.html",
            "  vigie register verify      # or offline: vigie register verify --store \(load()?.server?.store ?? "STORE")",
            "School server \(load()?.server?.address ?? "") — store \(load()?.server?.store ?? ""), log \(load()?.server?.log ?? "").",
            "Look at a seat: xwd -root -display \(seats.first?.display ?? ":N") | convert xwd:- seat.png  (or vigie screenshot).",
            "Seats, pids and agent command lines: \(demoFile)",
            detached ? "Stop it with: vigie demo stop --state \(stateArgument)" : "Press Ctrl-C to stop the demo.",
        ]
        return lines.joined(separator: "\n")
    }

    /// The demo's config: the same rooms and roles as Config/school.example.toml, on loopback.
    static func configText(plan: [(id: String, room: String)], ports: [Int], serverPort: Int) -> String {
        var text = """
            # Generated by `vigie demo`; mirrors Config/school.example.toml on loopback.
            [school]
            id = "\(schoolID)"
            name = "\(schoolName)"
            language = "fr"

            [pki]
            revoked = []

            [console]
            timeout = 5

            [server]
            address = "127.0.0.1:\(serverPort)"
            store = "server/register.sqlite"

            [register]
            controller = "\(schoolName), représenté par sa cheffe d’établissement"
            dpo = "Délégué à la protection des données de l’académie — dpd@ac-exemple.fr"
            purpose = "Prise en main à distance et contrôle des postes informatiques à des fins pédagogiques et de surveillance du CDI sur des plages horaires affichées"
            legal_basis = "Mission d’intérêt public (RGPD art. 6.1.e)"
            people = ["élèves", "personnels"]
            data = ["identifiant de session", "horodatage des actions", "identité et rôle de la personne qui agit", "texte des messages"]
            recipients = ["chef d’établissement", "administrateur informatique"]
            retention_days = 365
            security = ["TLS 1.3 mutuel", "journal chaîné SHA-256 signé par chaque poste"]
            transfers = "Aucun"

            """
        for (room, name, purpose) in [("B204", "Salle B204", "pedagogy"), ("CDI", "CDI", "surveillance")] {
            text += "\n[rooms.\(room)]\nname = \"\(name)\"\npurpose = \"\(purpose)\"\ntime_zone = \"Europe/Paris\"\n"
            if room == "CDI" {
                // The library's posted hours, as in Config/school.example.toml (B204 posts none, so the
                // demo classroom can be driven at any hour).
                text += """
                    min_unmonitored_minutes = 60

                    [[rooms.CDI.opening]]
                    days = ["mon", "tue", "thu", "fri"]
                    from = "08:00"
                    to = "17:30"

                    [[rooms.CDI.opening]]
                    days = "wed"
                    from = "08:00"
                    to = "12:30"

                    [[rooms.CDI.monitoring]]
                    days = "mon-fri"
                    from = "09:15"
                    to = "11:45"

                    [[rooms.CDI.monitoring]]
                    days = ["mon", "tue", "thu", "fri"]
                    from = "13:15"
                    to = "16:45"

                    """
            }
            for (index, seat) in plan.enumerated() where seat.room == room {
                text += "\n[[rooms.\(room).seats]]\nid = \"\(seat.id)\"\naddress = \"127.0.0.1:\(ports[index])\"\nmac = \"\(String(format: "52:54:00:00:%02x:%02x", index / 256, index % 256))\"\n"
            }
        }
        text += """

            [[grants]]
            role = "teacher"
            rooms = ["B204"]
            features = ["lock", "unlock", "message", "screenshot", "thumbnail", "watch", "view", "control", "status"]

            [[grants]]
            role = "librarian"
            rooms = ["CDI"]
            features = ["screenshot", "thumbnail", "watch", "view", "message", "lock", "unlock", "status"]

            [[grants]]
            role = "admin"
            rooms = ["*"]
            features = ["*"]

            [[people]]
            login = "mmartin"
            name = "Mme Martin"
            rooms = ["CDI"]

            """
        return text
    }

    static func which(_ program: String) throws -> String {
        for dir in (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin").split(separator: ":") {
            let path = "\(dir)/\(program)"
            if FileManager.default.isExecutableFile(atPath: path) { return path }
        }
        throw SpawnError(.missing, "\(program) not found in PATH (install it: apt-get install xvfb)")
    }

    /// A free TCP port on loopback.
    static func freePort(excluding taken: [Int]) throws -> Int {
        for _ in 0..<50 {
            let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            defer { close(fd) }
            var addr = sockaddr_in()
            addr.sin_family = sa_family_t(AF_INET)
            addr.sin_addr.s_addr = inet_addr("127.0.0.1")
            addr.sin_port = 0
            var len = socklen_t(MemoryLayout<sockaddr_in>.size)
            let ok = withUnsafeMutablePointer(to: &addr) { p in
                p.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, len) == 0 && getsockname(fd, $0, &len) == 0 }
            }
            let port = Int(UInt16(bigEndian: addr.sin_port))
            if ok, port > 0, !taken.contains(port) { return port }
        }
        throw SpawnError(.noPort, "no free TCP port on 127.0.0.1")
    }

    static func waitForPort(_ port: Int, timeout: Double) -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            var addr = sockaddr_in()
            addr.sin_family = sa_family_t(AF_INET)
            addr.sin_addr.s_addr = inet_addr("127.0.0.1")
            addr.sin_port = UInt16(port).bigEndian
            let ok = withUnsafePointer(to: &addr) { p in
                p.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0 }
            }
            close(fd)
            if ok { return true }
            usleep(50_000)
        }
        return false
    }
}

/// The process that owns a demo: it starts every part (server, Xvfb displays,
/// backdrops, agents), is their parent and a child subreaper, so that the
/// helpers an agent leaves behind when it stops (lock, message windows) come to
/// it too, and it reaps them all: stopping a demo leaves no zombie.
/// `vigie demo --detach` starts one (`vigie demo start --keeper`) in its own
/// session and returns once it is ready; `vigie demo stop` sends it SIGTERM.
enum DemoKeeper {
    /// The line the keeper writes after the instructions, once every part is up.
    static let readyLine = "vigie-demo-ready"

    /// Makes this process adopt its orphaned descendants, and reaps every child
    /// that ends, on a thread of its own.
    static func adoptAndReap() {
        // prctl is variadic in C (not imported into Swift): called through its symbol.
        typealias Prctl = @convention(c) (Int32, UInt, UInt, UInt, UInt) -> Int32
        if let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "prctl") {
            _ = unsafeBitCast(symbol, to: Prctl.self)(36 /* PR_SET_CHILD_SUBREAPER */, 1, 0, 0, 0)
        }
        // The keeper is the subreaper of everything the demo starts: one thread
        // waits for any of its children, the demo's parts and what they leave.
        let reaper = Thread {
            while true {
                var status: Int32 = 0
                if waitpid(-1, &status, 0) < 0 && errno == ECHILD { usleep(100_000) }
            }
        }
        reaper.name = "vigie.demo.reaper"
        reaper.start()
    }

    /// The pids whose parent is this process.
    static func children() -> [pid_t] {
        let me = getpid()
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        return entries.compactMap { name -> pid_t? in
            guard let pid = pid_t(name), let ppid = parentPID(pid), ppid == me else { return nil }
            return pid
        }
    }

    /// The parent of `pid`, from /proc/PID/stat (the field after the state).
    static func parentPID(_ pid: pid_t) -> pid_t? {
        guard let data = FileManager.default.contents(atPath: "/proc/\(pid)/stat"),
              let close = data.lastIndex(of: UInt8(ascii: ")")) else { return nil }
        let fields = data[(close + 1)...].split(separator: UInt8(ascii: " "))
        guard fields.count > 1 else { return nil }
        return pid_t(String(decoding: fields[1], as: UTF8.self))
    }

    /// Waits (at most 5 s) until every child has ended and been reaped; then kills what is left.
    static func reapChildren() {
        let deadline = Date().addingTimeInterval(5)
        while !children().isEmpty && Date() < deadline { usleep(20_000) }
        for pid in children() { kill(pid, SIGKILL) }
        let last = Date().addingTimeInterval(2)
        while !children().isEmpty && Date() < last { usleep(20_000) }
    }

    /// True when `pid` is a running demo keeper (not a zombie, not a reused pid).
    static func isKeeper(_ pid: Int32) -> Bool {
        guard let args = Spawn.commandLine(of: pid) else { return false }
        return args.count > 1 && args[0].hasSuffix("vigie-dev") && args[1] == "demo" && args.contains("--keeper")
    }

    /// Sends SIGTERM to the keeper and waits until it has stopped everything and ended.
    static func stop(_ pid: Int32, timeout: Double) -> Bool {
        kill(pid, SIGTERM)
        let deadline = Date().addingTimeInterval(timeout)
        while isKeeper(pid) {
            if Date() >= deadline { return false }
            usleep(20_000)
        }
        return true
    }

    /// In the keeper: hands the instructions to the launcher, then lets go of its output.
    static func ready(_ instructions: String) {
        FileHandle.standardOutput.write(Data((instructions + "\n" + readyLine + "\n").utf8))
        let null = open("/dev/null", O_WRONLY)
        if null >= 0 {
            dup2(null, 1)
            close(null)
        }
    }

    /// Starts the keeper and waits until it is ready (or has failed); returns the
    /// exit status and the text to print.
    static func launch(stateDir: String, seats: Int, screen: String, stateArgument: String) -> (Int32, String) {
        do {
            try FileManager.default.createDirectory(atPath: stateDir, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        } catch {
            return (Exit.configuration, "vigie demo: cannot create \(stateArgument): \(error.localizedDescription)\n")
        }
        let log = stateDir + "/demo.log"
        let argv = [CommandLine.executablePath, "demo", "start", "--state", stateDir, "--seats", String(seats), "--screen", screen, "--keeper"]
        let keeper: SpawnedProcess
        do {
            keeper = try Spawn.start(argv, newSession: true, logPath: log)
        } catch {
            return (Exit.configuration, "vigie demo: \(error)\n")
        }
        defer { close(keeper.stdout) }
        // Everything it prints until it lets go of its output (or 5 minutes pass).
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        let deadline = Date().addingTimeInterval(300)
        while Date() < deadline {
            var pfd = pollfd(fd: keeper.stdout, events: Int16(POLLIN), revents: 0)
            let r = poll(&pfd, 1, 1000)
            if r < 0 && errno == EINTR { continue }
            if r <= 0 { continue }
            let n = read(keeper.stdout, &chunk, chunk.count)
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { break }
            bytes += chunk[0..<n]
        }
        var lines = String(decoding: bytes, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        while lines.last == "" { lines.removeLast() }
        if lines.last == readyLine { return (Exit.ok, lines.dropLast().joined(separator: "\n")) }
        // Ended or stuck before ready: make sure it is gone, and say why.
        Spawn.stop(keeper.pid) { $0.contains("--keeper") }
        var status: Int32 = 0
        _ = waitpid(keeper.pid, &status, 0)
        let why = (try? String(contentsOfFile: log, encoding: .utf8))?.split(separator: "\n").suffix(5).joined(separator: "\n") ?? ""
        return (Exit.configuration, "vigie demo: the demo did not start (see \(stateArgument)/demo.log)\n\(why)\n")
    }
}
