import CXCB
import Glibc

/// A connection to an X server through libxcb, bound to its default screen.
///
/// libxcb connections are thread-safe; the capture buffer is protected by a
/// lock, so one connection may be shared between threads. Calls block on
/// server round trips: run them on a dedicated thread, not a shared pool.
public final class XConnection: @unchecked Sendable {
    /// The underlying `xcb_connection_t *`.
    public let connection: OpaquePointer
    /// Width of the default screen in pixels.
    public let width: Int
    /// Height of the default screen in pixels.
    public let height: Int
    /// The root window of the default screen.
    public let root: xcb_window_t
    /// Depth of the root window (24 on a usual TrueColor server).
    public let rootDepth: UInt8
    /// Visual of the root window.
    public let rootVisual: xcb_visualid_t
    /// Default colormap of the screen.
    public let colormap: xcb_colormap_t
    /// The display name as given (or `$DISPLAY` when nil).
    public let displayName: String

    package let pixelFormat: PixelFormat
    let captureLock = Mutex()
    var shm: ShmSegment?
    var shmTried = false
    var closed = false

    /// Connects to `display` (e.g. `":1"`), or to `$DISPLAY` when nil.
    /// With `useSharedMemory` false, captures always use `GetImage` (for
    /// tests of the fallback and for servers on another host).
    ///
    /// - Throws: `ScreenError` with code `x11.connect` when the server cannot
    ///   be reached or refuses the connection.
    public init(display: String?, useSharedMemory: Bool = true) throws {
        var screenNumber: Int32 = 0
        let c: OpaquePointer? = display.map { xcb_connect($0, &screenNumber) } ?? xcb_connect(nil, &screenNumber)
        let shown = display ?? getenv("DISPLAY").map { String(cString: $0) } ?? "(DISPLAY unset)"
        guard let c else {
            throw ScreenError(code: "x11.connect", detail: "cannot connect to X display \(shown)")
        }
        let status = xcb_connection_has_error(c)
        if status != 0 {
            xcb_disconnect(c)
            throw ScreenError(code: "x11.connect",
                              detail: "cannot connect to X display \(shown) (\(XConnection.describeConnectionError(status)))")
        }
        guard let setup = xcb_get_setup(c) else {
            xcb_disconnect(c)
            throw ScreenError(code: "x11.connect", detail: "display \(shown) sent no setup")
        }
        var iter = xcb_setup_roots_iterator(setup)
        var n = screenNumber
        while n > 0 && iter.rem > 0 {
            xcb_screen_next(&iter)
            n -= 1
        }
        guard iter.rem > 0, let screenPointer = iter.data else {
            xcb_disconnect(c)
            throw ScreenError(code: "x11.connect", detail: "display \(shown) has no screen \(screenNumber)")
        }
        let screen = screenPointer.pointee
        connection = c
        width = Int(screen.width_in_pixels)
        height = Int(screen.height_in_pixels)
        root = screen.root
        rootDepth = screen.root_depth
        rootVisual = screen.root_visual
        colormap = screen.default_colormap
        displayName = shown
        pixelFormat = PixelFormat(setup: setup, screenPointer: screenPointer)
        shmTried = !useSharedMemory
    }

    deinit { close() }

    /// Disconnects from the server. Safe to call more than once; the object
    /// must not be used afterwards.
    public func close() {
        captureLock.locked {
            if closed { return }
            closed = true
            shm?.detach()
            shm = nil
            xcb_disconnect(connection)
        }
    }

    /// True when the connection has failed (server gone, protocol error).
    public var hasError: Bool { xcb_connection_has_error(connection) != 0 }

    /// Sends buffered requests to the server.
    public func flush() { _ = xcb_flush(connection) }

    /// Waits until the server has processed every request sent so far.
    public func sync() {
        let cookie = xcb_get_input_focus(connection)
        if let reply = xcb_get_input_focus_reply(connection, cookie, nil) { free(reply) }
    }

    /// The file descriptor of the connection, for `poll()`.
    public var fileDescriptor: Int32 { xcb_get_file_descriptor(connection) }

    static func describeConnectionError(_ status: Int32) -> String {
        switch status {
        case 1: return "socket, pipe or stream error"
        case 2: return "extension not supported"
        case 3: return "out of memory"
        case 4: return "request length exceeded"
        case 5: return "cannot parse display string"
        case 6: return "invalid screen"
        case 7: return "file descriptor passing failed"
        default: return "error \(status)"
        }
    }

    // MARK: Grabs

    /// Tries once to grab the keyboard for `window` (the root when nil).
    /// Returns the X grab status (0 = success, 1 = already grabbed,
    /// 2 = invalid time, 3 = not viewable, 4 = frozen).
    public func grabKeyboard(window: xcb_window_t? = nil) -> UInt8 {
        let cookie = xcb_grab_keyboard(connection, 1, window ?? root, xcb_timestamp_t(XCB_CURRENT_TIME),
                                       UInt8(XCB_GRAB_MODE_ASYNC.rawValue), UInt8(XCB_GRAB_MODE_ASYNC.rawValue))
        guard let reply = xcb_grab_keyboard_reply(connection, cookie, nil) else { return 255 }
        defer { free(reply) }
        return reply.pointee.status
    }

    /// Tries once to grab the pointer for `window` (the root when nil),
    /// reporting button presses and releases and motion to that window.
    /// Returns the X grab status (0 = success).
    public func grabPointer(window: xcb_window_t? = nil) -> UInt8 {
        let mask = UInt16(XCB_EVENT_MASK_BUTTON_PRESS.rawValue | XCB_EVENT_MASK_BUTTON_RELEASE.rawValue
            | XCB_EVENT_MASK_POINTER_MOTION.rawValue)
        let cookie = xcb_grab_pointer(connection, 0, window ?? root, mask,
                                      UInt8(XCB_GRAB_MODE_ASYNC.rawValue), UInt8(XCB_GRAB_MODE_ASYNC.rawValue),
                                      xcb_window_t(XCB_NONE), xcb_cursor_t(XCB_NONE), xcb_timestamp_t(XCB_CURRENT_TIME))
        guard let reply = xcb_grab_pointer_reply(connection, cookie, nil) else { return 255 }
        defer { free(reply) }
        return reply.pointee.status
    }

    /// Releases a keyboard grab held by this connection.
    public func ungrabKeyboard() {
        xcb_ungrab_keyboard(connection, xcb_timestamp_t(XCB_CURRENT_TIME))
        flush()
    }

    /// Releases a pointer grab held by this connection.
    public func ungrabPointer() {
        xcb_ungrab_pointer(connection, xcb_timestamp_t(XCB_CURRENT_TIME))
        flush()
    }

    /// Whether this client could grab the keyboard right now: tries a grab on
    /// the root window and releases it at once if it succeeded. False while
    /// another client (such as a lock screen) holds the keyboard.
    public func canGrabKeyboard() -> Bool {
        let status = grabKeyboard()
        if status == 0 {
            ungrabKeyboard()
            sync()
            return true
        }
        return false
    }

    // MARK: Atoms and properties

    /// Interns an atom by name (creating it if needed).
    public func atom(_ name: String) -> xcb_atom_t {
        let cookie = name.withCString { xcb_intern_atom(connection, 0, UInt16(strlen($0)), $0) }
        guard let reply = xcb_intern_atom_reply(connection, cookie, nil) else { return xcb_atom_t(XCB_NONE) }
        defer { free(reply) }
        return reply.pointee.atom
    }

    /// Replaces a property of `window` with raw bytes of format 8.
    public func setProperty(_ window: xcb_window_t, _ property: xcb_atom_t, type: xcb_atom_t, bytes: [UInt8]) {
        bytes.withUnsafeBytes { buf in
            _ = xcb_change_property(connection, UInt8(XCB_PROP_MODE_REPLACE.rawValue), window, property, type, 8,
                                    UInt32(buf.count), buf.baseAddress)
        }
    }

    /// Replaces a property of `window` with 32-bit values (atoms, cardinals).
    public func setProperty(_ window: xcb_window_t, _ property: xcb_atom_t, type: xcb_atom_t, values: [UInt32]) {
        values.withUnsafeBytes { buf in
            _ = xcb_change_property(connection, UInt8(XCB_PROP_MODE_REPLACE.rawValue), window, property, type, 32,
                                    UInt32(values.count), buf.baseAddress)
        }
    }

    /// Allocates (or looks up) a colour in the default colormap and returns
    /// its pixel value. `rgb` is 0xRRGGBB.
    public func pixel(rgb: UInt32) -> UInt32 {
        let r = UInt16((rgb >> 16) & 0xFF) * 257
        let g = UInt16((rgb >> 8) & 0xFF) * 257
        let b = UInt16(rgb & 0xFF) * 257
        let cookie = xcb_alloc_color(connection, colormap, r, g, b)
        guard let reply = xcb_alloc_color_reply(connection, cookie, nil) else { return rgb }
        defer { free(reply) }
        return reply.pointee.pixel
    }
}

/// A tiny pthread mutex (no Foundation here).
final class Mutex: @unchecked Sendable {
    private let m: UnsafeMutablePointer<pthread_mutex_t>
    init() {
        m = .allocate(capacity: 1)
        pthread_mutex_init(m, nil)
    }
    deinit {
        pthread_mutex_destroy(m)
        m.deallocate()
    }
    func locked<T>(_ body: () throws -> T) rethrows -> T {
        pthread_mutex_lock(m)
        defer { pthread_mutex_unlock(m) }
        return try body()
    }
}
