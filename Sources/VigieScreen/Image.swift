/// A picture in packed 8-bit RGB, row after row, 3 bytes per pixel.
public struct Image: Sendable, Equatable {
    /// Width in pixels.
    public var width: Int
    /// Height in pixels.
    public var height: Int
    /// `width * height * 3` bytes: R, G, B for each pixel, rows top to bottom.
    public var rgb: [UInt8]

    /// Wraps packed RGB pixels; `rgb.count` must be `width * height * 3`.
    public init(width: Int, height: Int, rgb: [UInt8]) {
        precondition(width >= 0 && height >= 0 && rgb.count == width * height * 3, "RGB buffer size mismatch")
        self.width = width
        self.height = height
        self.rgb = rgb
    }

    /// The colour of one pixel as 0xRRGGBB.
    public func pixel(x: Int, y: Int) -> UInt32 {
        let i = (y * width + x) * 3
        return UInt32(rgb[i]) << 16 | UInt32(rgb[i + 1]) << 8 | UInt32(rgb[i + 2])
    }

    /// A copy scaled to `toWidth` pixels wide, height following the aspect
    /// ratio (at least 1 pixel). Each output pixel is the mean of the source
    /// pixels it covers (box filter); scaling up repeats pixels.
    public func scaled(toWidth newWidth: Int) -> Image {
        guard newWidth > 0, width > 0, height > 0 else { return Image(width: 0, height: 0, rgb: []) }
        if newWidth == width { return self }
        let newHeight = max(1, (height * newWidth + width / 2) / width)
        // Source column and row spans of each output pixel.
        var xs = [Int](repeating: 0, count: newWidth + 1)
        for i in 0...newWidth { xs[i] = i * width / newWidth }
        var ys = [Int](repeating: 0, count: newHeight + 1)
        for i in 0...newHeight { ys[i] = i * height / newHeight }
        var out = [UInt8](repeating: 0, count: newWidth * newHeight * 3)
        var sums = [UInt32](repeating: 0, count: newWidth * 3)
        let w = width
        rgb.withUnsafeBufferPointer { src in
            out.withUnsafeMutableBufferPointer { dst in
                sums.withUnsafeMutableBufferPointer { acc in
                    for oy in 0..<newHeight {
                        let y0 = ys[oy]
                        let y1 = max(ys[oy + 1], y0 + 1)
                        for i in 0..<acc.count { acc[i] = 0 }
                        for y in y0..<y1 {
                            let row = src.baseAddress! + y * w * 3
                            for ox in 0..<newWidth {
                                let x0 = xs[ox]
                                let x1 = max(xs[ox + 1], x0 + 1)
                                var r: UInt32 = 0, g: UInt32 = 0, b: UInt32 = 0
                                var p = row + x0 * 3
                                for _ in x0..<x1 {
                                    r &+= UInt32(p[0])
                                    g &+= UInt32(p[1])
                                    b &+= UInt32(p[2])
                                    p += 3
                                }
                                acc[ox * 3] &+= r
                                acc[ox * 3 + 1] &+= g
                                acc[ox * 3 + 2] &+= b
                            }
                        }
                        let orow = dst.baseAddress! + oy * newWidth * 3
                        for ox in 0..<newWidth {
                            let n = UInt32((max(xs[ox + 1], xs[ox] + 1) - xs[ox]) * (y1 - y0))
                            orow[ox * 3] = UInt8((acc[ox * 3] + n / 2) / n)
                            orow[ox * 3 + 1] = UInt8((acc[ox * 3 + 1] + n / 2) / n)
                            orow[ox * 3 + 2] = UInt8((acc[ox * 3 + 2] + n / 2) / n)
                        }
                    }
                }
            }
        }
        return Image(width: newWidth, height: newHeight, rgb: out)
    }
}
