import ArgumentParser
import Foundation
import VigieCLI
import VigieConsole
import VigieController
import VigieModel
import VigieWire

/// `vigie power on|off|reboot|cancel`.
struct PowerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "power",
        abstract: "Wake, power off or reboot the seats (after a countdown shown on each), or cancel the countdown.",
        subcommands: [PowerOnCommand.self, PowerOffCommand.self, PowerRebootCommand.self, PowerCancelCommand.self]
    )
}

/// `--delay SECONDS` / `--now`, shared by off, reboot and logoff.
struct DelayOptions: ParsableArguments {
    @Option(help: ArgumentHelp("Seconds of countdown on the seats before it happens (default: the config's power.delay, 60).", valueName: "seconds"))
    var delay: Int?

    @Flag(help: "No countdown: do it now (same as --delay 0).")
    var now = false

    func validate() throws {
        if let delay, !(0...86_400).contains(delay) { throw ValidationError("--delay must be between 0 and 86400 seconds") }
        if now && delay != nil { throw ValidationError("--now and --delay exclude each other") }
    }

    func args(_ action: PowerAction) -> [String: String] {
        var args = ["action": action.rawValue]
        if now { args["delay"] = "0" } else if let delay { args["delay"] = String(delay) }
        return args
    }
}

/// Sends a power action to the seats and prints each answer.
func sendPower(_ action: PowerAction, _ delay: DelayOptions?, target: TargetOptions, options: ConsoleOptions) async throws {
    try await runConsole { try await sendPower(action, delay, target: target, console: try Console(options)) }
}

func sendPower(_ action: PowerAction, _ delay: DelayOptions?, target: TargetOptions, console: Console) async throws -> Int32 {
    let args = delay?.args(action) ?? ["action": action.rawValue]
    return try await console.run(.power, args: args, to: try console.seats(target))
}

struct PowerOffCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "off", abstract: "Power the seats off after a countdown (the config's power.off command).")
    @OptionGroup var target: TargetOptions
    @OptionGroup var delay: DelayOptions
    @OptionGroup var options: ConsoleOptions
    func run() async throws { try await sendPower(.off, delay, target: target, options: options) }
    func perform(_ console: Console) async throws -> Int32 { try await sendPower(.off, delay, target: target, console: console) }
}

struct PowerRebootCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "reboot", abstract: "Reboot the seats after a countdown (the config's power.reboot command).")
    @OptionGroup var target: TargetOptions
    @OptionGroup var delay: DelayOptions
    @OptionGroup var options: ConsoleOptions
    func run() async throws { try await sendPower(.reboot, delay, target: target, options: options) }
    func perform(_ console: Console) async throws -> Int32 { try await sendPower(.reboot, delay, target: target, console: console) }
}

struct PowerCancelCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "cancel", abstract: "Stop a pending countdown (power off, reboot or log off) on the seats.")
    @OptionGroup var target: TargetOptions
    @OptionGroup var options: ConsoleOptions
    func run() async throws { try await sendPower(.cancel, nil, target: target, options: options) }
    func perform(_ console: Console) async throws -> Int32 { try await sendPower(.cancel, nil, target: target, console: console) }
}

struct LogoffCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "logoff", abstract: "Log the seats' users off after a countdown (the config's power.logoff command).")
    @OptionGroup var target: TargetOptions
    @OptionGroup var delay: DelayOptions
    @OptionGroup var options: ConsoleOptions
    func run() async throws { try await sendPower(.logoff, delay, target: target, options: options) }
    func perform(_ console: Console) async throws -> Int32 { try await sendPower(.logoff, delay, target: target, console: console) }
}

struct PowerOnCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "on",
        abstract: "Wake the seats: one Wake-on-LAN packet per seat's MAC, broadcast by this console to the configured address and port."
    )
    @OptionGroup var target: TargetOptions
    @OptionGroup var options: ConsoleOptions

    func run() async throws {
        try await runConsole { try await perform(try Console(options)) }
    }

    func perform(_ console: Console) async throws -> Int32 {
        do {
            let seats = try console.seats(target)
            let width = max(8, seats.map(\.id.count).max() ?? 0)
            let start = ContinuousClock.now
            var allOK = true
            // Each outcome goes to the server's own chain (the seats are off: none can record it).
            var sent: [[String: String]] = []
            _ = WakeOnLAN.wake(seats, identity: console.identity.identity, serialHex: console.identity.serialHex, config: console.config) { outcome in
                if outcome.status != .ok { allOK = false }
                var entry = ["seat": outcome.seat.id, "outcome": outcome.status.rawValue, "code": outcome.reason.code]
                entry["mac"] = outcome.seat.mac
                if let t = outcome.target { entry["broadcast"] = "\(t.broadcast):\(t.port)" }
                sent.append(entry)
                let result = SeatResult(seat: outcome.seat, status: outcome.status, reason: outcome.reason, elapsed: ContinuousClock.now - start)
                var extra: [String: Any] = ["mac": outcome.seat.mac ?? NSNull()]
                if let t = outcome.target {
                    extra["broadcast"] = t.broadcast
                    extra["port"] = t.port
                }
                if !outcome.packet.isEmpty { extra["packet"] = outcome.packet.map { String(format: "%02x", $0) }.joined() }
                writeLine(console.json ? console.jsonLine(result, extra: extra) : console.line(result, extra: [:], width: width))
            }
            await console.report("wake-on-lan", sent)
            return allOK ? Exit.ok : Exit.someSeatsDidNot
        }
    }
}

struct RunCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Run a program on the seats, without a shell, and print each seat's exit status and output.",
        discussion: """
            The program is an absolute path; it runs as the seat's session user. Teachers may run only \
            the programs of the config's [programs] allowed list; administrators may run anything, and \
            with --privileged as the agent itself. Here --timeout is the program's time limit (default \
            30 s): it gets SIGTERM, then SIGKILL 2 s later. The first 64 KiB of stdout and of stderr are kept.
            Example: vigie run --room B204 --timeout 10 -- /usr/bin/df -h /
            """
    )
    @OptionGroup var target: TargetOptions
    @OptionGroup var options: ConsoleOptions
    @Flag(help: "Run as the agent's own identity instead of the session user (administrators only).")
    var privileged = false
    @Argument(parsing: .postTerminator, help: ArgumentHelp("-- PROGRAM ARGS…: an absolute path and its arguments, passed as given (no shell).", valueName: "program"))
    var command: [String] = []

    func validate() throws {
        guard let program = command.first else { throw ValidationError("say what to run: vigie run TARGETS -- /usr/bin/PROGRAM ARGS…") }
        if !program.hasPrefix("/") { throw ValidationError("“\(program)” is not an absolute path (programs run without a shell or PATH lookup)") }
    }

    func run() async throws {
        try await runConsole { try await perform(try Console(options)) }
    }

    func perform(_ console: Console) async throws -> Int32 {
        do {
            var console = console
            let seconds = Int(options.timeout ?? 30)
            let argv = String(decoding: try JSONEncoder().encode(command), as: UTF8.self)
            var args = ["argv": argv, "timeout": String(max(1, seconds))]
            if privileged { args["privileged"] = "1" }
            // Wait for the program, its kill grace, and the network.
            console.timeout = .seconds(max(1, seconds) + 10) + .milliseconds(Int64(console.config.consoleTimeout * 1000))
            let seats = try console.seats(target)
            let fanOut = try console.sender ?? FanOut(identity: console.identity, schoolID: console.config.school.id)
            let width = max(8, seats.map(\.id.count).max() ?? 0)
            var allOK = true
            for await result in fanOut.send(.run, args: args, to: seats, timeout: console.timeout) {
                if result.status != .ok { allOK = false }
                let output = RunOutput(decoding: result.body)
                let p = result.reason.params
                if console.json {
                    var extra: [String: Any] = [
                        "exit": p["exit"].flatMap { Int($0) } ?? NSNull(),
                        "truncated": p["truncated"] == "true", "timed_out": p["timed_out"] == "true",
                        "stdout": output.map { String(decoding: $0.stdout, as: UTF8.self) } ?? "",
                        "stderr": output.map { String(decoding: $0.stderr, as: UTF8.self) } ?? "",
                    ]
                    if let s = p["signal"].flatMap({ Int($0) }) { extra["signal"] = s }
                    writeLine(console.jsonLine(result, extra: extra))
                    continue
                }
                var text = console.line(result, extra: [:], width: width)
                if let output {
                    for (name, bytes) in [("stdout", output.stdout), ("stderr", output.stderr)] where !bytes.isEmpty {
                        text += "\n    \(name):"
                        for line in String(decoding: bytes, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false).dropLast(bytes.last == 0x0A ? 1 : 0) {
                            text += "\n      \(line)"
                        }
                    }
                    if p["truncated"] == "true" {
                        let kib = (Int(p["limit"] ?? "") ?? 65536) / 1024
                        text += console.language == .fr ? "\n    (sortie tronquée : les \(kib) premiers Kio de chaque flux sont gardés)"
                            : "\n    (output truncated: the first \(kib) KiB of each stream are kept)"
                    }
                }
                writeLine(text)
            }
            return allOK ? Exit.ok : Exit.someSeatsDidNot
        }
    }
}

extension Console {
    /// One JSON Lines object for `result` with typed extra fields (numbers, booleans).
    func jsonLine(_ r: SeatResult, extra: [String: Any]) -> String {
        var object: [String: Any] = [
            "seat": r.seat.id, "room": r.seat.room, "status": r.status.rawValue, "code": r.reason.code,
            "message": Catalog.text(r.reason, language), "params": r.reason.params,
            "ms": Int(r.elapsed.components.seconds * 1000 + r.elapsed.components.attoseconds / 1_000_000_000_000_000),
        ]
        for (k, v) in extra { object[k] = v }
        let data = try! JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])
        return String(decoding: data, as: UTF8.self)
    }
}
