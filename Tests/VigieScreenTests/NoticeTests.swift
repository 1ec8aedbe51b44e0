import CXCB
import Foundation
import Testing
import VigieTestSupport
@testable import VigieScreen

/// Rows of `shot` (sampled every 4 px across) where the colour `rgb` appears.
func rows(of rgb: UInt32, in shot: XWDImage) -> [Int] {
    (0..<shot.height).filter { y in stride(from: 0, to: shot.width, by: 4).contains { shot.pixel(x: $0, y: y) == rgb } }
}

/// The id of the top-level window whose WM_CLASS instance is `instance`, from `xwininfo -root -tree`.
func windowID(_ x: Xvfb, instance: String) throws -> String? {
    var env = x.environment
    env["LC_ALL"] = "C.UTF-8"
    let tree = try run(["xwininfo", "-root", "-tree", "-display", x.display], environment: env)
    let line = tree.stdout.split(separator: "\n").first { $0.contains("(\"\(instance)\" \"Vigie\")") }
    return line?.split(separator: " ").first.map(String.init)
}

/// Writes one line to a lock's notice pipe the way an agent does (non-blocking open, one write).
func writeNotice(_ path: String, _ line: String) -> Int32 {
    let fd = open(path, O_WRONLY | O_NONBLOCK)
    if fd < 0 { return errno }
    defer { close(fd) }
    let bytes = Array((line + "\n").utf8)
    return bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) } == bytes.count ? 0 : errno
}

@Suite(.serialized) struct NoticeTests {
    @Test func indicatorShowsAtTheTopWithoutTakingFocusThenLeaves() throws {
        let x = try Xvfb(width: 1280, height: 800)
        let backdrop = try startBackdrop(x)
        let before = try x.screenshot()
        #expect(rows(of: Indicator.backgroundRGB, in: before).isEmpty)

        let p = try ChildProcess([ui, "indicator", "--display", x.display,
                                  "--text", "Écran consulté par Mme Martin (professeur documentaliste) à 10:02",
                                  "--timeout", "6"])
        #expect(p.readLine(timeout: 10) == "ready", "\(p.readAllStderr())")
        let shot = try x.screenshot()
        saveArtifact(shot, "indicator")
        // At the top edge, centred, and nowhere below the banner.
        #expect(shot.pixel(x: 640, y: 1) == Indicator.backgroundRGB)
        let banner = rows(of: Indicator.backgroundRGB, in: shot)
        #expect(banner.first == 0, "banner rows \(banner.prefix(3))…")
        #expect((banner.last ?? 999) < 60, "banner colour found down to row \(banner.last ?? -1)")
        #expect(shot.pixel(x: 2, y: 2) != Indicator.backgroundRGB, "banner spans the whole width")

        // Override-redirect (no window manager gives it focus), and the focus is not on it.
        let id = try #require(try windowID(x, instance: "vigie-indicator"), "indicator window not in the tree")
        let info = try run(["xwininfo", "-id", id, "-display", x.display])
        #expect(info.stdout.contains("Override Redirect State: yes"), "\(info.stdout)")
        #expect(info.stdout.contains("Absolute upper-left Y:  0"), "\(info.stdout)")
        let other = try XConnection(display: x.display)
        let focus = xcb_get_input_focus_reply(other.connection, xcb_get_input_focus(other.connection), nil)!
        #expect(String(format: "0x%x", focus.pointee.focus) != id)
        free(focus)
        // It holds no grab: another client can take the keyboard and the pointer while it is shown.
        #expect(other.canGrabKeyboard(), "the indicator holds the keyboard")
        #expect(other.grabPointer() == 0, "the indicator holds the pointer")
        other.ungrabPointer()

        // Gone after its timeout (long enough for the checks above on a loaded machine), exit 0.
        #expect(p.wait(timeout: 10) == 0)
        #expect(rows(of: Indicator.backgroundRGB, in: try x.screenshot()).isEmpty)
        other.close()
        backdrop.signal(SIGTERM)
        _ = backdrop.wait(timeout: 5)
    }

    @Test func indicatorStaysAboveNewWindowsButNeverAboveTheLock() throws {
        let x = try Xvfb(width: 800, height: 600)
        let p = try ChildProcess([ui, "indicator", "--display", x.display, "--text", "Écran consulté", "--timeout", "20"])
        #expect(p.readLine(timeout: 10) == "ready", "\(p.readAllStderr())")
        // Another client maps a full-screen window on top: the banner comes back above it.
        let other = try XConnection(display: x.display)
        let win = other.createWindow(x: 0, y: 0, width: 800, height: 600, background: other.pixel(rgb: 0xFF0000),
                                     overrideRedirect: true, events: 0)
        xcb_map_window(other.connection, win)
        other.restack(win, above: true)
        other.sync()
        #expect(try eventually(2) { try x.screenshot().pixel(x: 400, y: 1) == Indicator.backgroundRGB },
                "indicator not raised above a new window")
        // A lock covers it, and it does not fight the lock for the top.
        let lock = try startLock(x)
        #expect(try eventually(3) { coveredByLock(try x.screenshot()) })
        // Nothing to wait for but time: an indicator that would raise itself has done so
        // within its raise interval of hearing of the lock; four of them.
        usleep(useconds_t(StayOnTop.raiseIntervalMs * 4 * 1000))
        let shot = try x.screenshot()
        #expect(rows(of: Indicator.backgroundRGB, in: shot).isEmpty, "indicator drawn above the lock")
        #expect(coveredByLock(shot))
        lock.signal(SIGTERM)
        #expect(lock.wait(timeout: 5) == 0)
        p.signal(SIGTERM)
        #expect(p.wait(timeout: 5) == 0)
        other.close()
    }

    /// The login notice opens as a session starts, before the session's own
    /// windows: without a window manager the last window mapped is on top, so the
    /// notice raises itself above windows mapped after it (seen in the seat lab:
    /// the pupil's xterm covered it).
    @Test func noticeStaysAboveTheSessionsFirstWindows() throws {
        let x = try Xvfb(width: 800, height: 600)
        let p = try ChildProcess([ui, "notice", "--display", x.display, "--title", "Ce poste peut faire l’objet d’un contrôle visuel",
                                  "--text", "Informations", "--timeout", "20"])
        #expect(p.readLine(timeout: 10) == "ready", "\(p.readAllStderr())")
        let other = try XConnection(display: x.display)
        let win = other.createWindow(x: 0, y: 0, width: 800, height: 600, background: other.pixel(rgb: 0xFF0000),
                                     overrideRedirect: false, events: 0)
        xcb_map_window(other.connection, win)
        other.sync()
        #expect(try eventually(2) { !rows(of: NoticeWindow.bandRGB, in: try x.screenshot()).isEmpty },
                "the notice stayed under a window mapped after it")
        // A lock covers it, and it does not fight the lock for the top.
        let lock = try startLock(x)
        #expect(try eventually(3) { coveredByLock(try x.screenshot()) })
        usleep(useconds_t(StayOnTop.raiseIntervalMs * 4 * 1000))  // as above: a raise would have happened by now
        #expect(rows(of: NoticeWindow.bandRGB, in: try x.screenshot()).isEmpty, "notice drawn above the lock")
        lock.signal(SIGTERM)
        #expect(lock.wait(timeout: 5) == 0)
        p.signal(SIGTERM)
        #expect(p.wait(timeout: 5) != nil)
        other.close()
    }

    @Test func noticeIsCentredAndClosesAfterItsTimeout() throws {
        let x = try Xvfb(width: 1280, height: 800)
        let backdrop = try startBackdrop(x)
        let title = "Ce poste peut faire l’objet d’un contrôle visuel"
        let p = try ChildProcess([ui, "notice", "--display", x.display, "--title", title,
                                  "--text", "L’utilisation de ce poste peut être regardée à distance par le professeur "
                                      + "documentaliste, uniquement sur les plages horaires suivantes : lundi, mardi, jeudi, "
                                      + "vendredi : 9h15 – 11h45, 13h15 – 16h45 ; mercredi : 9h15 – 11h45.",
                                  "--timeout", "2"])
        #expect(p.readLine(timeout: 10) == "ready", "\(p.readAllStderr())")
        let shot = try x.screenshot()
        saveArtifact(shot, "notice")
        let band = rows(of: NoticeWindow.bandRGB, in: shot)
        #expect(!band.isEmpty, "notice title band not on screen")
        // Centred: its band is in the upper middle, not at the edges.
        #expect((band.first ?? 0) > 100 && (band.last ?? 800) < 400, "band rows \(band.first ?? -1)…\(band.last ?? -1)")
        #expect(shot.pixel(x: 640, y: band.first ?? 0) == NoticeWindow.bandRGB)
        #expect(shot.pixel(x: 5, y: band.first ?? 0) != NoticeWindow.bandRGB)
        #expect(try windowID(x, instance: "vigie-notice") != nil)
        #expect(p.wait(timeout: 6) == 0)
        #expect(rows(of: NoticeWindow.bandRGB, in: try x.screenshot()).isEmpty, "notice still shown after its timeout")
        backdrop.signal(SIGTERM)
        _ = backdrop.wait(timeout: 5)
    }

    @Test func lockDrawsNoticesFromItsPipeWhileHoldingTheKeyboard() throws {
        let x = try Xvfb(width: 1280, height: 800)
        let pipe = FileManager.default.temporaryDirectory.appendingPathComponent("vigie-notices-\(getpid())").path
        unlink(pipe)
        let other = try XConnection(display: x.display)
        #expect(writeNotice(pipe, "notice 2 x") == ENOENT)
        let lock = try startLock(x, extra: ["--notice-pipe", pipe])
        var st = stat()
        #expect(lstat(pipe, &st) == 0 && (st.st_mode & S_IFMT) == S_IFIFO && (st.st_mode & 0o777) == 0o600)
        let before = try x.screenshot()
        #expect(coveredByLock(before))

        // A bad line is ignored; a notice is drawn at the top of the lock, which still holds.
        #expect(writeNotice(pipe, "bonjour") == 0)
        #expect(writeNotice(pipe, "notice 2 Écran consulté par Mme Martin (professeur documentaliste) à 10:02") == 0)
        #expect(try eventually(2) { try x.screenshot().pixel(x: 640, y: 2) == Indicator.backgroundRGB },
                "notice not drawn inside the lock")
        let shot = try x.screenshot()
        saveArtifact(shot, "lock-notice")
        let banner = rows(of: Indicator.backgroundRGB, in: shot)
        #expect(banner.first == 0 && (banner.last ?? 999) < 60, "banner rows \(banner.first ?? -1)…\(banner.last ?? -1)")
        // Text pixels in the banner (its text colour), across the full width band.
        #expect((0..<60).contains { y in stride(from: 0, to: 1280, by: 1).contains { shot.pixel(x: $0, y: y) == Indicator.textRGB } })
        // The rest of the screen is still the lock, and the lock still holds the keyboard.
        #expect(shot.pixel(x: 0, y: 799) == LockScreen.backgroundRGB && shot.pixel(x: 1279, y: 400) == LockScreen.backgroundRGB)
        #expect(!other.canGrabKeyboard(), "keyboard free while locked with a notice")
        #expect(lock.process.isRunning)

        // The notice goes after its time; the lock stays.
        #expect(try eventually(4) { try x.screenshot().pixel(x: 640, y: 2) == LockScreen.backgroundRGB },
                "notice still drawn after its time")
        #expect(coveredByLock(try x.screenshot()))
        #expect(!other.canGrabKeyboard())

        // `clear` removes notices at once.
        #expect(writeNotice(pipe, "notice 60 Message long") == 0)
        #expect(try eventually(2) { try x.screenshot().pixel(x: 640, y: 2) == Indicator.backgroundRGB })
        #expect(writeNotice(pipe, "clear") == 0)
        #expect(try eventually(2) { coveredByLock(try x.screenshot()) })

        lock.signal(SIGTERM)
        #expect(lock.wait(timeout: 5) == 0)
        #expect(lstat(pipe, &st) != 0, "notice pipe left behind")
        #expect(lock.readAllStderr().contains("ignored notice line"))
        other.close()
    }

    @Test func noticeLinesAreParsedStrictly() {
        #expect(NoticeFeed.parse("notice 8 Écran consulté à 10:02") == .notice(seconds: 8, text: "Écran consulté à 10:02"))
        #expect(NoticeFeed.parse("notice 0.5 a  b") == .notice(seconds: 0.5, text: "a  b"))
        #expect(NoticeFeed.parse("clear") == .clear)
        #expect(NoticeFeed.parse("clear\r") == .clear)
        for bad in ["", "notice", "notice 8", "notice 8 ", "notice -1 x", "notice 0 x", "notice 4000 x", "notice inf x",
                    "notice nan x", "notice eight x", "show 8 x"] {
            #expect(NoticeFeed.parse(bad) == nil, "\(bad)")
        }
    }
}

@Suite struct NoticeCommandLineTests {
    @Test(arguments: [
        ["indicator"], ["indicator", "--text", ""], ["indicator", "--text", "x", "--timeout", "0"],
        ["indicator", "--text", "x", "--title", "t"], ["notice", "--title", "t"], ["notice", "--text", "x"],
        ["lock", "--title", "t", "--notice-pipe", ""], ["notice", "--title", "t", "--text", "x", "--timeout", "soon"],
    ])
    func badArgumentsExit64(args: [String]) throws {
        let r = try run([ui] + args, timeout: 10)
        #expect(r.status == 64, "\(args): \(r)")
        #expect(r.stdout.isEmpty)
    }
}
