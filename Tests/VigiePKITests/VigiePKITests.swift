import Crypto
import Foundation
import VigieTestSupport
import SwiftASN1
import Testing
import VigieTestSupport
import VigieModel
import X509

@testable import VigiePKI

/// A fresh temporary directory for this target's tests.
func tempDir() throws -> TempDir { try TempDir("vigie-pki") }

func der(_ certificate: Certificate) throws -> [UInt8] {
    var serializer = DER.Serializer()
    try serializer.serialize(certificate)
    return serializer.serializedBytes
}

let school = "0750001A"
let schoolName = "Lycée Exemple"

@Suite struct IssuingTests {
    let ca: SchoolCA
    init() throws { ca = try SchoolCA.create(schoolID: school, schoolName: schoolName) }

    @Test func caLayout() throws {
        let cert = ca.certificate
        #expect(try cert.extensions.basicConstraints == .isCertificateAuthority(maxPathLength: 0))
        let ku = try #require(try cert.extensions.keyUsage)
        #expect(ku.keyCertSign && ku.cRLSign && !ku.digitalSignature)
        #expect(CertificateLayout.attribute(.RDNAttributeType.commonName, in: cert.subject) == "Vigie CA — Lycée Exemple")
        #expect(CertificateLayout.attribute(.RDNAttributeType.organizationName, in: cert.subject) == schoolName)
        #expect(CertificateLayout.attribute(CertificateLayout.organizationIdentifierOID, in: cert.subject) == school)
        let sans = try #require(try cert.extensions.subjectAlternativeNames)
        #expect(Array(sans) == [.uniformResourceIdentifier("vigie://0750001A/ca")])
        #expect(cert.issuer == cert.subject)
    }

    @Test func seat() async throws {
        let identity = Identity(schoolID: school, kind: .seat(id: "B204-02"), displayName: "B204-02")
        let issued = try ca.issue(identity: identity, ipAddresses: ["192.0.2.12", "2001:db8::12"])
        let parsed = try CertificateIdentity.parse(der: try der(issued.certificate))
        #expect(parsed.identity == identity)
        #expect(parsed.serialHex == issued.serialHex)
        #expect(parsed.notAfter == issued.notAfter)

        let cert = issued.certificate
        let eku = try #require(try cert.extensions.extendedKeyUsage)
        #expect(Array(eku) == [.serverAuth, .clientAuth])
        #expect(try cert.extensions.basicConstraints == .notCertificateAuthority)
        #expect(try cert.extensions.keyUsage?.digitalSignature == true)
        #expect(try cert.extensions.subjectKeyIdentifier != nil)
        #expect(try cert.extensions.authorityKeyIdentifier?.keyIdentifier == ca.certificate.extensions.subjectKeyIdentifier?.keyIdentifier)
        let sans = Array(try #require(try cert.extensions.subjectAlternativeNames))
        #expect(sans.contains(.uniformResourceIdentifier("vigie://0750001A/seat/B204-02")))
        #expect(sans.contains(.dnsName("b204-02")))
        #expect(sans.contains(.ipAddress(ASN1OctetString(contentBytes: [192, 0, 2, 12]))))
        #expect(sans.count == 4)
        #expect(CertificateLayout.attribute(CertificateLayout.titleOID, in: cert.subject) == nil)

        // Validity: 5 years by default, notBefore 5 minutes back.
        let days = cert.notValidAfter.timeIntervalSince(cert.notValidBefore) / 86_400
        #expect(abs(days - 5 * 365) < 0.01)
        #expect(cert.notValidBefore < Date().addingTimeInterval(-290))

        #expect(await CertificateChecker.verify(leafDER: try der(cert), caDER: try der(ca.certificate)) == .valid)
    }

    @Test func personWithAccents() async throws {
        let identity = Identity(
            schoolID: school, kind: .person(login: "mmartin", role: .teacher), displayName: "Mme Martin-Lefèvre Ærø ’")
        let issued = try ca.issue(identity: identity)
        let parsed = try CertificateIdentity.parse(der: try der(issued.certificate))
        #expect(parsed.identity == identity)
        #expect(parsed.identity.displayName == "Mme Martin-Lefèvre Ærø ’")
        #expect(parsed.identity.role == .teacher)

        let cert = issued.certificate
        #expect(Array(try #require(try cert.extensions.extendedKeyUsage)) == [.clientAuth])
        #expect(CertificateLayout.attribute(CertificateLayout.titleOID, in: cert.subject) == "teacher")
        #expect(Array(try #require(try cert.extensions.subjectAlternativeNames))
            == [.uniformResourceIdentifier("vigie://0750001A/person/teacher/mmartin")])
        let days = cert.notValidAfter.timeIntervalSince(cert.notValidBefore) / 86_400
        #expect(abs(days - 400) < 0.01)
        #expect(await CertificateChecker.verify(leafDER: try der(cert), caDER: try der(ca.certificate)).isValid)
    }

    @Test func server() throws {
        let identity = Identity(schoolID: school, kind: .server(name: "Vigie-Server"), displayName: "Vigie-Server")
        let issued = try ca.issue(identity: identity, validityDays: 30)
        let parsed = try CertificateIdentity.parse(der: try der(issued.certificate))
        #expect(parsed.identity == identity)
        let sans = Array(try #require(try issued.certificate.extensions.subjectAlternativeNames))
        #expect(sans == [.uniformResourceIdentifier("vigie://0750001A/server/Vigie-Server"), .dnsName("vigie-server")])
        #expect(Array(try #require(try issued.certificate.extensions.extendedKeyUsage)) == [.serverAuth, .clientAuth])
    }

    @Test func seatWithUnderscoreHasNoDNSName() throws {
        let identity = Identity(schoolID: school, kind: .seat(id: "CDI_01"), displayName: "CDI_01")
        let issued = try ca.issue(identity: identity)
        let sans = Array(try #require(try issued.certificate.extensions.subjectAlternativeNames))
        #expect(sans == [.uniformResourceIdentifier("vigie://0750001A/seat/CDI_01")])
    }

    @Test func givenPublicKey() throws {
        let key = P256.Signing.PrivateKey()
        let identity = Identity(schoolID: school, kind: .seat(id: "B204-03"), displayName: "B204-03")
        let issued = try ca.issue(identity: identity, publicKey: key.publicKey)
        #expect(issued.privateKeyPEM == nil)
        #expect(issued.certificate.publicKey == Certificate.PublicKey(key.publicKey))
    }

    @Test func serialsAreUnique() throws {
        let identity = Identity(schoolID: school, kind: .seat(id: "B204-01"), displayName: "B204-01")
        let key = P256.Signing.PrivateKey().publicKey
        var serials = Set<String>()
        for _ in 0..<200 {
            let issued = try ca.issue(identity: identity, publicKey: key)
            #expect(issued.serialHex.count == 40)
            #expect(issued.certificate.serialNumber.bytes.first! & 0x80 == 0)
            serials.insert(issued.serialHex)
        }
        #expect(serials.count == 200)
    }

    @Test func refusesBadInput() throws {
        let other = Identity(schoolID: "0130002B", kind: .seat(id: "A1"), displayName: "A1")
        #expect { try ca.issue(identity: other) } throws: { ($0 as? PKIError)?.code == .invalidIdentity }
        let badSeat = Identity(schoolID: school, kind: .seat(id: "B204/02"), displayName: "x")
        #expect { try ca.issue(identity: badSeat) } throws: { ($0 as? PKIError)?.code == .invalidIdentity }
        let seat = Identity(schoolID: school, kind: .seat(id: "B204-02"), displayName: "B204-02")
        #expect { try ca.issue(identity: seat, validityDays: 0) } throws: { ($0 as? PKIError)?.code == .invalidValidity }
        #expect { try ca.issue(identity: seat, ipAddresses: ["300.1.2.3"]) } throws: {
            ($0 as? PKIError)?.code == .invalidIPAddress
        }
        let empty = Identity(schoolID: school, kind: .person(login: "x", role: .head), displayName: " ")
        #expect { try ca.issue(identity: empty) } throws: { ($0 as? PKIError)?.code == .invalidIdentity }
        #expect { try SchoolCA.create(schoolID: "07 50", schoolName: "x") } throws: {
            ($0 as? PKIError)?.code == .invalidSchool
        }
    }

    @Test func validityNeverOutlivesTheCA() throws {
        let shortCA = try SchoolCA.create(schoolID: school, schoolName: schoolName, validityDays: 100)
        let seat = Identity(schoolID: school, kind: .seat(id: "B1"), displayName: "B1")
        let issued = try shortCA.issue(identity: seat)
        #expect(issued.notAfter == shortCA.notAfter)
    }
}

@Suite struct VerificationTests {
    @Test func anotherSchoolsCAFails() async throws {
        let ours = try SchoolCA.create(schoolID: school, schoolName: schoolName)
        let theirs = try SchoolCA.create(schoolID: "0130002B", schoolName: "Collège Autre")
        let seat = Identity(schoolID: "0130002B", kind: .seat(id: "B204-02"), displayName: "B204-02")
        let issued = try theirs.issue(identity: seat)
        let result = await CertificateChecker.verify(leafDER: try der(issued.certificate), caDER: try der(ours.certificate))
        guard case .invalid(let reason) = result else { Issue.record("verified against the wrong CA"); return }
        #expect(reason.contains("another school"))
    }

    @Test func sameNameOtherKeyFails() async throws {
        let ours = try SchoolCA.create(schoolID: school, schoolName: schoolName)
        let impostor = try SchoolCA.create(schoolID: school, schoolName: schoolName)
        let seat = Identity(schoolID: school, kind: .seat(id: "B204-02"), displayName: "B204-02")
        let issued = try impostor.issue(identity: seat)
        let result = await CertificateChecker.verify(leafDER: try der(issued.certificate), caDER: try der(ours.certificate))
        guard case .invalid(let reason) = result else { Issue.record("verified against the wrong CA"); return }
        #expect(reason.contains("signature"))
    }

    @Test func expiredFails() async throws {
        let now = Date()
        let ca = try SchoolCA.create(schoolID: school, schoolName: schoolName, now: now.addingTimeInterval(-400 * 86_400))
        let person = Identity(schoolID: school, kind: .person(login: "mmartin", role: .teacher), displayName: "Mme Martin")
        let issued = try ca.issue(identity: person, validityDays: 30, now: now.addingTimeInterval(-100 * 86_400))
        let leaf = try der(issued.certificate)
        let caDER = try der(ca.certificate)
        let result = await CertificateChecker.verify(leafDER: leaf, caDER: caDER, at: now)
        guard case .invalid(let reason) = result else { Issue.record("an expired certificate verified"); return }
        #expect(reason.contains("expired"))
        // The same certificate was fine while it was valid.
        #expect(await CertificateChecker.verify(leafDER: leaf, caDER: caDER, at: now.addingTimeInterval(-90 * 86_400)) == .valid)
        // And not yet valid before it was issued.
        let early = await CertificateChecker.verify(leafDER: leaf, caDER: caDER, at: now.addingTimeInterval(-101 * 86_400))
        #expect(!early.isValid)
    }

    @Test func caItselfIsNotALeaf() async throws {
        let ca = try SchoolCA.create(schoolID: school, schoolName: schoolName)
        let caDER = try der(ca.certificate)
        #expect(await !CertificateChecker.verify(leafDER: caDER, caDER: caDER).isValid)
    }
}

@Suite struct ParsingTests {
    /// A self-signed certificate with the given subject and SAN URIs; parsing
    /// does not check signatures, so no CA is needed.
    func craft(orgID: String?, title: String? = nil, cn: String = "B204-02", uris: [String]) throws -> [UInt8] {
        let key = Certificate.PrivateKey(P256.Signing.PrivateKey())
        var rdns = [RelativeDistinguishedName(.init(type: .RDNAttributeType.organizationName, utf8String: schoolName))]
        if let orgID {
            rdns.append(RelativeDistinguishedName(.init(type: CertificateLayout.organizationIdentifierOID, utf8String: orgID)))
        }
        if let title {
            rdns.append(RelativeDistinguishedName(.init(type: CertificateLayout.titleOID, utf8String: title)))
        }
        rdns.append(RelativeDistinguishedName(.init(type: .RDNAttributeType.commonName, utf8String: cn)))
        let name = DistinguishedName(rdns)
        let extensions = try Certificate.Extensions {
            SubjectAlternativeNames(uris.map { .uniformResourceIdentifier($0) } + [.dnsName("b204-02")])
        }
        let cert = try Certificate(
            version: .v3, serialNumber: .init(), publicKey: key.publicKey,
            notValidBefore: Date(), notValidAfter: Date().addingTimeInterval(86_400),
            issuer: name, subject: name, signatureAlgorithm: .ecdsaWithSHA256,
            extensions: extensions, issuerPrivateKey: key)
        return try der(cert)
    }

    func code(_ body: () throws -> Void) -> PKIError.Code? {
        do { try body(); return nil } catch let e as PKIError { return e.code } catch { return nil }
    }

    @Test func schoolMismatchIsRefused() throws {
        let bytes = try craft(orgID: "0750001A", uris: ["vigie://0130002B/seat/B204-02"])
        do {
            _ = try CertificateIdentity.parse(der: bytes)
            Issue.record("accepted a certificate whose URI names another school")
        } catch let error as PKIError {
            #expect(error.code == .schoolMismatch)
            #expect(error.message.contains("0750001A") && error.message.contains("0130002B"))
        }
        #expect(code { _ = try CertificateIdentity.parse(der: try craft(orgID: nil, uris: ["vigie://0750001A/seat/B204-02"])) } == .schoolMismatch)
        #expect(try CertificateIdentity.parse(der: try craft(orgID: "0750001A", uris: ["vigie://0750001A/seat/B204-02"])).identity.seatID == "B204-02")
    }

    @Test func uriProblems() throws {
        #expect(code { _ = try CertificateIdentity.parse(der: try craft(orgID: school, uris: [])) } == .missingIdentityURI)
        #expect(code { _ = try CertificateIdentity.parse(der: try craft(orgID: school, uris: ["https://example.org/"])) } == .missingIdentityURI)
        #expect(code { _ = try CertificateIdentity.parse(der: try craft(orgID: school, uris: ["vigie://0750001A/desk/B1"])) } == .malformedIdentityURI)
        #expect(code { _ = try CertificateIdentity.parse(der: try craft(orgID: school, uris: ["vigie://0750001A/person/pupil/x"])) } == .malformedIdentityURI)
        #expect(code {
            _ = try CertificateIdentity.parse(der: try craft(orgID: school, uris: ["vigie://0750001A/seat/B1", "vigie://0750001A/seat/B2"]))
        } == .ambiguousIdentityURI)
        #expect(code { _ = try CertificateIdentity.parse(der: [0x30, 0x03, 0x02, 0x01, 0x01]) } == .invalidCertificate)
    }

    @Test func roleMismatchIsRefused() throws {
        let bytes = try craft(orgID: school, title: "admin", cn: "Mme Martin", uris: ["vigie://0750001A/person/teacher/mmartin"])
        #expect(code { _ = try CertificateIdentity.parse(der: bytes) } == .roleMismatch)
    }

    @Test func serialNormalization() {
        #expect(CertificateIdentity.normalizedSerialHex("00:AB:cd:01") == "abcd01")
        #expect(CertificateIdentity.normalizedSerialHex("0x0ABC") == "0abc")
        #expect(CertificateIdentity.normalizedSerialHex(" 4f3a ") == "4f3a")
        #expect(CertificateIdentity.normalizedSerialHex("xyz") == nil)
    }
}

@Suite struct FileTests {
    @Test func caFilesAndModes() throws {
        let tmp = try tempDir()
        let dir = tmp.sub("ca")
        let ca = try SchoolCA.create(schoolID: school, schoolName: schoolName)
        try ca.save(to: dir)
        #expect(try fileMode(dir + "/ca.pem") == 0o644)
        #expect(try fileMode(dir + "/ca-key.pem") == 0o600)
        #expect(try fileMode(dir) == 0o700)
        // No temporary files left behind.
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir).sorted() == ["ca-key.pem", "ca.pem"])

        let loaded = try SchoolCA.load(from: dir)
        #expect(loaded.schoolID == school)
        #expect(loaded.schoolName == schoolName)
        #expect(loaded.certificate == ca.certificate)

        // Refuses to overwrite.
        let again = try SchoolCA.create(schoolID: school, schoolName: schoolName)
        #expect { try again.save(to: dir) } throws: { ($0 as? PKIError)?.code == .caExists }
        #expect(try SchoolCA.load(from: dir).certificate == ca.certificate)
    }

    @Test func caKeyGroupReadableIsRefused() throws {
        let tmp = try tempDir()
        let dir = tmp.sub("ca")
        try SchoolCA.create(schoolID: school, schoolName: schoolName).save(to: dir)
        chmod(dir + "/ca-key.pem", 0o640)
        do {
            _ = try SchoolCA.load(from: dir)
            Issue.record("loaded a group-readable CA key")
        } catch let error as PKIError {
            #expect(error.code == .keyPermissions)
            #expect(error.path == dir + "/ca-key.pem")
            #expect(error.description.hasPrefix(dir + "/ca-key.pem: "))
            #expect(error.description.contains("chmod 600"))
        }
    }

    @Test func identityDirectory() throws {
        let tmp = try tempDir()
        let ca = try SchoolCA.create(schoolID: school, schoolName: schoolName)
        let identity = Identity(schoolID: school, kind: .person(login: "mmartin", role: .librarian), displayName: "Mme Martin")
        let issued = try ca.issue(identity: identity)
        let dir = tmp.sub("ids/mmartin")
        let written = try issued.save(to: dir, caCertificatePEM: ca.certificatePEM)
        #expect(written.count == 3)
        #expect(try fileMode(dir + "/key.pem") == 0o600)
        #expect(try fileMode(dir + "/cert.pem") == 0o644)
        #expect(try fileMode(dir + "/ca.pem") == 0o644)

        let bundle = try IdentityBundle.load(from: dir)
        #expect(bundle.identity == identity)
        #expect(bundle.serialHex == issued.serialHex)
        #expect(bundle.notAfter == issued.notAfter)
        #expect(bundle.certificatePEM == issued.certificatePEM)
        #expect(bundle.privateKeyPEM == issued.privateKeyPEM)
        #expect(bundle.caCertificatePEM == ca.certificatePEM)
        #expect(bundle.schoolName == schoolName)
        #expect(bundle.isCurrent())

        // Refuses to overwrite unless asked.
        let reissued = try ca.issue(identity: identity)
        #expect { try reissued.save(to: dir, caCertificatePEM: ca.certificatePEM) } throws: {
            ($0 as? PKIError)?.code == .fileExists
        }
        try reissued.save(to: dir, caCertificatePEM: ca.certificatePEM, overwrite: true)
        #expect(try IdentityBundle.load(from: dir).serialHex == reissued.serialHex)
        #expect(try fileMode(dir + "/key.pem") == 0o600)
    }

    @Test func groupReadableKeyIsRefused() throws {
        let tmp = try tempDir()
        let ca = try SchoolCA.create(schoolID: school, schoolName: schoolName)
        let seat = Identity(schoolID: school, kind: .seat(id: "B204-02"), displayName: "B204-02")
        let dir = tmp.sub("seat")
        try ca.issue(identity: seat).save(to: dir, caCertificatePEM: ca.certificatePEM)
        for bad in [0o640, 0o644, 0o604, 0o620] {
            chmod(dir + "/key.pem", mode_t(bad))
            do {
                _ = try IdentityBundle.load(from: dir)
                Issue.record("loaded a key with mode \(String(bad, radix: 8))")
            } catch let error as PKIError {
                #expect(error.code == .keyPermissions)
                #expect(error.description.hasPrefix(dir + "/key.pem: "))
                #expect(error.description.contains("(mode 0\(String(bad, radix: 8)))"))
                #expect(error.description.contains("run chmod 600 \(dir)/key.pem"))
            }
        }
        chmod(dir + "/key.pem", 0o400)
        #expect(try IdentityBundle.load(from: dir).identity == seat)
    }

    @Test func mismatchedFilesAreNamed() throws {
        let tmp = try tempDir()
        let ca = try SchoolCA.create(schoolID: school, schoolName: schoolName)
        let other = try SchoolCA.create(schoolID: school, schoolName: schoolName)
        let seat = Identity(schoolID: school, kind: .seat(id: "B204-02"), displayName: "B204-02")
        let dir = tmp.sub("seat")
        try ca.issue(identity: seat).save(to: dir, caCertificatePEM: other.certificatePEM)
        #expect { try IdentityBundle.load(from: dir) } throws: {
            ($0 as? PKIError)?.path == dir + "/ca.pem" && ($0 as? PKIError)?.code == .schoolMismatch
        }

        // A key from another identity.
        let dir2 = tmp.sub("seat2")
        try ca.issue(identity: seat).save(to: dir2, caCertificatePEM: ca.certificatePEM)
        try FileManager.default.removeItem(atPath: dir2 + "/key.pem")
        try FileManager.default.copyItem(atPath: dir + "/key.pem", toPath: dir2 + "/key.pem")
        chmod(dir2 + "/key.pem", 0o600)
        #expect { try IdentityBundle.load(from: dir2) } throws: {
            ($0 as? PKIError)?.path == dir2 + "/key.pem" && ($0 as? PKIError)?.code == .keyMismatch
        }

        // A missing file.
        try FileManager.default.removeItem(atPath: dir2 + "/cert.pem")
        #expect { try IdentityBundle.load(from: dir2) } throws: {
            ($0 as? PKIError)?.path == dir2 + "/cert.pem" && ($0 as? PKIError)?.code == .fileMissing
        }
    }
}

@Suite struct DependencyTests {
    /// VigiePKI stays free of NIO: the seat helper and the CLI's offline
    /// commands must not pull in the networking stack.
    @Test func noNIOImports() throws {
        let sources = URL(fileURLWithPath: #filePath)
            .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Sources/VigiePKI")
        let files = try FileManager.default.contentsOfDirectory(atPath: sources.path).filter { $0.hasSuffix(".swift") }
        #expect(!files.isEmpty)
        for file in files {
            let text = try String(contentsOf: sources.appendingPathComponent(file), encoding: .utf8)
            for line in text.split(separator: "\n") where line.contains("import ") && line.contains("NIO") {
                Issue.record("\(file): \(line)")
            }
        }
    }
}

@Suite struct PathTests {
    /// NSString's deletingLastPathComponent traps on one-letter relative
    /// paths on Linux; SecureFile does its own path work.
    @Test func parentAndBaseName() {
        #expect(SecureFile.parent(of: "s") == "")
        #expect(SecureFile.parent(of: "ids/s") == "ids")
        #expect(SecureFile.parent(of: "/ca") == "/")
        #expect(SecureFile.parent(of: "a/b/") == "a")
        #expect(SecureFile.baseName(of: "a/key.pem") == "key.pem")
        #expect(SecureFile.baseName(of: "k") == "k")
    }
}
