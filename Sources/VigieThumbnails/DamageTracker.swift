import CXCB
import CXCBDamage
import Glibc
import VigieScreen

/// Whether anything was drawn on the root window since the last capture, from
/// the X DAMAGE extension: used by the overview's thumbnails and by the seat's
/// VNC helper. Reading it costs one non-blocking read of the X connection.
///
/// Use: ``drain()``; when ``dirty``, ``willCapture()``, capture, then
/// ``captured(after:)``. Subtract first, capture second: the server handles
/// requests in order, so whatever is drawn after the subtract either lands in
/// the capture or raises a new DamageNotify — nothing drawn is ever lost, at
/// worst one frame is taken twice. Not thread-safe.
package final class DamageTracker {
    private let x: XConnection
    private let damage: xcb_damage_damage_t
    /// Response type of DamageNotify on this connection.
    private let damageNotify: UInt8
    /// Something was drawn since the last capture (or there was none yet).
    package var dirty = true

    /// Starts watching `x`'s root window.
    /// - Throws: `ScreenError` `x11.damage` when the display lacks DAMAGE.
    package init(_ x: XConnection) throws {
        let c = x.connection
        guard let ext = xcb_get_extension_data(c, cxcb_damage_extension()), ext.pointee.present != 0 else {
            throw ScreenError(code: "x11.damage", detail: "X display \(x.displayName) lacks the DAMAGE extension")
        }
        // The protocol wants QueryVersion before any other DAMAGE request.
        var err: UnsafeMutablePointer<xcb_generic_error_t>?
        guard let version = xcb_damage_query_version_reply(c, xcb_damage_query_version(c, 1, 1), &err) else {
            free(err)
            throw ScreenError(code: "x11.damage", detail: "DAMAGE version query failed on \(x.displayName)")
        }
        free(version)
        let id = xcb_generate_id(c)
        if let error = xcb_request_check(c, xcb_damage_create_checked(
            c, id, x.root, UInt8(XCB_DAMAGE_REPORT_LEVEL_NON_EMPTY.rawValue))) {
            let code = error.pointee.error_code
            free(error)
            throw ScreenError(code: "x11.damage", detail: "DamageCreate on the root window failed (X error \(code))")
        }
        self.x = x
        damage = id
        damageNotify = ext.pointee.first_event &+ UInt8(XCB_DAMAGE_NOTIFY)
    }

    /// Reads every queued event: a DamageNotify marks the screen dirty.
    package func drain() { drain(before: nil) }

    /// Subtracts what was drawn so far; capture right after. Returns the
    /// request's sequence number, for ``captured(after:)``.
    package func willCapture() -> UInt32 {
        dirty = false
        return xcb_damage_subtract(x.connection, damage, xcb_xfixes_region_t(XCB_NONE), xcb_xfixes_region_t(XCB_NONE)).sequence
    }

    /// After the capture: notifications the server sent before it handled the
    /// subtract are for drawing the capture already holds.
    package func captured(after subtract: UInt32) { drain(before: subtract) }

    /// The capture failed: the screen is still to be taken.
    package func captureFailed() { dirty = true }

    /// Stops watching (the connection stays the caller's).
    package func close() {
        if !x.hasError { xcb_damage_destroy(x.connection, damage) }
    }

    private func drain(before sequence: UInt32?) {
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
}
