import ArgumentParser
import Foundation
import VigieCLI
import VigieConfig
import VigieConsole
import VigieController
import VigieModel
import VigiePKI
import VigieWire

struct LockCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "lock", abstract: "Lock the seats: screen covered, keyboard and mouse held.")
    @OptionGroup var target: TargetOptions
    @OptionGroup var options: ConsoleOptions
    @Option(name: .customLong("for"), parsing: .unconditional,
            help: ArgumentHelp("Lift the lock by itself after this long (e.g. 20m, 1h30m, 90s; at most 7 days).", valueName: "duration"))
    var duration: String?

    func validate() throws {
        if let duration, let problem = DurationText.problem(duration, option: "--for", language: InputError.language(options.lang)) {
            throw ValidationError(problem.description)
        }
    }

    func run() async throws {
        try await runConsole { try await perform(try Console(options)) }
    }

    func perform(_ console: Console) async throws -> Int32 {
        var args: [String: String] = [:]
        if let duration, case .seconds(let seconds) = DurationText.parse(duration) { args["for"] = String(seconds) }
        return try await console.run(.lock, args: args, to: try console.seats(target))
    }
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
    @Argument(help: "The text to show (at most 2,000 bytes of UTF-8: accented letters and symbols take several).")
    var text: String

    func validate() throws {
        if let problem = MessageLimits.problem(text) {
            throw ValidationError(InputError(problem.code, problem.params, language: InputError.language(options.lang)).description)
        }
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
            // Before any request: a seat must not be captured (and its pupil shown the
            // indicator) for a picture that cannot be kept.
            if let problem = ScreenshotFiles.unwritable(out) {
                throw Failure.usage(InputError("input.folder.not-writable", ["folder": out, "detail": problem], language: console.language).description)
            }
            let feature: Feature = thumbnail == nil ? .screenshot : .thumbnail
            let args = thumbnail.map { ["width": String($0)] } ?? [:]
            var saved: [(seat: String, file: String, params: [String: String])] = []
            let code = try await console.run(feature, args: args, to: seats) { result in
                guard let kept = ScreenshotFiles.keep(&result, in: out) else { return [:] }
                saved.append(kept)
                return ["file": kept.file]
            }
            await console.reportSaved(saved)
            return code
        }
    }
}

