import Foundation
import Testing
import VigiePKI
import VigieTestSupport

@Suite(.serialized) struct ConfigDistribution {
    @Test func aSignedConfigRevokesATeacherOnEverySeatAndOutlivesTheServer() throws {
        let school = try TestSchool(seats: [("B204-01", "B204"), ("B204-02", "B204")], withServer: true)
        #expect(try school.vigie(["status", "--room", "B204"]).status == 0)

        // The admin revokes the teacher's certificate in version 1, signs it with the CA and publishes it.
        let teacherSerial = try IdentityBundle.load(from: school.people["teacher"]!).serialHex
        let text = try String(contentsOfFile: school.configPath, encoding: .utf8)
            .replacingOccurrences(of: "revoked = [\"", with: "revoked = [\"\(teacherSerial)\", \"")
        let v1 = school.dir + "/v1.toml"
        try text.write(toFile: v1, atomically: true, encoding: .utf8)
        let signed = try run([product("vigie"), "config", "sign", v1, "--ca", school.dir + "/ca", "--version", "1", "--out", school.dir + "/v1.json"])
        #expect(signed.status == 0, "\(signed)")
        let publish = try school.vigie(["config", "publish", school.dir + "/v1.json"], as: "admin", json: false)
        #expect(publish.status == 0, "\(publish)")

        // Every seat fetches it and refuses the teacher from then on (the console's own config is unchanged).
        #expect(eventually(10) {
            let r = try? school.vigie(["status", "--room", "B204"])
            return r?.code(of: "B204-01") == "auth.certificate-refused" && r?.code(of: "B204-02") == "auth.certificate-refused"
        })
        #expect(try school.vigie(["status", "--room", "B204"], as: "admin").status == 0)

        // Every event names the config version it was decided under; the seat journals why it
        // refused the certificate in the handshake (the console only hears that it was refused).
        var seat: [[String: Any]] = []
        #expect(eventually(10) { seat = decisions((try? school.registerEvents()) ?? [], seat: "B204-01"); return seat.contains { $0["code"] as? String == "auth.revoked" } })
        #expect(seat.first { $0["code"] as? String == "auth.revoked" }?["configVersion"] as? String == "1")
        #expect(seat.first?["configVersion"] as? String == "0")
        #expect(events((try? school.registerEvents()) ?? [], seat: "B204-01").contains { $0["feature"] as? String == "config.apply" && $0["code"] as? String == "config.applied" })

        // The same version again, or an older one, is refused by the server.
        #expect(try school.vigie(["config", "publish", school.dir + "/v1.json"], as: "admin", json: false).status == 1)
        // A teacher may not publish.
        #expect(try school.vigie(["config", "publish", school.dir + "/v1.json"], json: false).status == 1)

        // A bundle edited on the server (not signed by the CA) is refused by every seat.
        let bundlePath = school.dir + "/server/config.signed.json"
        var forged = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: bundlePath))) as! [String: Any]
        forged["version"] = 5
        forged["toml"] = text.replacingOccurrences(of: teacherSerial, with: "01")
        try JSONSerialization.data(withJSONObject: forged).write(to: URL(fileURLWithPath: bundlePath))
        #expect(eventually(10) {
            events((try? school.registerEvents()) ?? [], seat: "B204-02").contains { $0["code"] as? String == "config.unsigned" }
        })
        // A generous deadline: the answer is the point, and the whole suite shares two cores.
        let still = try school.vigie(["status", "--seat", "B204-02", "--timeout", "30"])
        #expect(still.code(of: "B204-02") == "auth.certificate-refused", "v1 still in force: \(still)")

        // The server goes away; a restarted seat still enforces the last good config it kept.
        school.stopServer()
        school.killAgent("B204-01")
        try school.startAgent("B204-01")
        let kept = try school.vigie(["status", "--seat", "B204-01", "--timeout", "30"])
        #expect(kept.code(of: "B204-01") == "auth.certificate-refused", "\(kept)")
    }
}
