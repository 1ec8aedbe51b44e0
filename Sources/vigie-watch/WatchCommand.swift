import ArgumentParser
import Foundation
import VigieCLI
import VigieConsole
import VigieController
import VigieModel
import VigieWire

/// `vigie watch` (the console hands it to this executable): live thumbnails of
/// the seats over the person's own mutual-TLS connections (no picture passes
/// through the school server). Each seat decides: outside its windows it says
/// why and when the next one opens, and starts sending when it opens.
@main
struct WatchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "vigie watch",
        abstract: "Watch the seats live: a dashboard of thumbnails while each seat's policy allows.",
        discussion: """
            By default, a dashboard in your browser: a local address (127.0.0.1 only, behind a \
            one-time token) is printed and opened; it runs until Ctrl-C. From the page you can \
            select seats and lock, unlock, send a message or save a screenshot, as with the \
            other commands. With --once --out DIR: one thumbnail per seat saved as \
            DIR/SEAT-YYYYMMDD-HHMMSS.jpg (readable only by you), then exit (0 if every seat gave \
            one). With --json: each seat's stream as JSON Lines (seat, state, code, message, \
            bytes, time) until Ctrl-C.
            """)
    @OptionGroup var target: TargetOptions
    @OptionGroup var options: ConsoleOptions
    @Flag(help: "Save one thumbnail per seat, then exit.")
    var once = false
    @Option(help: ArgumentHelp("Folder for --once, and for the dashboard's screenshots (created 0700 if missing; default: the current folder).", valueName: "dir"))
    var out: String?
    @Option(help: ArgumentHelp("Thumbnail width in pixels, 16 to 1920 (the seat may narrow it).", valueName: "pixels"))
    var width = 320
    @Option(help: ArgumentHelp("Seconds between pictures, 0.2 to 60 (the seat sends only what changed).", valueName: "seconds"))
    var interval = 1.0
    @Flag(help: "Only print the dashboard's address; do not open a browser.")
    var noBrowser = false
    @Option(help: ArgumentHelp("The dashboard's local port (default: any free one).", valueName: "port"))
    var port = 0

    func validate() throws {
        if once && out == nil { throw ValidationError("--once needs --out DIR") }
        if !(0...65535).contains(port) { throw ValidationError("--port must be between 0 and 65535") }
        if !(16...1920).contains(width) { throw ValidationError("--width must be between 16 and 1920 pixels") }
        if !(interval >= 0.2 && interval <= 60) { throw ValidationError("--interval must be between 0.2 and 60 seconds") }
    }

    func run() async throws {
        try await runConsole { try await perform(try Console(options)) }
    }

    func perform(_ console: Console) async throws -> Int32 {
        let seats = try console.seats(target)
        // Before any request: no seat is watched for a picture that cannot be kept (the
        // dashboard's screenshots check their folder when one is asked for).
        if once, let out, let problem = ScreenshotFiles.unwritable(out) {
            throw Failure.usage(InputError("input.folder.not-writable", ["folder": out, "detail": problem], language: console.language).description)
        }
        if !once && !console.json {
            return try await Dashboard.serve(console: console, seats: seats, width: width, interval: interval,
                                             out: out ?? ".", port: port, openBrowser: !noBrowser)
        }
        let session: ConsoleSession
        do {
            session = try ConsoleSession(identity: console.identity, schoolID: console.config.school.id)
        } catch {
            throw Failure.configuration("\(error)")
        }
        let (events, sink) = AsyncStream<(Seat, StreamEvent)>.makeStream(bufferingPolicy: .bufferingNewest(1024))
        var ids: [String: UInt32] = [:]
        let args = ["width": String(width), "interval": String(Int((interval * 1000).rounded()))]
        for seat in seats {
            ids[seat.id] = await session.openStream(.watch, args: args, on: seat, timeout: console.timeout) { event in
                sink.yield((seat, event))
            }
        }
        let interrupted = Task {
            await waitForInterrupt()
            sink.finish()
        }
        let padding = max(8, seats.map(\.id.count).max() ?? 0)
        var pending = Set(seats.map(\.id))
        var saved: [(seat: String, file: String, params: [String: String])] = []
        for await (seat, event) in events {
            var line = WatchLine(seat: seat, state: "", reason: nil, bytes: nil, width: nil, height: nil)
            var finished = false
            switch event {
            case .opened(let reason):
                if once || reason.params["paused"] != nil { continue }
                line.state = "open"
                line.reason = reason
            case .notOpened(let status, let reason):
                line.state = status.rawValue
                line.reason = reason
                finished = true
            case .picture(_, let w, let h, let bytes):
                line.state = "picture"
                (line.bytes, line.width, line.height) = (bytes.count, w, h)
                if once, let out {
                    guard pending.contains(seat.id) else { continue }
                    do {
                        let path = try ScreenshotFiles.save(bytes, seat: seat.id, in: out, ext: "jpg")
                        saved.append((seat.id, path, ["width": String(w), "height": String(h)]))
                        line.state = "ok"
                        line.reason = Reason("watch.saved", ["file": path, "width": String(w), "height": String(h), "bytes": String(bytes.count)])
                    } catch {
                        line.state = "failed"
                        line.reason = Reason("save.failed", ["detail": "\(error)"])
                    }
                    finished = true
                }
            case .paused(let reason):
                line.state = "paused"
                line.reason = reason
                // Once: no picture to wait for. Live: the seat sends again when its window opens.
                finished = once
            case .resumed:
                line.state = "resumed"
            case .data:
                continue
            case .ended(let reason):
                line.state = "ended"
                line.reason = reason
                finished = true
            }
            if once && !pending.contains(seat.id) { continue }
            writeLine(line.text(console.language, json: console.json, padding: padding))
            if finished { pending.remove(seat.id) }
            if once {
                if let id = ids[seat.id], finished { await session.endStream(id, on: seat) }
                if pending.isEmpty { break }
            } else if pending.isEmpty {
                break
            }
        }
        interrupted.cancel()
        // Ended by the viewer (the seats record who stopped watching, and when),
        // not merely dropped with the connections.
        for seat in seats where pending.contains(seat.id) {
            if let id = ids[seat.id] { await session.endStream(id, on: seat) }
        }
        await session.close()
        await console.reportSaved(saved)
        return once && saved.count == seats.count ? Exit.ok : Exit.someSeatsDidNot
    }
}

/// One line of `vigie watch`: a seat's stream changed or sent a picture.
struct WatchLine {
    var seat: Seat
    var state: String
    var reason: Reason?
    var bytes: Int?
    var width: Int?
    var height: Int?

    func text(_ language: Language, json: Bool, padding: Int) -> String {
        var message = reason.map { Catalog.text($0, language) } ?? ""
        if state == "picture", let width, let height, let bytes {
            message = "\(width)×\(height), \(bytes) B"
        }
        if json {
            var object: [String: Any] = ["seat": seat.id, "room": seat.room, "state": state, "message": message,
                                         "time": ISO8601DateFormatter().string(from: Date())]
            if let reason { object["code"] = reason.code; object["params"] = reason.params }
            if let bytes { object["bytes"] = bytes }
            if let width, let height { object["width"] = width; object["height"] = height }
            let data = try! JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])
            return String(decoding: data, as: UTF8.self)
        }
        let name = seat.id.padding(toLength: padding, withPad: " ", startingAt: 0)
        return "\(name)  \(state.padding(toLength: 11, withPad: " ", startingAt: 0))  \(message)"
    }
}
