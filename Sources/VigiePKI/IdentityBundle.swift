import Crypto
import Foundation
import VigieModel
import X509

/// An identity directory loaded from disk (`cert.pem`, `key.pem`, `ca.pem`):
/// what an agent, the server or a console presents over mTLS.
///
/// Loading checks that the key is private (mode 0600 or stricter, like ssh),
/// that it matches the certificate, that the certificate carries a Vigie
/// identity, and that `ca.pem` is the school CA that signed it. It does not
/// refuse an expired certificate (see ``notAfter``), so that `vigie pki show`
/// can still display it.
public struct IdentityBundle: Sendable {
    /// The directory it was loaded from.
    public let directory: String
    /// Who the certificate names.
    public let identity: Identity
    /// The certificate's serial, lowercase hex.
    public let serialHex: String
    /// Start of validity.
    public let notBefore: Date
    /// End of validity.
    public let notAfter: Date
    /// `cert.pem` as read, for NIOSSL.
    public let certificatePEM: String
    /// `key.pem` as read, for NIOSSL.
    public let privateKeyPEM: String
    /// `ca.pem` as read: the school CA to trust, for NIOSSL.
    public let caCertificatePEM: String
    /// The decoded certificate.
    public let certificate: Certificate
    /// The decoded school CA certificate.
    public let caCertificate: Certificate

    /// The school's name, from the certificate's subject O.
    public var schoolName: String? {
        CertificateLayout.attribute(.RDNAttributeType.organizationName, in: certificate.subject)
    }

    /// Loads and checks an identity directory written by ``IssuedCertificate/save(to:caCertificatePEM:overwrite:)``.
    public static func load(from directory: String) throws -> IdentityBundle {
        let certPath = SecureFile.join(directory, IssuedCertificate.certificateFileName)
        let keyPath = SecureFile.join(directory, IssuedCertificate.keyFileName)
        let caPath = SecureFile.join(directory, IssuedCertificate.caFileName)

        let certText = try SecureFile.read(certPath)
        let certificate = try PEMFiles.certificate(certText, path: certPath)
        let identity = try CertificateIdentity.identity(of: certificate, path: certPath)

        let keyText = try SecureFile.read(keyPath, privateKey: true)
        let key = try PEMFiles.privateKey(keyText, path: keyPath)
        guard Certificate.PublicKey(key.publicKey) == certificate.publicKey else {
            throw PKIError(.keyMismatch, path: keyPath, "this key does not belong to the certificate \(certPath)")
        }

        let caText = try SecureFile.read(caPath)
        let caCertificate = try PEMFiles.certificate(caText, path: caPath)
        let (caSchool, _) = try SchoolCA.caSchool(caCertificate, path: caPath)
        guard caSchool == identity.schoolID else {
            throw PKIError(
                .schoolMismatch, path: caPath,
                "this is the CA of school \(caSchool) but \(certPath) names school \(identity.schoolID)")
        }
        guard caCertificate.subject == certificate.issuer,
            caCertificate.publicKey.isValidSignature(certificate.signature, for: certificate)
        else {
            throw PKIError(
                .schoolMismatch, path: caPath,
                "this CA did not sign \(certPath) (another CA of the same school?); copy the school's current ca.pem here")
        }

        return IdentityBundle(
            directory: directory, identity: identity,
            serialHex: CertificateLayout.serialHex(certificate.serialNumber),
            notBefore: certificate.notValidBefore, notAfter: certificate.notValidAfter,
            certificatePEM: certText, privateKeyPEM: keyText, caCertificatePEM: caText,
            certificate: certificate, caCertificate: caCertificate)
    }

    /// Whether the certificate is valid at `date` (between notBefore and notAfter).
    public func isCurrent(at date: Date = Date()) -> Bool {
        notBefore <= date && date <= notAfter
    }
}
