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
    private let damage: xcb_damage_damage_t
    /// Response type of DamageNotify on this connection.
    private let damageNotify: UInt8
    private var shm: ShmSegment?
    private var shmTried = false
    private var scaler: BoxScaler?
    private let encoder: JPEGEncoder
    /// Something was drawn since the last capture (or there was none yet).
    private var dirty = true
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
        let c = x.connection
        guard let ext = xcb_get_extension_data(c, cxcb_damage_extension()), ext.pointee.present != 0 else {
            x.close()
            throw ScreenError(code: "x11.damage", detail: "X display \(x.displayName) lacks the DAMAGE extension")
        }
        // The protocol wants QueryVersion before any other DAMAGE request.
        var err: UnsafeMutablePointer<xcb_generic_error_t>?
        guard let version = xcb_damage_query_version_reply(c, xcb_damage_query_version(c, 1, 1), &err) else {
            free(err)
            x.close()
            throw ScreenError(code: "x11.damage", detail: "DAMAGE version query failed on \(x.displayName)")
        }
        free(version)
        let id = xcb_generate_id(c)
        if let error = xcb_request_check(c, xcb_damage_create_checked(
            c, id, x.root, UInt8(XCB_DAMAGE_REPORT_LEVEL_NON_EMPTY.rawValue))) {
            let code = error.pointee.error_code
            free(error)
            x.close()
            throw ScreenError(code: "x11.damage", detail: "DamageCreate on the root window failed (X error \(code))")
        }
        do {
            encoder = try JPEGEncoder()
        } catch {
            x.close()
            throw error
        }
        self.x = x
        damage = id
        damageNotify = ext.pointee.first_event &+ UInt8(XCB_DAMAGE_NOTIFY)
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
        drainEvents(before: nil)
        if x.hasError {
            throw ScreenError(code: "x11.connection-lost", detail: "X connection to \(x.displayName) lost")
        }
        let w = BoxScaler.width(requested: width, sourceWidth: x.width, sourceHeight: x.height)
        let scaler: BoxScaler
        if let current = self.scaler, current.width == w {
            if !dirty && width == requestedWidth { return nil }
            scaler = current
        } else {
            scaler = BoxScaler(sourceWidth: x.width, sourceHeight: x.height, width: w)
            self.scaler = scaler
        }

        // Subtract first, capture second. The server handles our requests in
        // order, so whatever is drawn after the subtract either lands in the
        // capture or after it, and in both cases raises a new DamageNotify:
        // nothing drawn is ever lost, at worst one frame is taken twice.
        // (Capturing first would lose what is drawn between the capture and
        // the subtract.)
        let subtract = xcb_damage_subtract(x.connection, damage, xcb_xfixes_region_t(XCB_NONE), xcb_xfixes_region_t(XCB_NONE))
        dirty = false
        var t = Self.now()
        let captured: (captureMs: Double, scaleMs: Double)
        do {
            captured = try captureAndScale(scaler)
        } catch {
            dirty = true
            throw error
        }
        // Notifications the server sent before it handled the subtract are for
        // drawing this capture already holds.
        drainEvents(before: subtract.sequence)
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
            dirty = true
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
        if !x.hasError {
            xcb_damage_destroy(x.connection, damage)
        }
        shm?.detach()
        shm = nil
        scaler = nil
        x.close()
    }

    /// Reads every queued event; a DamageNotify marks the screen dirty unless
    /// the server sent it before handling request `sequence`.
    private func drainEvents(before sequence: UInt32?) {
        let c = x.connection
        while let ev = xcb_poll_for_event(c) {
            if ev.pointee.response_type & 0x7F == damageNotify {
                if let sequence {
                    // 16-bit sequence numbers: compare modulo 2^16.
                    let delta = Int16(bitPattern: ev.pointee.sequence &- UInt16(truncatingIfNeeded: sequence))
                    if delta >= 0 { dirty = true }
                } else {
                    dirty = true
                }
            }
            free(ev)
        }
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
