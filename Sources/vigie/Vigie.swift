import ArgumentParser
import Foundation
import VigieModel

/// Exit statuses of `vigie` (documented in the README).
enum Exit {
    /// Every targeted seat did it.
    static let ok: Int32 = 0
    /// At least one seat did not (refused, unreachable or failed).
    static let someSeatsDidNot: Int32 = 1
    /// Bad command line (unknown room, missing option…): EX_USAGE.
    static let usage: Int32 = 64
    /// Bad or missing configuration or identity: EX_CONFIG.
    static let configuration: Int32 = 78
}

@main
struct Vigie: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "vigie",
        abstract: "Vigie: classroom supervision that tells people when they are watched.",
        discussion: """
            Exit status: 0 every targeted seat did it; 1 at least one did not; \
            64 bad command line; 78 bad configuration or identity.
            The configuration and identity come from --config/--identity or from \
            VIGIE_CONFIG/VIGIE_IDENTITY.
            """,
        subcommands: [
            LockCommand.self, UnlockCommand.self, MessageCommand.self, ScreenshotCommand.self, StatusCommand.self,
            PolicyCommand.self, RegisterCommand.self, ServerCommand.self, ConfigCommand.self, SignageCommand.self,
            PKICommand.self, DemoCommand.self, BenchCommand.self, PowerCommand.self, LogoffCommand.self, RunCommand.self,
            ConsoleCommand.self, HarnessCommand.self,
        ]
    )
}
