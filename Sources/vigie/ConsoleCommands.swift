import ArgumentParser
import Foundation
import VigieConfig
import VigieController
import VigieModel
import VigieWire
import VigiePKI

/// Options every seat command shares: who I am, which school, how to print.
struct ConsoleOptions: ParsableArguments {
    @Option(help: ArgumentHelp("School configuration file (default: $VIGIE_CONFIG).", valueName: "file"))
    var config: String?

    @Option(help: ArgumentHelp("Identity folder with cert.pem, key.pem, ca.pem (default: $VIGIE_IDENTITY).", valueName: "dir"))
    var identity: String?

    @Flag(help: "Print one JSON object per seat (JSON Lines) as each answers.")
    var json = false

    @Option(help: ArgumentHelp("Seconds to wait for each seat (default: the config's console.timeout, 5).", valueName: "seconds"))
    var timeout: Double?

    @Option(help: ArgumentHelp("Language of the messages: fr or en (default: $LANG, then the school's).", valueName: "lang"))
    var lang: Language?

    func validate() throws {
        if let timeout, !(timeout > 0 && timeout <= 600) { throw ValidationError("--timeout must be between 0 and 600 seconds") }
    }
}

extension Language: ExpressibleByArgument {}

/// Which seats a command goes to: the union of `--room`, `--seat` and `--all`.
struct TargetOptions: ParsableArguments {
    @Option(name: .customLong("room"), help: ArgumentHelp("Every seat of this room (repeatable).", valueName: "room"))
    var rooms: [String] = []

    @Option(name: .customLong("seat"), help: ArgumentHelp("These seats, comma-separated (repeatable).", valueName: "seat,…"))
    var seats: [String] = []

    @Flag(help: "Every seat your identity may reach.")
    var all = false

    func validate() throws {
        if rooms.isEmpty && seats.isEmpty && !all {
            throw ValidationError("say which seats: --room R, --seat S,… or --all")
        }
    }
}

/// A loaded console: config, identity, language, fan-out.
struct Console {
    let config: SchoolConfig
    let identity: IdentityBundle
    let language: Language
    let json: Bool
    var timeout: Duration
    /// Where requests go: a one-shot ``FanOut`` by default, the open connections of `vigie console`.
    var sender: (any SeatSender)?

    init(_ options: ConsoleOptions) throws {
        let env = ProcessInfo.processInfo.environment
        guard let configPath = options.config ?? env["VIGIE_CONFIG"] else {
            throw Failure.configuration("no configuration: pass --config FILE or set VIGIE_CONFIG (e.g. source demo-state/env)")
        }
        guard let identityDir = options.identity ?? env["VIGIE_IDENTITY"] else {
            throw Failure.configuration("no identity: pass --identity DIR or set VIGIE_IDENTITY")
        }
        do {
            config = try ConfigLoader.load(path: configPath)
        } catch {
            throw Failure.configuration(error.description)
        }
        do {
            identity = try IdentityBundle.load(from: identityDir)
        } catch {
            throw Failure.configuration("\(error)")
        }
        language = options.lang ?? Language.fromLocale(env["VIGIE_LANG"]) ?? Language.fromLocale(env["LC_ALL"])
            ?? Language.fromLocale(env["LANG"]) ?? config.school.language
        json = options.json
        timeout = .milliseconds(Int64((options.timeout ?? config.consoleTimeout) * 1000))
    }

    /// The targeted seats in config order, or a usage error naming what is unknown.
    func seats(_ target: TargetOptions) throws -> [Seat] {
        var wanted = Set<String>()
        for room in target.rooms {
            guard let r = config.room(room) else {
                throw Failure.usage("unknown room “\(room)” (rooms: \(config.rooms.map(\.id).joined(separator: ", ")))")
            }
            wanted.formUnion(r.seats.map(\.id))
        }
        for list in target.seats {
            for id in list.split(separator: ",").map({ $0.trimmingCharacters(in: .whitespaces) }) where !id.isEmpty {
                guard config.seat(id) != nil else { throw Failure.usage("unknown seat “\(id)”") }
                wanted.insert(id)
            }
        }
        if target.all {
            wanted.formUnion(Policy.reachableSeats(for: identity.identity, in: config).map(\.id))
        }
        return config.seats.filter { wanted.contains($0.id) }
    }

    /// Sends and prints each seat's answer as it arrives; returns the exit status.
    func run(
        _ feature: Feature, args: [String: String] = [:], to seats: [Seat],
        handle: (inout SeatResult) -> [String: String] = { _ in [:] }
    ) async throws -> Int32 {
        let fanOut = try sender ?? FanOut(identity: identity, schoolID: config.school.id)
        let width = max(8, seats.map(\.id.count).max() ?? 0)
        var allOK = true
        for await var result in fanOut.send(feature, args: args, to: seats, timeout: timeout) {
            let extra = handle(&result)
            if result.status != .ok { allOK = false }
            writeLine(line(result, extra: extra, width: width))
        }
        return allOK ? Exit.ok : Exit.someSeatsDidNot
    }

    func line(_ r: SeatResult, extra: [String: String], width: Int) -> String {
        let message = Catalog.text(r.reason, language)
        if json {
            var object: [String: Any] = [
                "seat": r.seat.id, "room": r.seat.room, "status": r.status.rawValue, "code": r.reason.code,
                "message": message, "params": r.reason.params, "ms": Int(r.elapsed.components.seconds * 1000 + r.elapsed.components.attoseconds / 1_000_000_000_000_000),
            ]
            for (k, v) in extra { object[k] = v }
            let data = try! JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])
            return String(decoding: data, as: UTF8.self)
        }
        let seat = r.seat.id.padding(toLength: width, withPad: " ", startingAt: 0)
        let status = r.status.rawValue.padding(toLength: 11, withPad: " ", startingAt: 0)
        return "\(seat)  \(status)  \(message)"
    }
}

/// Errors that end a command with a documented exit status.
enum Failure: Error, CustomStringConvertible {
    case usage(String)
    case configuration(String)

    var description: String {
        switch self {
        case .usage(let m), .configuration(let m): return m
        }
    }

    var exitCode: Int32 {
        switch self {
        case .usage: return Exit.usage
        case .configuration: return Exit.configuration
        }
    }
}

/// Runs a console command body, turning failures into messages and exit statuses.
func runConsole(_ body: () async throws -> Int32) async throws {
    let code: Int32
    do {
        code = try await body()
    } catch let failure as Failure {
        FileHandle.standardError.write(Data("vigie: \(failure.description)\n".utf8))
        code = failure.exitCode
    }
    if code != 0 { throw ExitCode(code) }
}

struct LockCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "lock", abstract: "Lock the seats: screen covered, keyboard and mouse held.")
    @OptionGroup var target: TargetOptions
    @OptionGroup var options: ConsoleOptions
    @Option(name: .customLong("for"), help: ArgumentHelp("Lift the lock by itself after this long (e.g. 20m, 1h, 90s).", valueName: "duration"))
    var duration: String?

    func validate() throws {
        if let duration, parseDuration(duration) == nil { throw ValidationError("--for: “\(duration)” is not a duration like 90s, 20m or 1h") }
    }

    func run() async throws {
        try await runConsole { try await perform(try Console(options)) }
    }

    func perform(_ console: Console) async throws -> Int32 {
        var args: [String: String] = [:]
        if let duration, let seconds = parseDuration(duration) { args["for"] = String(seconds) }
        return try await console.run(.lock, args: args, to: try console.seats(target))
    }
}

/// `90s`, `20m`, `1h`, `1h30m`, or plain seconds.
func parseDuration(_ text: String) -> Int? {
    if let n = Int(text), n > 0 { return n }
    var total = 0
    var number = ""
    for c in text {
        if c.isNumber { number.append(c); continue }
        guard let n = Int(number) else { return nil }
        switch c {
        case "s": total += n
        case "m": total += n * 60
        case "h": total += n * 3600
        default: return nil
        }
        number = ""
    }
    return number.isEmpty && total > 0 ? total : nil
}

struct UnlockCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "unlock", abstract: "Unlock the seats.")
    @OptionGroup var target: TargetOptions
    @OptionGroup var options: ConsoleOptions

    func run() async throws {
        try await runConsole { try await perform(try Console(options)) }
    }

    func perform(_ console: Console) async throws -> Int32 {
        try await console.run(.unlock, to: try console.seats(target))
    }
}

struct StatusCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "status", abstract: "Ask the seats whether they are up and locked.")
    @OptionGroup var target: TargetOptions
    @OptionGroup var options: ConsoleOptions

    func run() async throws {
        try await runConsole { try await perform(try Console(options)) }
    }

    func perform(_ console: Console) async throws -> Int32 {
        try await console.run(.status, to: try console.seats(target))
    }
}

struct MessageCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "message", abstract: "Show a message on the seats, signed with your name.")
    @OptionGroup var target: TargetOptions
    @OptionGroup var options: ConsoleOptions
    @Argument(help: "The text to show (up to 2,000 characters).")
    var text: String

    func validate() throws {
        if text.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty { throw ValidationError("the message is empty") }
        if text.count > 2000 { throw ValidationError("the message is longer than 2,000 characters") }
    }

    func run() async throws {
        try await runConsole { try await perform(try Console(options)) }
    }

    func perform(_ console: Console) async throws -> Int32 {
        try await console.run(.message, args: ["text": text], to: try console.seats(target))
    }
}

struct ScreenshotCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "screenshot",
        abstract: "Take a screenshot of the seats; files are saved as OUT/SEAT-YYYYMMDD-HHMMSS.png, readable only by you."
    )
    @OptionGroup var target: TargetOptions
    @OptionGroup var options: ConsoleOptions
    @Option(help: ArgumentHelp("Folder for the PNG files (created 0700 if missing).", valueName: "dir"))
    var out: String = "."
    @Option(help: ArgumentHelp("A scaled-down image this many pixels wide.", valueName: "width"))
    var thumbnail: Int?

    func validate() throws {
        if let thumbnail, !(16...3840).contains(thumbnail) { throw ValidationError("--thumbnail must be between 16 and 3840 pixels") }
    }

    func run() async throws {
        try await runConsole { try await perform(try Console(options)) }
    }

    func perform(_ console: Console) async throws -> Int32 {
        do {
            let seats = try console.seats(target)
            do {
                try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
            } catch {
                throw Failure.usage("cannot create \(out): \(error.localizedDescription)")
            }
            let feature: Feature = thumbnail == nil ? .screenshot : .thumbnail
            let args = thumbnail.map { ["width": String($0)] } ?? [:]
            var saved: [(seat: String, file: String, params: [String: String])] = []
            let code = try await console.run(feature, args: args, to: seats) { result in
                guard result.status == .ok, !result.body.isEmpty else { return [:] }
                do {
                    let path = try ScreenshotFiles.save(result.body, seat: result.seat.id, in: out)
                    saved.append((result.seat.id, path, result.reason.params))
                    result.reason = Reason("screenshot.saved", result.reason.params.merging(["file": path]) { $1 })
                    return ["file": path]
                } catch {
                    result.status = .failed
                    result.reason = Reason("save.failed", ["detail": "\(error)"])
                    return [:]
                }
            }
            await console.reportSaved(saved)
            return code
        }
    }
}

extension Console {
    /// Reports to the school server's own chain what no seat can record (a
    /// screenshot saved here, Wake-on-LAN sent from here). Without a server in the
    /// config there is nothing to do; a server that does not answer is a warning.
    func report(_ kind: String, _ entries: [[String: String]]) async {
        guard let server = config.server, !entries.isEmpty else { return }
        do {
            let client = try ServerClient(server: server, school: config.school.id, identity: identity)
            for args in entries {
                var args = args
                args["kind"] = kind
                args["host"] = ProcessInfo.processInfo.hostName
                let answer = try await client.call("register.report", args: args, timeout: timeout)
                if answer.status != .ok { throw WireErrorText(Catalog.text(answer.reason, language)) }
            }
        } catch {
            FileHandle.standardError.write(Data("vigie: warning: \(kind) could not be reported to the register (\(error))\n".utf8))
        }
    }

    /// Saved screenshots go into the register (seat, time, who, where the file
    /// went), so that purge can name them when they are past retention.
    func reportSaved(_ saved: [(seat: String, file: String, params: [String: String])]) async {
        await report("screenshot.saved", saved.map { shot in
            var args = ["seat": shot.seat, "file": URL(fileURLWithPath: shot.file).standardizedFileURL.path]
            args["width"] = shot.params["width"]
            args["height"] = shot.params["height"]
            return args
        })
    }
}

struct WireErrorText: Error, CustomStringConvertible {
    let description: String
    init(_ d: String) { description = d }
}

/// Where screenshots go: pupils' screens are personal data, so files are 0600.
enum ScreenshotFiles {
    static func save(_ png: [UInt8], seat: String, in dir: String, now: Date = Date()) throws -> String {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.dateFormat = "yyyyMMdd-HHmmss"
        let stamp = formatter.string(from: now)
        var n = 1
        while true {
            let name = n == 1 ? "\(seat)-\(stamp).png" : "\(seat)-\(stamp)-\(n).png"
            let path = dir.hasSuffix("/") ? dir + name : dir + "/" + name
            let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
            if fd < 0 {
                if errno == EEXIST { n += 1; continue }
                throw CocoaError(.fileWriteUnknown, userInfo: [NSFilePathErrorKey: path, NSLocalizedDescriptionKey: "\(path): \(String(cString: strerror(errno)))"])
            }
            defer { close(fd) }
            let written = png.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
            guard written == png.count else {
                throw CocoaError(.fileWriteUnknown, userInfo: [NSLocalizedDescriptionKey: "\(path): short write"])
            }
            return path
        }
    }
}

/// Writes a line to stdout as it comes (seats answer one by one). If the reader
/// has gone (`vigie status --all | head -3`), stop quietly: NIO ignores SIGPIPE,
/// so the write fails with EPIPE instead of ending the process.
func writeLine(_ text: String) {
    var bytes = Array((text + "\n").utf8)
    var offset = 0
    while offset < bytes.count {
        let n = bytes.withUnsafeMutableBytes { write(1, $0.baseAddress! + offset, $0.count - offset) }
        if n < 0 {
            if errno == EINTR { continue }
            exit(errno == EPIPE ? Exit.someSeatsDidNot : 1)
        }
        offset += n
    }
}
