import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdWebSocket
import NIOConcurrencyHelpers
import NIOCore
import VigieController
import VigieModel

/// noVNC, the browser's VNC client, as Debian's `novnc` package installs it:
/// the dashboard serves its ES modules (`core/`, `vendor/`) under `/novnc/`, so
/// the page needs nothing from another site. `VIGIE_NOVNC_DIR` names another
/// place (a school's own build, or a test of the missing package).
enum NoVNC {
    static var root: String {
        ProcessInfo.processInfo.environment["VIGIE_NOVNC_DIR"] ?? "/usr/share/novnc"
    }

    /// Whether the client is there (its RFB module).
    static var installed: Bool { FileManager.default.isReadableFile(atPath: root + "/core/rfb.js") }

    /// The file under `/novnc/` a request names: only `.js` files of `core/` and
    /// `vendor/`, no `..`, no hidden names; nil otherwise.
    static func file(_ parts: [Substring]) -> String? {
        guard parts.count >= 2, ["core", "vendor"].contains(String(parts[0])), parts.last!.hasSuffix(".js"),
              parts.allSatisfy({ !$0.isEmpty && !$0.hasPrefix(".") && !$0.contains("\\") }) else { return nil }
        return root + "/" + parts.joined(separator: "/")
    }

    static func serve(_ parts: [Substring]) -> Response {
        guard let path = file(parts), let data = FileManager.default.contents(atPath: path) else {
            return Response(status: .notFound)
        }
        var headers = HTTPFields()
        headers[.contentType] = "text/javascript; charset=utf-8"
        headers[.cacheControl] = "no-cache"
        return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }
}

/// The remote views opened from the dashboard's pages: one per page at a time.
/// A page asks over its own WebSocket (`{"type":"remote","seat":…,"mode":"view"}`);
/// the seat answers; if it opened, the page gets a one-time ticket and the VNC
/// password, and noVNC connects to `/vnc/TICKET`, which relays RFB to and from
/// the seat's stream. The seat ending the stream closes that WebSocket, and the
/// page is told why.
final class RemotePanes: Sendable {
    struct Pane: Sendable {
        let ticket: String
        let page: UInt64
        let seat: Seat
        let mode: Feature
        let stream: UInt32
        let relay: StreamRelay
        var connected = false
        /// An assistance's number (`SEAT-SEQ`): control is asked inside it.
        var intervention: String?
    }

    private let panes = NIOLockedValueBox<[String: Pane]>([:])
    /// How long a ticket waits for noVNC to connect.
    static let ticketLifetime: Duration = .seconds(30)

    func add(_ pane: Pane) { panes.withLockedValue { $0[pane.ticket] = pane } }

    /// The pane of a ticket, once: a second connection with it gets nothing.
    func connect(_ ticket: String) -> Pane? {
        panes.withLockedValue { panes in
            guard var pane = panes[ticket], !pane.connected else { return nil }
            pane.connected = true
            panes[ticket] = pane
            return pane
        }
    }

    func isConnected(_ ticket: String) -> Bool { panes.withLockedValue { $0[ticket]?.connected ?? false } }

    /// The pane of a ticket a page has open (left in place).
    func pane(_ ticket: String, of page: UInt64) -> Pane? {
        panes.withLockedValue { panes in panes[ticket].flatMap { $0.page == page ? $0 : nil } }
    }

    /// The pane of a ticket, taken out; with `page`, only if that page opened it.
    @discardableResult
    func remove(_ ticket: String, of page: UInt64? = nil) -> Pane? {
        panes.withLockedValue { panes in
            guard let pane = panes[ticket], page == nil || pane.page == page else { return nil }
            panes[ticket] = nil
            return pane
        }
    }

    /// The panes a page has open (to close them when it opens another or goes).
    func removeAll(of page: UInt64) -> [Pane] {
        panes.withLockedValue { panes in
            let mine = panes.values.filter { $0.page == page }
            for pane in mine { panes[pane.ticket] = nil }
            return mine
        }
    }

    func removeAll() -> [Pane] {
        panes.withLockedValue { panes in
            defer { panes = [:] }
            return Array(panes.values)
        }
    }
}

extension Hub {
    /// A page asks to see (`view`) or take (`control`) one seat, or to help the
    /// person at it (`assist`, with the code they gave: they accept on their screen).
    func openRemote(seat id: String, mode: String, page: UInt64, code: String? = nil) async {
        let features: [String: Feature] = ["view": .view, "control": .control, "assist": .assist]
        guard let seat = seats.first(where: { $0.id == id }), let feature = features[mode] else {
            return
        }
        var extra: [String: String] = [:]
        var timeout = console.timeout
        if feature == .assist {
            guard let code, code.count == 6, code.allSatisfy({ $0.isASCII && $0.isNumber }) else {
                send(["type": "remote", "seat": seat.id, "mode": mode, "status": "failed",
                      "message": console.language == .fr ? "le code est les six chiffres que la personne vous donne" : "the code is the six digits the person gives you"],
                     to: page)
                return
            }
            extra = ["mode": "view", "code": code]
            // The person at the seat has a minute to answer.
            timeout += .seconds(70)
        }
        var reply: [String: Any] = ["type": "remote", "seat": seat.id, "room": seat.room, "mode": feature.rawValue]
        // One remote view per page: the one open before goes.
        for pane in remotes.removeAll(of: page) { await end(pane) }
        guard NoVNC.installed else {
            reply["status"] = "failed"
            reply["message"] = console.language == .fr
                ? "La vue à distance dans le navigateur a besoin de noVNC : installez le paquet Debian « novnc » (\(NoVNC.root) est absent), ou utilisez « vigie \(feature.rawValue) --seat \(seat.id) » avec un visualiseur VNC."
                : "The remote view in the browser needs noVNC: install the Debian package “novnc” (\(NoVNC.root) is missing), or use “vigie \(feature.rawValue) --seat \(seat.id)” with a VNC viewer."
            send(reply, to: page)
            return
        }
        let password = StreamRelay.vncPassword()
        let relay = StreamRelay()
        let args = ["password": password, "quality": RemoteQuality.standard.rawValue].merging(extra) { a, _ in a }
        let stream = await session.openStream(feature, args: args, on: seat, timeout: timeout) { relay.handle($0) }
        switch await relay.answer() {
        case .failure(let refusal):
            reply["status"] = refusal.status.rawValue
            reply["code"] = refusal.reason.code
            reply["message"] = Catalog.text(refusal.reason, console.language)
            send(reply, to: page)
            await session.endStream(stream, on: seat)
        case .success(let opened):
            let ticket = Access.random()
            remotes.add(RemotePanes.Pane(ticket: ticket, page: page, seat: seat, mode: feature, stream: stream, relay: relay,
                                         intervention: opened.params["intervention"]))
            // The seat ended it (not this side): the page says why.
            relay.onEnd { [self] in
                guard let why = relay.endedBy else { return }
                remotes.remove(ticket)
                send(["type": "remote-ended", "ticket": ticket, "seat": seat.id, "code": why.code,
                      "message": Catalog.text(why, console.language)], to: page)
            }
            reply["status"] = "ok"
            reply["ticket"] = ticket
            reply["password"] = password
            if let user = opened.params["user"] { reply["user"] = user }
            // An assistance: its number (the sheet), and control asked inside it, on the person's screen.
            if let intervention = opened.params["intervention"] {
                reply["intervention"] = intervention
                reply["control"] = true
                reply["message"] = Catalog.text(opened, console.language)
            }
            // « Prendre la main » when the grants here say the person may; the seat decides anyway.
            if feature == .view, case .allow = Policy.decide(identity: console.identity.identity, serialHex: console.identity.serialHex,
                                                              feature: .control, seat: seat, config: console.config) {
                reply["control"] = true
            }
            send(reply, to: page)
            // A ticket noVNC never used: the seat's stream does not stay open for nobody.
            Task { [self] in
                try? await Task.sleep(for: RemotePanes.ticketLifetime)
                if !remotes.isConnected(ticket), let pane = remotes.remove(ticket) { await end(pane) }
            }
        }
    }

    /// A page closes its remote view.
    func closeRemote(ticket: String, page: UInt64) async {
        guard let pane = remotes.remove(ticket, of: page) else { return }
        await end(pane)
    }

    /// Ends a pane's stream on the seat and closes its WebSocket.
    func end(_ pane: RemotePanes.Pane) async {
        pane.relay.close()
        await session.endStream(pane.stream, on: pane.seat)
    }

    /// noVNC's WebSocket: RFB from the page to the seat's stream and back, until
    /// either ends.
    func relayRemote(ticket: String, inbound: WebSocketInboundStream, outbound: WebSocketOutboundWriter) async throws {
        guard let pane = remotes.connect(ticket) else { return }
        await withTaskGroup(of: Void.self) { group in
            group.addTask { [self] in
                do {
                    for try await message in inbound.messages(maxSize: 1 << 20) {
                        guard case .binary(let buffer) = message else { continue }
                        await session.sendStreamData(pane.stream, on: pane.seat, bytes: Array(buffer.readableBytesView))
                    }
                } catch {}
            }
            group.addTask {
                for await bytes in pane.relay.data {
                    do {
                        try await outbound.write(.binary(ByteBuffer(bytes: bytes)))
                    } catch {
                        break
                    }
                }
            }
            await group.next()
            group.cancelAll()
        }
        // The page left (or the seat ended it): the stream ends on the seat too.
        if remotes.remove(ticket) != nil { await end(pane) }
    }
}
