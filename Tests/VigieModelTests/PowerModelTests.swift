import Foundation
import Testing
import VigieModel

@Suite struct MagicPackets {
    @Test func sixFFThenSixteenTimesTheMAC() throws {
        let packet = try #require(MagicPacket.bytes(mac: "52:54:00:AB:cd:ef"))
        #expect(packet.count == 102)
        #expect(packet[0..<6].allSatisfy { $0 == 0xFF })
        for i in 0..<16 { #expect(Array(packet[6 + 6 * i..<12 + 6 * i]) == [0x52, 0x54, 0x00, 0xAB, 0xCD, 0xEF]) }
        #expect(MagicPacket.bytes(mac: "52-54-00-ab-cd-ef") == packet)
    }

    @Test func malformedMACsBuildNoPacket() {
        for mac in ["", "52:54:00:ab:cd", "52:54:00:ab:cd:ef:01", "52:54:00:ab:cd:gg", "525:4:00:ab:cd:ef", "52:54:00:ab:cd:e"] {
            #expect(MagicPacket.bytes(mac: mac) == nil, "\(mac)")
        }
    }
}

@Suite struct ProgramAllowlist {
    /// A fake seat: /bin is a symlink to /usr/bin, /usr/bin/firefox to /usr/lib/firefox/firefox.sh.
    static func resolve(_ path: String) -> String? {
        var p = path
        if p.hasPrefix("/bin/") { p = "/usr" + p }
        if p == "/usr/bin/firefox" { p = "/usr/lib/firefox/firefox.sh" }
        let existing: Set = ["/usr/bin/echo", "/usr/lib/firefox/firefox.sh", "/usr/bin/yes", "/tmp/evil"]
        return existing.contains(p) ? p : nil
    }

    func check(_ program: String, _ allowed: [String] = ["/usr/bin/firefox", "/bin/echo"], admin: Bool = false) -> ProgramPolicy.Verdict {
        ProgramPolicy.check(program, allowed: allowed, mayRunAnything: admin, resolve: Self.resolve)
    }

    @Test func allowedProgramsAreComparedByResolvedPath() {
        #expect(check("/usr/bin/firefox") == .allow(path: "/usr/lib/firefox/firefox.sh"))
        #expect(check("/usr/lib/firefox/firefox.sh") == .allow(path: "/usr/lib/firefox/firefox.sh"))
        #expect(check("/usr/bin/echo") == .allow(path: "/usr/bin/echo"))
        #expect(check("/bin/echo") == .allow(path: "/usr/bin/echo"))
    }

    @Test func relativeDotDotAndUnknownPathsAreRefused() {
        #expect(check("echo") == .refuse(.relative))
        #expect(check("./echo") == .refuse(.relative))
        #expect(check("/usr/bin/../bin/yes") == .refuse(.dotDot))
        #expect(check("/usr/bin/./echo") == .refuse(.dotDot))
        #expect(check("/usr//bin/echo") == .refuse(.dotDot))
        #expect(check("/usr/bin/echo/") == .refuse(.dotDot))
        #expect(check("/usr/bin/yes") == .refuse(.notAllowed))
        #expect(check("/tmp/evil") == .refuse(.notAllowed))
        #expect(check("/usr/bin/nothing") == .refuse(.missing))
        #expect(check("/usr/bin/echo", []) == .refuse(.emptyAllowlist))
    }

    @Test func adminsRunAnythingButStillByAbsolutePath() {
        #expect(check("/usr/bin/yes", [], admin: true) == .allow(path: "/usr/bin/yes"))
        #expect(check("yes", [], admin: true) == .refuse(.relative))
        #expect(check("/usr/bin/../bin/yes", [], admin: true) == .refuse(.dotDot))
    }

    @Test func defaultGrantsGivePowerRunAndWakeToTeachersAndAdminsOnly() {
        for feature in [Feature.power, .run, .wake] {
            #expect(Grant.defaults(for: .teacher).contains { $0.features.contains(feature) })
            #expect(Grant.defaults(for: .admin).contains { $0.features.contains(feature) })
            #expect(!Grant.defaults(for: .librarian).contains { $0.features.contains(feature) })
            #expect(Grant.defaults(for: .head).isEmpty)
        }
    }
}

@Suite struct PowerWording {
    @Test func everyPowerCodeHasBothLanguagesWithTheSameParameters() {
        let codes = ["power.scheduled", "power.scheduled-unseen", "power.done", "power.cancelled", "power.nothing-pending", "power.failed",
                     "power.no-session", "run.done", "run.exit", "run.signal", "run.timeout", "run.start", "run.no-session-user",
                     "run.unknown-user", "run.cannot-switch-user", "policy.program", "policy.privileged", "wake.sent", "wake.no-mac", "wake.send-failed"]
        let params = ["action": "off", "at": "16:45:00", "by": "M. Dupont", "detail": "d", "exit": "3", "program": "/usr/bin/x",
                      "signal": "9", "seconds": "5", "user": "eleve", "why": "not-allowed", "role": "teacher", "mac": "m",
                      "broadcast": "b", "port": "9"]
        for code in codes {
            for language in Language.allCases {
                let text = Catalog.text(Reason(code, params), language)
                #expect(!text.contains("{") && !text.hasPrefix(code), "\(code) (\(language)): \(text)")
            }
        }
    }

    @Test func frenchWordsComeWithAccentsAndApostrophes() {
        #expect(Catalog.text(Reason("power.scheduled", ["action": "off", "at": "16:45:00", "by": "M. Dupont"]), .fr) == "extinction à 16:45:00, à la demande de M. Dupont")
        #expect(Catalog.text(Reason("power.cancelled", ["action": "reboot", "at": "16:45:00"]), .fr) == "compte à rebours annulé (redémarrage à 16:45:00)")
        #expect(Catalog.text(Reason("power.cancelled", ["action": "off", "at": "16:45:00"]), .fr) == "compte à rebours annulé (extinction à 16:45:00)")
        #expect(Catalog.text(Reason("policy.program", ["program": "/usr/bin/yes", "why": "empty-allowlist"]), .fr)
                == "programme refusé « /usr/bin/yes » : aucun programme n’est autorisé aux professeurs ([programs] allowed est vide)")
        #expect(Catalog.text(Reason("run.timeout", ["program": "/usr/bin/sleep", "seconds": "2"]), .en) == "/usr/bin/sleep killed after 2 s (timeout)")
        let texts = SeatTexts(language: .fr, timeZoneID: "Europe/Paris")
        let date = Date(timeIntervalSince1970: 1_795_424_520)  // 10:02 in Paris
        #expect(texts.countdownTitle(.off, at: date) == "Extinction du poste à 10:02")
        let who = Identity(schoolID: "0750001A", kind: .person(login: "pdupont", role: .teacher), displayName: "M. Dupont")
        #expect(texts.countdownText(by: who, at: date) == "Demandé par M. Dupont (professeur) à 10:02. Enregistrez votre travail.")
    }
}
