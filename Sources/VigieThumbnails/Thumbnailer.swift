import CXCB
import CXCBDamage
import Glibc
import VigieScreen

/// One thumbnail of the seat's screen.
public struct Thumbnail: Sendable {
    /// The picture as a baseline JPEG (4:2:0).
    public var jpeg: [UInt8]
    /// Width in pixels.
    public var width: Int
    /// Height in pixels.
    public var height: Int

    /// Wraps an encoded thumbnail.
    public init(jpeg: [UInt8], width: Int, height: Int) {
        self.jpeg = jpeg
        self.width = width
        self.height = height
    }
}

/// Thumbnails of the root window for the live overview, made on the seat.
///
/// The X DAMAGE extension tells whether anything was drawn since the last
/// thumbnail: an unchanged screen costs one non-blocking read of the X
/// connection per call, no capture. A changed screen is captured through
/// MIT-SHM (`GetImage` when the server refuses the segment), box-scaled
/// straight from the server's pixels, and encoded by libjpeg-turbo.
///
/// Not thread-safe: used from one thread (the agent runs it on a serial
/// dispatch queue). It is `Sendable` so that it can be handed to that queue;
/// never call it from two threads at once.
public final class Thumbnailer: @unchecked Sendable {
    private let x: XConnection
    private let damage: DamageTracker
    private var shm: ShmSegment?
    private var shmTried = false
    private var scaler: BoxScaler?
    private let encoder: JPEGEncoder
    /// The `width` of the last thumbnail returned (0 before the first).
    private var requestedWidth = 0
    private var closed = false
    /// Milliseconds spent in each stage of the last thumbnail, for the benchmark.
    package private(set) var lastTimings: (capture: Double, scale: Double, encode: Double) = (0, 0, 0)

    /// Connects to `display` (`$DISPLAY` when nil) and starts watching the
    /// root window for drawing.
    /// - Throws: `ScreenError` `x11.connect` when the server cannot be
    ///   reached, `x11.damage` when it lacks the DAMAGE extension,
    ///   `jpeg.encode` when libjpeg-turbo cannot start.
    public init(display: String?) throws {
        let x = try XConnection(display: display)
        do {
            damage = try DamageTracker(x)
            encoder = try JPEGEncoder()
        } catch {
            x.close()
            throw error
        }
        self.x = x
    }

    deinit { close() }

    /// A thumbnail `width` px wide (height keeps the aspect ratio; never
    /// wider than the screen), or nil when nothing was drawn since the last
    /// thumbnail returned. The first call, and the first after `width`
    /// changes, always returns one. `quality` is the JPEG quality (1–100).
    /// - Throws: `ScreenError` `x11.capture` (server refused, connection
    ///   closed), `x11.connection-lost`, `jpeg.encode`.
    public func next(width: Int, quality: Int = 70) throws -> Thumbnail? {
        guard !closed else { throw ScreenError(code: "x11.capture", detail: "thumbnailer closed") }
        damage.drain()
        if x.hasError {
            throw ScreenError(code: "x11.connection-lost", detail: "X connection to \(x.displayName) lost")
        }
        let w = BoxScaler.width(requested: width, sourceWidth: x.width, sourceHeight: x.height)
        let scaler: BoxScaler
        if let current = self.scaler, current.width == w {
            if !damage.dirty && width == requestedWidth { return nil }
            scaler = current
        } else {
            scaler = BoxScaler(sourceWidth: x.width, sourceHeight: x.height, width: w)
            self.scaler = scaler
        }

        // Subtract first, capture second (see DamageTracker).
        let subtract = damage.willCapture()
        var t = Self.now()
        let captured: (captureMs: Double, scaleMs: Double)
        do {
            captured = try captureAndScale(scaler)
        } catch {
            damage.captureFailed()
            throw error
        }
        damage.captured(after: subtract)
        var timings = lastTimings
        if captured.scaleMs < 0 {
            timings.capture = Self.now() - t
            timings.scale = 0
        } else {
            timings.capture = captured.captureMs
            timings.scale = captured.scaleMs
        }
        t = Self.now()
        let jpeg: [UInt8]
        do {
            jpeg = try encoder.encode(scaler.rgb, width: scaler.width, height: scaler.height, quality: quality)
        } catch {
            damage.captureFailed()
            throw error
        }
        timings.encode = Self.now() - t
        lastTimings = timings
        requestedWidth = width
        return Thumbnail(jpeg: jpeg, width: scaler.width, height: scaler.height)
    }

    /// Stops watching the screen and disconnects. Safe to call more than once;
    /// the thumbnailer must not be used afterwards.
    public func close() {
        if closed { return }
        closed = true
        damage.close()
        shm?.detach()
        shm = nil
        scaler = nil
        x.close()
    }

    /// Captures the root window into the scaler. Returns the milliseconds of
    /// both stages, or a negative `scaleMs` when they were not separable
    /// (the `GetImage` path).
    private func captureAndScale(_ scaler: BoxScaler) throws -> (captureMs: Double, scaleMs: Double) {
        let c = x.connection
        let format = x.pixelFormat
        guard format.supported else {
            throw ScreenError(code: "x11.capture",
                              detail: "unsupported pixel format: depth \(x.rootDepth), \(format.bitsPerPixel) bits per pixel")
        }
        let stride = x.rowStride(x.width)
        if !shmTried {
            shmTried = true
            shm = ShmSegment.make(c, size: stride * x.height).0
        }
        if let shm {
            let t0 = Self.now()
            let cookie = xcb_shm_get_image(c, x.root, 0, 0, UInt16(x.width), UInt16(x.height), ~0,
                                           UInt8(XCB_IMAGE_FORMAT_Z_PIXMAP.rawValue), shm.seg, 0)
            var err: UnsafeMutablePointer<xcb_generic_error_t>?
            if let reply = xcb_shm_get_image_reply(c, cookie, &err) {
                free(reply)
                let t1 = Self.now()
                scaler.scale(UnsafeRawPointer(shm.address), stride: stride, format: format)
                return (t1 - t0, Self.now() - t1)
            }
            free(err)
            if x.hasError { throw ScreenError(code: "x11.connection-lost", detail: "X connection to \(x.displayName) lost") }
            // The server stopped accepting the segment: GetImage from now on.
            shm.detach()
            self.shm = nil
        }
        let image = try x.capture().scaled(toWidth: scaler.width)
        image.rgb.withUnsafeBufferPointer { src in
            scaler.rgb.update(from: src.baseAddress!, count: min(src.count, scaler.width * scaler.height * 3))
        }
        return (0, -1)
    }

    static func now() -> Double { ScreenBenchmark.now() }
}
