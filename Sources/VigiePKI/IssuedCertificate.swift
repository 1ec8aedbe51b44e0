import Foundation
import VigieModel
import X509

/// A certificate the school CA just issued, with its private key when the CA
/// generated it.
public struct IssuedCertificate: Sendable {
    /// Name of the certificate file in an identity directory.
    public static let certificateFileName = "cert.pem"
    /// Name of the private key file in an identity directory.
    public static let keyFileName = "key.pem"
    /// Name of the school CA certificate file in an identity directory.
    public static let caFileName = "ca.pem"

    /// Who the certificate names.
    public let identity: Identity
    /// The certificate.
    public let certificate: Certificate
    /// The certificate as PEM.
    public let certificatePEM: String
    /// The private key as PKCS#8 PEM; nil when the holder generated the key.
    public let privateKeyPEM: String?

    /// Wraps an issued certificate.
    public init(identity: Identity, certificate: Certificate, certificatePEM: String, privateKeyPEM: String?) {
        self.identity = identity
        self.certificate = certificate
        self.certificatePEM = certificatePEM
        self.privateKeyPEM = privateKeyPEM
    }

    /// The serial as lowercase hex: what goes into the config's revocation list.
    public var serialHex: String { CertificateLayout.serialHex(certificate.serialNumber) }
    /// Start of validity (issuing time minus 5 minutes of clock skew).
    public var notBefore: Date { certificate.notValidBefore }
    /// End of validity.
    public var notAfter: Date { certificate.notValidAfter }

    /// Writes an identity directory: `cert.pem` (0644), `key.pem` (0600, only
    /// when this value holds the key) and `ca.pem` (0644). Creates the directory
    /// (0755) if needed. Each file is written under a temporary name and moved
    /// into place; the key is never readable by others, not even for an instant.
    ///
    /// - Parameter overwrite: replace existing files (re-issuing); refused by default.
    /// - Returns: the paths written.
    @discardableResult
    public func save(to directory: String, caCertificatePEM: String, overwrite: Bool = false) throws -> [String] {
        let certPath = SecureFile.join(directory, Self.certificateFileName)
        let keyPath = SecureFile.join(directory, Self.keyFileName)
        let caPath = SecureFile.join(directory, Self.caFileName)
        if !overwrite {
            for path in [certPath, keyPath, caPath] where SecureFile.exists(path) {
                throw PKIError(
                    .fileExists, path: path,
                    "already exists; refusing to overwrite it (choose another directory, or re-issue with --force)")
            }
        }
        _ = try PEMFiles.certificate(caCertificatePEM, path: nil)
        try SecureFile.makeDirectory(directory, mode: 0o755)
        var written: [String] = []
        if let privateKeyPEM {
            try SecureFile.write(privateKeyPEM, to: keyPath, mode: 0o600, overwrite: overwrite)
            written.append(keyPath)
        }
        try SecureFile.write(certificatePEM, to: certPath, mode: 0o644, overwrite: overwrite)
        written.append(certPath)
        try SecureFile.write(caCertificatePEM, to: caPath, mode: 0o644, overwrite: overwrite)
        written.append(caPath)
        return written
    }
}
