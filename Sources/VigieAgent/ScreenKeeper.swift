import Foundation
import Logging
import VigieModel
import VigieScreen
import VigieThumbnails

/// A PNG of the seat's screen.
public struct Shot: Sendable {
    /// The PNG bytes.
    public var png: [UInt8]
    /// Its size in pixels.
    public var width: Int
    public var height: Int

    public init(png: [UInt8], width: Int, height: Int) {
        self.png = png
        self.width = width
        self.height = height
    }
}

/// Captures the seat's display on a dedicated thread (XCB replies block), keeping
/// one X connection open and reopening it after an error (a restarted display).
final class ScreenKeeper: @unchecked Sendable {
    private let queue = DispatchQueue(label: "vigie.x11")
    private let target: SeatTarget
    private var connection: XConnection?
    /// The display `connection` is open on.
    private var connectedTo: String?

    init(target: SeatTarget) {
        self.target = target
    }

    /// A capture of the root window; scaled to `width` pixels wide for a thumbnail.
    /// Thumbnails use zlib level 1 (live views), stored screenshots level 6.
    func capture(thumbnailWidth: Int?) async -> Result<Shot, Reason> {
        await withCheckedContinuation { continuation in
            queue.async { continuation.resume(returning: self.doCapture(thumbnailWidth: thumbnailWidth)) }
        }
    }

    private func doCapture(thumbnailWidth: Int?) -> Result<Shot, Reason> {
        if let why = target.unavailable { return .failure(why) }
        let display = target.display
        if connection != nil && connectedTo != display {
            connection = nil  // the active session moved to another display
        }
        do {
            if connection == nil {
                connection = try XConnection(display: display)
                connectedTo = display
            }
            var image = try connection!.capture()
            if let w = thumbnailWidth, w < image.width { image = image.scaled(toWidth: w) }
            let png = try PNG.encode(image, level: thumbnailWidth == nil ? 6 : 1)
            return .success(Shot(png: png, width: image.width, height: image.height))
        } catch let error as ScreenError {
            connection = nil
            return .failure(Reason(error.code, ["detail": error.detail]))
        } catch {
            connection = nil
            return .failure(Reason("x11.capture", ["detail": "\(error)"]))
        }
    }
}

/// Shows message windows through the `vigie-ui message` helper: at most
/// `maxOpen` at once on the seat (a new one closes the oldest), each closing by
/// itself after `expireAfter` seconds, so that a flood of messages never piles
/// up windows and processes on a seat.
struct MessageShower: Sendable {
    let uiPath: String
    let target: SeatTarget
    /// The message windows open now, oldest first; one message at a time.
    let windows = OpenWindows()

    func show(title: String, text: String, expireAfter seconds: Double = 1800, maxOpen: Int = 5) async -> Result<Void, Reason> {
        if let why = target.unavailable { return .failure(why) }
        let display = target.display
        let windows = self.windows
        let uiPath = self.uiPath
        return await withCheckedContinuation { continuation in
            windows.queue.async {
                for pid in windows.makeRoom(keeping: max(0, maxOpen - 1)) { Spawn.stop(pid, mode: "message") }
                var argv = [uiPath, "message"]
                if let display { argv += ["--display", display] }
                argv += ["--title", title, "--text", text, "--timeout", String(max(1, seconds))]
                let result = Spawn.startHelper(argv)
                if case .success(let pid) = result { windows.add(pid) }
                continuation.resume(returning: result.map { _ in () })
            }
        }
    }

    /// The pids of the message windows a seat shows, oldest first.
    final class OpenWindows: @unchecked Sendable {
        /// Shows and closes run one at a time on this queue.
        let queue = DispatchQueue(label: "vigie.messages")
        private var pids: [pid_t] = []

        func add(_ pid: pid_t) { pids.append(pid) }

        /// Forgets windows already closed; returns the oldest ones beyond `keeping`, to close.
        func makeRoom(keeping: Int) -> [pid_t] {
            pids.removeAll { !Spawn.isHelper($0, mode: "message") }
            guard pids.count > keeping else { return [] }
            let oldest = Array(pids.prefix(pids.count - keeping))
            pids.removeFirst(oldest.count)
            return oldest
        }
    }
}

/// One live viewer's thumbnails: its own X connection and damage record (so
/// that an unchanged screen costs no capture), on its own serial queue (XCB
/// replies block), reopened on the display the session uses now.
final class ScreenThumbnails: ThumbnailSource, @unchecked Sendable {
    private let queue = DispatchQueue(label: "vigie.thumbnails")
    private let target: SeatTarget
    private var thumbnailer: Thumbnailer?
    private var openOn: String?
    /// JPEG quality: small tiles, text still readable at 320 px.
    static let quality = 70

    init(target: SeatTarget) { self.target = target }

    func next(width: Int) async -> Result<Thumbnail?, Reason> {
        await withCheckedContinuation { continuation in
            queue.async { continuation.resume(returning: self.doNext(width: width)) }
        }
    }

    private func doNext(width: Int) -> Result<Thumbnail?, Reason> {
        if let why = target.unavailable { return .failure(why) }
        let display = target.display
        if thumbnailer != nil && openOn != display {
            thumbnailer?.close()
            thumbnailer = nil
        }
        do {
            if thumbnailer == nil {
                thumbnailer = try Thumbnailer(display: display)
                openOn = display
            }
            guard let t = try thumbnailer!.next(width: width, quality: Self.quality) else { return .success(nil) }
            return .success(t)
        } catch let error as ScreenError {
            thumbnailer?.close()
            thumbnailer = nil
            return .failure(Reason(error.code, ["detail": error.detail]))
        } catch {
            thumbnailer?.close()
            thumbnailer = nil
            return .failure(Reason("x11.capture", ["detail": "\(error)"]))
        }
    }

    func close() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            queue.async {
                self.thumbnailer?.close()
                self.thumbnailer = nil
                continuation.resume()
            }
        }
    }
}
