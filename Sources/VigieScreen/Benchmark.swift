import Glibc

/// Timing of the capture path, for `vigie … benchmark` and for reports.
public enum ScreenBenchmark {
    /// Runs `iterations` rounds (at least 1) against `display` and returns
    /// the median in milliseconds of: `capture`, `encode1` (PNG level 1),
    /// `encode6` (PNG level 6), `captureEncode1` (capture + level 1),
    /// `thumbnail` (scale to 320 px wide + PNG level 1), plus `width`,
    /// `height`, `png1Bytes`, `png6Bytes` and `shm` (1 when MIT-SHM is used).
    public static func run(display: String?, iterations: Int) throws -> [String: Double] {
        let x = try XConnection(display: display)
        defer { x.close() }
        let n = max(1, iterations)
        var capture: [Double] = [], enc1: [Double] = [], enc6: [Double] = [], both: [Double] = [], thumb: [Double] = []
        var png1 = 0, png6 = 0
        _ = try x.capture()  // warm-up: SHM segment setup
        for _ in 0..<n {
            var t = now()
            let image = try x.capture()
            let tc = now() - t
            capture.append(tc)
            t = now()
            png1 = try PNG.encode(image, level: 1).count
            let te = now() - t
            enc1.append(te)
            both.append(tc + te)
            t = now()
            png6 = try PNG.encode(image, level: 6).count
            enc6.append(now() - t)
            t = now()
            _ = try PNG.encode(image.scaled(toWidth: 320), level: 1)
            thumb.append(now() - t)
        }
        return [
            "capture": median(capture), "encode1": median(enc1), "encode6": median(enc6),
            "captureEncode1": median(both), "thumbnail": median(thumb),
            "width": Double(x.width), "height": Double(x.height),
            "png1Bytes": Double(png1), "png6Bytes": Double(png6), "shm": x.usesSharedMemory ? 1 : 0,
        ]
    }

    /// The monotonic clock in milliseconds (for timings; never the wall clock).
    package static func now() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Double(ts.tv_sec) * 1000 + Double(ts.tv_nsec) / 1_000_000
    }

    package static func median(_ v: [Double]) -> Double {
        let s = v.sorted()
        return s.count % 2 == 1 ? s[s.count / 2] : (s[s.count / 2 - 1] + s[s.count / 2]) / 2
    }
}
