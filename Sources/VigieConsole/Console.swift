import ArgumentParser
import Foundation
import VigieCLI
import VigieConfig
import VigieController
import VigieModel
import VigiePKI
import VigieWire

/// Options every seat command shares: who I am, which school, how to print.
public struct ConsoleOptions: ParsableArguments {
    public init() {}
    @Option(help: ArgumentHelp("School configuration file (default: $VIGIE_CONFIG).", valueName: "file"))
    public var config: String?

    @Option(help: ArgumentHelp("Identity folder with cert.pem, key.pem, ca.pem (default: $VIGIE_IDENTITY).", valueName: "dir"))
    public var identity: String?

    @Flag(help: "Print one JSON object per seat (JSON Lines) as each answers.")
    public var json = false

    @Option(parsing: .unconditional, help: ArgumentHelp("Seconds to wait for each seat, 0.1 to 600 (default: the config's console.timeout, 5).", valueName: "seconds"))
    public var timeout: Double?

    @Option(help: ArgumentHelp("Language of the messages: fr or en (default: $LANG, then the school's).", valueName: "lang"))
    public var lang: Language?

    public func validate() throws {
        if let timeout, !(timeout >= 0.1 && timeout <= 600) {
            let value = timeout.isFinite && timeout == timeout.rounded() && abs(timeout) < 1e15 ? String(Int64(timeout)) : String(timeout)
            throw ValidationError(InputError("input.timeout.range", ["value": value], language: InputError.language(lang)).description)
        }
    }
}

/// Which seats a command goes to. `--room` values add up, so do `--seat` values;
/// `--seat` with `--room` picks those seats within those rooms (a teacher who names
/// a room and a seat means that seat of that room); `--all` stands alone.
public struct TargetOptions: ParsableArguments {
    public init() {}
    @Option(name: .customLong("room"), help: ArgumentHelp("Every seat of this room (repeatable).", valueName: "room"))
    public var rooms: [String] = []

    @Option(name: .customLong("seat"), help: ArgumentHelp("These seats, comma-separated (repeatable); with --room, seats of those rooms only.", valueName: "seat,…"))
    public var seats: [String] = []

    @Flag(help: "Every seat your identity may reach (alone, without --room or --seat).")
    public var all = false

    public func validate() throws {
        if rooms.isEmpty && seats.isEmpty && !all {
            throw ValidationError(InputError("input.target.none", language: InputError.language()).description)
        }
        if all && !(rooms.isEmpty && seats.isEmpty) {
            throw ValidationError(InputError("input.target.all-alone", language: InputError.language()).description)
        }
    }
}

/// A loaded console: config, identity, language, fan-out.
public struct Console: Sendable {
    public let config: SchoolConfig
    public let identity: IdentityBundle
    public let language: Language
    public let json: Bool
    public var timeout: Duration
    /// Where requests go: a one-shot ``FanOut`` by default, the open connections of `vigie console`.
    public var sender: (any SeatSender)?

    public init(_ options: ConsoleOptions) throws {
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

    /// The targeted seats in config order, or a usage error naming what is unknown or
    /// outside the named rooms (see ``TargetOptions``).
    public func seats(_ target: TargetOptions) throws -> [Seat] {
        try Targets.resolve(rooms: target.rooms, seats: target.seats, all: target.all, config: config,
                            reachable: { Policy.reachableSeats(for: identity.identity, in: config) }, language: language)
    }

    /// Sends and prints each seat's answer as it arrives; returns the exit status.
    public func run(
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

    public func line(_ r: SeatResult, extra: [String: String], width: Int) -> String {
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

/// Resolving targets to seats (shared by the one-shot commands and `vigie console`).
public enum Targets {
    /// `rooms` add up, `seats` add up; both given: the seats, each of which must be in
    /// one of the rooms; `all`: every reachable seat. Config order; usage errors name
    /// the unknown room or seat, or the seat outside the rooms.
    public static func resolve(rooms: [String], seats: [String], all: Bool, config: SchoolConfig,
                        reachable: () -> [Seat], language: Language) throws -> [Seat] {
        func usage(_ code: String, _ params: [String: String] = [:]) -> Failure {
            Failure.usage(InputError(code, params, language: language).description)
        }
        if all && !(rooms.isEmpty && seats.isEmpty) { throw usage("input.target.all-alone") }
        if all {
            let seats = reachable()
            // Nothing to reach is not success: say why (a head of school has no seat rights).
            if seats.isEmpty { throw usage("input.target.none-reachable") }
            return seats
        }
        var roomIDs: [String] = []
        var inRooms = Set<String>()
        for list in rooms {
            for room in list.split(separator: ",").map({ $0.trimmingCharacters(in: .whitespaces) }) where !room.isEmpty {
                guard let r = config.room(room) else {
                    throw usage("input.target.unknown-room", ["room": room, "rooms": config.rooms.map(\.id).joined(separator: ", ")])
                }
                if !roomIDs.contains(room) { roomIDs.append(room) }
                inRooms.formUnion(r.seats.map(\.id))
            }
        }
        var named = Set<String>()
        for list in seats {
            for id in list.split(separator: ",").map({ $0.trimmingCharacters(in: .whitespaces) }) where !id.isEmpty {
                guard let seat = config.seat(id) else { throw usage("input.target.unknown-seat", ["seat": id]) }
                if !roomIDs.isEmpty && !inRooms.contains(id) {
                    throw usage("input.target.seat-outside-room", ["seat": id, "rooms": roomIDs.joined(separator: ", "), "room": seat.room])
                }
                named.insert(id)
            }
        }
        let wanted = named.isEmpty ? inRooms : named
        return config.seats.filter { wanted.contains($0.id) }
    }
}

extension Console {
    /// Reports to the school server's own chain what no seat can record (a
    /// screenshot saved here, Wake-on-LAN sent from here). Without a server in the
    /// config there is nothing to do; a server that does not answer is a warning.
    public func report(_ kind: String, _ entries: [[String: String]]) async {
        guard let server = config.server, !entries.isEmpty else { return }
        do {
            let client = try ServerClient(server: server, school: config.school.id, identity: identity)
            for args in entries {
                var args = args
                args["kind"] = kind
                args["host"] = ProcessInfo.processInfo.hostName
                let answer = try await client.call("register.report", args: args, timeout: timeout)
                if answer.status != .ok { throw ConsoleError(.reportRefused, Catalog.text(answer.reason, language)) }
            }
        } catch {
            FileHandle.standardError.write(Data("vigie: warning: \(kind) could not be reported to the register (\(error))\n".utf8))
        }
    }

    /// Saved screenshots go into the register (seat, time, who, where the file
    /// went), so that purge can name them when they are past retention.
    public func reportSaved(_ saved: [(seat: String, file: String, params: [String: String])]) async {
        await report("screenshot.saved", saved.map { shot in
            var args = ["seat": shot.seat, "file": URL(fileURLWithPath: shot.file).standardizedFileURL.path]
            args["width"] = shot.params["width"]
            args["height"] = shot.params["height"]
            return args
        })
    }
}

/// What the console itself could not do (a seat's or the server's refusals are
/// reasons, not errors).
public typealias ConsoleError = CodedError<ConsoleFailure>

/// What a ``ConsoleError`` can be.
public enum ConsoleFailure: String, Sendable {
    /// A screenshot file could not be written.
    case saveWrite = "save.write"
    /// The school server did not take a report into its register.
    case reportRefused = "report.refused"
}

/// Where screenshots go: pupils' screens are personal data, so files are 0600.
public enum ScreenshotFiles {
    /// Creates `dir` (0700) when missing and proves it writable by creating and
    /// removing a file in it; nil when it is, else the reason (the system's words).
    public static func unwritable(_ dir: String) -> String? {
        var info = stat()
        if stat(dir, &info) == 0 {
            if (info.st_mode & S_IFMT) != S_IFDIR { return String(cString: strerror(ENOTDIR)) }
        } else if errno == ENOENT {
            do {
                try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
            } catch {
                let ns = error as NSError
                let underlying = ns.userInfo[NSUnderlyingErrorKey] as? NSError
                if let underlying, underlying.domain == NSPOSIXErrorDomain { return String(cString: strerror(Int32(underlying.code))) }
                return ns.localizedDescription
            }
        } else {
            return String(cString: strerror(errno))
        }
        var template = Array((dir.hasSuffix("/") ? dir : dir + "/").utf8CString.dropLast()) + Array(".vigie-probe-XXXXXX".utf8CString)
        let fd = template.withUnsafeMutableBufferPointer { mkstemp($0.baseAddress!) }
        guard fd >= 0 else { return String(cString: strerror(errno)) }
        close(fd)
        template.withUnsafeBufferPointer { _ = unlink($0.baseAddress!) }
        return nil
    }

    /// Keeps an answered screenshot: saves its picture in `dir` and has the
    /// answer say where (`screenshot.saved`), or say why it could not be saved
    /// (`save.failed`). Returns what ``Console/reportSaved(_:)`` needs, when saved.
    public static func keep(_ result: inout SeatResult, in dir: String) -> (seat: String, file: String, params: [String: String])? {
        guard result.status == .ok, !result.body.isEmpty else { return nil }
        do {
            let path = try save(result.body, seat: result.seat.id, in: dir)
            let kept = (seat: result.seat.id, file: path, params: result.reason.params)
            result.reason = Reason("screenshot.saved", result.reason.params.merging(["file": path]) { $1 })
            return kept
        } catch {
            result.status = .failed
            result.reason = Reason("save.failed", ["detail": (error as? ConsoleError)?.description ?? error.localizedDescription])
            return nil
        }
    }

    public static func save(_ png: [UInt8], seat: String, in dir: String, now: Date = Date(), ext: String = "png") throws -> String {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.dateFormat = "yyyyMMdd-HHmmss"
        let stamp = formatter.string(from: now)
        var n = 1
        while true {
            let name = n == 1 ? "\(seat)-\(stamp).\(ext)" : "\(seat)-\(stamp)-\(n).\(ext)"
            let path = dir.hasSuffix("/") ? dir + name : dir + "/" + name
            let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
            if fd < 0 {
                if errno == EEXIST { n += 1; continue }
                throw ConsoleError(.saveWrite, "\(path): \(String(cString: strerror(errno)))")
            }
            defer { close(fd) }
            let written = png.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
            guard written == png.count else {
                throw ConsoleError(.saveWrite, "\(path): short write")
            }
            return path
        }
    }
}

