import CXCB
import Glibc
import VigieScreen

/// Timing and size of overview thumbnails, for `vigie-dev bench thumbnail`.
///
/// Draws its own scenes on `display` (use an empty Xvfb): the desktop-like
/// `Backdrop`, then a window of text scrolling three lines per frame in the
/// `fixed` core font, the same text on every run.
public enum ThumbnailBenchmark {
    /// Runs `iterations` frames (at least 1) 320 px wide at quality 70 and
    /// returns medians: `frameMs` (one `next` that captures, scales and
    /// encodes, and its parts `captureMs`, `scaleMs`, `encodeMs`),
    /// `unchangedTickMs` (one `next` with nothing drawn), `stillBytes` (the
    /// backdrop alone), `scrollBytes` (with the scrolling text window), plus
    /// `width`, `height` (of the screen), `thumbWidth`, `thumbHeight`.
    /// `sample`, when given, receives the last JPEG of each scene, named
    /// `still` and `scroll`.
    /// - Throws: `ScreenError` from X, DAMAGE or the encoder;
    ///   `x11.capture` when no frame came within 2 s of a drawing.
    public static func run(display: String?, iterations: Int,
                           sample: ((_ name: String, _ jpeg: [UInt8]) -> Void)? = nil) throws -> [String: Double] {
        let n = max(1, iterations)
        let backdrop = try BackgroundBackdrop(display: display)
        defer { backdrop.stop() }

        let thumbnailer = try Thumbnailer(display: display)
        defer { thumbnailer.close() }
        let still = try thumbnailer.next(width: 320)!
        sample?("still", still.jpeg)
        // Another connection draws, as an application would.
        let scroller = try ScrollingText(display: display)
        defer { scroller.close() }

        var frame: [Double] = [], capture: [Double] = [], scale: [Double] = [], encode: [Double] = []
        var bytes: [Double] = []
        var last: [UInt8] = []
        for _ in 0..<n {
            scroller.step(lines: 3)
            var t = 0.0
            let deadline = now() + 2000
            var thumb: Thumbnail?
            while thumb == nil {
                guard now() < deadline else {
                    throw ScreenError(code: "x11.capture", detail: "no damage reported within 2 s of a drawing")
                }
                let t0 = now()
                thumb = try thumbnailer.next(width: 320)
                t = now() - t0
            }
            frame.append(t)
            let parts = thumbnailer.lastTimings
            capture.append(parts.capture)
            scale.append(parts.scale)
            encode.append(parts.encode)
            bytes.append(Double(thumb!.jpeg.count))
            last = thumb!.jpeg
        }
        sample?("scroll", last)

        // Unchanged ticks: let the last notifications in, then time calls that find nothing.
        scroller.sync()
        while try thumbnailer.next(width: 320) != nil {}
        var ticks: [Double] = []
        for _ in 0..<max(200, n * 10) {
            let t0 = now()
            let thumb = try thumbnailer.next(width: 320)
            let t = now() - t0
            if thumb == nil { ticks.append(t) }
        }
        return [
            "frameMs": median(frame), "captureMs": median(capture), "scaleMs": median(scale), "encodeMs": median(encode),
            "unchangedTickMs": median(ticks.isEmpty ? [.nan] : ticks),
            "stillBytes": Double(still.jpeg.count), "scrollBytes": median(bytes),
            "width": Double(scroller.x.width), "height": Double(scroller.x.height),
            "thumbWidth": Double(still.width), "thumbHeight": Double(still.height),
        ]
    }

    /// The bytes a live view of the scrolling scene sends in `seconds`: the
    /// backdrop and the text window scrolling `linesPerSecond` lines a second
    /// (one line at a time, as a build log does), a 320-px thumbnail looked for
    /// once per `interval` seconds, as a seat's stream does. Returns `bytes`
    /// (the JPEGs), `frames`, `ticks` and `seconds`. Others may read the same
    /// display meanwhile (a VNC server, for a comparison): `ready` is called once
    /// the scene is up, before the first tick.
    /// With `movingWindow`, a 400×300 window also crosses the screen, 10 px
    /// every 1/30 s (the remote view's benchmark).
    public static func minute(display: String?, seconds: Double = 60, linesPerSecond: Int = 10, interval: Double = 1,
                              movingWindow: Bool = false, ready: () -> Void = {}) throws -> [String: Double] {
        let backdrop = try BackgroundBackdrop(display: display)
        defer { backdrop.stop() }
        let scroller = try ScrollingText(display: display)
        defer { scroller.close() }
        let mover = movingWindow ? try MovingWindow(display: display) : nil
        defer { mover?.close() }
        let thumbnailer = try Thumbnailer(display: display)
        defer { thumbnailer.close() }
        ready()
        var bytes = 0, frames = 0, ticks = 0
        let start = now()
        var nextLine = start, nextTick = start, nextMove = start
        let lineEvery = 1000 / Double(max(1, linesPerSecond))
        while now() - start < seconds * 1000 {
            if let mover, now() >= nextMove {
                mover.step()
                nextMove += 1000.0 / 30
            }
            if now() >= nextTick {
                ticks += 1
                if let thumb = try thumbnailer.next(width: 320) {
                    frames += 1
                    bytes += thumb.jpeg.count
                }
                nextTick += interval * 1000
            }
            if now() >= nextLine {
                scroller.step(lines: 1)
                nextLine += lineEvery
            }
            let wait = max(0, min(nextLine, nextTick, mover == nil ? .infinity : nextMove) - now())
            usleep(UInt32(wait * 1000))
        }
        return ["bytes": Double(bytes), "frames": Double(frames), "ticks": Double(ticks), "seconds": seconds]
    }

    static func now() -> Double { ScreenBenchmark.now() }
    static func median(_ v: [Double]) -> Double { ScreenBenchmark.median(v) }
}

/// A window of text that scrolls up, drawn with core X requests: the
/// `fixed` font, black on white, deterministic lines.
final class ScrollingText {
    let x: XConnection
    private let window: xcb_window_t
    private let gc: xcb_gcontext_t
    private let width: Int, height: Int
    private let lineHeight = 13
    private var line = 0

    init(display: String?) throws {
        let x = try XConnection(display: display)
        self.x = x
        let c = x.connection
        width = min(760, x.width / 2)
        height = min(460, x.height / 2)
        window = x.createWindow(x: x.width * 45 / 100, y: x.height * 35 / 100, width: width, height: height,
                                background: x.pixel(rgb: 0xFFFFFF), overrideRedirect: true, events: 0)
        let font = xcb_generate_id(c)
        let name = "fixed"
        _ = xcb_open_font(c, font, UInt16(name.utf8.count), name)
        gc = xcb_generate_id(c)
        // Value list in mask bit order: foreground (2), background (3), font (14), graphics exposures (16).
        let values: [UInt32] = [x.pixel(rgb: 0x101010), x.pixel(rgb: 0xFFFFFF), font, 0]
        _ = xcb_create_gc(c, gc, window, XCB_GC_FOREGROUND.rawValue | XCB_GC_BACKGROUND.rawValue
                            | XCB_GC_GRAPHICS_EXPOSURES.rawValue | XCB_GC_FONT.rawValue, values)
        xcb_map_window(c, window)
        x.restack(window, above: true)
        // Fill the window with lines before the first measured frame.
        step(lines: height / lineHeight)
    }

    /// Scrolls by `lines` lines, drawing the new ones at the bottom, and waits
    /// until the server has drawn them.
    func step(lines: Int) {
        let c = x.connection
        let shift = lines * lineHeight
        _ = xcb_copy_area(c, window, window, gc, 0, Int16(shift), 0, 0, UInt16(width), UInt16(height - shift))
        let white: [UInt32] = [x.pixel(rgb: 0xFFFFFF)]
        let black: [UInt32] = [x.pixel(rgb: 0x101010)]
        _ = xcb_change_gc(c, gc, XCB_GC_FOREGROUND.rawValue, white)
        var rect = xcb_rectangle_t(x: 0, y: Int16(height - shift), width: UInt16(width), height: UInt16(shift))
        _ = xcb_poly_fill_rectangle(c, window, gc, 1, &rect)
        _ = xcb_change_gc(c, gc, XCB_GC_FOREGROUND.rawValue, black)
        for i in 0..<lines {
            line += 1
            let number = String(line)
            let text = String(repeating: "0", count: max(0, 6 - number.count)) + number
                + "  make[2]: compiling src/module\(line % 17)/file\(line % 113).c -O2 -Wall -> ok (\(line * 7 % 1000) ms)"
            let bytes = Array(text.utf8.prefix(255))
            let y = height - shift + i * lineHeight + 10
            _ = xcb_image_text_8(c, UInt8(bytes.count), window, gc, 4, Int16(y), bytes.map { CChar(bitPattern: $0) })
        }
        sync()
    }

    func sync() { x.sync() }

    func close() {
        xcb_destroy_window(x.connection, window)
        x.sync()
        x.close()
    }
}

/// A plain window crossing the screen back and forth, moved by its own connection.
final class MovingWindow {
    let x: XConnection
    private let window: xcb_window_t
    private var position = 0
    private var direction = 1

    init(display: String?) throws {
        let x = try XConnection(display: display)
        self.x = x
        window = x.createWindow(x: 0, y: x.height / 8, width: 400, height: 300, background: x.pixel(rgb: 0x2E6B4F),
                                overrideRedirect: true, events: 0)
        xcb_map_window(x.connection, window)
        x.restack(window, above: true)
        x.sync()
    }

    /// Moves it 10 px and waits until the server has done it.
    func step() {
        position += 10 * direction
        if position <= 0 || position >= x.width - 400 { direction = -direction }
        var values: [UInt32] = [UInt32(max(0, position))]
        _ = xcb_configure_window(x.connection, window, UInt16(XCB_CONFIG_WINDOW_X.rawValue), &values)
        x.sync()
    }

    func close() {
        xcb_destroy_window(x.connection, window)
        x.sync()
        x.close()
    }
}

/// `Backdrop` running on its own thread until `stop()`.
final class BackgroundBackdrop {
    private var thread = pthread_t()
    private let stopWrite: Int32
    private let stopRead: Int32

    init(display: String?) throws {
        var stopFDs: [Int32] = [-1, -1], readyFDs: [Int32] = [-1, -1]
        guard pipe(&stopFDs) == 0, pipe(&readyFDs) == 0 else {
            throw ScreenError(code: "x11.window", detail: "pipe: \(String(cString: strerror(errno)))")
        }
        stopRead = stopFDs[0]
        stopWrite = stopFDs[1]
        let readyWrite = readyFDs[1]
        let box = ThreadBody { [stopRead] in
            // One byte on the ready pipe: 1 once drawn, 0 when it failed before.
            var told = false
            do {
                try Backdrop(title: "B204-01").run(display: display, signalFD: stopRead) {
                    var one: UInt8 = 1
                    _ = write(readyWrite, &one, 1)
                    told = true
                }
            } catch {
                var zero: UInt8 = 0
                if !told { _ = write(readyWrite, &zero, 1) }
            }
        }
        let arg = Unmanaged.passRetained(box).toOpaque()
        let status = pthread_create(&thread, nil, { arg in
            Unmanaged<ThreadBody>.fromOpaque(arg!).takeRetainedValue().body()
            return nil
        }, arg)
        var ready: UInt8 = 0
        let got = status == 0 ? read(readyFDs[0], &ready, 1) : 0
        Glibc.close(readyFDs[0])
        Glibc.close(readyWrite)
        guard got == 1, ready == 1 else {
            if status == 0 { pthread_join(thread, nil) }
            Glibc.close(stopRead)
            Glibc.close(stopWrite)
            throw ScreenError(code: "x11.window", detail: "the backdrop could not be drawn on \(display ?? "$DISPLAY")")
        }
    }

    func stop() {
        var b = UInt8(SIGTERM)
        _ = write(stopWrite, &b, 1)
        pthread_join(thread, nil)
        Glibc.close(stopRead)
        Glibc.close(stopWrite)
    }
}

private final class ThreadBody {
    let body: () -> Void
    init(_ body: @escaping () -> Void) { self.body = body }
}
