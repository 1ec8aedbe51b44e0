import CTurboJPEG
import CXCB
import CXCBDamage
import Glibc
import VigieScreen

/// One thumbnail of a live view.
public struct Thumbnail: Sendable {
    public var jpeg: [UInt8]
    public var width: Int
    public var height: Int

    public init(jpeg: [UInt8], width: Int, height: Int) {
        self.jpeg = jpeg
        self.width = width
        self.height = height
    }
}

/// Live thumbnails of an X display for one viewer: the X DAMAGE extension says
/// whether anything was drawn since the last thumbnail, so an unchanged screen
/// costs no capture (only reading the connection's pending events); a changed
/// one is captured (MIT-SHM), scaled on the seat and encoded as JPEG.
///
/// Not thread-safe: one thread (the agent runs it on a serial queue).
public final class Thumbnailer {
    private let x: XConnection
    private let damage: xcb_damage_damage_t
    /// The first event number of the DAMAGE extension on this connection.
    private let damageEvent: UInt8
    private var changed = true
    private var lastWidth: Int?
    private let encoder = JPEGEncoder()

    /// - Throws: `ScreenError` (`x11.connect`, `x11.damage`) when the display or its DAMAGE extension is unavailable.
    public init(display: String?) throws {
        x = try XConnection(display: display)
        let c = x.connection
        guard let ext = xcb_get_extension_data(c, cxcb_damage_extension()), ext.pointee.present != 0 else {
            x.close()
            throw ScreenError(code: "x11.damage", detail: "the X server has no DAMAGE extension")
        }
        damageEvent = ext.pointee.first_event
        let version = xcb_damage_query_version(c, UInt32(XCB_DAMAGE_MAJOR_VERSION), UInt32(XCB_DAMAGE_MINOR_VERSION))
        guard let reply = xcb_damage_query_version_reply(c, version, nil) else {
            x.close()
            throw ScreenError(code: "x11.damage", detail: "DAMAGE version query failed")
        }
        free(reply)
        damage = xcb_generate_id(c)
        let cookie = xcb_damage_create_checked(c, damage, x.root, UInt8(XCB_DAMAGE_REPORT_LEVEL_NON_EMPTY.rawValue))
        if let error = xcb_request_check(c, cookie) {
            let code = error.pointee.error_code
            free(error)
            x.close()
            throw ScreenError(code: "x11.damage", detail: "DAMAGE create refused (X error \(code))")
        }
    }

    deinit { close() }

    public func close() {
        x.close()
    }

    /// A thumbnail `width` pixels wide (never wider than the screen), or nil when
    /// nothing was drawn since the last one. The first call, and the first after
    /// `width` changes, always gives one.
    public func next(width: Int, quality: Int = 70) throws -> Thumbnail? {
        if x.hasError { throw ScreenError(code: "x11.capture", detail: "X connection lost") }
        // Read what the server said since the last tick: any damage at all is a change.
        while let event = xcb_poll_for_event(x.connection) {
            if event.pointee.response_type & 0x7F == damageEvent &+ UInt8(XCB_DAMAGE_NOTIFY) { changed = true }
            free(event)
        }
        if lastWidth != width { changed = true }
        guard changed else { return nil }
        // Re-arm before capturing: what is drawn from now on raises a new event,
        // even if it lands during the capture (then the next tick sends it again).
        xcb_damage_subtract(x.connection, damage, 0, 0)
        _ = xcb_flush(x.connection)
        changed = false
        lastWidth = width
        var image = try x.capture()
        if width < image.width { image = image.scaled(toWidth: width) }
        let jpeg = try encoder.encode(image, quality: quality)
        return Thumbnail(jpeg: jpeg, width: image.width, height: image.height)
    }
}

/// JPEG through libjpeg-turbo, one compressor reused.
public final class JPEGEncoder {
    private let handle: tjhandle

    public init() {
        handle = tjInitCompress()
    }

    deinit { tjDestroy(handle) }

    /// Baseline JPEG of `image` (4:2:0, fast DCT).
    public func encode(_ image: Image, quality: Int) throws -> [UInt8] {
        var buffer: UnsafeMutablePointer<UInt8>?
        var size: UInt = 0
        let status = image.rgb.withUnsafeBufferPointer { rgb in
            tjCompress2(handle, rgb.baseAddress, Int32(image.width), 0, Int32(image.height), Int32(TJPF_RGB.rawValue),
                        &buffer, &size, Int32(TJSAMP_420.rawValue), Int32(max(1, min(100, quality))), TJFLAG_FASTDCT)
        }
        defer { if let buffer { tjFree(buffer) } }
        guard status == 0, let buffer else {
            let why = tjGetErrorStr2(handle).map { String(cString: $0) } ?? "unknown"
            throw ScreenError(code: "jpeg.encode", detail: why)
        }
        return Array(UnsafeBufferPointer(start: buffer, count: Int(size)))
    }
}
