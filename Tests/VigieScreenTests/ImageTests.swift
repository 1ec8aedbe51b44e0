import Testing
@testable import VigieScreen

/// A deterministic picture with gradients and hard edges.
func testPattern(width: Int, height: Int) -> Image {
    var rgb = [UInt8](repeating: 0, count: width * height * 3)
    for y in 0..<height {
        for x in 0..<width {
            let i = (y * width + x) * 3
            rgb[i] = UInt8(truncatingIfNeeded: x)
            rgb[i + 1] = UInt8(truncatingIfNeeded: y * 3)
            rgb[i + 2] = (x / 16 + y / 16) % 2 == 0 ? 0xE0 : 0x10
        }
    }
    return Image(width: width, height: height, rgb: rgb)
}

@Suite struct PNGTests {
    @Test(arguments: [Int32(1), 6, 9])
    func encodeThenDecodeGivesTheSamePixels(level: Int32) throws {
        let image = testPattern(width: 333, height: 171)
        let png = try PNG.encode(image, level: level)
        #expect(Array(png.prefix(8)) == [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A])
        let back = try PNG.decode(png)
        #expect(back == image)
    }

    @Test func garbageIsRejectedWithoutCrashing() {
        let garbage: [UInt8] = (0..<4096).map { UInt8(truncatingIfNeeded: $0 &* 2654435761 >> 7) }
        #expect(throws: ScreenError.self) { try PNG.decode(garbage) }
        #expect(throws: ScreenError.self) { try PNG.decode([]) }
    }

    @Test func corruptPNGBodyIsCaughtInC() throws {
        // A valid signature and header followed by damaged data exercises libpng's longjmp path.
        var png = try PNG.encode(testPattern(width: 64, height: 64), level: 6)
        for i in 40..<png.count - 12 { png[i] ^= 0x5A }
        do {
            _ = try PNG.decode(png)
            Issue.record("corrupt PNG decoded")
        } catch let error as ScreenError {
            #expect(error.code == "png.decode")
            #expect(!error.detail.isEmpty)
        }
        let truncated = Array(try PNG.encode(testPattern(width: 64, height: 64), level: 1).prefix(100))
        #expect(throws: ScreenError.self) { try PNG.decode(truncated) }
    }

    @Test func emptyImageCannotBeEncoded() {
        #expect(throws: ScreenError.self) { try PNG.encode(Image(width: 0, height: 0, rgb: []), level: 1) }
    }
}

@Suite struct ScaleTests {
    @Test func thumbnailKeepsAspectRatio() {
        let t = testPattern(width: 1920, height: 1080).scaled(toWidth: 320)
        #expect(t.width == 320 && t.height == 180)
        #expect(t.rgb.count == 320 * 180 * 3)
    }

    @Test func boxFilterAveragesTheBlock() {
        // 4×2 picture: left 2×2 block black and white checker, right block red.
        let rgb: [UInt8] = [0, 0, 0, 255, 255, 255, 255, 0, 0, 255, 0, 0,
                            255, 255, 255, 0, 0, 0, 255, 0, 0, 255, 0, 0]
        let s = Image(width: 4, height: 2, rgb: rgb).scaled(toWidth: 2)
        #expect(s.width == 2 && s.height == 1)
        #expect(s.pixel(x: 0, y: 0) == 0x808080)
        #expect(s.pixel(x: 1, y: 0) == 0xFF0000)
    }
}

@Suite struct TextTests {
    @Test func wrapsAtSpacesWithinTheWidth() {
        let font = Font(id: 0, name: "test", ascent: 8, descent: 2, charWidth: 10)
        let text = "Rangez vos affaires, le cours se termine à 11 h 45 — merci !"
        let lines = wrapText(text, font: font, maxWidth: 200)
        #expect(lines.allSatisfy { $0.unicodeScalars.count <= 20 })
        #expect(lines.joined(separator: " ") == text)
        #expect(wrapText("a\nb", font: font, maxWidth: 200) == ["a", "b"])
    }

    @Test func accentsAndApostropheBecomeSingleUCS2Characters() {
        let chars = Font.char2b("é’")
        #expect(chars.count == 2)
        #expect(chars[0].byte1 == 0x00 && chars[0].byte2 == 0xE9)
        #expect(chars[1].byte1 == 0x20 && chars[1].byte2 == 0x19)
    }
}
