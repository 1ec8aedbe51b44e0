// vigie-vnc: the seat's VNC server for one viewer, in a process of its own.
//
//     vigie-vnc --display :0 --fd 3 --mode view|control [--may-control] [--quality low|medium|high] [--clipboard]
//               (the password on stdin, one line)
//
// The agent starts it for one remote view and hands it one end of a socket
// pair on `--fd`: it never listens on the network. The RFB protocol is
// LibVNCServer's (Debian's libvncserver), the picture the X display's, read
// with MIT-SHM when X DAMAGE says something was drawn, and only the tiles that
// changed are marked for the viewer. The pointer, which the capture lacks, goes
// as the cursor pseudo-encodings (its shape from XFIXES, its place followed
// for PointerPos), or is drawn by LibVNCServer for a viewer without them. In
// `view` mode every key, pointer event and clipboard transfer from the viewer
// is dropped; in `control` mode keys and pointer are injected with XTEST. The
// clipboard passes only with `--clipboard` (in control only): text, both
// ways, at most 256 KiB a transfer. LibVNCServer's file transfer stays off.
// A view started with `--may-control` (an assistance) turns to control when
// the agent writes `c` on stdin (the person accepted it), and says `control`.
// The process ends when its viewer leaves, when the socket closes, or on SIGTERM.
//
// `--quality` bounds what the viewer asked for with its pseudo-encodings
// (medium when not given). A viewer that asked for JPEG keeps at most:
//
//     quality   Tight level   JPEG quality   subsampling   Tight compression   zlib (Zlib encoding)
//     low       2             41             4:2:0         at least 2          at least 9
//     medium    5             77             4:2:2         the viewer's        at least 6
//     high      8             92             4:4:4         the viewer's        the viewer's
//
// (a level's JPEG quality and subsampling are LibVNCServer's own table; lower
// is fewer bytes, and a viewer asking for less keeps what it asked for). A
// viewer that asked for no JPEG (lossless Tight, ZRLE, Hextile, Raw) is sent
// lossless pictures whatever the setting; only the zlib level applies to it.

import CVNCServer
import CXCB
import CXCBDamage
import Glibc
import VigieScreen

struct Options {
    var display: String?
    var fd: Int32 = 3
    var control = false
    var quality = Quality.medium
    var clipboard = false
    /// A view that may turn to control later (`c` on stdin).
    var mayControl = false

    /// The options, or a message naming the one that is wrong.
    static func parse(_ args: [String]) -> Result<Options, UsageError> {
        var o = Options()
        var i = 1
        while i < args.count {
            let arg = args[i]
            let value = i + 1 < args.count ? args[i + 1] : nil
            switch arg {
            case "--display":
                guard let value else { return .failure(UsageError("--display needs a display")) }
                o.display = value
            case "--fd":
                guard let v = value.flatMap({ Int32($0) }) else { return .failure(UsageError("--fd needs a number")) }
                o.fd = v
            case "--mode":
                switch value {
                case "view": o.control = false
                case "control": o.control = true
                default: return .failure(UsageError("--mode is view or control"))
                }
            case "--quality":
                guard let q = value.flatMap({ Quality(rawValue: $0) }) else {
                    return .failure(UsageError("--quality is low, medium or high"))
                }
                o.quality = q
            case "--clipboard":
                o.clipboard = true
                i += 1
                continue
            case "--may-control":
                o.mayControl = true
                i += 1
                continue
            default:
                return .failure(UsageError("unknown option \(arg)"))
            }
            i += 2
        }
        if o.mayControl && o.control { return .failure(UsageError("--may-control is for --mode view")) }
        if o.clipboard && !o.control && !o.mayControl { return .failure(UsageError("--clipboard needs --mode control or --may-control")) }
        return .success(o)
    }
}

struct UsageError: Error {
    let message: String
    init(_ message: String) { self.message = message }
}

func fail(_ message: String) -> Never {
    var bytes = Array("vigie-vnc: \(message)\n".utf8)
    _ = write(2, &bytes, bytes.count)
    exit(1)
}

// LibVNCServer's hooks are C function pointers: the state they reach is global.
nonisolated(unsafe) var viewerGone = false
nonisolated(unsafe) var injector: Injector?
nonisolated(unsafe) var seat: SeatEvents!
nonisolated(unsafe) var quality = Quality.medium
/// After the password, the agent writes on stdin `h` (hold the controller's input:
/// it shows the person a question) or `f` (inject again); acknowledged on stdout
/// (`held`, `free`). Read without blocking in the loop (no signal: LibVNCServer's
/// reads and writes are not interrupted).
nonisolated(unsafe) var holdWanted = false

let options: Options
switch Options.parse(CommandLine.arguments) {
case .success(let parsed): options = parsed
case .failure(let error):
    fail("\(error.message)\nusage: vigie-vnc --display DISPLAY --fd N --mode view|control [--may-control] [--quality low|medium|high] [--clipboard] (password on stdin)")
}
quality = options.quality
signal(SIGPIPE, SIG_IGN)
signal(SIGTERM) { _ in viewerGone = true }

// The one-time password, from the agent (never on the command line).
var password = ""
while true {
    var c: UInt8 = 0
    let n = read(0, &c, 1)
    if n != 1 || c == 10 { break }
    password.append(Character(UnicodeScalar(c)))
}

// What follows on stdin (hold requests) is read without blocking.
_ = fcntl(0, F_SETFL, fcntl(0, F_GETFL) | O_NONBLOCK)

let x: XConnection
do {
    x = try XConnection(display: options.display)
} catch {
    fail("cannot open the X display \(options.display ?? "$DISPLAY"): \(error)")
}
let screenSource: ScreenSource
do {
    screenSource = try ScreenSource(x)
    // The pointer and the clipboard, on a connection of their own (SeatEvents).
    seat = try SeatEvents(display: options.display)
} catch {
    fail("\(error)")
}

guard let screen = rfbGetScreen(nil, nil, Int32(x.width), Int32(x.height), 8, 3, 4) else { fail("rfbGetScreen failed") }
rfbLogEnable(0)
screen.pointee.desktopName = UnsafePointer(strdup("Vigie"))
screen.pointee.frameBuffer = screenSource.frameBuffer
screen.pointee.alwaysShared = 1
screen.pointee.neverShared = 0
screen.pointee.autoPort = 0
screen.pointee.port = -1
screen.pointee.ipv6port = -1
screen.pointee.httpPort = -1
screen.pointee.inetdSock = options.fd
screen.pointee.permitFileTransfer = 0
// Send as soon as a change is marked: the loop below already paces the captures.
screen.pointee.deferUpdateTime = 0
screenSource.describe(&screen.pointee.serverFormat)
var passwordList: [UnsafeMutablePointer<CChar>?] = [strdup(password), nil]
if !password.isEmpty { cvnc_set_password(screen, &passwordList) }
screen.pointee.newClientHook = { client in
    client?.pointee.clientGoneHook = { _ in viewerGone = true }
    return RFB_CLIENT_ACCEPT
}
// Each update is encoded within the seat's quality bound (Quality).
screen.pointee.displayHook = { client in
    if let client { quality.bound(client) }
}
if let xfixes = seat.xfixesEvent {
    seat.cursor = CursorSource(seat.x, screen: screen, xfixesEvent: xfixes)
}
// The viewer's clipboard, keys and pointer reach the seat only in control
// (`injector` and `seat.clipboard` are set then); in view they are dropped.
screen.pointee.setXCutText = { text, length, _ in
    guard let text, length >= 0 else { return }
    text.withMemoryRebound(to: UInt8.self, capacity: Int(length)) {
        seat.clipboard?.fromViewer(latin1: UnsafeBufferPointer(start: $0, count: Int(length)))
    }
}
screen.pointee.setXCutTextUTF8 = { text, length, _ in
    guard let text, length >= 0 else { return }
    text.withMemoryRebound(to: UInt8.self, capacity: Int(length)) {
        seat.clipboard?.fromViewer(utf8: UnsafeBufferPointer(start: $0, count: Int(length)))
    }
}
screen.pointee.kbdAddEvent = { down, keysym, _ in injector?.key(down: down != 0, keysym: UInt32(keysym)) }
screen.pointee.ptrAddEvent = { mask, px, py, cl in
    guard let injector else { return }
    injector.pointer(mask: mask, x: px, y: py)
    seat.cursor?.viewerMovedPointer()
    rfbDefaultPtrAddEvent(mask, px, py, cl)
}

/// Keyboard and mouse (XTEST), and the clipboard when allowed (`--clipboard`).
func takeControl() throws {
    injector = try Injector(x)
    if options.clipboard {
        seat.clipboard = Clipboard(seat.x, screen: screen, xfixesEvent: seat.xfixesEvent)
    }
}
if options.control {
    do {
        try takeControl()
    } catch {
        fail("\(error)")
    }
}
cvnc_init_server(screen)

while !viewerGone {
    _ = rfbProcessEvents(screen, 5000)
    if x.hasError || seat.x.hasError { break }
    // The agent asks the person something: the controller's input stops before it
    // shows. Or the person gave the keyboard and mouse to an assistance's view.
    if options.control || options.mayControl {
        var bytes = [UInt8](repeating: 0, count: 16)
        let n = read(0, &bytes, bytes.count)
        if n > 0, options.mayControl, injector == nil, bytes[0..<n].contains(UInt8(ascii: "c")) {
            do {
                try takeControl()
                emitLine("control")
            } catch {
                emitLine("error \(error)")
            }
        }
        if n > 0, injector != nil, let last = bytes[0..<n].last(where: { $0 == UInt8(ascii: "h") || $0 == UInt8(ascii: "f") }) {
            holdWanted = last == UInt8(ascii: "h")
        }
    }
    if let injector, holdWanted != injector.held {
        if holdWanted {
            injector.hold()
            emitLine("held")
        } else {
            injector.release()
            emitLine("free")
        }
    }
    seat.poll(now: monotonicNow())
    for rect in screenSource.update() {
        rfbMarkRectAsModified(screen, rect.x0, rect.y0, rect.x1, rect.y1)
    }
    // The socket closed under LibVNCServer (the agent ended the stream).
    if screen.pointee.clientHead == nil { break }
}
rfbShutdownServer(screen, 1)
screenSource.close()
seat.close()
x.close()
exit(0)
