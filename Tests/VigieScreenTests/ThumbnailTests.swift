import CTurboJPEG
import CXCB
import Foundation
import Testing
import VigieTestSupport
@testable import VigieScreen
@testable import VigieThumbnails

/// Decodes a JPEG to packed RGB with TurboJPEG.
func decodeJPEG(_ jpeg: [UInt8]) throws -> Image {
    let h = try #require(tjInitDecompress())
    defer { tjDestroy(h) }
    var width: Int32 = 0, height: Int32 = 0, subsamp: Int32 = 0, colorspace: Int32 = 0
    try #require(tjDecompressHeader3(h, jpeg, UInt(jpeg.count), &width, &height, &subsamp, &colorspace) == 0)
    #expect(subsamp == Int32(TJSAMP_420.rawValue))
    var rgb = [UInt8](repeating: 0, count: Int(width * height * 3))
    try #require(tjDecompress2(h, jpeg, UInt(jpeg.count), &rgb, width, 0, height, Int32(TJPF_RGB.rawValue), 0) == 0)
    return Image(width: Int(width), height: Int(height), rgb: rgb)
}

/// True when every channel of `a` is within `tolerance` of `b` (0xRRGGBB).
func near(_ a: UInt32, _ b: UInt32, _ tolerance: Int = 24) -> Bool {
    [16, 8, 0].allSatisfy { abs(Int((a >> UInt32($0)) & 0xFF) - Int((b >> UInt32($0)) & 0xFF)) <= tolerance }
}

/// A known picture drawn by another client: a full-screen blue window with a
/// yellow rectangle. Returns once the server has drawn it.
func drawScene(_ x: XConnection) -> xcb_window_t {
    let win = x.createWindow(x: 0, y: 0, width: x.width, height: x.height, background: x.pixel(rgb: 0x3A7CA5),
                             overrideRedirect: true, events: 0)
    xcb_map_window(x.connection, win)
    let gc = x.makeGC(win, foreground: x.pixel(rgb: 0xFFC914), background: 0, font: nil)
    x.fillRect(win, gc, x: 80, y: 80, width: 320, height: 160)
    x.sync()
    return win
}

@Suite(.serialized) struct ThumbnailTests {
    @Test func firstThumbnailShowsTheScreenThenNothingUntilSomethingIsDrawn() throws {
        let xvfb = try Xvfb(width: 1280, height: 800)
        let painter = try XConnection(display: xvfb.display)
        defer { painter.close() }
        _ = drawScene(painter)
        let thumbnailer = try Thumbnailer(display: xvfb.display)
        defer { thumbnailer.close() }

        let first = try #require(try thumbnailer.next(width: 320))
        #expect(first.width == 320 && first.height == 200)
        #expect(Array(first.jpeg.prefix(2)) == [0xFF, 0xD8], "no SOI marker")
        #expect(Array(first.jpeg.suffix(2)) == [0xFF, 0xD9], "no EOI marker")
        #expect(first.jpeg.count < 20_000)
        let image = try decodeJPEG(first.jpeg)
        #expect(image.width == 320 && image.height == 200)
        #expect(near(image.pixel(x: 250, y: 150), 0x3A7CA5), "background: \(String(image.pixel(x: 250, y: 150), radix: 16))")
        #expect(near(image.pixel(x: 60, y: 40), 0xFFC914), "rectangle: \(String(image.pixel(x: 60, y: 40), radix: 16))")
        // Close to the screen scaled in RGB, pixel by pixel (JPEG loses a little).
        let reference = try painter.capture().scaled(toWidth: 320)
        let meanError = zip(image.rgb, reference.rgb).reduce(0) { $0 + abs(Int($1.0) - Int($1.1)) } / image.rgb.count
        #expect(meanError <= 4, "mean error \(meanError)")

        // Nothing drawn: no thumbnail.
        #expect(try thumbnailer.next(width: 320) == nil)
        #expect(try thumbnailer.next(width: 320) == nil)

        // Another client maps a red window: a new thumbnail shows it.
        let red = painter.createWindow(x: 640, y: 400, width: 400, height: 300, background: painter.pixel(rgb: 0xFF0000),
                                       overrideRedirect: true, events: 0)
        xcb_map_window(painter.connection, red)
        painter.sync()
        var latest: Image?
        let shown = try eventually(5) {
            if let t = try thumbnailer.next(width: 320) { latest = try decodeJPEG(t.jpeg) }
            return latest.map { near($0.pixel(x: 210, y: 137), 0xFF0000) } ?? false
        }
        #expect(shown, "the red window never appeared in a thumbnail")
        if let latest {
            #expect(latest.width == 320 && latest.height == 200)
            #expect(!near(image.pixel(x: 210, y: 137), 0xFF0000))
            #expect(near(latest.pixel(x: 250, y: 40), 0x3A7CA5), "outside the window: unchanged")
        }
        // And quiet again once it is shown.
        #expect(try eventually(2) { try thumbnailer.next(width: 320) == nil })
        #expect(try thumbnailer.next(width: 320) == nil)
    }

    @Test func aNewWidthAlwaysGivesAThumbnailNeverWiderThanTheScreen() throws {
        let xvfb = try Xvfb(width: 1280, height: 800)
        let painter = try XConnection(display: xvfb.display)
        defer { painter.close() }
        _ = drawScene(painter)
        let thumbnailer = try Thumbnailer(display: xvfb.display)
        defer { thumbnailer.close() }
        #expect(try thumbnailer.next(width: 320) != nil)
        let small = try #require(try thumbnailer.next(width: 160, quality: 50))
        #expect(small.width == 160 && small.height == 100)
        let decoded = try decodeJPEG(small.jpeg)
        #expect(decoded.width == 160 && decoded.height == 100)
        #expect(try thumbnailer.next(width: 160) == nil)
        let full = try #require(try thumbnailer.next(width: 5000))
        #expect(full.width == 1280 && full.height == 800)
        #expect(try thumbnailer.next(width: 5000) == nil)
        thumbnailer.close()
        #expect(throws: ScreenError.self) { try thumbnailer.next(width: 320) }
    }

    @Test func anUnreachableDisplayIsAnX11ConnectError() {
        let error = #expect(throws: ScreenError.self) { try Thumbnailer(display: ":4999") }
        #expect(error?.code == "x11.connect")
    }
}

@Suite struct BoxScalerTests {
    /// Server pixels for `image`: BGRX words, or packed 24-bit BGR rows padded to 4 bytes.
    func serverPixels(_ image: Image, bitsPerPixel: Int) -> (bytes: [UInt8], stride: Int) {
        let bpp = bitsPerPixel / 8
        let stride = (image.width * bpp + 3) / 4 * 4
        var bytes = [UInt8](repeating: 0xAA, count: stride * image.height)
        for y in 0..<image.height {
            for x in 0..<image.width {
                let i = (y * image.width + x) * 3, o = y * stride + x * bpp
                bytes[o] = image.rgb[i + 2]
                bytes[o + 1] = image.rgb[i + 1]
                bytes[o + 2] = image.rgb[i]
            }
        }
        return (bytes, stride)
    }

    @Test(arguments: [(333, 171, 100), (1920, 1080, 320), (640, 400, 640), (301, 203, 7), (50, 40, 1)])
    func scalingServerPixelsMatchesImageScaled(size: (Int, Int, Int)) {
        let image = testPattern(width: size.0, height: size.1)
        for bits in [32, 24] {
            var format = PixelFormat()
            format.bitsPerPixel = bits
            #expect(format.isBGRX == (bits == 32))
            let (bytes, stride) = serverPixels(image, bitsPerPixel: bits)
            let scaler = BoxScaler(sourceWidth: image.width, sourceHeight: image.height, width: size.2)
            bytes.withUnsafeBytes { scaler.scale($0.baseAddress!, stride: stride, format: format) }
            let expected = image.scaled(toWidth: scaler.width)
            #expect(scaler.height == expected.height)
            let got = Array(UnsafeBufferPointer(start: scaler.rgb, count: scaler.width * scaler.height * 3))
            #expect(got == expected.rgb, "\(bits) bits, \(size)")
        }
    }

    @Test func aThumbnailIsWideEnoughForTheRowSums() {
        // 256 source rows at most per output row: 1 px wide of a 4000×2000 screen would
        // be 1 row high (2000 source rows); 15 px wide makes 8 rows of 250.
        #expect(BoxScaler.width(requested: 1, sourceWidth: 4000, sourceHeight: 2000) == 15)
        #expect(BoxScaler.width(requested: 320, sourceWidth: 1920, sourceHeight: 1080) == 320)
        #expect(BoxScaler.width(requested: 0, sourceWidth: 1920, sourceHeight: 1080) == 8)
        #expect(BoxScaler.width(requested: 9999, sourceWidth: 1920, sourceHeight: 1080) == 1920)
    }
}
