import CVNCServer
import CXCB
import Glibc
import VigieScreen

/// The seat's pointer for the viewer: the MIT-SHM capture has no pointer in it,
/// so its shape goes as LibVNCServer's cursor (the RichCursor or XCursor
/// pseudo-encoding, or drawn into the picture by LibVNCServer for a viewer that
/// takes neither) and its place as the screen's cursorX/Y (PointerPos).
///
/// The shape is read with XFIXES GetCursorImage when XFIXES says it changed;
/// the place with QueryPointer, at most every `interval`, its reply collected on
/// a later turn so the loop never waits on X.
final class CursorSource {
    private let x: XConnection
    private let screen: rfbScreenInfoPtr
    /// Response type of XFixesCursorNotify on this connection.
    private let notify: UInt8
    private var changed = true
    private var serial: UInt32?
    private var query: xcb_query_pointer_cookie_t?
    private var lastQuery: UInt64 = 0
    /// Where X last said the pointer was (not where the viewer put it).
    private var seen: (x: Int16, y: Int16)?
    /// When the viewer last moved the pointer itself (control mode).
    private var viewerMoved: UInt64 = 0

    static let interval: UInt64 = 20_000_000
    /// While the viewer drives the pointer, X's answers lag behind its moves:
    /// sending them back would make the viewer's pointer jump back.
    static let viewerHold: UInt64 = 200_000_000

    init(_ x: XConnection, screen: rfbScreenInfoPtr, xfixesEvent: UInt8) {
        self.x = x
        self.screen = screen
        notify = xfixesEvent &+ UInt8(XCB_XFIXES_CURSOR_NOTIFY)
        xcb_xfixes_select_cursor_input(x.connection, x.root, XCB_XFIXES_CURSOR_NOTIFY_MASK_DISPLAY_CURSOR.rawValue)
        x.flush()
    }

    /// An XFixesCursorNotify: the shape is read again on this turn's tick
    /// (once, however many came).
    func handle(_ event: UnsafeMutablePointer<xcb_generic_event_t>) -> Bool {
        guard event.pointee.response_type & 0x7F == notify else { return false }
        changed = true
        return true
    }

    /// The viewer moved the pointer (its PointerEvent, already injected).
    func viewerMovedPointer() { viewerMoved = monotonicNow() }

    func tick(now: UInt64) {
        if changed {
            changed = false
            readShape()
        }
        followPointer(now: now)
    }

    private func followPointer(now: UInt64) {
        let c = x.connection
        if let cookie = query {
            var reply: UnsafeMutableRawPointer?
            var error: UnsafeMutablePointer<xcb_generic_error_t>?
            guard xcb_poll_for_reply(c, cookie.sequence, &reply, &error) != 0 else { return }
            query = nil
            free(error)
            guard let reply else { return }
            let pointer = reply.assumingMemoryBound(to: xcb_query_pointer_reply_t.self).pointee
            free(reply)
            if pointer.same_screen != 0 { moved(to: pointer.root_x, pointer.root_y, now: now) }
        }
        if query == nil, now &- lastQuery >= Self.interval {
            lastQuery = now
            query = xcb_query_pointer(c, x.root)
            x.flush()
        }
    }

    private func moved(to px: Int16, _ py: Int16, now: UInt64) {
        if let seen, seen.x == px, seen.y == py { return }
        seen = (px, py)
        if now &- viewerMoved < Self.viewerHold { return }
        let s = screen
        let cx = min(max(Int32(px), 0), s.pointee.width - 1)
        let cy = min(max(Int32(py), 0), s.pointee.height - 1)
        if cx == s.pointee.cursorX, cy == s.pointee.cursorY { return }
        // As rfbDefaultPtrAddEvent does for a viewer's move: a viewer drawing the
        // cursor itself is sent a PointerPos; one LibVNCServer draws for sees
        // the change through its own cursorX/Y.
        s.pointee.cursorX = cx
        s.pointee.cursorY = cy
        let clients = rfbGetClientIterator(s)
        while let cl = rfbClientIteratorNext(clients) {
            if cl.pointee.enableCursorPosUpdates != 0 { cl.pointee.cursorWasMoved = 1 }
        }
        rfbReleaseClientIterator(clients)
    }

    private func readShape() {
        let c = x.connection
        guard let reply = xcb_xfixes_get_cursor_image_reply(c, xcb_xfixes_get_cursor_image(c), nil) else { return }
        defer { free(reply) }
        let image = reply.pointee
        if image.cursor_serial == serial { return }
        serial = image.cursor_serial
        guard let pixels = xcb_xfixes_get_cursor_image_cursor_image(reply),
              let cursor = Self.cursor(pixels, width: Int(image.width), height: Int(image.height),
                                       hot: (Int(image.xhot), Int(image.yhot)), format: screen.pointee.serverFormat)
        else { return }
        // LibVNCServer frees the cursor it replaces when that one's `cleanup` is
        // set (ours are; its built-in default is not), and ours at the end.
        rfbSetCursor(screen, cursor)
        moved(to: image.x, image.y, now: monotonicNow())
    }

    /// An rfbCursor from XFIXES's image (32-bit ARGB, alpha premultiplied), in
    /// the frame buffer's pixel format, everything malloc'ed and flagged for
    /// LibVNCServer to free: richSource (colours, alpha taken out), alphaSource
    /// (for the cursor LibVNCServer draws itself), and the mask a viewer gets
    /// (pixels at least half opaque; soft shadows fall out). A cursor too large
    /// for LibVNCServer's update buffer (past about 88×88 for a 32-bit viewer)
    /// is scaled down by a whole factor, averaged: LibVNCServer would send the
    /// update's header and then give up, and the viewer's stream would be lost.
    static func cursor(_ argb: UnsafePointer<UInt32>, width: Int, height: Int, hot: (Int, Int),
                       format: rfbPixelFormat) -> rfbCursorPtr? {
        guard width > 0, height > 0 else { return nil }
        var factor = 1
        while !fits((width + factor - 1) / factor, (height + factor - 1) / factor) { factor += 1 }
        let w = (width + factor - 1) / factor, h = (height + factor - 1) / factor
        let maskRow = (w + 7) / 8
        guard let rich = malloc(w * h * 4)?.assumingMemoryBound(to: UInt8.self),
              let alpha = malloc(w * h)?.assumingMemoryBound(to: UInt8.self),
              let mask = calloc(maskRow * h, 1)?.assumingMemoryBound(to: UInt8.self),
              let cursor = calloc(1, MemoryLayout<rfbCursor>.size)?.assumingMemoryBound(to: rfbCursor.self)
        else { return nil }
        for cy in 0..<h {
            for cx in 0..<w {
                // The mean of the factor × factor source pixels (premultiplied, so plain sums).
                var a = 0, r = 0, g = 0, b = 0, n = 0
                for sy in (cy * factor)..<min((cy + 1) * factor, height) {
                    for sx in (cx * factor)..<min((cx + 1) * factor, width) {
                        let p = argb[sy * width + sx]
                        a += Int(p >> 24)
                        r += Int((p >> 16) & 0xFF)
                        g += Int((p >> 8) & 0xFF)
                        b += Int(p & 0xFF)
                        n += 1
                    }
                }
                a /= n; r /= n; g /= n; b /= n
                if a > 0, a < 255 {
                    r = min(255, r * 255 / a)
                    g = min(255, g * 255 / a)
                    b = min(255, b * 255 / a)
                }
                let i = cy * w + cx
                let value = UInt32(r) << format.redShift | UInt32(g) << format.greenShift | UInt32(b) << format.blueShift
                UnsafeMutableRawPointer(rich).storeBytes(of: format.bigEndian != 0 ? value.bigEndian : value.littleEndian,
                                                         toByteOffset: i * 4, as: UInt32.self)
                alpha[i] = UInt8(a)
                if a >= 128 { mask[cy * maskRow + cx / 8] |= UInt8(0x80) >> UInt8(cx % 8) }
            }
        }
        cursor.pointee.cleanup = 1
        cursor.pointee.cleanupMask = 1
        // Frees richSource and alphaSource; `source` (for XCursor viewers) is
        // made and flagged by LibVNCServer when one asks.
        cursor.pointee.cleanupRichSource = 1
        cursor.pointee.width = UInt16(w)
        cursor.pointee.height = UInt16(h)
        cursor.pointee.xhot = UInt16(min(hot.0 / factor, w - 1))
        cursor.pointee.yhot = UInt16(min(hot.1 / factor, h - 1))
        cursor.pointee.richSource = rich
        cursor.pointee.alphaSource = alpha
        cursor.pointee.mask = mask
        cursor.pointee.alphaPreMultiplied = 0
        // Colours left at zero: LibVNCServer then makes an XCursor's two
        // colours black and white from the rich pixels' brightness.
        return cursor
    }

    /// Whether a w × h cursor fits in one update buffer for a 32-bit viewer,
    /// as rfbSendCursorShape counts: rectangle header, XCursor colours, pixels, mask.
    static func fits(_ w: Int, _ h: Int) -> Bool {
        12 + 6 + w * h * 4 + ((w + 7) / 8) * h <= Int(UPDATE_BUF_SIZE)
    }
}
