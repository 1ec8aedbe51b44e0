import ArgumentParser
import Foundation
import VigieCLI
import VigieScreen

struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench", abstract: "Measure Vigie's figures on this machine.", subcommands: [Screen.self, ScaleBench.self])

    struct Screen: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Capture and PNG encoding on an X display: median milliseconds (build with -c release).")
        @Option(help: ArgumentHelp("X display (default $DISPLAY).", valueName: "display"))
        var display: String?
        @Option(help: "Iterations.")
        var iterations = 30

        func run() throws {
            let results = try ScreenBenchmark.run(display: display, iterations: iterations)
            for (name, ms) in results.sorted(by: { $0.key < $1.key }) {
                print("\(name.padding(toLength: 28, withPad: " ", startingAt: 0)) \(String(format: "%7.2f", ms)) ms")
            }
        }
    }
}
