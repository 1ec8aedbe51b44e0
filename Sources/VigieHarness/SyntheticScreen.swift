import Foundation
import VigieModel
import VigieScreen
import VigieThumbnails

/// The screen of every simulated seat: one desktop-like picture drawn once, and
/// its PNGs encoded once per size and shared. A real seat captures and encodes on
/// its own CPU (`vigie bench screen`: ≈ 6 ms for a 320-px thumbnail); a harness
/// that encoded 1,000 thumbnails on two cores would measure libpng, not the fan-out.
public final class SyntheticScreen: @unchecked Sendable {
    public struct Shot: Sendable {
        public var png: [UInt8]
        public var width: Int
        public var height: Int
    }

    let width: Int
    let height: Int
    private let lock = NSLock()
    private var image: Image?
    private var cache: [Int: Shot] = [:]
    private var jpegs: [Int: (jpeg: [UInt8], width: Int, height: Int)] = [:]

    /// A live view gets a picture at every tick (a busy room), not only the first.
    public let changesEveryTick: Bool

    public init(width: Int = 1280, height: Int = 800, changesEveryTick: Bool = false) {
        self.width = width
        self.height = height
        self.changesEveryTick = changesEveryTick
    }

    /// The full screen (zlib level 6, as stored screenshots) or a thumbnail (level 1).
    public func png(thumbnailWidth: Int?) -> Result<Shot, Reason> {
        lock.withLock {
            let key = thumbnailWidth ?? 0
            if let shot = cache[key] { return .success(shot) }
            if image == nil { image = Self.draw(width: width, height: height) }
            var picture = image!
            if let w = thumbnailWidth, w < picture.width { picture = picture.scaled(toWidth: w) }
            do {
                let png = try PNG.encode(picture, level: thumbnailWidth == nil ? 6 : 1)
                let shot = Shot(png: png, width: picture.width, height: picture.height)
                cache[key] = shot
                if cache.count > 8 { cache.removeValue(forKey: cache.keys.first { $0 != key }!) }
                return .success(shot)
            } catch let error as ScreenError {
                return .failure(Reason(error.code, ["detail": error.detail]))
            } catch {
                return .failure(Reason("x11.capture", ["detail": "\(error)"]))
            }
        }
    }

    /// A live view's thumbnail (JPEG), encoded once per width and shared.
    public func jpeg(width thumbnailWidth: Int) -> Result<(jpeg: [UInt8], width: Int, height: Int), Reason> {
        lock.withLock {
            if let cached = jpegs[thumbnailWidth] { return .success(cached) }
            if image == nil { image = Self.draw(width: width, height: height) }
            var picture = image!
            if thumbnailWidth < picture.width { picture = picture.scaled(toWidth: thumbnailWidth) }
            do {
                let encoder = try JPEGEncoder()
                let bytes = try picture.rgb.withUnsafeBufferPointer {
                    try encoder.encode($0.baseAddress!, width: picture.width, height: picture.height, quality: 70)
                }
                let made = (jpeg: bytes, width: picture.width, height: picture.height)
                if jpegs.count >= 8 { jpegs.removeAll() }
                jpegs[thumbnailWidth] = made
                return .success(made)
            } catch let error as ScreenError {
                return .failure(Reason(error.code, ["detail": error.detail]))
            } catch {
                return .failure(Reason("jpeg.encode", ["detail": "\(error)"]))
            }
        }
    }

    /// A desktop: a backdrop, a few windows with title bars and lines of "text".
    static func draw(width: Int, height: Int) -> Image {
        var rgb = [UInt8](repeating: 0, count: width * height * 3)
        func fill(_ x0: Int, _ y0: Int, _ w: Int, _ h: Int, _ color: UInt32) {
            guard x0 < width, y0 < height, x0 + w > 0, y0 + h > 0 else { return }
            for y in max(0, y0)..<min(height, y0 + h) {
                var i = (y * width + max(0, x0)) * 3
                for _ in max(0, x0)..<min(width, x0 + w) {
                    rgb[i] = UInt8(color >> 16 & 0xFF); rgb[i + 1] = UInt8(color >> 8 & 0xFF); rgb[i + 2] = UInt8(color & 0xFF)
                    i += 3
                }
            }
        }
        fill(0, 0, width, height, 0x3A7CA5)
        var seed: UInt32 = 42
        func next() -> Int { seed = seed &* 1_664_525 &+ 1_013_904_223; return Int(seed >> 8) }
        for window in 0..<4 {
            let x = 40 + window * width / 5, y = 60 + window * 40
            let w = width / 2, h = height / 2
            fill(x, y, w, h, 0xF4F4F4)
            fill(x, y, w, 24, 0x2B2D42)
            var line = y + 40
            while line < y + h - 12 {
                var col = x + 12
                while col < x + w - 40 {
                    let word = 8 + next() % 40
                    fill(col, line, word, 8, 0x333333)
                    col += word + 6
                }
                line += 16
            }
        }
        fill(0, height - 32, width, 32, 0x1D1F2B)
        return Image(width: width, height: height, rgb: rgb)
    }
}
