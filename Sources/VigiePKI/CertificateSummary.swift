import Foundation
import SwiftASN1
import VigieModel
import X509

/// What `vigie pki show` prints about a certificate file, in plain values, so
/// that callers need not import X509.
public struct CertificateSummary: Sendable {
    /// The file it was read from.
    public let path: String
    /// The subject, RFC 4514 style.
    public let subject: String
    /// The issuer, RFC 4514 style.
    public let issuer: String
    /// Whether this is a CA certificate (basicConstraints CA:true).
    public let isCA: Bool
    /// The Vigie identity of a leaf certificate; nil for a CA.
    public let identity: Identity?
    /// The school id: from the identity, or a CA's organizationIdentifier.
    public let schoolID: String?
    /// The school's name (subject O).
    public let schoolName: String?
    /// The serial, lowercase hex.
    public let serialHex: String
    /// Start of validity.
    public let notBefore: Date
    /// End of validity.
    public let notAfter: Date
    /// Extended key usages, by name (`serverAuth`, `clientAuth`).
    public let extendedKeyUsages: [String]
    /// subjectAltName entries (`URI:vigie://…`, `DNS:b204-02`, `IP:192.0.2.12`).
    public let subjectAltNames: [String]
    /// The certificate in DER, for ``CertificateChecker/verify(leafDER:caDER:at:)``.
    public let der: [UInt8]

    /// Reads and describes a PEM certificate file. A leaf must carry a valid
    /// Vigie identity; a CA must be a Vigie school CA.
    public static func read(path: String) throws -> CertificateSummary {
        let text = try SecureFile.read(path)
        let certificate = try PEMFiles.certificate(text, path: path)
        let isCA: Bool
        if case .isCertificateAuthority = try? certificate.extensions.basicConstraints { isCA = true } else { isCA = false }
        var identity: Identity?
        var schoolID: String?
        if isCA {
            schoolID = try SchoolCA.caSchool(certificate, path: path).id
        } else {
            identity = try CertificateIdentity.identity(of: certificate, path: path)
            schoolID = identity?.schoolID
        }
        let ekus = ((try? certificate.extensions.extendedKeyUsage) ?? nil).map { Array($0).map(\.description) } ?? []
        let sans: [String] = ((try? certificate.extensions.subjectAlternativeNames) ?? nil).map { names in
            names.map { name -> String in
                switch name {
                case .uniformResourceIdentifier(let uri): return "URI:\(uri)"
                case .dnsName(let dns): return "DNS:\(dns)"
                case .ipAddress(let ip): return "IP:\(CertificateLayout.ipAddressText(Array(ip.bytes)))"
                default: return name.description
                }
            }
        } ?? []
        var serializer = DER.Serializer()
        do {
            try serializer.serialize(certificate)
        } catch {
            throw PKIError(.invalidCertificate, path: path, "the certificate cannot be re-encoded: \(error)")
        }
        return CertificateSummary(
            path: path, subject: certificate.subject.description, issuer: certificate.issuer.description,
            isCA: isCA, identity: identity, schoolID: schoolID,
            schoolName: CertificateLayout.attribute(.RDNAttributeType.organizationName, in: certificate.subject),
            serialHex: CertificateLayout.serialHex(certificate.serialNumber),
            notBefore: certificate.notValidBefore, notAfter: certificate.notValidAfter,
            extendedKeyUsages: ekus, subjectAltNames: sans, der: serializer.serializedBytes)
    }

    /// Checks the private key at `keyPath`: mode 0600 or stricter, a P-256
    /// key, and the one this certificate was issued for. Throws a ``PKIError``
    /// naming the file otherwise.
    public func checkPrivateKey(at keyPath: String) throws {
        let text = try SecureFile.read(keyPath, privateKey: true)
        let key = try PEMFiles.privateKey(text, path: keyPath)
        let certificate = try Certificate(derEncoded: der)
        guard Certificate.PublicKey(key.publicKey) == certificate.publicKey else {
            throw PKIError(.keyMismatch, path: keyPath, "this key does not belong to the certificate \(path)")
        }
    }
}
