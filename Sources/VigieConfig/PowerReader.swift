import TOMLKit
import VigieModel

extension Reader {
    /// Reads `[power]`, `[wake]` (with `[wake.rooms.ID]` overrides) and `[programs]`.
    mutating func readPower(_ root: TOMLTable, rooms: Set<String>) -> (PowerSettings, ProgramSettings) {
        var power = PowerSettings()
        if let t = root["power"]?.table {
            checkKeys(t, "power", allowed: ["off", "reboot", "logoff", "delay"])
            if let argv = command(t, "off") { power.commands.off = argv }
            if let argv = command(t, "reboot") { power.commands.reboot = argv }
            if let argv = command(t, "logoff") { power.commands.logoff = argv }
            if let v = t["delay"] {
                if let d = v.int, (0...86_400).contains(d) { power.defaultDelay = d } else {
                    fail("power.delay", "must be a number of seconds between 0 and 86400 (default 60)")
                }
            }
        } else if root["power"] != nil {
            fail("power", "must be a table ([power])")
        }

        if let t = root["wake"]?.table {
            checkKeys(t, "wake", allowed: ["broadcast", "port", "rooms"])
            power.wake = wakeTarget(t, "wake", base: power.wake)
            if let r = t["rooms"]?.table {
                for id in r.keys.sorted() {
                    let path = "wake.rooms.\(id)"
                    guard rooms.contains(id) else {
                        fail(path, "unknown room “\(id)” (rooms: \(rooms.sorted().joined(separator: ", ")))")
                        continue
                    }
                    guard let rt = r[id]?.table else {
                        fail(path, "must be a table ([\(path)] with broadcast and port)")
                        continue
                    }
                    checkKeys(rt, path, allowed: ["broadcast", "port"])
                    power.wakeRooms[id] = wakeTarget(rt, path, base: power.wake)
                }
            } else if t["rooms"] != nil {
                fail("wake.rooms", "must be tables ([wake.rooms.ID] with broadcast and port)")
            }
        } else if root["wake"] != nil {
            fail("wake", "must be a table ([wake])")
        }

        var programs = ProgramSettings()
        if let t = root["programs"]?.table {
            checkKeys(t, "programs", allowed: ["allowed"])
            for (i, path) in (stringList(t, "allowed", "programs") ?? []).enumerated() {
                if let problem = ProgramPolicy.shapeProblem(path) {
                    fail("programs.allowed[\(i)]", "“\(path)” is not an absolute path without . or .. (\(problem == .relative ? "relative paths are refused" : "such paths are refused")); e.g. /usr/bin/firefox")
                } else {
                    programs.allowed.append(path)
                }
            }
        } else if root["programs"] != nil {
            fail("programs", "must be a table ([programs] with allowed = [\"/usr/bin/…\"])")
        }
        return (power, programs)
    }

    /// A command as an argv array: at least the program, an absolute path, no shell.
    private mutating func command(_ t: TOMLTable, _ key: String) -> [String]? {
        let field = "power.\(key)"
        guard t[key] != nil else { return nil }
        guard let argv = stringList(t, key, "power") else { return nil }
        guard let program = argv.first else {
            fail(field, "is empty: give the command as a list, e.g. [\"/usr/bin/systemctl\", \"poweroff\"]")
            return nil
        }
        if ProgramPolicy.shapeProblem(program) != nil {
            fail("\(field)[0]", "“\(program)” is not an absolute path (commands run without a shell or PATH lookup; e.g. /usr/bin/systemctl)")
            return nil
        }
        return argv
    }

    private mutating func wakeTarget(_ t: TOMLTable, _ path: String, base: WakeTarget) -> WakeTarget {
        var target = base
        if let b = string(t, "broadcast", path, required: false) {
            if Self.isIPv4(b) { target.broadcast = b } else { fail("\(path).broadcast", "“\(b)” is not an IPv4 address such as 10.20.255.255") }
        }
        if let v = t["port"] {
            if let p = v.int, (1...65535).contains(p) { target.port = p } else { fail("\(path).port", "must be a UDP port between 1 and 65535 (usually 9 or 7)") }
        }
        return target
    }

    static func isIPv4(_ s: String) -> Bool {
        let parts = s.split(separator: ".", omittingEmptySubsequences: false)
        return parts.count == 4 && parts.allSatisfy { p in
            !p.isEmpty && p.count <= 3 && p.allSatisfy(\.isASCII) && p.allSatisfy(\.isNumber) && (Int(p) ?? 256) <= 255
        }
    }
}
