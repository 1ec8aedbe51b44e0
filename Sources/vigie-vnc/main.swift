// vigie-vnc: the seat's VNC server for one viewer, in a process of its own.
//
//     vigie-vnc --display :0 --fd 3 --mode view|control   (the password on stdin, one line)
//
// The agent starts it for one remote view and hands it one end of a socket
// pair on `--fd`: it never listens on the network. The RFB protocol is
// LibVNCServer's (Debian's libvncserver), the picture the X display's, read
// with MIT-SHM when X DAMAGE says something was drawn, and only the tiles that
// changed are marked for the viewer. In `view` mode every key, pointer event
// and clipboard transfer from the viewer is dropped; in `control` mode keys
// and pointer are injected with XTEST. The clipboard is never passed on, and
// LibVNCServer's file transfer stays off. The process ends when its viewer
// leaves, when the socket closes, or on SIGTERM.

import CVNCServer
import CXCB
import CXCBDamage
import Glibc
import VigieScreen

struct Options {
    var display: String?
    var fd: Int32 = 3
    var control = false

    static func parse(_ args: [String]) -> Options? {
        var o = Options()
        var i = 1
        while i < args.count {
            let arg = args[i]
            let value = i + 1 < args.count ? args[i + 1] : nil
            switch arg {
            case "--display": o.display = value
            case "--fd": guard let v = value.flatMap({ Int32($0) }) else { return nil }; o.fd = v
            case "--mode":
                switch value {
                case "view": o.control = false
                case "control": o.control = true
                default: return nil
                }
            default: return nil
            }
            i += 2
        }
        return o
    }
}

func fail(_ message: String) -> Never {
    var bytes = Array("vigie-vnc: \(message)\n".utf8)
    _ = write(2, &bytes, bytes.count)
    exit(1)
}

// LibVNCServer's hooks are C function pointers: the state they reach is global.
nonisolated(unsafe) var viewerGone = false
nonisolated(unsafe) var injector: Injector?

guard let options = Options.parse(CommandLine.arguments) else {
    fail("usage: vigie-vnc --display DISPLAY --fd N --mode view|control (password on stdin)")
}
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

let x: XConnection
do {
    x = try XConnection(display: options.display)
} catch {
    fail("cannot open the X display \(options.display ?? "$DISPLAY"): \(error)")
}
let screenSource: ScreenSource
do {
    screenSource = try ScreenSource(x)
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
// The clipboard is never passed on, in either mode.
screen.pointee.setXCutText = { _, _, _ in }
screen.pointee.setXCutTextUTF8 = { _, _, _ in }
if options.control {
    do {
        injector = try Injector(x)
    } catch {
        fail("\(error)")
    }
    screen.pointee.kbdAddEvent = { down, keysym, _ in injector?.key(down: down != 0, keysym: UInt32(keysym)) }
    screen.pointee.ptrAddEvent = { mask, px, py, cl in
        injector?.pointer(mask: mask, x: px, y: py)
        rfbDefaultPtrAddEvent(mask, px, py, cl)
    }
} else {
    screen.pointee.kbdAddEvent = { _, _, _ in }
    screen.pointee.ptrAddEvent = { _, _, _, _ in }
}
cvnc_init_server(screen)

while !viewerGone {
    _ = rfbProcessEvents(screen, 5000)
    if x.hasError { break }
    for rect in screenSource.update() {
        rfbMarkRectAsModified(screen, rect.x0, rect.y0, rect.x1, rect.y1)
    }
    // The socket closed under LibVNCServer (the agent ended the stream).
    if screen.pointee.clientHead == nil { break }
}
rfbShutdownServer(screen, 1)
screenSource.close()
x.close()
exit(0)
