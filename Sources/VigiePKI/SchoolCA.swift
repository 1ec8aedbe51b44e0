import Crypto
import Foundation
import SwiftASN1
import VigieModel
import X509

/// A school's certificate authority: a self-signed P-256 certificate and its
/// private key. It signs every certificate of the school (seats, the server,
/// persons) and nothing else (pathlen 0).
///
/// On disk a CA is a directory with `ca.pem` (0644) and `ca-key.pem` (0600).
public struct SchoolCA: Sendable {
    /// Name of the CA certificate file in a CA directory.
    public static let certificateFileName = "ca.pem"
    /// Name of the CA private key file in a CA directory.
    public static let keyFileName = "ca-key.pem"

    /// The school id (UAI) this CA issues for.
    public let schoolID: String
    /// The school's name, as in the subject's O.
    public let schoolName: String
    /// The CA's self-signed certificate.
    public let certificate: Certificate
    /// The CA certificate as PEM.
    public let certificatePEM: String
    let privateKey: P256.Signing.PrivateKey

    /// Makes a new self-signed school CA with a fresh P-256 key.
    ///
    /// - Parameters:
    ///   - schoolID: the school id (UAI, e.g. `0750001A`): letters, digits, `-`, `_`, `.`.
    ///   - schoolName: the school's name (`Lycée Exemple`), 64 characters at most.
    ///   - validityDays: how long the CA is valid (default 10 years).
    ///   - now: the issuing time (tests pass a fixed one).
    public static func create(
        schoolID: String, schoolName: String,
        validityDays: Int = CertificateLayout.defaultCADays, now: Date = Date()
    ) throws -> SchoolCA {
        guard Identity.isValidToken(schoolID) else {
            throw PKIError(
                .invalidSchool,
                "school id \"\(schoolID)\" is not valid: use 1 to 64 ASCII letters, digits, '-', '_' or '.' (e.g. 0750001A)")
        }
        try CertificateLayout.checkName(schoolName, what: "school name", code: .invalidSchool)
        try CertificateLayout.checkDays(validityDays, what: "CA")

        let key = P256.Signing.PrivateKey()
        let certKey = Certificate.PrivateKey(key)
        let subject = CertificateLayout.caSubject(schoolID: schoolID, schoolName: schoolName)
        let start = CertificateLayout.wholeSeconds(now.addingTimeInterval(-CertificateLayout.clockSkew))
        let end = CertificateLayout.wholeSeconds(now.addingTimeInterval(TimeInterval(validityDays) * 86_400))
        let ski = SubjectKeyIdentifier(hash: certKey.publicKey)
        do {
            let extensions = try Certificate.Extensions {
                Critical(BasicConstraints.isCertificateAuthority(maxPathLength: 0))
                Critical(KeyUsage(keyCertSign: true, cRLSign: true))
                ski
                AuthorityKeyIdentifier(keyIdentifier: ski.keyIdentifier)
                SubjectAlternativeNames([.uniformResourceIdentifier(CertificateLayout.caURI(schoolID: schoolID))])
            }
            let certificate = try Certificate(
                version: .v3,
                serialNumber: CertificateLayout.randomSerial(),
                publicKey: certKey.publicKey,
                notValidBefore: start,
                notValidAfter: end,
                issuer: subject,
                subject: subject,
                signatureAlgorithm: .ecdsaWithSHA256,
                extensions: extensions,
                issuerPrivateKey: certKey)
            return SchoolCA(
                schoolID: schoolID, schoolName: schoolName, certificate: certificate,
                certificatePEM: try certificate.serializeAsPEM().pemString, privateKey: key)
        } catch let error as PKIError {
            throw error
        } catch {
            throw PKIError(.signingFailed, "cannot build the CA certificate: \(error)")
        }
    }

    /// The CA certificate's notAfter.
    public var notAfter: Date { certificate.notValidAfter }

    /// The CA certificate's serial, lowercase hex.
    public var serialHex: String { CertificateLayout.serialHex(certificate.serialNumber) }

    /// Writes `ca.pem` (0644) and `ca-key.pem` (0600) into `directory`, creating
    /// it (0700) if needed. Refuses to overwrite an existing CA.
    ///
    /// - Returns: the paths written.
    @discardableResult
    public func save(to directory: String) throws -> [String] {
        let certPath = SecureFile.join(directory, Self.certificateFileName)
        let keyPath = SecureFile.join(directory, Self.keyFileName)
        for path in [certPath, keyPath] where SecureFile.exists(path) {
            throw PKIError(
                .caExists, path: path,
                "a CA already exists here; refusing to overwrite it (replacing a school's CA invalidates every certificate it issued — move it away first if that is really what you want)")
        }
        try SecureFile.makeDirectory(directory, mode: 0o700)
        // Key first: a directory with ca.pem and no key is easier to notice than the reverse.
        try SecureFile.write(privateKey.pemRepresentation, to: keyPath, mode: 0o600, overwrite: false)
        do {
            try SecureFile.write(certificatePEM, to: certPath, mode: 0o644, overwrite: false)
        } catch {
            unlink(keyPath)
            throw error
        }
        return [certPath, keyPath]
    }

    /// Loads a CA saved by ``save(to:)``. The key must be mode 0600 (or
    /// stricter) and match the certificate, and the certificate must be a
    /// Vigie school CA.
    public static func load(from directory: String) throws -> SchoolCA {
        let certPath = SecureFile.join(directory, certificateFileName)
        let keyPath = SecureFile.join(directory, keyFileName)
        let certText = try SecureFile.read(certPath)
        let certificate = try PEMFiles.certificate(certText, path: certPath)
        let (schoolID, schoolName) = try caSchool(certificate, path: certPath)
        let keyText: String
        do {
            keyText = try SecureFile.read(keyPath, privateKey: true)
        } catch let error as PKIError where error.code == .fileMissing {
            throw PKIError(
                .fileMissing, path: keyPath,
                "no such file: \(directory) is not a CA directory (give the directory made by `vigie pki init`, which holds \(certificateFileName) and \(keyFileName))")
        }
        let key = try PEMFiles.privateKey(keyText, path: keyPath)
        guard Certificate.PublicKey(key.publicKey) == certificate.publicKey else {
            throw PKIError(.keyMismatch, path: keyPath, "this key does not belong to the CA certificate \(certPath)")
        }
        return SchoolCA(
            schoolID: schoolID, schoolName: schoolName, certificate: certificate,
            certificatePEM: certText, privateKey: key)
    }

    /// Checks that `certificate` is a Vigie school CA and returns its school id and name.
    static func caSchool(_ certificate: Certificate, path: String?) throws -> (id: String, name: String) {
        guard case .isCertificateAuthority = try? certificate.extensions.basicConstraints else {
            throw PKIError(.notACA, path: path, "this certificate is not a CA (basicConstraints CA:true missing)")
        }
        guard let schoolID = CertificateLayout.attribute(CertificateLayout.organizationIdentifierOID, in: certificate.subject),
            Identity.isValidToken(schoolID)
        else {
            throw PKIError(.notACA, path: path, "this CA has no organizationIdentifier (school id); it is not a Vigie school CA")
        }
        let uris = ((try? certificate.extensions.subjectAlternativeNames) ?? nil).map { sans in
            sans.compactMap { name -> String? in
                if case .uniformResourceIdentifier(let uri) = name { return uri }
                return nil
            }
        } ?? []
        let expected = CertificateLayout.caURI(schoolID: schoolID)
        guard uris.contains(expected) else {
            throw PKIError(
                .schoolMismatch, path: path,
                "this CA's subjectAltName does not contain \(expected) (organizationIdentifier is \(schoolID)); it is not a Vigie school CA")
        }
        let schoolName = CertificateLayout.attribute(.RDNAttributeType.organizationName, in: certificate.subject) ?? schoolID
        return (schoolID, schoolName)
    }
}
