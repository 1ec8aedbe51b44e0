import Foundation

/// A private X server for tests: `Xvfb -screen 0 WxHx24 -nolisten tcp` on a
/// free display number, ready to accept connections when `init` returns,
/// stopped by `stop()` or `deinit`.
///
/// The number is chosen by the server itself with `-displayfd` (it skips
/// numbers whose `/tmp/.X<n>-lock` or socket exist and reports the one it
/// took once it listens), so parallel test processes never race.
public final class Xvfb: @unchecked Sendable {
    /// The display name, e.g. `":103"`.
    public let display: String
    /// The display number.
    public let number: Int
    /// Screen width.
    public let width: Int
    /// Screen height.
    public let height: Int
    private let child: ChildProcess
    private var stopped = false

    /// Starts a server with one screen of `width`×`height` at depth 24, on a
    /// free display number of the server's choosing, or on `number` (for tests
    /// that restart a display under the same name).
    /// - Throws: `TestSupportError` if Xvfb is missing or not ready in time.
    public init(width: Int = 1280, height: Int = 800, number fixed: Int? = nil, timeout: Double = 15) throws {
        self.width = width
        self.height = height
        let screen = ["-screen", "0", "\(width)x\(height)x24", "-nolisten", "tcp"]
        if let fixed {
            child = try ChildProcess(["Xvfb", ":\(fixed)"] + screen)
            number = fixed
        } else {
            child = try ChildProcess(["Xvfb", "-displayfd", "1"] + screen)
            guard let line = child.readLine(timeout: timeout), let n = Int(line.trimmingCharacters(in: .whitespaces)) else {
                child.kill()
                _ = child.wait(timeout: 2)
                throw TestSupportError("Xvfb did not report a display within \(timeout) s: \(child.readAllStderr())")
            }
            number = n
        }
        display = ":\(number)"
        // -displayfd is written once the server listens; with a fixed number, wait for the socket.
        let socket = "/tmp/.X11-unix/X\(number)"
        let deadline = Date().addingTimeInterval(timeout)
        while !FileManager.default.fileExists(atPath: socket) {
            if Date() > deadline || !child.process.isRunning {
                child.kill()
                throw TestSupportError("Xvfb \(display) did not start: \(child.readAllStderr())")
            }
            usleep(20_000)
        }
    }

    /// A display number that no server uses now, far above the ones `-displayfd`
    /// hands out, so that a test can stop and restart a server under it.
    public static func unusedHighNumber() -> Int {
        while true {
            let n = Int.random(in: 600..<5000)
            if !FileManager.default.fileExists(atPath: "/tmp/.X11-unix/X\(n)") && !FileManager.default.fileExists(atPath: "/tmp/.X\(n)-lock") {
                return n
            }
        }
    }

    deinit { stop() }

    /// Stops the server (SIGTERM, then SIGKILL after 5 s). Idempotent.
    public func stop() {
        if stopped { return }
        stopped = true
        child.signal(SIGTERM)
        if child.wait(timeout: 5) == nil {
            child.kill()
            _ = child.wait(timeout: 2)
        }
    }

    /// The environment of this process with `DISPLAY` pointing here.
    public var environment: [String: String] {
        var env = ProcessInfo.processInfo.environment
        env["DISPLAY"] = display
        return env
    }

    /// A screenshot taken independently of Vigie, with `xwd -root`.
    public func screenshot() throws -> XWDImage {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("vigie-\(getpid())-\(number).xwd")
        defer { try? FileManager.default.removeItem(at: file) }
        let r = try run(["xwd", "-root", "-display", display, "-silent", "-out", file.path], timeout: 30)
        guard r.status == 0 else { throw TestSupportError("xwd failed: \(r)") }
        return try XWDImage(data: Data(contentsOf: file))
    }
}
