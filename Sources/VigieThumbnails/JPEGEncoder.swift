import CTurboJPEG
import Glibc
import VigieScreen

/// Packed RGB to baseline JPEG through libjpeg-turbo's TurboJPEG API, with
/// 4:2:0 chroma and the fast integer DCT. The compressor and its output
/// buffer are kept between frames; one encoder per thread.
package final class JPEGEncoder {
    private let handle: tjhandle
    private var buffer: UnsafeMutablePointer<UInt8>?
    private var capacity = 0

    /// - Throws: `ScreenError` `jpeg.encode` when libjpeg-turbo cannot start.
    package init() throws {
        guard let h = tjInitCompress() else {
            throw ScreenError(code: "jpeg.encode", detail: "tjInitCompress failed: \(Self.lastError(nil))")
        }
        handle = h
    }

    deinit {
        if let buffer { tjFree(buffer) }
        tjDestroy(handle)
    }

    /// Encodes `width`×`height` packed RGB pixels at `quality` (1–100).
    /// - Throws: `ScreenError` `jpeg.encode`.
    package func encode(_ rgb: UnsafePointer<UInt8>, width: Int, height: Int, quality: Int) throws -> [UInt8] {
        // The worst case for 4:2:0, so that TurboJPEG never reallocates.
        let needed = Int(tjBufSize(Int32(width), Int32(height), Int32(TJSAMP_420.rawValue)))
        if needed > capacity {
            if let buffer { tjFree(buffer) }
            buffer = tjAlloc(Int32(needed))
            guard buffer != nil else {
                capacity = 0
                throw ScreenError(code: "jpeg.encode", detail: "cannot allocate \(needed) bytes")
            }
            capacity = needed
        }
        var out = buffer
        var size = UInt(capacity)
        let status = tjCompress2(handle, rgb, Int32(width), 0, Int32(height), Int32(TJPF_RGB.rawValue),
                                 &out, &size, Int32(TJSAMP_420.rawValue), Int32(min(max(quality, 1), 100)),
                                 TJFLAG_FASTDCT | TJFLAG_NOREALLOC)
        guard status == 0, let out else {
            throw ScreenError(code: "jpeg.encode", detail: "tjCompress2 failed: \(Self.lastError(handle))")
        }
        return Array(UnsafeBufferPointer(start: out, count: Int(size)))
    }

    static func lastError(_ handle: tjhandle?) -> String {
        guard let s = tjGetErrorStr2(handle) else { return "unknown error" }
        return String(cString: s)
    }
}
