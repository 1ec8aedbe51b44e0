import CXCB
import Glibc

/// How the server lays out root-window pixels in a ZPixmap image.
package struct PixelFormat: Sendable {
    package var bitsPerPixel: Int = 0
    package var scanlinePad: Int = 32
    package var lsbFirst = true
    package var redShift = 16, greenShift = 8, blueShift = 0
    package var redBits = 8, greenBits = 8, blueBits = 8

    /// The BGRX layout with no bits per pixel set yet (tests fill in the rest).
    package init() {}

    init(setup: UnsafePointer<xcb_setup_t>, screenPointer: UnsafeMutablePointer<xcb_screen_t>) {
        let screen = screenPointer.pointee
        lsbFirst = setup.pointee.image_byte_order == UInt8(XCB_IMAGE_ORDER_LSB_FIRST.rawValue)
        var fmt = xcb_setup_pixmap_formats_iterator(setup)
        while fmt.rem > 0 {
            if let f = fmt.data?.pointee, f.depth == screen.root_depth {
                bitsPerPixel = Int(f.bits_per_pixel)
                scanlinePad = Int(f.scanline_pad)
            }
            xcb_format_next(&fmt)
        }
        // Find the root visual to read its channel masks.
        // The depth list follows the screen struct inside the setup data: use the real pointer.
        var depths = xcb_screen_allowed_depths_iterator(screenPointer)
        while depths.rem > 0 {
            var visuals = xcb_depth_visuals_iterator(depths.data)
            while visuals.rem > 0 {
                if let v = visuals.data?.pointee, v.visual_id == screen.root_visual {
                    (redShift, redBits) = PixelFormat.shiftAndBits(v.red_mask)
                    (greenShift, greenBits) = PixelFormat.shiftAndBits(v.green_mask)
                    (blueShift, blueBits) = PixelFormat.shiftAndBits(v.blue_mask)
                }
                xcb_visualtype_next(&visuals)
            }
            xcb_depth_next(&depths)
        }
    }

    static func shiftAndBits(_ mask: UInt32) -> (Int, Int) {
        guard mask != 0 else { return (0, 8) }
        return (mask.trailingZeroBitCount, mask.nonzeroBitCount)
    }

    /// True for the layout every 24/32-bit TrueColor server uses, which has a
    /// fast conversion path.
    package var isBGRX: Bool {
        bitsPerPixel == 32 && lsbFirst && redShift == 16 && greenShift == 8 && blueShift == 0
            && redBits == 8 && greenBits == 8 && blueBits == 8
    }

    package var supported: Bool { (bitsPerPixel == 32 || bitsPerPixel == 24) && redBits == 8 && greenBits == 8 && blueBits == 8 }

    /// Converts `rows` rows of server pixels (`stride` bytes apart) into
    /// packed RGB starting at row `y0` of `dst` (`width` pixels wide).
    package func convert(_ src: UnsafeRawPointer, stride: Int, width: Int, rows: Int,
                 into dst: UnsafeMutablePointer<UInt8>, y0: Int) {
        if isBGRX {
            for y in 0..<rows {
                let s = src.advanced(by: y * stride).assumingMemoryBound(to: UInt8.self)
                var d = dst.advanced(by: (y0 + y) * width * 3)
                var i = 0
                let end = width * 4
                while i < end {
                    d[0] = s[i + 2]
                    d[1] = s[i + 1]
                    d[2] = s[i]
                    d += 3
                    i += 4
                }
            }
            return
        }
        let bpp = bitsPerPixel / 8
        for y in 0..<rows {
            let s = src.advanced(by: y * stride).assumingMemoryBound(to: UInt8.self)
            var d = dst.advanced(by: (y0 + y) * width * 3)
            for x in 0..<width {
                var v: UInt32 = 0
                let p = s + x * bpp
                if lsbFirst {
                    for k in (0..<bpp).reversed() { v = v << 8 | UInt32(p[k]) }
                } else {
                    for k in 0..<bpp { v = v << 8 | UInt32(p[k]) }
                }
                d[0] = UInt8(truncatingIfNeeded: v >> UInt32(redShift))
                d[1] = UInt8(truncatingIfNeeded: v >> UInt32(greenShift))
                d[2] = UInt8(truncatingIfNeeded: v >> UInt32(blueShift))
                d += 3
            }
        }
    }
}

/// One System V shared memory segment attached both here and in the server,
/// reused across captures.
package final class ShmSegment {
    package let seg: xcb_shm_seg_t
    package let address: UnsafeMutableRawPointer
    package let size: Int
    private let connection: OpaquePointer

    /// Creates and attaches a segment, or returns nil (with a reason) when the
    /// server cannot use it, e.g. BadAccess when it runs under another uid.
    package static func make(_ c: OpaquePointer, size: Int) -> (ShmSegment?, String) {
        let ext = xcb_get_extension_data(c, cxcb_shm_extension())
        guard let ext, ext.pointee.present != 0 else { return (nil, "MIT-SHM not offered") }
        let vc = xcb_shm_query_version(c)
        guard let ver = xcb_shm_query_version_reply(c, vc, nil) else { return (nil, "MIT-SHM version query failed") }
        free(ver)
        let id = shmget(cxcb_ipc_private(), size, IPC_CREAT | 0o600)
        guard id >= 0 else { return (nil, "shmget: \(String(cString: strerror(errno)))") }
        let addr = shmat(id, nil, 0)
        guard let addr, addr != UnsafeMutableRawPointer(bitPattern: -1) else {
            shmctl(id, IPC_RMID, nil)
            return (nil, "shmat: \(String(cString: strerror(errno)))")
        }
        let seg = xcb_generate_id(c)
        let cookie = xcb_shm_attach_checked(c, seg, UInt32(id), 0)
        let err = xcb_request_check(c, cookie)
        // Mark for removal now: it disappears once both sides detach, even if we crash.
        shmctl(id, IPC_RMID, nil)
        if let err {
            let code = err.pointee.error_code
            free(err)
            shmdt(addr)
            return (nil, "shm attach refused (X error \(code))")
        }
        return (ShmSegment(c, seg: seg, address: addr, size: size), "")
    }

    private init(_ c: OpaquePointer, seg: xcb_shm_seg_t, address: UnsafeMutableRawPointer, size: Int) {
        connection = c
        self.seg = seg
        self.address = address
        self.size = size
    }

    package func detach() {
        xcb_shm_detach(connection, seg)
        _ = xcb_flush(connection)
        shmdt(address)
    }
}

extension XConnection {
    /// Whether captures go through MIT-SHM (decided at the first capture).
    public var usesSharedMemory: Bool { captureLock.locked { shm != nil } }

    /// Captures the whole root window as packed RGB.
    ///
    /// Uses MIT-SHM when the server offers it and accepts our segment (one
    /// segment, reused), otherwise `GetImage` in bands of rows.
    /// - Throws: `ScreenError` `x11.capture` when the server refuses or the
    ///   pixel format is not 24/32-bit TrueColor.
    public func capture() throws -> Image {
        try captureLock.locked {
            guard !closed else { throw ScreenError(code: "x11.capture", detail: "connection closed") }
            guard pixelFormat.supported else {
                throw ScreenError(code: "x11.capture",
                                  detail: "unsupported pixel format: depth \(rootDepth), \(pixelFormat.bitsPerPixel) bits per pixel")
            }
            if !shmTried {
                shmTried = true
                let stride = rowStride(width)
                shm = ShmSegment.make(connection, size: stride * height).0
            }
            var rgb = [UInt8](repeating: 0, count: width * height * 3)
            if let shm {
                let ok = try rgb.withUnsafeMutableBufferPointer { dst -> Bool in
                    let cookie = xcb_shm_get_image(connection, root, 0, 0, UInt16(width), UInt16(height), ~0,
                                                   UInt8(XCB_IMAGE_FORMAT_Z_PIXMAP.rawValue), shm.seg, 0)
                    var err: UnsafeMutablePointer<xcb_generic_error_t>?
                    guard let reply = xcb_shm_get_image_reply(connection, cookie, &err) else {
                        if let err { free(err) }
                        if hasError { throw ScreenError(code: "x11.capture", detail: "X connection lost") }
                        return false
                    }
                    free(reply)
                    pixelFormat.convert(shm.address, stride: rowStride(width), width: width, rows: height,
                                        into: dst.baseAddress!, y0: 0)
                    return true
                }
                if ok { return Image(width: width, height: height, rgb: rgb) }
                // The server stopped accepting the segment: fall back for good.
                shm.detach()
                self.shm = nil
            }
            try rgb.withUnsafeMutableBufferPointer { dst in
                try getImageBands(into: dst.baseAddress!)
            }
            return Image(width: width, height: height, rgb: rgb)
        }
    }

    package func rowStride(_ w: Int) -> Int {
        let bits = w * pixelFormat.bitsPerPixel
        let pad = max(pixelFormat.scanlinePad, 8)
        return (bits + pad - 1) / pad * pad / 8
    }

    private func getImageBands(into dst: UnsafeMutablePointer<UInt8>) throws {
        let stride = rowStride(width)
        // Keep each reply around 4 MiB.
        let band = max(1, min(height, (4 << 20) / max(stride, 1)))
        var y = 0
        while y < height {
            let rows = min(band, height - y)
            let cookie = xcb_get_image(connection, UInt8(XCB_IMAGE_FORMAT_Z_PIXMAP.rawValue), root,
                                       0, Int16(y), UInt16(width), UInt16(rows), ~0)
            var err: UnsafeMutablePointer<xcb_generic_error_t>?
            guard let reply = xcb_get_image_reply(connection, cookie, &err) else {
                var detail = hasError ? "X connection lost" : "GetImage failed"
                if let err {
                    detail = "GetImage failed (X error \(err.pointee.error_code))"
                    free(err)
                }
                throw ScreenError(code: "x11.capture", detail: detail)
            }
            defer { free(reply) }
            let length = Int(xcb_get_image_data_length(reply))
            guard let data = xcb_get_image_data(reply), length >= stride * rows else {
                throw ScreenError(code: "x11.capture", detail: "short GetImage reply (\(length) bytes)")
            }
            pixelFormat.convert(UnsafeRawPointer(data), stride: stride, width: width, rows: rows, into: dst, y0: y)
            y += rows
        }
    }
}
