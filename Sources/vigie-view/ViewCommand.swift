import ArgumentParser
import Foundation
import NIOCore
import NIOPosix
import VigieCLI
import VigieConsole
import VigieController
import VigieModel
import VigieWire

/// `vigie view` and `vigie control` (the console hands them to this
/// executable): one seat's screen over VNC, for any standard VNC viewer.
///
/// The seat's VNC server never listens on the network: its RFB bytes travel in
/// a stream of the person's own mutual-TLS connection to the seat, and this
/// process offers them on 127.0.0.1 only, to one viewer, behind a one-time VNC
/// password the seat checks (printed here, never on a command line).
@main
struct ViewMain: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "vigie-view",
        abstract: "Remote view, control and assistance (the console hands `vigie view|control|assist` to it).",
        subcommands: [ViewCommand.self, AssistCode.self, AssistRequests.self, AssistNote.self, AssistReport.self, AssistControl.self],
        defaultSubcommand: ViewCommand.self)
}

struct ViewCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "vigie view",
        abstract: "One seat's screen in a VNC viewer: `vigie view` to look, `vigie control` to take keyboard and mouse, `vigie assist` to help the person at the seat with their consent.",
        discussion: """
            Prints a local VNC address (127.0.0.1:PORT) and a one-time password, and starts a VNC \
            viewer when one is installed (xtigervncviewer, gvncviewer, remmina); --no-viewer only \
            prints them. One viewer may connect; the view ends when it leaves, on Ctrl-C, or when \
            the seat ends it (its policy, the monitoring window's end, the person at the seat \
            changing). The person at the seat sees who looks or controls, and the register keeps \
            when and how long (never the pictures or the keys).
            """)

    @Argument(help: ArgumentHelp("view, control or assist.", valueName: "mode"))
    var mode: String
    @OptionGroup var target: TargetOptions
    @OptionGroup var options: ConsoleOptions
    @Flag(help: "Only print the address and password; do not start a VNC viewer.")
    var noViewer = false
    @Option(help: ArgumentHelp("The local port (default: any free one).", valueName: "port"))
    var port = 0
    @Option(help: ArgumentHelp("The picture quality: low (fewest bytes), medium or high. The seat bounds what the viewer asks to it.",
                               valueName: "quality"))
    var quality: String = RemoteQuality.standard.rawValue
    @Option(help: ArgumentHelp("vigie assist: why you ask (the person at the seat reads it), 200 characters at most.", valueName: "text"))
    var reason: String?
    @Flag(name: .customLong("control"), help: "vigie assist: ask to take the keyboard and mouse too (not only to see).")
    var assistControl = false

    func validate() throws {
        if !["view", "control", "assist"].contains(mode) { throw ValidationError("the mode is view, control or assist") }
        if mode == "assist" {
            let why = reason?.trimmingCharacters(in: .whitespacesAndNewlines) ?? ""
            if !(1...200).contains(why.count) { throw ValidationError("vigie assist needs --reason TEXT (1 to 200 characters): the person at the seat reads it") }
        } else if reason != nil || assistControl {
            throw ValidationError("--reason and --control are for vigie assist")
        }
        if !(0...65535).contains(port) { throw ValidationError("--port must be between 0 and 65535") }
        if RemoteQuality(rawValue: quality) == nil { throw ValidationError("--quality is low, medium or high") }
    }

    func run() async throws {
        try await runConsole { try await perform(try Console(options)) }
    }

    func perform(_ console: Console) async throws -> Int32 {
        let seats = try console.seats(target)
        guard seats.count == 1, let seat = seats.first else {
            throw Failure.usage(console.language == .fr ? "une vue à distance est pour un seul poste (--seat)" : "a remote view is for one seat (--seat)")
        }
        let feature: Feature = mode == "assist" ? .assist : mode == "control" ? .control : .view
        var extra: [String: String] = [:]
        if feature == .assist {
            extra["mode"] = assistControl ? "control" : "view"
            extra["reason"] = reason
        }
        return try await Self.open(feature, on: seat, extra: extra, console: console, port: port, quality: quality, noViewer: noViewer)
    }

    /// Opens the stream, offers it on 127.0.0.1 to one viewer, and relays until it ends.
    static func open(_ feature: Feature, on seat: Seat, extra: [String: String], console: Console, port: Int, quality: String,
                     noViewer: Bool) async throws -> Int32 {

        let session: ConsoleSession
        do {
            session = try ConsoleSession(identity: console.identity, schoolID: console.config.school.id)
        } catch {
            throw Failure.configuration("\(error)")
        }
        // The local endpoint first: the seat is asked only when there is somewhere to show it.
        let listener: NIOAsyncChannel<NIOAsyncChannel<ByteBuffer, ByteBuffer>, Never>
        do {
            listener = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                .serverChannelOption(.backlog, value: 1)
                .bind(host: "127.0.0.1", port: port) { channel in
                    channel.eventLoop.makeCompletedFuture { try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel) }
                }
        } catch {
            throw Failure.usage("127.0.0.1:\(port): \(error)")
        }
        let localPort = listener.channel.localAddress?.port ?? port
        let password = StreamRelay.vncPassword()
        let relay = StreamRelay()
        let endpoint = listener.channel
        relay.onEnd { endpoint.close(promise: nil) }
        let args = ["password": password, "quality": quality].merging(extra) { a, _ in a }
        var timeout = console.timeout
        if feature == .assist {
            // The person at the seat has a minute to answer.
            timeout += .seconds(70)
            if !console.json {
                writeLine(console.language == .fr ? "\(seat.id) : demande envoyée, en attente de l’accord de la personne au poste…"
                                                  : "\(seat.id): asked, waiting for the consent of the person at the seat…")
            }
        }
        let id = await session.openStream(feature, args: args, on: seat, timeout: timeout) {
            relay.handle($0)
        }
        let opened: Reason
        switch await relay.answer() {
        case .success(let reason): opened = reason
        case .failure(let refusal):
            writeLine(console.line(SeatResult(seat: seat, status: refusal.status, reason: refusal.reason), extra: [:], width: seat.id.count))
            try? await listener.channel.close()
            await session.close()
            return Exit.someSeatsDidNot
        }
        // The seat's answer, as every command prints one (with --json, the address and password in it).
        writeLine(console.line(SeatResult(seat: seat, status: .ok, reason: opened),
                               extra: ["state": "open", "address": "127.0.0.1:\(localPort)", "password": password], width: seat.id.count))
        if !console.json {
            writeLine(console.language == .fr
                      ? "VNC : 127.0.0.1:\(localPort) (un seul visualiseur) — mot de passe à usage unique : \(password)"
                      : "VNC: 127.0.0.1:\(localPort) (one viewer) — one-time password: \(password)")
        }
        if !noViewer { Self.startViewer(port: localPort, language: console.language) }

        await serve(listener: listener, relay: relay, session: session, id: id, seat: seat)
        if let ended = relay.endedBy {
            writeLine(console.line(SeatResult(seat: seat, status: .ok, reason: ended), extra: ["state": "ended"], width: seat.id.count))
        }
        // An assistance leaves a sheet to complete.
        if let intervention = opened.params["intervention"], !console.json {
            writeLine(console.language == .fr
                      ? "Intervention \(intervention) : complétez sa fiche avec « vigie assist note \(intervention) --problem … --diagnosis … --before … --after … --advice … »."
                      : "Intervention \(intervention): complete its sheet with “vigie assist note \(intervention) --problem … --diagnosis … --before … --after … --advice …”.")
        }
        await session.endStream(id, on: seat)
        await session.close()
        return Exit.ok
    }

    /// Relays the one viewer's connection and the seat's stream until either
    /// ends, or Ctrl-C.
    static func serve(listener: NIOAsyncChannel<NIOAsyncChannel<ByteBuffer, ByteBuffer>, Never>, relay: StreamRelay,
               session: ConsoleSession, id: UInt32, seat: Seat) async {
        // Ctrl-C closes the endpoint and the viewer's connection, which ends the relay.
        let interrupted = Task {
            await waitForInterrupt()
            relay.close()
        }
        defer { interrupted.cancel() }
        await withTaskGroup(of: Void.self) { group in
            group.addTask {
                do {
                    try await listener.executeThenClose { connections in
                        var accepted = connections.makeAsyncIterator()
                        // Ends when the seat ends the stream first (the listener is closed then).
                        guard let viewer = try await accepted.next() else { return }
                        // One viewer: nobody else gets in.
                        try? await listener.channel.close()
                        let connection = viewer.channel
                        relay.onEnd { connection.close(promise: nil) }
                        try await viewer.executeThenClose { inbound, outbound in
                            try await withThrowingTaskGroup(of: Void.self) { both in
                                both.addTask {
                                    for try await buffer in inbound {
                                        await session.sendStreamData(id, on: seat, bytes: Array(buffer.readableBytesView))
                                    }
                                }
                                both.addTask {
                                    for await bytes in relay.data { try await outbound.write(ByteBuffer(bytes: bytes)) }
                                }
                                _ = try await both.next()
                                both.cancelAll()
                            }
                        }
                    }
                } catch {}
            }
            await group.next()
            group.cancelAll()
        }
    }

    /// Starts the first VNC viewer installed, in the background.
    static func startViewer(port: Int, language: Language) {
        let viewers: [(String, [String])] = [
            ("/usr/bin/xtigervncviewer", ["127.0.0.1::\(port)"]),
            ("/usr/bin/gvncviewer", ["127.0.0.1::\(port)"]),
            ("/usr/bin/remmina", ["-c", "vnc://127.0.0.1:\(port)"]),
        ]
        guard let (path, args) = viewers.first(where: { FileManager.default.isExecutableFile(atPath: $0.0) }) else {
            writeLine(language == .fr
                      ? "Aucun visualiseur VNC installé (xtigervncviewer, gvncviewer, remmina) : ouvrez l’adresse ci-dessus avec le vôtre."
                      : "No VNC viewer installed (xtigervncviewer, gvncviewer, remmina): open the address above with yours.")
            return
        }
        if Launch.detached([path] + args) == nil {
            writeLine(language == .fr ? "\(path) n’a pas pu démarrer : ouvrez l’adresse ci-dessus avec un visualiseur VNC."
                                      : "\(path) could not start: open the address above with a VNC viewer.")
        }
    }
}
