import Foundation
import Testing
import VigieTestSupport

/// A seat configured with an input holder (`--input-hold-state`, as the package's
/// unit does) reports a lock whose keyboard and mouse are not held below X,
/// instead of claiming it. The success side (devices held, zero keystrokes
/// through) needs real evdev devices: the seat lab checks it in a VM
/// (scripts/seat-lab/check.py).
@Suite(.serialized) struct InputHold {
    @Test func aLockWithoutItsInputHolderIsReportedNotClaimed() throws {
        let report = NSTemporaryDirectory() + "vigie-input-hold-\(UUID().uuidString).json"
        defer { try? FileManager.default.removeItem(atPath: report) }
        let school = try TestSchool(seats: [("B204-01", "B204")], agentArguments: ["--input-hold-state", report])
        let seat = school.seats["B204-01"]!

        // No holder running: the screen is locked, the answer says input is free.
        let lock = try school.vigie(["lock", "--seat", "B204-01"])
        #expect(lock.status(of: "B204-01") == "ok")
        #expect(lock.code(of: "B204-01") == "lock.input-free", "\(lock)")
        #expect(try keyboardHeld(seat.display), "the X lock itself still holds")
        #expect(try school.vigie(["status", "--seat", "B204-01"]).code(of: "B204-01") == "status.locked-input-free")
        let human = try school.vigie(["status", "--seat", "B204-01"], json: false)
        #expect(human.result.stdout.contains("clavier et souris ne sont pas retenus"), "\(human)")

        // The real holder, on a folder without keyboards or pointers: it follows the
        // agent's lock record (locked), holds nothing, and the seat still says so.
        let inputs = school.dir + "/no-input-devices"
        try FileManager.default.createDirectory(atPath: inputs, withIntermediateDirectories: true)
        let holder = try ChildProcess([product("vigie-input-hold"), "--state", seat.stateDir, "--input", inputs, "--report", report])
        defer { holder.kill(); _ = holder.wait(timeout: 5) }
        #expect(eventually(10) { holderReport(report)?["locked"] as? Bool == true }, "\(holder.readAllStderr())")
        #expect((holderReport(report)?["devices"] as? [String]) == [])
        #expect(try school.vigie(["status", "--seat", "B204-01"]).code(of: "B204-01") == "status.locked-input-free")

        // Unlocked: the holder follows at once (inotify) and reports it.
        #expect(try school.vigie(["unlock", "--seat", "B204-01"]).status(of: "B204-01") == "ok")
        #expect(eventually(10) { holderReport(report)?["locked"] as? Bool == false })
        #expect(try school.vigie(["status", "--seat", "B204-01"]).code(of: "B204-01") == "status.unlocked")

        // Stopped, it removes its report: no holder is not taken for a holder.
        holder.signal(SIGTERM)
        #expect(holder.wait(timeout: 10) == 0)
        #expect(!FileManager.default.fileExists(atPath: report))
    }
}

private func holderReport(_ path: String) -> [String: Any]? {
    guard let data = FileManager.default.contents(atPath: path) else { return nil }
    return try? JSONSerialization.jsonObject(with: data) as? [String: Any]
}
