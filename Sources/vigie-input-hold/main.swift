// vigie-input-hold — keeps the seat's keyboards and pointers away from every
// X client while the seat is locked.
//
// On X11 any client of the session can kill the lock's connection
// (XKillClient) or take the grabs first, so a lock that is only an X window
// can be lifted from the session (docs/SEATS.md, "Input held below X"). This
// small program holds input one level down: while /var/lib/vigie/lock.json
// says the seat is locked, it takes an exclusive EVIOCGRAB on every keyboard
// and pointer evdev device of the machine, so their events reach nobody else
// (not Xorg, so not the pupil's programs). It never reads the events: they
// stay in the kernel's buffer of a descriptor nobody reads, and are dropped
// when the grab is released.
//
// It is driven by the agent's lock record alone (inotify on its folder): no
// socket, no change to the agent. The record is written before the lock
// window starts and removed on unlock; a record that cannot be read counts as
// locked (fail closed); an expired one (`until` passed) as unlocked. New
// devices (hot-plug) are grabbed as they appear (inotify on /dev/input), and
// every device is looked at again each second while locked.
//
// Runs as user vigie with the supplementary group `input`
// (Config/vigie-input-hold.service); needs nothing else.
#if canImport(Glibc)
import Glibc
#endif
import Foundation
import VigieSeatState

func log(_ message: String) {
    // journald adds the time; one line per event.
    let line = message + "\n"
    _ = line.withCString { write(2, $0, strlen($0)) }
}

// ioctl numbers (linux/input.h): _IOW('E', 0x90, int) and _IOC(_IOC_READ, 'E', 0x20 + ev, len).
let EVIOCGRAB: UInt = 0x4004_4590
func EVIOCGBIT(_ ev: UInt, _ len: UInt) -> UInt { (2 << 30) | (len << 16) | (0x45 << 8) | (0x20 + ev) }
let EV_KEY: UInt = 0x01
let KEY_A = 30, BTN_LEFT = 0x110, BTN_TOUCH = 0x14a, KEY_MAX = 0x2ff

var stateDir = "/var/lib/vigie"
var inputDir = "/dev/input"
var reportPath: String?
var args = CommandLine.arguments.dropFirst()
while let a = args.popFirst() {
    switch a {
    case "--state": stateDir = args.popFirst() ?? stateDir
    case "--input": inputDir = args.popFirst() ?? inputDir
    case "--report": reportPath = args.popFirst()
    case "-h", "--help":
        print("usage: vigie-input-hold [--state DIR (default /var/lib/vigie)] [--input DIR (default /dev/input)] [--report FILE]")
        print("  --report FILE: where to write what is held (InputHoldState), read by the agent for `status`")
        exit(0)
    default:
        log("vigie-input-hold: unknown argument \(a)"); exit(2)
    }
}
let lockFile = stateDir + "/lock.json"

enum Want: Equatable { case hold(until: Date?), free }

/// What the lock record says (the agent's format, ``RememberedLock``): absent or
/// expired → free; a lock → hold; unreadable → hold (never taken for "unlocked").
func readWant() -> Want {
    switch RememberedLock.read(lockFile) {
    case .absent:
        return .free
    case .found(let lock):
        return lock.isExpired() ? .free : .hold(until: lock.until)
    case .unreadable(let why):
        log("cannot read \(lockFile) (\(why)); holding input")
        return .hold(until: nil)
    }
}

/// Is this evdev device a keyboard or a pointer (has KEY_A, BTN_LEFT or BTN_TOUCH)?
func isKeyboardOrPointer(_ fd: Int32) -> Bool {
    var bits = [UInt8](repeating: 0, count: KEY_MAX / 8 + 1)
    guard ioctl(fd, EVIOCGBIT(EV_KEY, UInt(bits.count)), &bits) >= 0 else { return false }
    func has(_ k: Int) -> Bool { bits[k / 8] & UInt8(1 << (k % 8)) != 0 }
    return has(KEY_A) || has(BTN_LEFT) || has(BTN_TOUCH)
}

struct Held { var fd: Int32; var dev: UInt; var ino: UInt }
var held: [String: Held] = [:]

/// Grabs every keyboard and pointer not yet held; drops devices that went away.
@MainActor func grabAll() {
    for (path, h) in held {
        var st = stat()
        if stat(path, &st) != 0 || UInt(st.st_rdev) != h.dev || UInt(st.st_ino) != h.ino {
            close(h.fd); held[path] = nil
            log("device gone: \(path)")
        }
    }
    guard let names = SmallFile.names(in: inputDir) else { log("cannot list \(inputDir): \(String(cString: strerror(errno)))"); return }
    for name in names {
        guard name.hasPrefix("event") else { continue }
        let path = inputDir + "/" + name
        if held[path] != nil { continue }
        let fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC)
        if fd < 0 { continue }  // not yet ours (udev sets the group after creation): IN_ATTRIB brings us back
        var st = stat()
        guard fstat(fd, &st) == 0, isKeyboardOrPointer(fd) else { close(fd); continue }
        if ioctl(fd, EVIOCGRAB, 1) != 0 {
            log("cannot grab \(path): \(String(cString: strerror(errno)))")
            close(fd); continue
        }
        held[path] = Held(fd: fd, dev: UInt(st.st_rdev), ino: UInt(st.st_ino))
        log("holding \(path)")
    }
}

@MainActor func releaseAll() {
    for (path, h) in held {
        _ = ioctl(h.fd, EVIOCGRAB, 0)
        close(h.fd)
        log("released \(path)")
    }
    held.removeAll()
}

// Termination: let go of input (systemd stops us on package removal).
nonisolated(unsafe) var stopping: sig_atomic_t = 0
signal(SIGTERM) { _ in stopping = 1 }
signal(SIGINT) { _ in stopping = 1 }

let ino = inotify_init1(Int32(IN_NONBLOCK | IN_CLOEXEC))
guard ino >= 0 else { log("inotify: \(String(cString: strerror(errno)))"); exit(1) }
var stateWatch: Int32 = -1
let inputMask = UInt32(IN_CREATE | IN_ATTRIB | IN_DELETE)
let stateMask = UInt32(IN_CREATE | IN_CLOSE_WRITE | IN_MOVED_TO | IN_MOVED_FROM | IN_DELETE | IN_DELETE_SELF | IN_MOVE_SELF)
if inotify_add_watch(ino, inputDir, inputMask) < 0 { log("cannot watch \(inputDir): \(String(cString: strerror(errno)))") }

/// What is held now, written to `--report` when it changes (the agent reads it
/// to report a lock whose input is not held instead of claiming it).
var reported: InputHoldState?
@MainActor func report(locked: Bool) {
    guard let reportPath else { return }
    let devices = held.keys.map { String($0.split(separator: "/").last ?? "") }.sorted()
    if let reported, reported.locked == locked, reported.devices == devices { return }
    let state = InputHoldState(devices: devices, locked: locked, since: Date())
    do {
        try state.write(to: reportPath)
        reported = state
    } catch {
        log("cannot write \(reportPath): \(error)")
    }
}

log("vigie-input-hold: following \(lockFile)")
var holding = false
while stopping == 0 {
    if stateWatch < 0 {
        // The folder may not exist yet (agent never started): look again each second.
        stateWatch = inotify_add_watch(ino, stateDir, stateMask)
    }
    let want = readWant()
    var timeoutMs: Int32 = 1000
    switch want {
    case .hold(let until):
        if !holding { log("seat locked: holding keyboards and pointers") }
        holding = true
        grabAll()
        report(locked: true)
        if let until {
            timeoutMs = Int32(max(0, min(1000, until.timeIntervalSinceNow * 1000)))
        }
    case .free:
        if holding { log("seat unlocked: input released") }
        holding = false
        releaseAll()
        report(locked: false)
    }
    var pfd = pollfd(fd: ino, events: Int16(POLLIN), revents: 0)
    let r = poll(&pfd, 1, timeoutMs)
    if r > 0 {
        var buf = [UInt8](repeating: 0, count: 8192)
        while true {
            let n = read(ino, &buf, buf.count)
            if n <= 0 { break }
            // IN_IGNORED for the state folder (deleted or moved): watch it again.
            var off = 0
            while off + MemoryLayout<inotify_event>.size <= n {
                let (wd, mask, len) = buf.withUnsafeBytes { p -> (Int32, UInt32, UInt32) in
                    let e = p.loadUnaligned(fromByteOffset: off, as: inotify_event.self)
                    return (e.wd, e.mask, e.len)
                }
                if wd == stateWatch && mask & UInt32(IN_IGNORED) != 0 { stateWatch = -1 }
                off += MemoryLayout<inotify_event>.size + Int(len)
            }
        }
    }
}
releaseAll()
if let reportPath { unlink(reportPath) }
log("vigie-input-hold: stopped")
