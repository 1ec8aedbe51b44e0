import Foundation
import Testing
import VigieTestSupport

/// `vigie demo --detach` then `vigie demo stop` (issue 11, point 7).
@Suite(.serialized) struct DemoTests {
    /// A process as /proc shows it: parent, state and start time (pids are reused).
    struct Seen: Hashable, CustomStringConvertible {
        let pid: Int32
        let ppid: Int32
        let state: String
        let start: String
        var description: String { "pid \(pid) (parent \(ppid), state \(state))" }
    }

    static func seen(_ pid: Int32) -> Seen? {
        guard let data = FileManager.default.contents(atPath: "/proc/\(pid)/stat"),
              let close = data.lastIndex(of: UInt8(ascii: ")")) else { return nil }
        let fields = data[(close + 2)...].split(separator: UInt8(ascii: " ")).map { String(decoding: $0, as: UTF8.self) }
        guard fields.count > 19, let ppid = Int32(fields[1]) else { return nil }
        return Seen(pid: pid, ppid: ppid, state: fields[0], start: fields[19])
    }

    static func all() -> [Seen] {
        ((try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []).compactMap { Int32($0).flatMap(seen) }
    }

    @Test func stopLeavesNoProcessAndNoZombieBehind() throws {
        // This test process adopts orphans, as init does on a real machine (the init of
        // this container does not reap them): a demo process nobody reaps would stay
        // here as a zombie, and be seen. It reaps only the demo's keeper, as init would.
        typealias Prctl = @convention(c) (Int32, UInt, UInt, UInt, UInt) -> Int32
        let prctl = unsafeBitCast(try #require(dlsym(UnsafeMutableRawPointer(bitPattern: 0), "prctl")), to: Prctl.self)
        #expect(prctl(36 /* PR_SET_CHILD_SUBREAPER */, 1, 0, 0, 0) == 0)

        let state = FileManager.default.temporaryDirectory.appendingPathComponent("vigie-demo-\(getpid())-\(UUID().uuidString.prefix(6))").path
        defer { try? FileManager.default.removeItem(atPath: state) }
        let start = try run([product("vigie"), "demo", "--detach", "--state", state, "--seats", "2", "--screen", "640x480"], timeout: 180)
        #expect(start.status == 0, "\(start)")
        #expect(start.stdout.contains("vigie unlock --room B204 --seat B204-02     # seat B204-02 of room B204 only"), "\(start)")

        let file = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: state + "/demo.json"))) as? [String: Any])
        let keeper = try #require((file["keeper"] as? NSNumber)?.int32Value, "demo.json names its keeper")
        var pids: [Int32] = [keeper]
        for seat in file["seats"] as? [[String: Any]] ?? [] {
            for key in ["pid", "xvfbPid", "backdropPid"] { if let n = seat[key] as? NSNumber { pids.append(n.int32Value) } }
        }
        if let server = file["server"] as? [String: Any], let n = server["pid"] as? NSNumber { pids.append(n.int32Value) }
        #expect(pids.count == 8, "keeper, server, 2 × (agent, Xvfb, backdrop): \(pids)")

        // Helpers that outlive their agent: a lock and a message window.
        let env = ["--config", state + "/school.toml", "--identity", state + "/identities/teacher", "--json"]
        #expect(try run([product("vigie"), "lock", "--room", "B204"] + env).status == 0)
        #expect(try run([product("vigie"), "message", "--room", "B204", "Au revoir"] + env).status == 0)

        // Every process of the demo: those named and all their descendants.
        var demo = Set(pids.compactMap(Self.seen))
        var grew = true
        while grew {
            let parents = Set(demo.map(\.pid))
            let more = Self.all().filter { parents.contains($0.ppid) && !demo.contains($0) }
            grew = !more.isEmpty
            demo.formUnion(more)
        }
        #expect(demo.count >= 10, "the demo and its helpers: \(demo)")

        let stop = try run([product("vigie"), "demo", "stop", "--state", state], timeout: 120)
        #expect(stop.status == 0, "\(stop)")
        #expect(stop.stdout.contains("Stopped the demo"))

        // The keeper ends (reaped here, its adoptive parent); nothing else of the demo
        // remains, not even as a zombie.
        var status: Int32 = 0
        #expect(eventually(30) { waitpid(keeper, &status, WNOHANG) == keeper }, "the keeper ended")
        let left = { demo.filter { old in Self.seen(old.pid).map { $0.start == old.start } ?? false } }
        #expect(eventually(10) { left().isEmpty }, "left behind: \(left().compactMap { Self.seen($0.pid) })")
        #expect(try run([product("vigie"), "demo", "stop", "--state", state]).stdout.contains("No demo is running"))
    }
}
