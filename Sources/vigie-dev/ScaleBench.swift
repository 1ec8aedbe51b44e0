import ArgumentParser
import Foundation
import VigieCLI
import VigieAgent
import VigieConfig
import VigieController
import VigieWire
import VigieModel
import VigiePKI

/// `vigie bench scale`: one-shot and warm fan-outs against a `vigie harness` in
/// its own process, for several school sizes.
struct ScaleBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "scale",
        abstract: "Fan-out figures against simulated seats (build with -c release): one-shot lock, warm lock, thumbnails.",
        discussion: """
            For each size: starts `vigie harness --seats N` (its own process), times `vigie lock --all` \
            (a new process each run: start-up, N handshakes, answers), then from one ConsoleSession in \
            this process (connections open) lock, unlock and 320-px thumbnails of every seat. Latencies: \
            "all" is until the last seat answered (one value per run), "seat" is each seat's own answer \
            (N values per run). CPU is user+system of each process over the phase.
            """
    )
    @Option(help: ArgumentHelp("School sizes, comma-separated.", valueName: "n,…"))
    var sizes = "30,300,1000"
    @Option(help: "Timed runs per figure (one-shot runs of 1,000 seats and more: at most 10).")
    var runs = 30
    @Option(help: ArgumentHelp("Thumbnail width.", valueName: "pixels"))
    var thumbnail = 320
    @Option(help: ArgumentHelp("Folder for the harnesses' files (kept: identities are reused).", valueName: "dir"))
    var state = "/tmp/vigie-bench-scale"
    @Flag(help: "Journal each simulated seat on a file (WAL, synchronous = FULL, as on a real seat) instead of SQLite's in-memory mode.")
    var journalFiles = false

    func run() async throws {
        let counts = sizes.split(separator: ",").compactMap { Int($0) }
        if let warning = OpenFileLimit.raise(needed: (counts.max() ?? 0) + 64, what: "the benchmark's console") {
            FileHandle.standardError.write(Data("vigie bench: \(warning)\n".utf8))
        }
        var rows: [Row] = []
        for n in counts {
            FileHandle.standardError.write(Data("== \(n) seats\n".utf8))
            rows.append(try await measure(n))
        }
        print(report(rows))
    }

    struct Row {
        var seats: Int
        var oneShot: [Double] = []
        var oneShotCPU = (harness: 0.0, cli: 0.0)
        var warmAll: [Double] = []
        var warmSeat: [Double] = []
        var warmCPU = (harness: 0.0, console: 0.0)
        var unlockAll: [Double] = []
        var thumbAll: [Double] = []
        var thumbSeat: [Double] = []
        var thumbCPU = (harness: 0.0, console: 0.0)
        var thumbBytes = 0
        var connectSeconds = 0.0
        var harnessPrivateKiB = 0
        var harnessPssKiB = 0
        var harnessIdlePrivateKiB = 0
        var harnessPeakKiB = 0
        var consolePeakKiB = 0
        var consolePrivateKiB = 0
        var failures = 0
    }

    func measure(_ n: Int) async throws -> Row {
        var row = Row(seats: n)
        let stateDir = "\(state)/\(n)"
        try FileManager.default.createDirectory(atPath: stateDir, withIntermediateDirectories: true)
        // The harness is this executable; the one-shot commands are the console's, `vigie`, beside it.
        let vigie = URL(fileURLWithPath: CommandLine.executablePath).deletingLastPathComponent().appendingPathComponent("vigie").path
        var harnessArguments = [CommandLine.executablePath, "harness", "--seats", String(n), "--state", stateDir]
        if journalFiles {
            try? FileManager.default.removeItem(atPath: stateDir + "/journals")
            harnessArguments += ["--journals", stateDir + "/journals"]
        }
        let harness = try Spawn.start(harnessArguments, newSession: true,
                                      logPath: stateDir + "/harness.log")
        defer {
            kill(harness.pid, SIGTERM)
            var status: Int32 = 0
            waitpid(harness.pid, &status, 0)
            close(harness.stdout)
        }
        guard let ready = Spawn.readLine(harness.stdout, timeout: 300), ready.hasPrefix("ready") else {
            throw ValidationError("the harness did not start (see \(stateDir)/harness.log)")
        }
        try await Task.sleep(for: .milliseconds(500))
        row.harnessIdlePrivateKiB = Memory.of(harness.pid).privateKiB
        let configPath = stateDir + "/school.toml"
        let teacher = stateDir + "/identities/teacher"
        let config = try ConfigLoader.load(path: configPath)
        let identity = try IdentityBundle.load(from: teacher)
        let seats = config.seats

        // 1. One-shot: a new `vigie lock --all` process each run.
        let oneShotRuns = n >= 1000 ? min(runs, 10) : runs
        let lockArgv = [vigie, "lock", "--all", "--config", configPath, "--identity", teacher]
        let unlockArgv = [vigie, "unlock", "--all", "--config", configPath, "--identity", teacher]
        _ = Runner.wall(unlockArgv)
        var harnessCPU = CPU.of(harness.pid)
        let childCPU = CPU.children()
        for _ in 0..<oneShotRuns {
            let (seconds, status) = Runner.wall(lockArgv)
            if status != 0 { row.failures += 1 }
            row.oneShot.append(seconds * 1000)
            _ = Runner.wall(unlockArgv)
        }
        // Unlocks ran as many times as locks: halve the CPU for the lock alone.
        row.oneShotCPU = ((CPU.of(harness.pid) - harnessCPU) / Double(2 * oneShotRuns) * 1000,
                          (CPU.children() - childCPU) / Double(2 * oneShotRuns) * 1000)

        // 2. Warm: one session, connections open.
        let session = try ConsoleSession(identity: identity, schoolID: config.school.id)
        let connectStart = ContinuousClock.now
        session.retain(seats)
        await session.settle(timeout: .seconds(60))
        row.connectSeconds = (ContinuousClock.now - connectStart).seconds
        let online = await session.states().filter { $0.connection == .online }.count
        if online != n { FileHandle.standardError.write(Data("vigie bench: only \(online) of \(n) seats online\n".utf8)) }
        let timeout = Duration.seconds(30)
        func round(_ feature: Feature, _ args: [String: String] = [:]) async -> (all: Double, seats: [Double], bytes: Int, failed: Int) {
            var perSeat: [Double] = []
            var bytes = 0
            var failed = 0
            let start = ContinuousClock.now
            for await result in session.send(feature, args: args, to: seats, timeout: timeout) {
                perSeat.append(result.elapsed.seconds * 1000)
                bytes += result.body.count
                if result.status != .ok { failed += 1 }
            }
            return ((ContinuousClock.now - start).seconds * 1000, perSeat, bytes, failed)
        }
        for _ in 0..<2 { _ = await round(.lock); _ = await round(.unlock) }
        harnessCPU = CPU.of(harness.pid)
        var selfCPU = CPU.selfTotal()
        for _ in 0..<runs {
            let lock = await round(.lock)
            row.warmAll.append(lock.all)
            row.warmSeat += lock.seats
            row.failures += lock.failed
            let unlock = await round(.unlock)
            row.unlockAll.append(unlock.all)
            row.failures += unlock.failed
        }
        row.warmCPU = ((CPU.of(harness.pid) - harnessCPU) / Double(2 * runs) * 1000, (CPU.selfTotal() - selfCPU) / Double(2 * runs) * 1000)

        // 3. Thumbnails of every seat.
        let thumbRuns = max(3, runs / 3)
        _ = await round(.thumbnail, ["width": String(thumbnail)])
        harnessCPU = CPU.of(harness.pid)
        selfCPU = CPU.selfTotal()
        for _ in 0..<thumbRuns {
            let shots = await round(.thumbnail, ["width": String(thumbnail)])
            row.thumbAll.append(shots.all)
            row.thumbSeat += shots.seats
            row.thumbBytes = shots.bytes
            row.failures += shots.failed
        }
        row.thumbCPU = ((CPU.of(harness.pid) - harnessCPU) / Double(thumbRuns) * 1000, (CPU.selfTotal() - selfCPU) / Double(thumbRuns) * 1000)

        let memory = Memory.of(harness.pid)
        row.harnessPrivateKiB = memory.privateKiB
        row.harnessPssKiB = memory.pssKiB
        row.harnessPeakKiB = memory.peakKiB
        let me = Memory.of(getpid())
        row.consolePeakKiB = me.peakKiB
        row.consolePrivateKiB = me.privateKiB
        await session.close()
        return row
    }

    func report(_ rows: [Row]) -> String {
        func p(_ values: [Double], _ q: Double) -> String {
            guard !values.isEmpty else { return "-" }
            let sorted = values.sorted()
            let index = min(sorted.count - 1, max(0, Int((q * Double(sorted.count)).rounded(.up)) - 1))
            return String(format: "%.1f", sorted[index])
        }
        func mib(_ kib: Int) -> String { String(format: "%.1f", Double(kib) / 1024) }
        var lines = [
            "Vigie scale figures — \(ProcessInfo.processInfo.activeProcessorCount) cores, runs \(runs), thumbnails \(thumbnail) px, harness in its own process",
            "",
            "latency ms (p50 / p99)     one-shot lock (CLI, wall)   warm lock: all / per seat        warm unlock all   thumbnails: all / per seat",
        ]
        for r in rows {
            lines.append(String(format: "%5d seats                 %8@ / %-8@           %7@ / %-7@  %6@ / %-6@     %6@ / %-6@      %7@ / %-7@  %6@ / %-6@",
                                r.seats, p(r.oneShot, 0.5), p(r.oneShot, 0.99), p(r.warmAll, 0.5), p(r.warmAll, 0.99),
                                p(r.warmSeat, 0.5), p(r.warmSeat, 0.99), p(r.unlockAll, 0.5), p(r.unlockAll, 0.99),
                                p(r.thumbAll, 0.5), p(r.thumbAll, 0.99), p(r.thumbSeat, 0.5), p(r.thumbSeat, 0.99)))
        }
        lines += ["", "CPU ms per fan-out (user+sys)   one-shot lock: harness / CLI   warm lock: harness / console   thumbnails: harness / console"]
        for r in rows {
            lines.append(String(format: "%5d seats                       %7.1f / %-7.1f              %7.1f / %-7.1f             %7.1f / %-7.1f",
                                r.seats, r.oneShotCPU.harness, r.oneShotCPU.cli, r.warmCPU.harness, r.warmCPU.console,
                                r.thumbCPU.harness, r.thumbCPU.console))
        }
        lines += ["", "memory MiB       harness private idle / loaded (per seat KiB)   harness Pss / peak RSS   console private / peak RSS   connect all   thumbnail bytes   failures"]
        for r in rows {
            lines.append(String(format: "%5d seats      %7@ / %-7@ (%6.1f)                    %7@ / %-7@          %7@ / %-7@            %6.2f s      %8d          %d",
                                r.seats, mib(r.harnessIdlePrivateKiB), mib(r.harnessPrivateKiB), Double(r.harnessPrivateKiB) / Double(r.seats),
                                mib(r.harnessPssKiB), mib(r.harnessPeakKiB), mib(r.consolePrivateKiB), mib(r.consolePeakKiB),
                                r.connectSeconds, r.thumbBytes / max(1, r.seats), r.failures))
        }
        if rows.count >= 2, let small = rows.min(by: { $0.seats < $1.seats }), let big = rows.max(by: { $0.seats < $1.seats }), big.seats > small.seats {
            let marginal = Double(big.harnessPrivateKiB - small.harnessPrivateKiB) / Double(big.seats - small.seats)
            let marginalIdle = Double(big.harnessIdlePrivateKiB - small.harnessIdlePrivateKiB) / Double(big.seats - small.seats)
            lines.append(String(format: "marginal private memory per simulated seat (%d → %d seats): %.1f KiB idle, %.1f KiB connected and after thumbnails",
                                small.seats, big.seats, marginalIdle, marginal))
        }
        return lines.joined(separator: "\n")
    }
}

extension Duration {
    var seconds: Double { Double(components.seconds) + Double(components.attoseconds) / 1e18 }
}

/// Runs a program to its end with stdout and stderr to /dev/null; wall seconds.
enum Runner {
    static func wall(_ argv: [String]) -> (Double, Int32) {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0)
        let cargs = argv.map { strdup($0) } + [nil]
        defer { for p in cargs { free(p) } }
        var pid: pid_t = 0
        let start = ContinuousClock.now
        guard posix_spawn(&pid, argv[0], &actions, nil, cargs, environ) == 0 else { return (0, -1) }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        let seconds = (ContinuousClock.now - start).seconds
        return (seconds, (status >> 8) & 0xFF)
    }
}

/// CPU seconds (user + system).
enum CPU {
    static func of(_ pid: pid_t) -> Double {
        guard let text = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let close = text.lastIndex(of: ")") else { return 0 }
        let fields = text[text.index(after: close)...].split(separator: " ")
        // After "(comm)": state is fields[0], utime fields[11], stime fields[12].
        guard fields.count > 12, let u = Double(fields[11]), let s = Double(fields[12]) else { return 0 }
        return (u + s) / Double(sysconf(Int32(_SC_CLK_TCK)))
    }

    static func usage(_ who: Int32) -> Double {
        var r = rusage()
        getrusage(__rusage_who_t(who), &r)
        return Double(r.ru_utime.tv_sec) + Double(r.ru_utime.tv_usec) / 1e6 + Double(r.ru_stime.tv_sec) + Double(r.ru_stime.tv_usec) / 1e6
    }

    static func selfTotal() -> Double { usage(RUSAGE_SELF.rawValue) }
    static func children() -> Double { usage(RUSAGE_CHILDREN.rawValue) }
}

/// A process's memory from /proc: private (clean + dirty), Pss, peak RSS; KiB.
enum Memory {
    static func of(_ pid: pid_t) -> (privateKiB: Int, pssKiB: Int, peakKiB: Int) {
        func field(_ file: String, _ names: [String]) -> Int {
            guard let text = try? String(contentsOfFile: file, encoding: .utf8) else { return 0 }
            var total = 0
            for line in text.split(separator: "\n") {
                let parts = line.split(whereSeparator: { $0 == " " || $0 == "\t" })
                if let name = parts.first, names.contains(String(name.dropLast())), parts.count > 1, let v = Int(parts[1]) { total += v }
            }
            return total
        }
        let rollup = "/proc/\(pid)/smaps_rollup"
        return (field(rollup, ["Private_Clean", "Private_Dirty"]), field(rollup, ["Pss"]), field("/proc/\(pid)/status", ["VmHWM"]))
    }
}
