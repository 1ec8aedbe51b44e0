import ArgumentParser
import Foundation
import VigieCLI
import VigieScreen
import VigieThumbnails

struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench", abstract: "Measure Vigie's figures on this machine.", subcommands: [Screen.self, Thumbnail.self, ScaleBench.self])

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

    struct Thumbnail: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Overview thumbnails (DAMAGE, MIT-SHM, 320 px JPEG) on an empty X display: medians (build with -c release).",
            discussion: "Draws its own scenes: run it on an Xvfb of its own, e.g. Xvfb :9 -screen 0 1920x1080x24.")
        @Option(help: ArgumentHelp("X display (default $DISPLAY).", valueName: "display"))
        var display: String?
        @Option(help: "Frames.")
        var iterations = 100
        @Option(help: ArgumentHelp("Save the last JPEG of each scene there (still.jpg, scroll.jpg).", valueName: "dir"))
        var saveTo: String?

        @Option(help: ArgumentHelp("""
            Instead: keep the scrolling scene up for this many seconds (10 lines a second) and \
            print the bytes a 1-picture-a-second live view of it sends (for comparing with a VNC \
            client reading the same display; `ready` is printed once the scene is up).
            """, valueName: "seconds"))
        var scene: Double?
        @Option(help: ArgumentHelp("With --scene: lines the text window scrolls per second.", valueName: "lines"))
        var linesPerSecond = 10
        @Flag(help: "With --scene: a window also crosses the screen (the remote view's benchmark).")
        var movingWindow = false

        func run() throws {
            if let scene {
                let r = try ThumbnailBenchmark.minute(display: display, seconds: scene, linesPerSecond: linesPerSecond, movingWindow: movingWindow) {
                    FileHandle.standardOutput.write(Data("ready\n".utf8))
                }
                print(String(format: "vigie bytes %d frames %d ticks %d seconds %.0f", Int(r["bytes"]!), Int(r["frames"]!), Int(r["ticks"]!), r["seconds"]!))
                return
            }
            let r = try ThumbnailBenchmark.run(display: display, iterations: iterations) { name, jpeg in
                if let saveTo { _ = FileManager.default.createFile(atPath: "\(saveTo)/\(name).jpg", contents: Data(jpeg)) }
            }
            func row(_ label: String, _ value: String) {
                print("\(label.padding(toLength: 34, withPad: " ", startingAt: 0)) \(value)")
            }
            row("screen", "\(Int(r["width"]!))x\(Int(r["height"]!)), thumbnails \(Int(r["thumbWidth"]!))x\(Int(r["thumbHeight"]!))")
            for (key, label) in [("frameMs", "frame (capture+scale+encode)"), ("captureMs", "  capture (MIT-SHM)"),
                                 ("scaleMs", "  scale"), ("encodeMs", "  encode (JPEG q70)"),
                                 ("unchangedTickMs", "unchanged tick")] {
                row(label, String(format: "%9.4f ms", r[key]!))
            }
            row("JPEG, still desktop", "\(Int(r["stillBytes"]!)) bytes")
            row("JPEG, scrolling text window", "\(Int(r["scrollBytes"]!)) bytes")
        }
    }
}
