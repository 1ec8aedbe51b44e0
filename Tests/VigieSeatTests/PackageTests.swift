import Foundation
import Testing
import VigieTestSupport

/// The Debian package, built by scripts/make-deb.sh from this build's
/// products (`make deb-check` does the same on the release build).
@Suite struct PackageTests {
    @Test func packageShapeAndLintian() throws {
        guard which("dpkg-deb") != nil, which("dpkg-shlibdeps") != nil else {
            return skipped("dpkg-deb or dpkg-shlibdeps missing (apt install dpkg-dev): package not built")
        }
        let out = FileManager.default.temporaryDirectory.appendingPathComponent("vigie-deb-\(getpid())").path
        defer { try? FileManager.default.removeItem(atPath: out) }
        var env = ProcessInfo.processInfo.environment
        // A debug build links the toolchain's Swift runtime: allow it, compress fast.
        let staticRuntime = (try? run(["/usr/bin/readelf", "-d", product("vigie-agent")]).stdout.contains("libswiftCore.so")) == false
        if !staticRuntime { env["VIGIE_DEB_DEV"] = "1" }
        let built = try run([repositoryRoot + "/scripts/make-deb.sh", productsDirectory.path, out], timeout: 600, environment: env)
        #expect(built.status == 0, "make-deb: \(built.stderr)")
        let deb = built.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        guard built.status == 0, FileManager.default.fileExists(atPath: deb) else { return }

        let info = try run(["dpkg-deb", "--info", deb])
        #expect(info.status == 0)
        for field in ["Package: vigie-agent", "Architecture: amd64", "Section: admin"] { #expect(info.stdout.contains(field), "\(field)") }
        let depends = info.stdout.split(separator: "\n").first { $0.contains("Depends:") && !$0.contains("Pre-Depends") }.map(String.init) ?? ""
        for lib in ["libc6", "libxcb1", "libxcb-shm0", "libpng16-16", "libsqlite3-0", "libsystemd0", "zlib1g", "x11-xserver-utils", "adduser",
                    "libvncserver1", "libxcb-xtest0", "libxcb-xfixes0"] {
            #expect(depends.contains(lib), "Depends lacks \(lib): \(depends)")
        }
        for script in ["postinst", "prerm", "postrm"] { #expect(info.stdout.contains(script), "no \(script)") }

        let contents = try run(["dpkg-deb", "--contents", deb]).stdout
        let entries = Dictionary(contents.split(separator: "\n").compactMap { line -> (String, String)? in
            let f = line.split(separator: " ", omittingEmptySubsequences: true)
            guard f.count >= 6 else { return nil }
            return (String(f[5]).replacingOccurrences(of: "./", with: "/", options: .anchored), String(f[0]))
        }, uniquingKeysWith: { a, _ in a })
        let expected: [String: String] = [
            "/usr/bin/vigie-agent": "-rwxr-xr-x", "/usr/bin/vigie-ui": "-rwxr-xr-x", "/usr/bin/vigie": "-rwxr-xr-x", "/usr/bin/vigie-server": "-rwxr-xr-x",
            "/usr/bin/vigie-watch": "-rwxr-xr-x", "/usr/bin/vigie-view": "-rwxr-xr-x", "/usr/bin/vigie-vnc": "-rwxr-xr-x",
            "/lib/systemd/system/vigie-agent.service": "-rw-r--r--", "/lib/systemd/system/vigie-server.service": "-rw-r--r--",
            "/usr/libexec/vigie/lightdm-display-setup": "-rwxr-xr-x",
            "/usr/share/lightdm/lightdm.conf.d/50-vigie.conf": "-rw-r--r--",
            "/usr/share/X11/xorg.conf.d/50-vigie.conf": "-rw-r--r--",
            "/usr/share/polkit-1/rules.d/50-vigie.rules": "-rw-r--r--",
            "/etc/X11/Xsession.d/90vigie-xhost": "-rw-r--r--",
            "/usr/share/vigie/Signage/fr/notice.txt.mustache": "-rw-r--r--",
            "/usr/share/doc/vigie-agent/copyright": "-rw-r--r--",
        ]
        for (path, mode) in expected { #expect(entries[path] == mode, "\(path): \(entries[path] ?? "missing")") }
        let owners = Set(contents.split(separator: "\n").compactMap { $0.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first })
        #expect(owners == ["root/root"], "every file belongs to root: \(owners)")

        // Maintainer scripts: valid sh, create the user and a 0700 state folder.
        let dir = out + "/control"
        #expect(try run(["dpkg-deb", "--control", deb, dir]).status == 0)
        for script in ["postinst", "prerm", "postrm"] { #expect(try run(["/bin/sh", "-n", "\(dir)/\(script)"]).status == 0, "\(script)") }
        let postinst = try String(contentsOfFile: dir + "/postinst", encoding: .utf8)
        #expect(postinst.contains("adduser --system") && postinst.contains("install -d -m 0700 -o vigie -g vigie /var/lib/vigie"))
        #expect(try String(contentsOfFile: dir + "/conffiles", encoding: .utf8) == "/etc/X11/Xsession.d/90vigie-xhost\n")

        guard let lintian = which("lintian") else { return skipped("lintian is not installed (apt install lintian): package not linted") }
        let lint = try run([lintian, "--tag-display-limit", "0", deb], timeout: 300)
        print("lintian (\(staticRuntime ? "release" : "debug build")):\n\(lint.stdout)")
        let errors = lint.stdout.split(separator: "\n").filter { $0.hasPrefix("E: ") }.filter {
            // A debug build's binaries find the toolchain's runtime by RUNPATH; a release one has none.
            staticRuntime || !$0.contains("custom-library-search-path")
        }
        #expect(errors.isEmpty, "lintian errors:\n\(errors.joined(separator: "\n"))")
    }
}
