import CVNCServer
import CXCB
import Glibc
import VigieScreen
import VigieThumbnails

/// The seat's screen as LibVNCServer's frame buffer: 32-bit pixels in the X
/// server's own layout (copied from MIT-SHM without conversion), refreshed when
/// DAMAGE says something was drawn, and only the tiles that differ are
/// reported, so the viewer receives what changed and nothing else.
final class ScreenSource {
    struct Rect { var x0, y0, x1, y1: Int32 }

    let x: XConnection
    let width: Int, height: Int
    /// width × height × 4 bytes, handed to LibVNCServer.
    let frameBuffer: UnsafeMutablePointer<CChar>
    private let damage: DamageTracker
    private var shm: ShmSegment?
    /// The server's pixels are 32-bit with 8-bit channels: copied as they are.
    private let direct: Bool
    static let tile = 32

    init(_ x: XConnection) throws {
        self.x = x
        width = x.width
        height = x.height
        damage = try DamageTracker(x)
        frameBuffer = .allocate(capacity: width * height * 4)
        frameBuffer.initialize(repeating: 0, count: width * height * 4)
        let format = x.pixelFormat
        direct = format.bitsPerPixel == 32 && format.supported && x.rowStride(width) == width * 4
        if direct { shm = ShmSegment.make(x.connection, size: width * height * 4).0 }
    }

    /// LibVNCServer's description of the frame buffer's pixels.
    func describe(_ f: inout rfbPixelFormat) {
        let format = x.pixelFormat
        f.bitsPerPixel = 32
        f.depth = 24
        f.bigEndian = 0
        f.trueColour = 1
        f.redMax = 255
        f.greenMax = 255
        f.blueMax = 255
        // Either the server's layout (direct) or the one `convert` writes.
        f.redShift = UInt8(direct ? format.redShift : 16)
        f.greenShift = UInt8(direct ? format.greenShift : 8)
        f.blueShift = UInt8(direct ? format.blueShift : 0)
    }

    /// When something was drawn: captures the screen and returns the tiles
    /// that changed (already copied into the frame buffer); else nothing.
    func update() -> [Rect] {
        damage.drain()
        guard damage.dirty else { return [] }
        let subtract = damage.willCapture()
        if let shm, captureShm(shm) {
            damage.captured(after: subtract)
            return changedTiles(from: UnsafeRawPointer(shm.address))
        }
        guard let image = try? x.capture() else {
            damage.captureFailed()
            return []
        }
        damage.captured(after: subtract)
        return Self.bgrx(image).withUnsafeBytes { changedTiles(from: $0.baseAddress!) }
    }

    private func captureShm(_ shm: ShmSegment) -> Bool {
        let cookie = xcb_shm_get_image(x.connection, x.root, 0, 0, UInt16(width), UInt16(height), ~0,
                                       UInt8(XCB_IMAGE_FORMAT_Z_PIXMAP.rawValue), shm.seg, 0)
        guard let reply = xcb_shm_get_image_reply(x.connection, cookie, nil) else {
            // The server stopped taking the segment: GetImage from now on.
            shm.detach()
            self.shm = nil
            return false
        }
        free(reply)
        return true
    }

    /// Compares `pixels` with the frame buffer tile by tile; copies the tiles that
    /// differ and returns, for each, the smallest rectangle holding its changed
    /// pixels (a caret or a line of text is not sent as a whole 32×32 tile).
    private func changedTiles(from pixels: UnsafeRawPointer) -> [Rect] {
        var rects: [Rect] = []
        let stride = width * 4
        let fb = UnsafeMutableRawPointer(frameBuffer)
        var y0 = 0
        while y0 < height {
            let rows = min(Self.tile, height - y0)
            var x0 = 0
            while x0 < width {
                let cols = min(Self.tile, width - x0)
                // The first and last rows that differ, then the columns within them.
                var top = -1, bottom = -1
                for row in y0..<(y0 + rows) where memcmp(fb + row * stride + x0 * 4, pixels + row * stride + x0 * 4, cols * 4) != 0 {
                    if top < 0 { top = row }
                    bottom = row
                }
                if top >= 0 {
                    for row in top...bottom {
                        memcpy(fb + row * stride + x0 * 4, pixels + row * stride + x0 * 4, cols * 4)
                    }
                    // Joined with the changed tile before it on the same band when they touch.
                    if let last = rects.last, last.y0 >= Int32(y0), last.x1 == Int32(x0) {
                        rects[rects.count - 1].x1 = Int32(x0 + cols)
                        rects[rects.count - 1].y0 = min(last.y0, Int32(top))
                        rects[rects.count - 1].y1 = max(last.y1, Int32(bottom + 1))
                    } else {
                        rects.append(Rect(x0: Int32(x0), y0: Int32(top), x1: Int32(x0 + cols), y1: Int32(bottom + 1)))
                    }
                }
                x0 += cols
            }
            y0 += rows
        }
        return rects
    }

    /// Packed RGB to 32-bit B, G, R, X (red at bit 16).
    static func bgrx(_ image: Image) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: image.width * image.height * 4)
        image.rgb.withUnsafeBufferPointer { src in
            out.withUnsafeMutableBufferPointer { dst in
                for i in 0..<(image.width * image.height) {
                    dst[i * 4] = src[i * 3 + 2]
                    dst[i * 4 + 1] = src[i * 3 + 1]
                    dst[i * 4 + 2] = src[i * 3]
                }
            }
        }
        return out
    }

    func close() {
        damage.close()
        shm?.detach()
    }
}
