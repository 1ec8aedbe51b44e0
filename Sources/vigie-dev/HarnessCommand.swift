import ArgumentParser
import Foundation
import VigieStore
import VigieCLI
import Logging
import VigieController
import VigieWire
import VigieHarness

/// `vigie harness`: many simulated seats in this process, for scale tests.
struct HarnessCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "harness",
        abstract: "Simulate many seats in this process: real mutual TLS, frames and policy, a synthetic screen (scale tests only).",
        discussion: """
            Writes under --state a CA, a teacher and an admin (env, env.admin to source), every seat's \
            certificate (seats.json) and school.toml with one loopback port per seat (rooms of 30: \
            R01-01…), then serves until Ctrl-C. Simulated seats run the agent's own request pipeline; they journal with \
            the agent's SeatJournal in SQLite's in-memory mode (or, with --journals, one file per seat, \
            as on a real seat) and never lock a screen.
            """
    )
    @Option(help: "Number of simulated seats (1 to 20000).")
    var seats = 1000
    @Option(help: ArgumentHelp("Folder for the harness's files.", valueName: "dir"))
    var state = "harness-state"
    @Option(help: ArgumentHelp("Keep each seat's journal in a file of this folder (default: in memory).", valueName: "dir"))
    var journals: String?
    @Flag(help: "Live views get a picture at every tick (a busy room), not only when a still screen is first seen.")
    var changingScreens = false

    func validate() throws {
        guard (1...20_000).contains(seats) else { throw ValidationError("--seats must be between 1 and 20000") }
    }

    func run() async throws {
        // A listener and a connection per seat (and a journal file, its -wal and -shm), and a few for the runtime.
        if let warning = OpenFileLimit.raise(needed: seats * (journals == nil ? 2 : 5) + 64, what: "a harness of \(seats) seats") {
            FileHandle.standardError.write(Data("vigie harness: \(warning)\n".utf8))
        }
        let stateDir = URL(fileURLWithPath: state).standardizedFileURL.path
        let files: HarnessFiles
        do {
            files = try HarnessFiles.prepare(stateDir: stateDir, seatCount: seats)
        } catch {
            FileHandle.standardError.write(Data("vigie harness: \(error)\n".utf8))
            throw ExitCode(Exit.configuration)
        }
        var logger = Logger(label: "vigie.harness")
        logger.logLevel = .warning
        let harness = Harness(files: files, journalDirectory: journals.map { URL(fileURLWithPath: $0).standardizedFileURL.path },
                              changingScreens: changingScreens, logger: logger)
        do {
            try await harness.start()
        } catch {
            FileHandle.standardError.write(Data("vigie harness: \(error)\n".utf8))
            throw ExitCode(1)
        }
        writeLine("ready: \(harness.seatCount) simulated seats; config \(files.configPath); as the teacher: source \(stateDir)/env (admin: env.admin)")
        await waitForInterrupt()
        let journaled = harness.journaled
        await harness.stop()
        writeLine("stopped: \(seats) seats, \(journaled) events journaled")
    }
}
