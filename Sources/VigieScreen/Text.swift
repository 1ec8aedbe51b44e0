import CXCB
import Glibc

/// A server-side core font opened on an `XConnection`, with the metrics
/// needed to lay text out. The `-misc-fixed-*-iso10646-1` fonts of
/// xfonts-base cover accents and ’; the server scales them to any pixel size.
public struct Font: Sendable {
    /// The X font id.
    public let id: xcb_font_t
    /// The name that was opened.
    public let name: String
    /// Pixels above the baseline.
    public let ascent: Int
    /// Pixels below the baseline.
    public let descent: Int
    /// Advance of one character cell (the fixed fonts are monospaced).
    public let charWidth: Int

    /// Line height (ascent + descent).
    public var height: Int { ascent + descent }

    /// Width in pixels of `text` drawn with this font.
    public func width(of text: String) -> Int { Font.char2b(text).count * charWidth }

    /// The XLFD pattern of a `misc-fixed` Unicode font of `pixels` height.
    public static func fixedPattern(pixels: Int, bold: Bool) -> String {
        "-misc-fixed-\(bold ? "bold" : "medium")-r-normal--\(pixels)-*-*-*-c-*-iso10646-1"
    }

    /// Text as the 16-bit big-endian characters `ImageText16` takes;
    /// characters outside the Basic Multilingual Plane become `?`.
    static func char2b(_ text: String) -> [xcb_char2b_t] {
        text.unicodeScalars.map { s in
            let v = s.value <= 0xFFFF ? s.value : 0x3F
            return xcb_char2b_t(byte1: UInt8(v >> 8), byte2: UInt8(v & 0xFF))
        }
    }
}

extension XConnection {
    /// Opens the first font of `names` the server knows; the last resort is
    /// the core font `fixed`, which every server has.
    /// - Throws: `ScreenError` `x11.font` when not even `fixed` opens.
    public func openFont(_ names: [String]) throws -> Font {
        for name in names + ["fixed"] {
            let fid = xcb_generate_id(connection)
            let cookie = name.withCString { xcb_open_font_checked(connection, fid, UInt16(strlen($0)), $0) }
            if let err = xcb_request_check(connection, cookie) {
                free(err)
                continue
            }
            let q = xcb_query_font(connection, fid)
            guard let reply = xcb_query_font_reply(connection, q, nil) else {
                xcb_close_font(connection, fid)
                continue
            }
            defer { free(reply) }
            let r = reply.pointee
            return Font(id: fid, name: name, ascent: Int(r.font_ascent), descent: Int(r.font_descent),
                        charWidth: max(1, Int(r.max_bounds.character_width)))
        }
        throw ScreenError(code: "x11.font", detail: "no usable font (not even 'fixed')")
    }

    /// A Unicode fixed font as close to `pixels` high as the server offers:
    /// the scaled `misc-fixed` Unicode font, then its native 18/20 px sizes,
    /// then `fixed`.
    public func openUnicodeFont(pixels: Int, bold: Bool) throws -> Font {
        try openFont([
            Font.fixedPattern(pixels: pixels, bold: bold),
            Font.fixedPattern(pixels: 18, bold: bold),
            Font.fixedPattern(pixels: 20, bold: false),
            Font.fixedPattern(pixels: 13, bold: false),
        ])
    }

    /// Creates a graphics context on `drawable` with a foreground, a
    /// background and optionally a font.
    public func makeGC(_ drawable: xcb_drawable_t, foreground: UInt32, background: UInt32,
                       font: Font? = nil) -> xcb_gcontext_t {
        let gc = xcb_generate_id(connection)
        var mask = XCB_GC_FOREGROUND.rawValue | XCB_GC_BACKGROUND.rawValue | XCB_GC_GRAPHICS_EXPOSURES.rawValue
        var values: [UInt32] = [foreground, background]
        if let font {
            mask |= XCB_GC_FONT.rawValue
            values.append(font.id)
        }
        values.append(0)  // graphics exposures off
        // Value lists follow the mask's bit order: foreground (2), background (3), font (14), exposures (16).
        _ = xcb_create_gc(connection, gc, drawable, mask, values)
        return gc
    }

    /// Changes the foreground colour of `gc`.
    public func setForeground(_ gc: xcb_gcontext_t, _ pixel: UInt32) {
        var v = pixel
        _ = xcb_change_gc(connection, gc, XCB_GC_FOREGROUND.rawValue, &v)
    }

    /// Changes the font of `gc`.
    public func setFont(_ gc: xcb_gcontext_t, _ font: Font) {
        var v = font.id
        _ = xcb_change_gc(connection, gc, XCB_GC_FONT.rawValue, &v)
    }

    /// Fills a rectangle with the foreground of `gc`.
    public func fillRect(_ drawable: xcb_drawable_t, _ gc: xcb_gcontext_t, x: Int, y: Int, width: Int, height: Int) {
        var r = xcb_rectangle_t(x: Int16(clamping: x), y: Int16(clamping: y),
                                width: UInt16(clamping: max(0, width)), height: UInt16(clamping: max(0, height)))
        _ = xcb_poly_fill_rectangle(connection, drawable, gc, 1, &r)
    }

    /// Draws `text` with its baseline at `y` (ImageText16: foreground glyphs
    /// on the GC's background), in chunks of 255 characters.
    public func drawText(_ drawable: xcb_drawable_t, _ gc: xcb_gcontext_t, _ text: String, font: Font, x: Int, y: Int) {
        let chars = Font.char2b(text)
        var start = 0
        var cx = x
        while start < chars.count {
            let n = min(255, chars.count - start)
            chars[start..<(start + n)].withUnsafeBufferPointer { buf in
                _ = xcb_image_text_16(connection, UInt8(n), drawable, gc, Int16(clamping: cx), Int16(clamping: y),
                                      buf.baseAddress)
            }
            cx += n * font.charWidth
            start += n
        }
    }
}

/// Splits `text` into lines of at most `maxWidth` pixels in `font`, breaking
/// at spaces (and at explicit newlines); an overlong word is cut.
public func wrapText(_ text: String, font: Font, maxWidth: Int) -> [String] {
    let maxChars = max(1, maxWidth / font.charWidth)
    var lines: [String] = []
    for paragraph in text.split(separator: "\n", omittingEmptySubsequences: false) {
        var current: [Unicode.Scalar] = []
        for word in paragraph.split(separator: " ", omittingEmptySubsequences: true) {
            var w = Array(word.unicodeScalars)
            if current.isEmpty {
                // fallthrough to cutting below
            } else if current.count + 1 + w.count <= maxChars {
                current.append(" ")
                current += w
                continue
            } else {
                lines.append(String(String.UnicodeScalarView(current)))
                current = []
            }
            while w.count > maxChars {
                lines.append(String(String.UnicodeScalarView(w[0..<maxChars])))
                w.removeFirst(maxChars)
            }
            current = w
        }
        lines.append(String(String.UnicodeScalarView(current)))
    }
    return lines
}
