import CXCB
import Glibc

/// Write end of the self-pipe the signal handler writes to.
nonisolated(unsafe) private var signalPipeWriteFD: Int32 = -1

/// Signal handling for the on-screen helpers: a self-pipe that turns
/// SIGTERM/SIGINT into something `poll()` can wait on.
public enum Signals {
    /// Ignores SIGHUP and SIGPIPE (the helper must outlive its parent and
    /// its stdout reader), and routes `signals` to a pipe. Returns the read
    /// end, to be passed to the window loops. Call once per process.
    public static func install(_ signals: [Int32] = [SIGTERM, SIGINT]) -> Int32 {
        signal(SIGHUP, SIG_IGN)
        signal(SIGPIPE, SIG_IGN)
        var fds: [Int32] = [-1, -1]
        guard pipe(&fds) == 0 else { return -1 }
        for fd in fds {
            _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
            _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
        }
        signalPipeWriteFD = fds[1]
        for s in signals {
            var sa = sigaction()
            sa.__sigaction_handler.sa_handler = { sig in
                var b = UInt8(truncatingIfNeeded: sig)
                _ = write(signalPipeWriteFD, &b, 1)
            }
            sa.sa_flags = SA_RESTART
            sigemptyset(&sa.sa_mask)
            sigaction(s, &sa, nil)
        }
        // A parent may have spawned us with these signals blocked (the mask is
        // inherited across exec): unblock them or SIGTERM would never arrive.
        var set = sigset_t()
        sigemptyset(&set)
        for s in signals { sigaddset(&set, s) }
        sigprocmask(SIG_UNBLOCK, &set, nil)
        return fds[0]
    }
}

/// Writes a line on stdout unbuffered (`ready`, `error CODE DETAIL`).
public func emitLine(_ line: String) {
    var bytes = Array((line + "\n").utf8)
    var off = 0
    while off < bytes.count {
        let n = bytes.withUnsafeMutableBytes { write(1, $0.baseAddress! + off, $0.count - off) }
        if n <= 0 {
            if n < 0 && errno == EINTR { continue }
            return
        }
        off += n
    }
    bytes.removeAll()
}

/// Writes a line on stderr.
public func emitError(_ line: String) {
    let bytes = Array((line + "\n").utf8)
    bytes.withUnsafeBytes { _ = write(2, $0.baseAddress, $0.count) }
}

/// What woke a window loop.
enum Wake {
    case event(UnsafeMutablePointer<xcb_generic_event_t>)
    case signal(Int32)
    case timeout
    case lost
    /// `inputFD` is readable (or at end of file).
    case input
}

extension XConnection {
    /// Flushes, then returns the next queued event, a signal from the
    /// self-pipe, `.timeout` after `timeoutMs` (negative: forever), or
    /// `.lost` when the connection is gone, or `.input` when `inputFD` (if
    /// not negative) is readable. The caller frees events.
    func waitForWake(signalFD: Int32, timeoutMs: Int32, inputFD: Int32 = -1) -> Wake {
        flush()
        if let ev = xcb_poll_for_event(connection) { return .event(ev) }
        if hasError { return .lost }
        var fds = [pollfd(fd: fileDescriptor, events: Int16(POLLIN), revents: 0),
                   pollfd(fd: signalFD, events: Int16(POLLIN), revents: 0),
                   pollfd(fd: inputFD, events: Int16(POLLIN), revents: 0)]
        let n = poll(&fds, 3, timeoutMs)  // negative descriptors are ignored by poll
        if n < 0 { return .timeout }  // EINTR: the pipe will be readable next round
        if signalFD >= 0 && fds[1].revents & Int16(POLLIN) != 0 {
            var b: UInt8 = 0
            if read(signalFD, &b, 1) == 1 { return .signal(Int32(b)) }
        }
        if inputFD >= 0 && fds[2].revents != 0 { return .input }
        if fds[0].revents != 0 {
            if let ev = xcb_poll_for_event(connection) { return .event(ev) }
            if hasError { return .lost }
        }
        return n == 0 ? .timeout : .timeout
    }

    /// Creates a window child of the root covering `x, y, width, height`.
    package func createWindow(x: Int, y: Int, width: Int, height: Int, background: UInt32,
                      overrideRedirect: Bool, events: UInt32) -> xcb_window_t {
        let win = xcb_generate_id(connection)
        // Value list in mask bit order: back pixel (1), override redirect (9), event mask (11).
        let mask = XCB_CW_BACK_PIXEL.rawValue | XCB_CW_OVERRIDE_REDIRECT.rawValue | XCB_CW_EVENT_MASK.rawValue
        let values: [UInt32] = [background, overrideRedirect ? 1 : 0, events]
        _ = xcb_create_window(connection, UInt8(XCB_COPY_FROM_PARENT), win, root,
                              Int16(clamping: x), Int16(clamping: y), UInt16(clamping: width), UInt16(clamping: height), 0,
                              UInt16(XCB_WINDOW_CLASS_INPUT_OUTPUT.rawValue), rootVisual, mask, values)
        return win
    }

    /// Restacks `window` on top of (or below) all its siblings.
    package func restack(_ window: xcb_window_t, above: Bool) {
        var v: UInt32 = above ? XCB_STACK_MODE_ABOVE.rawValue : XCB_STACK_MODE_BELOW.rawValue
        _ = xcb_configure_window(connection, window, UInt16(XCB_CONFIG_WINDOW_STACK_MODE.rawValue), &v)
    }

    /// Restacks `window` just below `sibling` (both children of the root).
    package func restack(_ window: xcb_window_t, below sibling: xcb_window_t) {
        var values: [UInt32] = [sibling, XCB_STACK_MODE_BELOW.rawValue]
        _ = xcb_configure_window(connection, window, UInt16(XCB_CONFIG_WINDOW_SIBLING.rawValue | XCB_CONFIG_WINDOW_STACK_MODE.rawValue), &values)
    }

    /// Sets WM_NAME (Latin-1 STRING, other characters as `?`),
    /// _NET_WM_NAME (UTF8_STRING) and WM_CLASS.
    func setTitle(_ window: xcb_window_t, _ title: String, instance: String) {
        let latin1 = title.unicodeScalars.map { $0.value < 256 ? UInt8($0.value) : UInt8(ascii: "?") }
        setProperty(window, xcb_atom_t(XCB_ATOM_WM_NAME.rawValue), type: xcb_atom_t(XCB_ATOM_STRING.rawValue), bytes: latin1)
        setProperty(window, atom("_NET_WM_NAME"), type: atom("UTF8_STRING"), bytes: Array(title.utf8))
        let cls = Array(instance.utf8) + [0] + Array("Vigie".utf8) + [0]
        setProperty(window, xcb_atom_t(XCB_ATOM_WM_CLASS.rawValue), type: xcb_atom_t(XCB_ATOM_STRING.rawValue), bytes: cls)
    }

    /// Keycodes whose unshifted keysym is one of `keysyms`.
    func keycodes(for keysyms: Set<UInt32>) -> Set<UInt8> {
        guard let setup = xcb_get_setup(connection) else { return [] }
        let minKC = setup.pointee.min_keycode
        let maxKC = setup.pointee.max_keycode
        let cookie = xcb_get_keyboard_mapping(connection, minKC, maxKC - minKC + 1)
        guard let reply = xcb_get_keyboard_mapping_reply(connection, cookie, nil) else { return [] }
        defer { free(reply) }
        let per = Int(reply.pointee.keysyms_per_keycode)
        let count = Int(xcb_get_keyboard_mapping_keysyms_length(reply))
        guard per > 0, let syms = xcb_get_keyboard_mapping_keysyms(reply) else { return [] }
        var result: Set<UInt8> = []
        for i in stride(from: 0, to: count, by: per) where keysyms.contains(syms[i]) {
            result.insert(UInt8(Int(minKC) + i / per))
        }
        return result
    }
}

/// Seconds since the epoch, with sub-second precision.
func wallClock() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_REALTIME, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
}

/// Monotonic milliseconds.
func monotonicMs() -> Double { ScreenBenchmark.now() }

/// Sleeps `ms` milliseconds.
func sleepMs(_ ms: Int) { usleep(UInt32(ms * 1000)) }

/// The event type without the "sent by SendEvent" bit.
func eventType(_ ev: UnsafeMutablePointer<xcb_generic_event_t>) -> UInt8 { ev.pointee.response_type & 0x7F }

/// Reads the event as its specific struct.
func eventAs<T>(_ ev: UnsafeMutablePointer<xcb_generic_event_t>, _ type: T.Type) -> T {
    UnsafeMutableRawPointer(ev).load(as: T.self)
}
