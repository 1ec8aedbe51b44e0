import Glibc
import VigieScreen

/// Box-filter scaling of a server frame straight into a small packed-RGB
/// picture, without converting the whole frame to RGB first.
///
/// Each output pixel is the rounded mean of the source pixels it covers, the
/// same spans and rounding as `Image.scaled(toWidth:)`. Two passes per output
/// row: a vertical one that adds the covered source rows column by column
/// (contiguous, so the compiler vectorises it), then a horizontal one that
/// adds the covered columns. The vertical sums keep red and blue in two 16-bit
/// lanes of one word (`pixel & 0x00FF00FF`), which is exact up to 256 source
/// rows per output row.
///
/// Buffers are kept between frames; one scaler per thread.
package final class BoxScaler {
    package let sourceWidth: Int
    package let sourceHeight: Int
    package let width: Int
    package let height: Int
    /// Source column bounds of each output column (`width + 1` entries).
    private let xs: [Int]
    /// Source row bounds of each output row (`height + 1` entries).
    private let ys: [Int]
    /// Vertical sums per source column: red and blue lanes, green.
    private let rbSums: UnsafeMutablePointer<UInt32>
    private let gSums: UnsafeMutablePointer<UInt32>
    /// One source row as 0x00RRGGBB words, for servers without the BGRX layout.
    private var rowWords: UnsafeMutablePointer<UInt32>?
    /// The scaled picture, packed RGB.
    package let rgb: UnsafeMutablePointer<UInt8>

    /// A scaler from `sourceWidth`×`sourceHeight` to `width(requested:…)`
    /// pixels wide; the height keeps the aspect ratio.
    package init(sourceWidth: Int, sourceHeight: Int, width requested: Int) {
        precondition(sourceWidth > 0 && sourceHeight > 0)
        self.sourceWidth = sourceWidth
        self.sourceHeight = sourceHeight
        let w = Self.width(requested: requested, sourceWidth: sourceWidth, sourceHeight: sourceHeight)
        width = w
        height = Self.height(sourceWidth: sourceWidth, sourceHeight: sourceHeight, width: w)
        precondition(Self.maxRowSpan(sourceHeight: sourceHeight, height: height) <= 256, "screen too tall to scale")
        xs = (0...w).map { $0 * sourceWidth / w }
        let h = height
        ys = (0...h).map { $0 * sourceHeight / h }
        rbSums = .allocate(capacity: sourceWidth)
        gSums = .allocate(capacity: sourceWidth)
        rgb = .allocate(capacity: w * height * 3)
    }

    deinit {
        rbSums.deallocate()
        gSums.deallocate()
        rowWords?.deallocate()
        rgb.deallocate()
    }

    /// The width a scaler makes for `requested`: at least 1, at most the
    /// source width, and wide enough that an output row covers at most 256
    /// source rows (what the red and blue lanes of the vertical sums hold;
    /// only absurdly small thumbnails are widened).
    package static func width(requested: Int, sourceWidth: Int, sourceHeight: Int) -> Int {
        var w = min(max(1, requested), sourceWidth)
        while w < sourceWidth
            && maxRowSpan(sourceHeight: sourceHeight, height: height(sourceWidth: sourceWidth, sourceHeight: sourceHeight, width: w)) > 256 {
            w += 1
        }
        return w
    }

    /// The thumbnail height for `width`: the aspect ratio, rounded, at least 1.
    package static func height(sourceWidth: Int, sourceHeight: Int, width: Int) -> Int {
        max(1, (sourceHeight * width + sourceWidth / 2) / sourceWidth)
    }

    private static func maxRowSpan(sourceHeight: Int, height: Int) -> Int {
        (sourceHeight + height - 1) / height
    }

    /// Scales a frame laid out as the server sends it (`stride` bytes per
    /// row) into `rgb`. BGRX frames are read in place; other 24/32-bit
    /// layouts go through one converted row at a time.
    package func scale(_ frame: UnsafeRawPointer, stride: Int, format: PixelFormat) {
        if format.isBGRX {
            scale { y in UnsafePointer(frame.advanced(by: y * stride).assumingMemoryBound(to: UInt32.self)) }
            return
        }
        let words: UnsafeMutablePointer<UInt32>
        if let rowWords {
            words = rowWords
        } else {
            words = .allocate(capacity: sourceWidth)
            rowWords = words
        }
        let bpp = format.bitsPerPixel / 8
        let width = sourceWidth
        scale { y in
            let s = frame.advanced(by: y * stride).assumingMemoryBound(to: UInt8.self)
            for x in 0..<width {
                var v: UInt32 = 0
                let p = s + x * bpp
                if format.lsbFirst {
                    for k in (0..<bpp).reversed() { v = v << 8 | UInt32(p[k]) }
                } else {
                    for k in 0..<bpp { v = v << 8 | UInt32(p[k]) }
                }
                let r = (v >> UInt32(format.redShift)) & 0xFF
                let g = (v >> UInt32(format.greenShift)) & 0xFF
                let b = (v >> UInt32(format.blueShift)) & 0xFF
                words[x] = r << 16 | g << 8 | b
            }
            return UnsafePointer(words)
        }
    }

    /// The two passes over source rows given as 0x??RRGGBB words.
    private func scale(rows: (Int) -> UnsafePointer<UInt32>) {
        let sw = sourceWidth
        let rbSums = rbSums, gSums = gSums
        var divisorArea = -1
        // Rounded division by the box area through a multiplication: with
        // m = ceil(2^32 / n), floor(a / n) == (a * m) >> 32 for a * n < 2^32,
        // which holds here (a <= 256 n) while n < 4096.
        var multipliers = [UInt64](repeating: 0, count: width)
        for oy in 0..<height {
            let y0 = ys[oy]
            let y1 = max(ys[oy + 1], y0 + 1)
            // Vertical pass: the first row sets, the others add.
            let first = rows(y0)
            for x in 0..<sw {
                let p = first[x]
                rbSums[x] = p & 0x00FF_00FF
                gSums[x] = p & 0x0000_FF00
            }
            var y = y0 + 1
            while y < y1 {
                let row = rows(y)
                for x in 0..<sw {
                    let p = row[x]
                    rbSums[x] &+= p & 0x00FF_00FF
                    gSums[x] &+= p & 0x0000_FF00
                }
                y += 1
            }
            let spanY = y1 - y0
            if spanY != divisorArea {
                divisorArea = spanY
                for ox in 0..<width {
                    let n = UInt64((max(xs[ox + 1], xs[ox] + 1) - xs[ox]) * spanY)
                    multipliers[ox] = n < 4096 ? ((1 << 32) + n - 1) / n : 0
                }
            }
            // Horizontal pass.
            let out = rgb + oy * width * 3
            multipliers.withUnsafeBufferPointer { mul in
                for ox in 0..<width {
                    let x0 = xs[ox]
                    let x1 = max(xs[ox + 1], x0 + 1)
                    var r: UInt32 = 0, g: UInt32 = 0, b: UInt32 = 0
                    for x in x0..<x1 {
                        let rb = rbSums[x]
                        r &+= rb >> 16
                        b &+= rb & 0xFFFF
                        g &+= gSums[x] >> 8
                    }
                    let n = UInt32((x1 - x0) * spanY)
                    let half = n / 2
                    let m = mul[ox]
                    if m != 0 {
                        out[ox * 3] = UInt8(truncatingIfNeeded: (UInt64(r + half) * m) >> 32)
                        out[ox * 3 + 1] = UInt8(truncatingIfNeeded: (UInt64(g + half) * m) >> 32)
                        out[ox * 3 + 2] = UInt8(truncatingIfNeeded: (UInt64(b + half) * m) >> 32)
                    } else {
                        out[ox * 3] = UInt8(truncatingIfNeeded: (r + half) / n)
                        out[ox * 3 + 1] = UInt8(truncatingIfNeeded: (g + half) / n)
                        out[ox * 3 + 2] = UInt8(truncatingIfNeeded: (b + half) / n)
                    }
                }
            }
        }
    }
}
