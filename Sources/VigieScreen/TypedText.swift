import CXCB
import Glibc

/// What a key press types, as the display's keyboard map says (the core
/// protocol's table: Shift, Caps Lock and AltGr levels), for the one line a
/// window asks the person to write. Keys that type nothing (arrows, function
/// keys, dead keys) give nil. The map is read again when it changes (a new
/// layout, or `xdotool type` binding a spare key to a character).
struct KeyboardMap {
    private var minKeycode = 0
    private var perKeycode = 0
    private var keysyms: [UInt32] = []

    init(_ x: XConnection) { reload(x) }

    mutating func reload(_ x: XConnection) {
        guard let setup = xcb_get_setup(x.connection) else { return }
        let minKC = setup.pointee.min_keycode
        let maxKC = setup.pointee.max_keycode
        let cookie = xcb_get_keyboard_mapping(x.connection, minKC, maxKC - minKC + 1)
        guard let reply = xcb_get_keyboard_mapping_reply(x.connection, cookie, nil) else { return }
        defer { free(reply) }
        let count = Int(xcb_get_keyboard_mapping_keysyms_length(reply))
        guard let syms = xcb_get_keyboard_mapping_keysyms(reply) else { return }
        minKeycode = Int(minKC)
        perKeycode = Int(reply.pointee.keysyms_per_keycode)
        keysyms = Array(UnsafeBufferPointer(start: syms, count: count))
    }

    /// The keysym of `keycode` with modifier `state` (Shift 0x1, Lock 0x2, AltGr as Mod5 0x80).
    func keysym(_ keycode: UInt8, state: UInt16) -> UInt32 {
        let base = (Int(keycode) - minKeycode) * perKeycode
        guard perKeycode > 0, base >= 0, base + perKeycode <= keysyms.count else { return 0 }
        func at(_ level: Int) -> UInt32 { level < perKeycode ? keysyms[base + level] : 0 }
        let shift = state & 0x1 != 0
        let altGr = state & 0x80 != 0
        // Groups as the core table lays them out: [1, Shift, (group 2) …, AltGr, AltGr+Shift].
        var sym = altGr ? (at(shift ? 5 : 4) != 0 ? at(shift ? 5 : 4) : at(4)) : (shift && at(1) != 0 ? at(1) : at(0))
        if sym == 0 { sym = at(0) }
        // Caps Lock: letters typed upper case.
        if state & 0x2 != 0, !shift, let scalar = Self.scalar(sym), scalar.properties.isLowercase,
           let upper = String(scalar).uppercased().unicodeScalars.first, let shifted = Self.keysym(upper) {
            sym = shifted
        }
        return sym
    }

    /// The character a keysym types: Latin-1 keysyms are their code point, Unicode
    /// ones (0x01000000 + U) theirs, and the euro sign its own.
    static func scalar(_ keysym: UInt32) -> Unicode.Scalar? {
        switch keysym {
        case 0x20...0x7E, 0xA0...0xFF: return Unicode.Scalar(keysym)
        case 0x20AC: return "€"
        case 0x0100_0100...0x0110_FFFF: return Unicode.Scalar(keysym - 0x0100_0000)
        default: return nil
        }
    }

    static func keysym(_ scalar: Unicode.Scalar) -> UInt32? {
        switch scalar.value {
        case 0x20...0x7E, 0xA0...0xFF: return scalar.value
        default: return 0x0100_0000 + scalar.value
        }
    }
}
