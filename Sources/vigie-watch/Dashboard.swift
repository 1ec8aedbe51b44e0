import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdWebSocket
import Logging
import NIOConcurrencyHelpers
import NIOCore
import VigieCLI
import VigieConsole
import VigieController
import VigieModel
import VigieWire

/// The live overview in a browser: a web server inside this process, on
/// 127.0.0.1 only, that talks to the seats itself over the person's own
/// mutual-TLS connections (``ConsoleSession``) and shows them on one page,
/// updated over a WebSocket. No picture passes through the school server, and
/// each seat still decides what it shows.
///
/// Access: a one-time token, exchanged for an HttpOnly, SameSite=Strict cookie;
/// requests naming another Host or coming from another Origin are refused; the
/// token and the cookie die with the process.
enum Dashboard {
    static func serve(console: Console, seats: [Seat], width: Int, interval: Double, out: String, port: Int, openBrowser: Bool) async throws -> Int32 {
        let session: ConsoleSession
        do {
            session = try ConsoleSession(identity: console.identity, schoolID: console.config.school.id)
        } catch {
            throw Failure.configuration("\(error)")
        }
        let hub = Hub(console: console, seats: seats, session: session, out: out)
        let access = Access()
        var logger = Logger(label: "vigie-watch")
        logger.logLevel = .warning

        let router = Router(context: BasicWebSocketRequestContext.self)
        router.middlewares.add(LocalOnly(access: access))
        router.get("/open") { request, _ -> Response in
            guard let token = request.uri.queryParameters["token"].map(String.init), let cookie = access.exchange(token) else {
                return Page.refused(console.language, status: .forbidden)
            }
            hub.browserOpened()
            var headers = HTTPFields()
            headers[.location] = "/"
            headers[.setCookie] = "\(Access.cookieName)=\(cookie); HttpOnly; SameSite=Strict; Path=/"
            headers[.cacheControl] = "no-store"
            return Response(status: .seeOther, headers: headers)
        }
        router.get("/") { _, _ -> Response in
            var headers = HTTPFields()
            headers[.contentType] = "text/html; charset=utf-8"
            headers[.cacheControl] = "no-store"
            headers[.contentSecurityPolicy] = "default-src 'self'; img-src 'self' blob: data:; style-src 'unsafe-inline'; script-src 'self' 'unsafe-inline'; connect-src 'self'"
            return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(string: Page.html(console.language))))
        }
        router.ws("/ws") { _, _ in
            .upgrade([:])
        } onUpgrade: { inbound, outbound, _ in
            try await hub.serve(inbound: inbound, outbound: outbound)
        }
        // noVNC, from Debian's package, and its WebSocket to one seat's remote view.
        router.get("/novnc/**") { _, context -> Response in
            NoVNC.serve(context.parameters.getCatchAll())
        }
        router.ws("/vnc/{ticket}") { _, _ in
            .upgrade([:])
        } onUpgrade: { inbound, outbound, context in
            guard let ticket = context.requestContext.parameters.get("ticket") else { return }
            try await hub.relayRemote(ticket: ticket, inbound: inbound, outbound: outbound)
        }

        let bound = NIOLockedValueBox<Int?>(nil)
        let app = Application(
            router: router,
            server: .http1WebSocketUpgrade(webSocketRouter: router),
            configuration: .init(address: .hostname("127.0.0.1", port: port), serverName: nil),
            onServerRunning: { channel in bound.withLockedValue { $0 = channel.localAddress?.port } },
            logger: logger)

        return try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await app.run() }
            // The port, once the server listens.
            var chosen: Int?
            for _ in 0..<500 {
                chosen = bound.withLockedValue { $0 }
                if chosen != nil { break }
                try await Task.sleep(for: .milliseconds(10))
            }
            guard let chosen else {
                group.cancelAll()
                throw Failure.usage("the dashboard could not listen on 127.0.0.1:\(port)")
            }
            access.port = chosen
            let address = "http://127.0.0.1:\(chosen)/open?token=\(access.token)"
            let words = console.language == .fr
                ? "Tableau de bord de \(seats.count) poste(s) : \(address)\nCtrl-C pour arrêter (l’adresse ne sert qu’une fois)."
                : "Dashboard of \(seats.count) seat(s): \(address)\nCtrl-C to stop (the address works once)."
            writeLine(words)
            if openBrowser { hub.opener = Browser.open(address) }
            await hub.start(width: width, interval: interval)
            await waitForInterrupt()
            await hub.stop()
            group.cancelAll()
            return Exit.ok
        }
    }
}

/// The one-time token, the cookie it is exchanged for, and the only Host this
/// server answers to.
final class Access: Sendable {
    static let cookieName = "vigie_watch"
    let token = Access.random()
    private let cookie = Access.random()
    private let used = NIOLockedValueBox(false)
    private let boundPort = NIOLockedValueBox(0)

    var port: Int {
        get { boundPort.withLockedValue { $0 } }
        set { boundPort.withLockedValue { $0 = newValue } }
    }

    /// The cookie for a right token, once.
    func exchange(_ given: String) -> String? {
        guard Access.same(given, token) else { return nil }
        return used.withLockedValue { used in
            if used { return nil }
            used = true
            return cookie
        }
    }

    func admits(cookieHeader: String?) -> Bool {
        guard let cookieHeader else { return false }
        for part in cookieHeader.split(separator: ";") {
            let pair = part.trimmingCharacters(in: .whitespaces).split(separator: "=", maxSplits: 1).map(String.init)
            if pair.count == 2, pair[0] == Access.cookieName, Access.same(pair[1], cookie) { return true }
        }
        return false
    }

    /// The Host values this server answers to.
    var hosts: Set<String> { ["127.0.0.1:\(port)", "localhost:\(port)"] }
    /// The Origins a page of this server has.
    var origins: Set<String> { ["http://127.0.0.1:\(port)", "http://localhost:\(port)"] }

    static func random() -> String {
        var bytes = [UInt8](repeating: 0, count: 32)
        var generator = SystemRandomNumberGenerator()
        for i in bytes.indices { bytes[i] = UInt8.random(in: 0...255, using: &generator) }
        return bytes.map { String(format: "%02x", $0) }.joined()
    }

    /// Constant-time comparison of two tokens.
    static func same(_ a: String, _ b: String) -> Bool {
        let x = Array(a.utf8), y = Array(b.utf8)
        guard x.count == y.count else { return false }
        var difference: UInt8 = 0
        for i in x.indices { difference |= x[i] ^ y[i] }
        return difference == 0
    }
}

/// Refuses what does not come from this machine's own page: another Host (DNS
/// rebinding), another Origin (a page of another site), and, past `/open`,
/// anything without the cookie.
struct LocalOnly<Context: RequestContext>: RouterMiddleware {
    let access: Access

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let language = Language.fromLocale(ProcessInfo.processInfo.environment["LANG"]) ?? .fr
        guard let host = request.head.authority, access.hosts.contains(host) else {
            return Page.refused(language, status: .misdirectedRequest)
        }
        if let origin = request.headers[.origin], !access.origins.contains(origin) {
            return Page.refused(language, status: .forbidden)
        }
        if request.uri.path != "/open" {
            guard access.admits(cookieHeader: request.headers[.cookie]) else { return Page.refused(language, status: .forbidden) }
            // A WebSocket must come from the page itself.
            if request.uri.path == "/ws" || request.uri.path.hasPrefix("/vnc/"), request.headers[.origin] == nil {
                return Page.refused(language, status: .forbidden)
            }
        }
        return try await next(request, context)
    }
}

/// The seats' state, the connected pages, and the actions from them.
final class Hub: Sendable {
    struct Tile: Sendable {
        var seat: Seat
        var state = "connecting"
        var message = ""
        var locked: Bool?
        var picture: [UInt8]?
        var size = (width: 0, height: 0)
        /// The person logged in at the seat, when the seat says.
        var user: String?
    }

    let console: Console
    let seats: [Seat]
    let session: ConsoleSession
    let out: String
    private let tiles: NIOLockedValueBox<[String: Tile]>
    private let pages = NIOLockedValueBox<[UInt64: AsyncStream<PageMessage>.Continuation]>([:])
    private let nextPage = NIOLockedValueBox<UInt64>(0)
    private let streams = NIOLockedValueBox<[String: UInt32]>([:])
    private let openerBox = NIOLockedValueBox<Browser.Opened?>(nil)
    /// The remote views the pages have open (noVNC).
    let remotes = RemotePanes()
    /// The help requests waiting, as the server last said (nil: not asked, or not one who assists).
    let helpState = NIOLockedValueBox<[[String: String]]?>(nil)
    private let helpTask = NIOLockedValueBox<Task<Void, Never>?>(nil)

    var opener: Browser.Opened? {
        get { openerBox.withLockedValue { $0 } }
        set { openerBox.withLockedValue { $0 = newValue } }
    }

    init(console: Console, seats: [Seat], session: ConsoleSession, out: String) {
        self.console = console
        self.seats = seats
        self.session = session
        self.out = out
        tiles = NIOLockedValueBox(Dictionary(uniqueKeysWithValues: seats.map { ($0.id, Tile(seat: $0)) }))
    }

    /// The token was used: the file that carried it to the browser goes.
    func browserOpened() { opener?.forget() }

    /// Opens every seat's stream and asks each whether it is locked.
    func start(width: Int, interval: Double) async {
        let args = ["width": String(width), "interval": String(Int((interval * 1000).rounded()))]
        for seat in seats {
            let id = await session.openStream(.watch, args: args, on: seat, timeout: console.timeout) { [self] event in
                self.received(event, from: seat)
            }
            streams.withLockedValue { $0[seat.id] = id }
        }
        Task { await act("status", on: seats.map(\.id), text: nil) }
        if mayAssist { helpTask.withLockedValue { $0 = Task { await self.watchHelpRequests() } } }
    }

    /// The pages open now.
    func pageKeys() -> [UInt64] { pages.withLockedValue { Array($0.keys) } }

    func stop() async {
        helpTask.withLockedValue { $0?.cancel() }
        for pane in remotes.removeAll() { await end(pane) }
        for seat in seats {
            if let id = streams.withLockedValue({ $0[seat.id] }) { await session.endStream(id, on: seat) }
        }
        await session.close()
        for page in pages.withLockedValue({ Array($0.values) }) { page.finish() }
        opener?.forget()
    }

    private func words(_ reason: Reason) -> String { Catalog.text(reason, console.language) }

    func received(_ event: StreamEvent, from seat: Seat) {
        if case .data = event { return }  // byte streams are not the overview's
        var update: [String: Any] = ["type": "tile", "seat": seat.id]
        var picture: [UInt8]?
        tiles.withLockedValue { tiles in
            var tile = tiles[seat.id]!
            switch event {
            case .opened(let reason):
                tile.user = reason.params["user"]
                tile.state = reason.params["paused"] != nil ? "paused" : "open"
                if reason.params["paused"] == nil { tile.message = "" }
            case .notOpened(let status, let reason):
                tile.state = status.rawValue
                tile.message = words(reason)
                tile.picture = nil
            case .picture(_, let w, let h, let bytes):
                tile.state = "open"
                tile.message = ""
                tile.picture = bytes
                tile.size = (w, h)
                picture = bytes
            case .paused(let reason):
                tile.state = "paused"
                tile.message = words(reason)
                tile.picture = nil
            case .resumed:
                tile.state = "open"
                tile.message = ""
            case .data:
                break
            case .ended(let reason):
                tile.state = reason.code.hasPrefix("net.") ? "offline" : "ended"
                tile.message = words(reason)
                tile.picture = nil
            }
            tiles[seat.id] = tile
            update.merge(Self.describe(tile)) { $1 }
        }
        broadcast(update, picture: picture)
    }

    static func describe(_ tile: Tile) -> [String: Any] {
        var d: [String: Any] = ["seat": tile.seat.id, "room": tile.seat.room, "state": tile.state, "message": tile.message]
        if let locked = tile.locked { d["locked"] = locked }
        if let user = tile.user { d["user"] = user }
        if tile.picture != nil { d["width"] = tile.size.width; d["height"] = tile.size.height }
        return d
    }

    private func broadcast(_ object: [String: Any], picture: [UInt8]? = nil) {
        guard let message = PageMessage(object, picture: picture) else { return }
        for page in pages.withLockedValue({ Array($0.values) }) { page.yield(message) }
    }

    /// A message to one page only (what concerns its remote view: the password is its alone).
    func send(_ object: [String: Any], to page: UInt64) {
        guard let message = PageMessage(object) else { return }
        _ = pages.withLockedValue { $0[page] }?.yield(message)
    }

    /// One page's WebSocket: everything known now, then every change; actions from it.
    func serve(inbound: WebSocketInboundStream, outbound: WebSocketOutboundWriter) async throws {
        // A slow page never grows this process: it gets the newest updates.
        let (updates, page) = AsyncStream<PageMessage>.makeStream(bufferingPolicy: .bufferingNewest(256))
        let key = nextPage.withLockedValue { $0 += 1; return $0 }
        pages.withLockedValue { $0[key] = page }
        defer { pages.withLockedValue { $0[key] = nil } }
        // The page went: its remote view goes with it.
        defer {
            let left = remotes.removeAll(of: key)
            if !left.isEmpty { Task { for pane in left { await self.end(pane) } } }
        }
        var hello: [String: Any] = ["type": "hello", "lang": console.language.rawValue, "seats": seats.map { ["seat": $0.id, "room": $0.room] }]
        hello["title"] = console.language == .fr ? "Vigie — vue d’ensemble" : "Vigie — overview"
        page.yield(PageMessage(hello)!)
        if let requests = helpState.withLockedValue({ $0 }) { page.yield(PageMessage(helpMessage(requests, problem: nil))!) }
        for tile in tiles.withLockedValue({ Array($0.values) }).sorted(by: { $0.seat.id < $1.seat.id }) {
            var update = Self.describe(tile)
            update["type"] = "tile"
            page.yield(PageMessage(update, picture: tile.picture)!)
        }
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                for await message in updates { try await outbound.write(message.frame) }
            }
            for try await message in inbound.messages(maxSize: 64 * 1024) {
                guard case .text(let received) = message,
                      let object = (try? JSONSerialization.jsonObject(with: Data(received.utf8))) as? [String: Any] else { continue }
                switch object["type"] as? String {
                case "remote":
                    if let seat = object["seat"] as? String, let mode = object["mode"] as? String {
                        let code = object["code"] as? String
                        Task { await self.openRemote(seat: seat, mode: mode, page: key, code: code) }
                    }
                    continue
                case "assist-control":
                    if let ticket = object["ticket"] as? String { Task { await self.askControl(ticket: ticket, page: key) } }
                    continue
                case "note":
                    let fields = object.compactMapValues { $0 as? String }
                    Task { await self.note(fields, page: key) }
                    continue
                case "remote-close":
                    if let ticket = object["ticket"] as? String { Task { await self.closeRemote(ticket: ticket, page: key) } }
                    continue
                default:
                    break
                }
                guard object["type"] as? String == "action", let action = object["action"] as? String,
                      let wanted = object["seats"] as? [String] else { continue }
                let text = object["text"] as? String
                Task { await self.act(action, on: wanted, text: text) }
            }
            page.finish()
            group.cancelAll()
        }
    }

    /// An action from the page: the same requests, answers and words as the command line.
    func act(_ action: String, on ids: [String], text: String?) async {
        let targets = seats.filter { ids.contains($0.id) }
        guard !targets.isEmpty else { return }
        let feature: Feature
        var args: [String: String] = [:]
        switch action {
        case "lock": feature = .lock
        case "unlock": feature = .unlock
        case "status": feature = .status
        case "screenshot":
            // Before any capture: a pupil's screen is not taken for a file that cannot be written.
            if let problem = ScreenshotFiles.unwritable(out) {
                let words = InputError("input.folder.not-writable", ["folder": out, "detail": problem], language: console.language).description
                for seat in targets { broadcast(["type": "result", "action": action, "seat": seat.id, "status": "failed", "message": words]) }
                return
            }
            feature = .screenshot
        case "message":
            guard let text, !text.isEmpty else { return }
            if let problem = MessageLimits.problem(text) {
                for seat in targets {
                    broadcast(["type": "result", "action": action, "seat": seat.id, "status": "failed",
                               "message": InputError(problem.code, problem.params, language: console.language).description])
                }
                return
            }
            feature = .message
            args["text"] = text
        default: return
        }
        var saved: [(seat: String, file: String, params: [String: String])] = []
        for await var result in session.send(feature, args: args, to: targets, timeout: console.timeout) {
            if feature == .screenshot, let kept = ScreenshotFiles.keep(&result, in: out) { saved.append(kept) }
            let locked: Bool? = switch result.reason.code {
            case "lock.done", "lock.done-until", "lock.input-free", "lock.already", "status.locked", "status.locked-input-free": true
            case "unlock.done", "unlock.not-locked", "status.unlocked": false
            default: nil
            }
            var update: [String: Any] = ["type": "result", "action": action, "seat": result.seat.id, "status": result.status.rawValue,
                                         "code": result.reason.code, "message": words(result.reason)]
            if let locked {
                tiles.withLockedValue { $0[result.seat.id]?.locked = locked }
                update["locked"] = locked
            }
            broadcast(update)
        }
        await console.reportSaved(saved)
    }
}

/// Opening the dashboard in the person's browser without putting the token on a
/// command line other local users can read: a 0600 file that redirects.
enum Browser {
    final class Opened: Sendable {
        let file: String
        init(file: String) { self.file = file }
        func forget() { unlink(file) }
    }

    static func open(_ address: String) -> Opened? {
        let env = ProcessInfo.processInfo.environment
        guard env["DISPLAY"] != nil || env["WAYLAND_DISPLAY"] != nil else { return nil }
        let directory = env["XDG_RUNTIME_DIR"] ?? NSTemporaryDirectory()
        var template = Array((directory.hasSuffix("/") ? directory : directory + "/").utf8CString.dropLast()) + Array("vigie-watch-XXXXXX.html".utf8CString)
        let fd = template.withUnsafeMutableBufferPointer { mkstemps($0.baseAddress!, 5) }
        guard fd >= 0 else { return nil }
        let path = template.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
        let page = "<!doctype html><meta charset=utf-8><meta http-equiv=refresh content=\"0;url=\(address)\"><title>Vigie</title>"
        _ = page.utf8CString.withUnsafeBufferPointer { write(fd, $0.baseAddress, $0.count - 1) }
        close(fd)
        let opener = "/usr/bin/xdg-open"
        guard FileManager.default.isExecutableFile(atPath: opener) else {
            unlink(path)
            return nil
        }
        guard Launch.detached([opener, path]) != nil else {
            unlink(path)
            return nil
        }
        return Opened(file: path)
    }
}

/// One message to a page: JSON text, or, with a picture, one binary message
/// (u32 big-endian length of the JSON, the JSON, then the JPEG as it came from
/// the seat: no base64, a third fewer bytes and no encoding on either side).
struct PageMessage: Sendable {
    let frame: WebSocketOutboundWriter.OutboundFrame

    init?(_ object: [String: Any], picture: [UInt8]? = nil) {
        guard let json = try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]) else { return nil }
        guard let picture else {
            frame = .text(String(decoding: json, as: UTF8.self))
            return
        }
        var buffer = ByteBuffer()
        buffer.reserveCapacity(4 + json.count + picture.count)
        buffer.writeInteger(UInt32(json.count))
        buffer.writeBytes(json)
        buffer.writeBytes(picture)
        frame = .binary(buffer)
    }
}
