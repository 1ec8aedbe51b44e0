import Foundation
import Logging
import VigieModel
import VigieScreen

/// A PNG of the seat's screen.
struct Shot {
    var png: [UInt8]
    var width: Int
    var height: Int
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

/// Shows message windows through the `vigie-ui message` helper.
struct MessageShower: Sendable {
    let uiPath: String
    let target: SeatTarget

    func show(title: String, text: String) async -> Result<Void, Reason> {
        if let why = target.unavailable { return .failure(why) }
        let display = target.display
        return await withCheckedContinuation { continuation in
            DispatchQueue.global().async {
                var argv = [uiPath, "message"]
                if let display { argv += ["--display", display] }
                argv += ["--title", title, "--text", text]
                continuation.resume(returning: Spawn.startHelper(argv).map { _ in () })
            }
        }
    }
}
