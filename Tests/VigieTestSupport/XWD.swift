import Foundation

/// A picture read from an X Window Dump (`xwd` output), ZPixmap, 24/32-bit
/// TrueColor only — what `xwd -root` writes for an Xvfb screen at depth 24.
public struct XWDImage: Sendable {
    /// Width in pixels.
    public let width: Int
    /// Height in pixels.
    public let height: Int
    /// Packed RGB, 3 bytes per pixel, rows top to bottom.
    public let rgb: [UInt8]

    /// Parses `data`.
    /// - Throws: `TestSupportError` for a truncated or unsupported dump.
    public init(data: Data) throws {
        let bytes = [UInt8](data)
        func u32(_ field: Int) throws -> Int {
            let o = field * 4
            guard o + 4 <= bytes.count else { throw TestSupportError("XWD header truncated") }
            return Int(bytes[o]) << 24 | Int(bytes[o + 1]) << 16 | Int(bytes[o + 2]) << 8 | Int(bytes[o + 3])
        }
        let headerSize = try u32(0)
        guard try u32(1) == 7 else { throw TestSupportError("not an XWD version 7 file") }
        guard try u32(2) == 2 else { throw TestSupportError("XWD not in ZPixmap format") }
        width = try u32(4)
        height = try u32(5)
        let byteOrder = try u32(7)  // 0 = LSBFirst
        let bitsPerPixel = try u32(11)
        let bytesPerLine = try u32(12)
        let masks = (try u32(14), try u32(15), try u32(16))
        let ncolors = try u32(19)
        guard bitsPerPixel == 32 || bitsPerPixel == 24 else {
            throw TestSupportError("XWD with \(bitsPerPixel) bits per pixel not supported")
        }
        let start = headerSize + ncolors * 12
        guard bytes.count >= start + bytesPerLine * height else { throw TestSupportError("XWD pixels truncated") }
        let shifts = (masks.0.trailingZeroBitCount, masks.1.trailingZeroBitCount, masks.2.trailingZeroBitCount)
        let bpp = bitsPerPixel / 8
        var out = [UInt8](repeating: 0, count: width * height * 3)
        for y in 0..<height {
            for x in 0..<width {
                let p = start + y * bytesPerLine + x * bpp
                var v = 0
                if byteOrder == 0 {
                    for k in (0..<bpp).reversed() { v = v << 8 | Int(bytes[p + k]) }
                } else {
                    for k in 0..<bpp { v = v << 8 | Int(bytes[p + k]) }
                }
                let o = (y * width + x) * 3
                out[o] = UInt8((v & masks.0) >> shifts.0 & 0xFF)
                out[o + 1] = UInt8((v & masks.1) >> shifts.1 & 0xFF)
                out[o + 2] = UInt8((v & masks.2) >> shifts.2 & 0xFF)
            }
        }
        rgb = out
    }

    /// The colour of one pixel as 0xRRGGBB.
    public func pixel(x: Int, y: Int) -> UInt32 {
        let i = (y * width + x) * 3
        return UInt32(rgb[i]) << 16 | UInt32(rgb[i + 1]) << 8 | UInt32(rgb[i + 2])
    }

    /// The pixels of a `columns`×`rows` grid spread over the whole picture,
    /// corners included.
    public func grid(columns: Int = 9, rows: Int = 7) -> [(x: Int, y: Int, rgb: UInt32)] {
        var result: [(x: Int, y: Int, rgb: UInt32)] = []
        for j in 0..<rows {
            for i in 0..<columns {
                let x = i * (width - 1) / max(columns - 1, 1)
                let y = j * (height - 1) / max(rows - 1, 1)
                result.append((x, y, pixel(x: x, y: y)))
            }
        }
        return result
    }

    /// True when the four corners and at least 80% of a 9×7 grid have colour `rgb`:
    /// a window of that colour covers the whole screen (its text may hide a few points).
    public func isCovered(by rgb: UInt32) -> Bool {
        let corners = [pixel(x: 0, y: 0), pixel(x: width - 1, y: 0), pixel(x: 0, y: height - 1), pixel(x: width - 1, y: height - 1)]
        let points = grid()
        return corners.allSatisfy { $0 == rgb } && points.filter { $0.rgb == rgb }.count * 10 >= points.count * 8
    }
}
