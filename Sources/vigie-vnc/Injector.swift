import CVNCServer
import CXCB
import Glibc
import VigieScreen

/// The controller's keys and pointer, injected into the X display with XTEST
/// (control mode only). Keysyms are found in the display's keyboard map; a
/// keysym on a key's shifted level is typed with Shift held, unless the viewer
/// already holds it.
final class Injector {
    private let x: XConnection
    /// Keysym → (keycode, on the shifted level).
    private var keys: [UInt32: (code: UInt8, shifted: Bool)] = [:]
    private var shiftCode: UInt8 = 0
    private var viewerShift = false
    private var buttons: Int32 = 0
    /// Keys pressed through this injector and not yet released.
    private var pressed: Set<UInt8> = []
    /// While the agent shows the person a question (consent, extension), nothing is
    /// injected: the controller's input can never answer it (``hold()``).
    private(set) var held = false

    init(_ x: XConnection) throws {
        self.x = x
        let c = x.connection
        guard let ext = xcb_get_extension_data(c, cvnc_xtest_extension()), ext.pointee.present != 0 else {
            throw ScreenError(code: "x11.xtest", detail: "X display \(x.displayName) lacks the XTEST extension: no control")
        }
        let setup = xcb_get_setup(c)!
        let first = setup.pointee.min_keycode
        let count = UInt8(Int(setup.pointee.max_keycode) - Int(first) + 1)
        guard let reply = xcb_get_keyboard_mapping_reply(c, xcb_get_keyboard_mapping(c, first, count), nil) else {
            throw ScreenError(code: "x11.xtest", detail: "cannot read the keyboard map of \(x.displayName)")
        }
        defer { free(reply) }
        let perCode = Int(reply.pointee.keysyms_per_keycode)
        let syms = xcb_get_keyboard_mapping_keysyms(reply)!
        for level in 0..<min(2, perCode) {
            for index in 0..<Int(count) {
                let sym = syms[index * perCode + level]
                if sym != 0, keys[sym] == nil { keys[sym] = (UInt8(Int(first) + index), level == 1) }
            }
        }
        shiftCode = keys[0xFFE1]?.code ?? 0
    }

    func key(down: Bool, keysym: UInt32) {
        if held { return }
        if keysym == 0xFFE1 || keysym == 0xFFE2 { viewerShift = down }
        guard let key = keys[keysym] else { return }
        let addShift = key.shifted && !viewerShift && shiftCode != 0
        if down {
            if addShift { fake(XCB_KEY_PRESS, shiftCode); pressed.insert(shiftCode) }
            fake(XCB_KEY_PRESS, key.code)
            pressed.insert(key.code)
        } else {
            fake(XCB_KEY_RELEASE, key.code)
            pressed.remove(key.code)
            if addShift { fake(XCB_KEY_RELEASE, shiftCode); pressed.remove(shiftCode) }
        }
        x.flush()
    }

    func pointer(mask: Int32, x px: Int32, y py: Int32) {
        if held { return }
        _ = xcb_test_fake_input(x.connection, UInt8(XCB_MOTION_NOTIFY), 0, 0, x.root, Int16(clamping: px), Int16(clamping: py), 0)
        let changed = mask ^ buttons
        for bit in 0..<8 where changed & (1 << bit) != 0 {
            fake(mask & (1 << bit) != 0 ? XCB_BUTTON_PRESS : XCB_BUTTON_RELEASE, UInt8(bit + 1))
        }
        buttons = mask
        x.flush()
    }

    /// Stops injecting: releases what the controller holds down, then waits until
    /// the X server has processed every request sent so far (a round trip), so
    /// that nothing of the controller's reaches a window mapped after this returns.
    func hold() {
        held = true
        for code in pressed { fake(XCB_KEY_RELEASE, code) }
        pressed.removeAll()
        for bit in 0..<8 where buttons & (1 << bit) != 0 { fake(XCB_BUTTON_RELEASE, UInt8(bit + 1)) }
        buttons = 0
        viewerShift = false
        free(xcb_get_input_focus_reply(x.connection, xcb_get_input_focus(x.connection), nil))
    }

    /// Injects again.
    func release() { held = false }

    private func fake(_ type: Int32, _ detail: UInt8) {
        _ = xcb_test_fake_input(x.connection, UInt8(type), detail, 0, x.root, 0, 0, 0)
    }
}
