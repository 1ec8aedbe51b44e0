import CVNCServer

/// The seat's bound on the picture (`--quality`): the most a viewer gets,
/// whatever its SetEncodings asked for. A viewer chooses its Tight JPEG quality
/// with a pseudo-encoding (0–9, or TurboVNC's fine 1–100 and subsampling);
/// LibVNCServer would follow it, so a viewer asking for 9 would get near
/// lossless pictures over a classroom's network. The mapping is in main.swift's
/// header.
enum Quality: String {
    case low, medium, high

    /// The highest Tight quality level (0–9) a viewer keeps.
    var level: Int32 {
        switch self {
        case .low: return 2
        case .medium: return 5
        case .high: return 8
        }
    }

    /// The JPEG quality of that level: LibVNCServer's own table
    /// (tight2turbo_qual in rfbserver.c), so a capped viewer gets exactly what
    /// it would have got by asking for the level itself.
    var jpegQuality: Int32 {
        switch self {
        case .low: return 41
        case .medium: return 77
        case .high: return 92
        }
    }

    /// The finest chroma subsampling kept (LibVNCServer's turboSubsampLevel:
    /// 0 = 4:4:4, 1 = 4:2:0, 2 = 4:2:2, 3 = grey), from the same table.
    var subsampling: Int32 {
        switch self {
        case .low: return 1
        case .medium: return 2
        case .high: return 0
        }
    }

    /// The least zlib level a viewer of the Zlib encoding gets: more CPU on
    /// the seat for fewer bytes when the quality is low (0: the viewer's own).
    var zlibLevel: UInt32 {
        switch self {
        case .low: return 9
        case .medium: return 6
        case .high: return 0
        }
    }

    /// The least Tight compression level: 2 is the highest LibVNCServer 0.9.14
    /// uses with JPEG (zlib on the palette and mono rectangles); 0: the viewer's own.
    var tightCompression: Int32 {
        switch self {
        case .low: return 2
        case .medium, .high: return 0
        }
    }

    /// Lowers what `client` asked for to this bound. Called by LibVNCServer's
    /// displayHook, just before each framebuffer update is encoded: after any
    /// SetEncodings (which resets the client's levels) and before the first
    /// update, the largest, goes out.
    func bound(_ client: rfbClientPtr) {
        let cl = client
        // JPEG is on when the viewer asked for a quality (LibVNCServer's test
        // in tight.c is turboQualityLevel != -1); a viewer that asked for none
        // gets lossless Tight, ZRLE or Raw, which no level of ours changes.
        if cl.pointee.tightQualityLevel > level { cl.pointee.tightQualityLevel = level }
        if cl.pointee.turboQualityLevel > jpegQuality { cl.pointee.turboQualityLevel = jpegQuality }
        if cl.pointee.turboQualityLevel != -1, Self.detail(cl.pointee.turboSubsampLevel) > Self.detail(subsampling) {
            cl.pointee.turboSubsampLevel = subsampling
        }
        if cl.pointee.zlibCompressLevel < zlibLevel { cl.pointee.zlibCompressLevel = zlibLevel }
        if cl.pointee.tightCompressLevel < tightCompression { cl.pointee.tightCompressLevel = tightCompression }
    }

    /// How much colour detail a subsampling keeps (grey < 4:2:0 < 4:2:2 < 4:4:4).
    private static func detail(_ subsampling: Int32) -> Int {
        switch subsampling {
        case 0: return 3
        case 2: return 2
        case 1: return 1
        default: return 0
        }
    }
}
