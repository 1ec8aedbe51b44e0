import Foundation
import Testing
import VigieScreen
import VigieTestSupport

/// The repository's root (this file is Tests/VigieSeatTests/SystemFilesTests.swift).
let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path

/// The path of a program in PATH, or nil.
func which(_ name: String) -> String? {
    for dir in (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin").split(separator: ":") {
        let path = "\(dir)/\(name)"
        if FileManager.default.isExecutableFile(atPath: path) { return path }
    }
    return nil
}

/// Records a failing issue that says the check could not run, so that a
/// missing tool never passes silently.
func skipped(_ what: String) {
    Issue.record("SKIPPED: \(what)")
}

func read(_ relative: String) throws -> String {
    try String(contentsOfFile: repositoryRoot + "/" + relative, encoding: .utf8)
}

/// The files that put the agent on a real seat: units, display manager and
/// Xorg snippets, polkit rules.
@Suite struct SystemFilesTests {
    /// polkitd runs .rules files as JavaScript; node loads ours the same way
    /// and asks it about each action for `vigie`, a pupil, root and look-alikes.
    @Test func polkitRulesGrantOnlyVigie() throws {
        guard let node = which("node") ?? which("nodejs") else { return skipped("node is not installed (apt install nodejs): polkit rules not checked") }
        var argv = [node, repositoryRoot + "/scripts/polkit-check.js", repositoryRoot + "/Config/polkit/50-vigie.rules"]
        let policy = "/usr/share/polkit-1/actions/org.freedesktop.login1.policy"
        if FileManager.default.fileExists(atPath: policy) { argv.append(policy) }
        let r = try run(argv)
        print(r.stdout)
        #expect(r.status == 0, "\(r.stdout)\(r.stderr)")
        #expect(r.stdout.contains(" 0 failed"))
        if !FileManager.default.fileExists(atPath: policy) { skipped("\(policy) missing: action ids not checked against logind's policy") }
    }

    @Test func agentUnitKeepsTheLockAndX() throws {
        let unit = try read("Config/vigie-agent.service")
        let lines = unit.split(separator: "\n").map(String.init).filter { !$0.hasPrefix("#") }
        func has(_ line: String) -> Bool { lines.contains(line) }
        #expect(has("User=vigie") && has("Group=vigie"))
        #expect(has("KillMode=process"), "the lock must survive an agent restart")
        #expect(has("StateDirectory=vigie") && has("StateDirectoryMode=0700"))
        for forbidden in ["PrivateTmp=", "PrivateIPC=", "PrivateNetwork=", "PrivateUsers=", "DynamicUser=", "IPAddressDeny="] {
            #expect(!lines.contains { $0.hasPrefix(forbidden) && !$0.hasSuffix("=no") }, "\(forbidden) would cut the agent from X or MIT-SHM")
        }
        #expect(!lines.contains { $0.hasPrefix("User=root") || $0.hasPrefix("AmbientCapabilities=CAP") })
        let exec = lines.first { $0.hasPrefix("ExecStart=") } ?? ""
        #expect(exec.hasPrefix("ExecStart=/usr/bin/vigie-agent ") && !exec.contains("--display"), "the agent follows logind, no fixed display")
        let server = try read("Config/vigie-server.service")
        #expect(server.contains("\nUser=vigie\n") && server.contains("ExecStart=/usr/bin/vigie-server run "))
    }

    /// `systemd-analyze verify` (systemd is installed here, not running), with
    /// /usr/bin pointing at this build's products.
    @Test func unitsVerify() throws {
        guard let analyze = which("systemd-analyze") else { return skipped("systemd-analyze is not installed (apt install systemd): units not verified") }
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("vigie-units-\(getpid())").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var paths: [String] = []
        for name in ["vigie-agent.service", "vigie-server.service"] {
            let text = try read("Config/\(name)").replacingOccurrences(of: "/usr/bin/", with: productsDirectory.path + "/")
            try text.write(toFile: "\(dir)/\(name)", atomically: true, encoding: .utf8)
            paths.append("\(dir)/\(name)")
        }
        let r = try run([analyze, "verify", "--man=no"] + paths, timeout: 60)
        let complaints = (r.stdout + r.stderr).split(separator: "\n").filter {
            // Not about our units: this container runs no systemd.
            !$0.contains("Failed to connect") && !$0.contains("System has not been booted") && !$0.isEmpty
        }
        #expect(r.status == 0 && complaints.isEmpty, "systemd-analyze verify: \(r.stdout)\(r.stderr)")
    }

    /// The LightDM display-setup-script, run on a real X server, grants `vigie`.
    @Test func lightdmScriptGrantsVigie() throws {
        guard let xhost = which("xhost") else { return skipped("xhost is not installed (apt install x11-xserver-utils): LightDM script not run") }
        let script = repositoryRoot + "/Config/lightdm/vigie-display-setup"
        #expect(FileManager.default.isExecutableFile(atPath: script))
        let conf = try read("Config/lightdm/50-vigie.conf")
        #expect(conf.contains("[Seat:*]") && conf.contains("display-setup-script=/usr/libexec/vigie/lightdm-display-setup"))
        let x = try Xvfb(width: 320, height: 200)
        defer { x.stop() }
        // An X server resets its access list when its last client leaves: keep
        // one connected, as the display manager and the greeter do.
        let holder = try XConnection(display: x.display)
        defer { holder.close() }
        var env = ProcessInfo.processInfo.environment
        env["DISPLAY"] = x.display
        // The X server resolves the name when granting: with no `vigie` account
        // on this build machine, grant the user running the test instead.
        let user = getpwnam("vigie") != nil ? "vigie" : String(cString: getpwuid(getuid())!.pointee.pw_name)
        env["VIGIE_USER"] = user
        let r = try run(["/bin/sh", script], environment: env)
        #expect(r.status == 0, "\(r.stderr)")
        let list = try run([xhost], environment: env)
        #expect(list.stdout.contains("SI:localuser:\(user)"), "xhost says: \(list.stdout)")
        #expect(try String(contentsOfFile: script, encoding: .utf8).contains("user=${VIGIE_USER:-vigie}"))
        // The Xsession snippet: valid sh, same grant.
        let xsession = repositoryRoot + "/Config/X11/90vigie-xhost"
        #expect(try run(["/bin/sh", "-n", xsession]).status == 0)
        #expect(try read("Config/X11/90vigie-xhost").contains("xhost +SI:localuser:vigie"))
    }

    @Test func xorgSnippetDisablesVTSwitchAndZap() throws {
        let text = try read("Config/xorg.conf.d/50-vigie.conf")
        let lines = text.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.hasPrefix("#") && !$0.isEmpty }
        #expect(lines == ["Section \"ServerFlags\"", "Option \"DontVTSwitch\" \"true\"", "Option \"DontZap\" \"true\"", "EndSection"])
    }
}
