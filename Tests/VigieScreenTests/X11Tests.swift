import CXCB
import Foundation
import Testing
import VigieTestSupport
@testable import VigieScreen

let ui = product("vigie-ui")

/// When `VIGIE_ARTIFACTS` names a directory, screenshots are saved there as PNG.
func saveArtifact(_ shot: XWDImage, _ name: String) {
    guard let dir = ProcessInfo.processInfo.environment["VIGIE_ARTIFACTS"] else { return }
    if let png = try? PNG.encode(Image(width: shot.width, height: shot.height, rgb: shot.rgb), level: 6) {
        FileManager.default.createFile(atPath: "\(dir)/\(name).png", contents: Data(png))
    }
}

/// Starts `vigie-ui backdrop` and waits for it to be drawn.
func startBackdrop(_ x: Xvfb) throws -> ChildProcess {
    let p = try ChildProcess([ui, "backdrop", "--display", x.display, "--title", "B204-01"])
    let line = p.readLine(timeout: 10)
    #expect(line == "ready", "backdrop: \(p.readAllStderr())")
    return p
}

/// Starts `vigie-ui lock` and returns it once it printed `ready`.
func startLock(_ x: Xvfb, extra: [String] = []) throws -> ChildProcess {
    let p = try ChildProcess([ui, "lock", "--display", x.display, "--title", "Poste verrouillé",
                              "--line", "par Mme Martin (professeur) à 10:02",
                              "--line", "L’écran sera déverrouillé à la fin de l’activité."] + extra)
    let line = p.readLine(timeout: 10)
    try #require(line == "ready", "lock said \(line ?? "nothing"): \(p.readAllStderr())")
    return p
}

/// True when the lock's background covers the screen (see `XWDImage.isCovered`).
func coveredByLock(_ shot: XWDImage) -> Bool { shot.isCovered(by: LockScreen.backgroundRGB) }


@Suite(.serialized) struct X11Tests {
    @Test func captureMatchesTheScreenAndSurvivesPNG() throws {
        let x = try Xvfb(width: 1280, height: 800)
        let backdrop = try startBackdrop(x)
        let conn = try XConnection(display: x.display)
        #expect(conn.width == 1280 && conn.height == 800)
        let image = try conn.capture()
        #expect(image.width == 1280 && image.height == 800)
        // Same pixels as an independent xwd dump.
        let shot = try x.screenshot()
        #expect(image.rgb == shot.rgb)
        #expect(image.pixel(x: 1, y: 1) != 0, "backdrop not drawn")
        let back = try PNG.decode(try PNG.encode(image, level: 1))
        #expect(back.width == 1280 && back.height == 800)
        #expect(back == image)
        // A second capture reuses the segment and still works.
        #expect(conn.usesSharedMemory)
        #expect(try conn.capture() == image)
        conn.close()
        // The GetImage fallback (bands) gives the same picture.
        let plain = try XConnection(display: x.display, useSharedMemory: false)
        #expect(try plain.capture() == image)
        #expect(!plain.usesSharedMemory)
        #expect(try plain.capture().scaled(toWidth: 320).height == 200)
        plain.close()
        backdrop.signal(SIGTERM)
        #expect(backdrop.wait(timeout: 5) == 0)
    }

    @Test func lockCoversTheScreenHoldsTheKeyboardAndStaysOnTop() throws {
        let x = try Xvfb(width: 1280, height: 800)
        let backdrop = try startBackdrop(x)
        let before = try x.screenshot()
        #expect(!coveredByLock(before))
        #expect(before.pixel(x: 0, y: 0) != LockScreen.backgroundRGB)

        let other = try XConnection(display: x.display)
        #expect(other.canGrabKeyboard())
        let lock = try startLock(x)
        let shot = try x.screenshot()
        saveArtifact(shot, "lock")
        #expect(coveredByLock(shot))
        #expect(!other.canGrabKeyboard(), "a second client could grab the keyboard while locked")
        #expect(other.grabPointer() != 0, "a second client could grab the pointer while locked")

        // Another client maps a red full-screen window on top: the lock must come back above it.
        let c = other.connection
        let win = other.createWindow(x: 0, y: 0, width: 1280, height: 800, background: other.pixel(rgb: 0xFF0000),
                                     overrideRedirect: true, events: 0)
        xcb_map_window(c, win)
        other.restack(win, above: true)
        other.sync()
        let raised = try eventually(2) { coveredByLock(try x.screenshot()) }
        #expect(raised, "lock not raised above a newly mapped window within 2 s")
        // And the stacking order says so: the lock is the topmost child of the root.
        let tree = xcb_query_tree_reply(c, xcb_query_tree(c, other.root), nil)!
        defer { free(tree) }
        let n = Int(xcb_query_tree_children_length(tree))
        let top = xcb_query_tree_children(tree)![n - 1]
        #expect(top != win)

        // Another client destroys the lock window: a new one comes back, grabs included.
        let lockWindow = top
        xcb_destroy_window(c, win)
        xcb_destroy_window(c, lockWindow)
        other.sync()
        #expect(try eventually(2) { coveredByLock(try x.screenshot()) && !other.canGrabKeyboard() },
                "lock not restored after its window was destroyed")
        #expect(lock.process.isRunning)

        // SIGHUP (the parent's session ending) does not lift the lock.
        lock.signal(SIGHUP)
        usleep(300_000)
        #expect(lock.process.isRunning)
        #expect(!other.canGrabKeyboard())

        lock.signal(SIGTERM)
        #expect(lock.wait(timeout: 5) == 0)
        #expect(try eventually(2) { other.canGrabKeyboard() })
        #expect(!coveredByLock(try x.screenshot()))
        other.close()
        backdrop.signal(SIGTERM)
        _ = backdrop.wait(timeout: 5)
    }

    @Test func lockLiftsItselfAtUntil() throws {
        let x = try Xvfb(width: 800, height: 600)
        let until = Int(Date().timeIntervalSince1970) + 2
        let lock = try startLock(x, extra: ["--until", String(until)])
        #expect(coveredByLock(try x.screenshot()))
        let status = lock.wait(timeout: 6)
        #expect(status == 0)
        #expect(Date().timeIntervalSince1970 >= Double(until) - 0.01)
        let other = try XConnection(display: x.display)
        #expect(other.canGrabKeyboard())
        #expect(!coveredByLock(try x.screenshot()))
    }

    @Test func lockExits2WhenTheServerGoesAway() throws {
        let x = try Xvfb(width: 800, height: 600)
        let lock = try startLock(x)
        x.stop()
        #expect(lock.wait(timeout: 5) == 2)
    }

    @Test func lockFailsClosedWhenTheKeyboardIsHeld() throws {
        let x = try Xvfb(width: 800, height: 600)
        let holder = try XConnection(display: x.display)
        #expect(holder.grabKeyboard() == 0)
        let started = Date()
        let r = try run([ui, "lock", "--display", x.display, "--title", "Poste verrouillé"], timeout: 10)
        #expect(r.status == 3, "\(r)")
        #expect(r.stdout.hasPrefix("error x11.grab-keyboard "), "\(r)")
        #expect(!r.stdout.split(separator: "\n").contains("ready"))
        #expect(Date().timeIntervalSince(started) < 5)
        // Nothing left on screen, and the pointer is free again.
        #expect(!coveredByLock(try x.screenshot()))
        #expect(holder.grabPointer() == 0)
        holder.close()
    }

    @Test func messageWindowIsShownWithItsUTF8Title() throws {
        let x = try Xvfb(width: 1280, height: 800)
        let backdrop = try startBackdrop(x)
        let title = "Message de Mme Lefèvre (professeure) — l’équipe"
        let p = try ChildProcess([ui, "message", "--display", x.display, "--title", title,
                                  "--text", "Rangez vos affaires, le cours se termine à 11 h 45 — merci ! "
                                      + "N’oubliez pas d’enregistrer votre travail dans « Mes documents ».",
                                  "--timeout", "20"])
        #expect(p.readLine(timeout: 10) == "ready", "\(p.readAllStderr())")
        var env = x.environment
        env["LANG"] = "C.UTF-8"
        env["LC_ALL"] = "C.UTF-8"
        let tree = try run(["xwininfo", "-root", "-tree", "-display", x.display], environment: env)
        #expect(tree.status == 0)
        #expect(tree.stdout.contains("\"\(title)\""), "\(tree.stdout)")
        saveArtifact(try x.screenshot(), "message")
        p.signal(SIGTERM)
        #expect(p.wait(timeout: 5) == 0)
        backdrop.signal(SIGTERM)
        _ = backdrop.wait(timeout: 5)
    }

    @Test func messageTimesOut() throws {
        let x = try Xvfb(width: 800, height: 600)
        let p = try ChildProcess([ui, "message", "--display", x.display, "--title", "Info", "--text", "Bonjour",
                                  "--timeout", "1"])
        #expect(p.readLine(timeout: 10) == "ready")
        #expect(p.wait(timeout: 5) == 0)
    }
}

@Suite struct CommandLineTests {
    @Test func unreachableDisplayIsReported() throws {
        let r = try run([ui, "message", "--display", ":4093", "--title", "t", "--text", "x"], timeout: 10)
        #expect(r.status == 2, "\(r)")
        #expect(r.stdout.hasPrefix("error x11.connect "), "\(r)")
        let l = try run([ui, "lock", "--display", ":4093", "--title", "t"], timeout: 10)
        #expect(l.status == 2, "\(l)")
        #expect(l.stdout.hasPrefix("error x11.connect "), "\(l)")
    }

    @Test(arguments: [
        [], ["frobnicate"], ["lock"], ["lock", "--title"], ["lock", "--title", "t", "--until", "soon"],
        ["message", "--title", "t"], ["message", "--title", "t", "--text", "x", "--timeout", "-1"],
        ["backdrop", "--display", ":1"], ["lock", "--title", "t", "--bogus", "1"],
    ])
    func badArgumentsExit64(args: [String]) throws {
        let r = try run([ui] + args, timeout: 10)
        #expect(r.status == 64, "\(args): \(r)")
        #expect(!r.stderr.isEmpty)
        #expect(r.stdout.isEmpty)
    }
}
