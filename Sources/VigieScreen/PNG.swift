import CPNG
import Glibc

/// PNG encoding and decoding through libpng (errors caught in C).
public enum PNG {
    /// Encodes `image` as an 8-bit RGB PNG with zlib `level` (0...9) and row
    /// filters off, which is 2–3× faster for screen content at the same size.
    /// Use 1 for live thumbnails, 6 for stored screenshots.
    /// - Throws: `ScreenError` `png.encode`.
    public static func encode(_ image: Image, level: Int32) throws -> [UInt8] {
        var out: UnsafeMutablePointer<UInt8>?
        var size = 0
        var err = [CChar](repeating: 0, count: 256)
        let rc = image.rgb.withUnsafeBufferPointer { px in
            cpng_encode_rgb(px.baseAddress, UInt32(image.width), UInt32(image.height), image.width * 3,
                            level, &out, &size, &err, err.count)
        }
        guard rc == 0, let out else {
            throw ScreenError(code: "png.encode", detail: cString(err))
        }
        defer { cpng_free(out) }
        return Array(UnsafeBufferPointer(start: out, count: size))
    }

    /// Decodes a PNG (any colour type; alpha is dropped) to packed RGB.
    /// - Throws: `ScreenError` `png.decode` for anything that is not a
    ///   complete, valid PNG.
    public static func decode(_ bytes: [UInt8]) throws -> Image {
        var out: UnsafeMutablePointer<UInt8>?
        var w: UInt32 = 0
        var h: UInt32 = 0
        var err = [CChar](repeating: 0, count: 256)
        let rc = bytes.withUnsafeBufferPointer { buf in
            cpng_decode_rgb(buf.baseAddress, buf.count, &out, &w, &h, &err, err.count)
        }
        guard rc == 0, let out else {
            throw ScreenError(code: "png.decode", detail: cString(err))
        }
        defer { cpng_free(out) }
        return Image(width: Int(w), height: Int(h), rgb: Array(UnsafeBufferPointer(start: out, count: Int(w) * Int(h) * 3)))
    }
}

/// A NUL-terminated C buffer as a String.
func cString(_ buf: [CChar]) -> String {
    let bytes = buf.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }
    return String(decoding: bytes, as: UTF8.self)
}
