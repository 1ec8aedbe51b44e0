/// Power actions, Wake-on-LAN and the program allowlist: plain values and pure
/// rules, shared by the config reader, the seat agent and the console.

/// What `vigie power off|reboot` and `vigie logoff` ask of a seat (the `action`
/// argument of the `power` feature, also its value in the register).
public enum PowerAction: String, Sendable, Codable, CaseIterable {
    case off
    case reboot
    case logoff
    /// Stops a pending countdown.
    case cancel
}

/// The commands a seat runs for each power action, as argv arrays (no shell).
/// `{user}` and `{session}` in an argument are replaced by the seat's session
/// user and graphical session id.
public struct PowerCommands: Sendable, Hashable, Codable {
    public var off: [String]
    public var reboot: [String]
    public var logoff: [String]

    public init(
        off: [String] = ["/usr/bin/systemctl", "poweroff"],
        reboot: [String] = ["/usr/bin/systemctl", "reboot"],
        logoff: [String] = ["/usr/bin/loginctl", "terminate-session", "{session}"]
    ) {
        self.off = off
        self.reboot = reboot
        self.logoff = logoff
    }

    /// The command of `action` (nil for `cancel`).
    public func command(for action: PowerAction) -> [String]? {
        switch action {
        case .off: return off
        case .reboot: return reboot
        case .logoff: return logoff
        case .cancel: return nil
        }
    }
}

/// Where the console sends Wake-on-LAN packets: a UDP broadcast address and port.
public struct WakeTarget: Sendable, Hashable, Codable {
    /// An IPv4 address, usually the room's directed broadcast (`10.20.255.255`).
    public var broadcast: String
    public var port: Int

    public init(broadcast: String = "255.255.255.255", port: Int = 9) {
        self.broadcast = broadcast
        self.port = port
    }
}

/// `[power]` and `[wake]` of the config.
public struct PowerSettings: Sendable, Hashable, Codable {
    public var commands: PowerCommands
    /// The school-wide Wake-on-LAN target.
    public var wake: WakeTarget
    /// Per-room targets (`[wake.rooms.B204]`), by room id.
    public var wakeRooms: [String: WakeTarget]
    /// Seconds a countdown lasts when the console gives no `--delay`.
    public var defaultDelay: Int

    public init(commands: PowerCommands = PowerCommands(), wake: WakeTarget = WakeTarget(), wakeRooms: [String: WakeTarget] = [:], defaultDelay: Int = 60) {
        self.commands = commands
        self.wake = wake
        self.wakeRooms = wakeRooms
        self.defaultDelay = defaultDelay
    }

    /// The Wake-on-LAN target of a room.
    public func wakeTarget(room: String) -> WakeTarget { wakeRooms[room] ?? wake }
}

/// `[programs]` of the config: what a teacher may start with `vigie run`.
public struct ProgramSettings: Sendable, Hashable, Codable {
    /// Absolute paths; empty (the default) means teachers may run nothing.
    public var allowed: [String]

    public init(allowed: [String] = []) {
        self.allowed = allowed
    }
}

/// Wake-on-LAN magic packets.
public enum MagicPacket {
    /// The 6 bytes of `aa:bb:cc:dd:ee:ff` (also `-` separated), or nil.
    public static func macBytes(_ mac: String) -> [UInt8]? {
        let parts = mac.split(separator: mac.contains("-") ? "-" : ":", omittingEmptySubsequences: false)
        guard parts.count == 6 else { return nil }
        var bytes: [UInt8] = []
        for p in parts {
            guard p.count == 2, let b = UInt8(p, radix: 16) else { return nil }
            bytes.append(b)
        }
        return bytes
    }

    /// 6 × 0xFF followed by the MAC repeated 16 times (102 bytes).
    public static func bytes(mac: String) -> [UInt8]? {
        guard let m = macBytes(mac) else { return nil }
        return [UInt8](repeating: 0xFF, count: 6) + Array([[UInt8]](repeating: m, count: 16).joined())
    }
}

/// Whether a role may start a program on a seat. Pure: the seat passes its
/// own `resolve` (realpath) so that symlinks are compared by what they point to.
public enum ProgramPolicy {
    /// Why a program was refused (worded by ``Catalog`` through `policy.program`).
    public enum Why: String, Sendable {
        /// Not an absolute path: no `PATH` lookup, no working-directory tricks.
        case relative
        /// A `.` or `..` component, or an empty one (`//`).
        case dotDot = "dot-dot"
        /// Does not exist on the seat (cannot be resolved).
        case missing
        /// The allowlist is empty: teachers may run nothing.
        case emptyAllowlist = "empty-allowlist"
        /// Not on the allowlist.
        case notAllowed = "not-allowed"
    }

    /// The checked program: what to execute (the resolved path), or why not.
    public enum Verdict: Sendable, Equatable {
        case allow(path: String)
        case refuse(Why)
    }

    /// A path is acceptable in a request or a config when it is absolute and has
    /// no `.`, `..` or empty components.
    public static func shapeProblem(_ path: String) -> Why? {
        guard path.hasPrefix("/") else { return .relative }
        let parts = path.dropFirst().split(separator: "/", omittingEmptySubsequences: false)
        for (i, p) in parts.enumerated() {
            if p == "." || p == ".." { return .dotDot }
            if p.isEmpty && i != parts.count - 1 { return .dotDot }
        }
        if path.hasSuffix("/") { return .dotDot }
        return nil
    }

    /// Checks `program` for a caller who is `mayRunAnything` (admin) or bound to
    /// `allowed`. Paths are compared after `resolve` (symlinks followed) on both sides.
    public static func check(
        _ program: String, allowed: [String], mayRunAnything: Bool, resolve: (String) -> String?
    ) -> Verdict {
        if let problem = shapeProblem(program) { return .refuse(problem) }
        guard let resolved = resolve(program) else { return .refuse(.missing) }
        if mayRunAnything { return .allow(path: resolved) }
        if allowed.isEmpty { return .refuse(.emptyAllowlist) }
        for entry in allowed where shapeProblem(entry) == nil {
            if entry == program || resolve(entry) == resolved { return .allow(path: resolved) }
        }
        return .refuse(.notAllowed)
    }
}
