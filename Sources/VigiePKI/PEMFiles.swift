import Crypto
import SwiftASN1
import X509

/// Decoding PEM text with errors that name the file.
enum PEMFiles {
    static func certificate(_ text: String, path: String?) throws -> Certificate {
        let document: PEMDocument
        do {
            document = try PEMDocument(pemString: text)
        } catch {
            throw PKIError(.invalidPEM, path: path, "is not a PEM file (expected -----BEGIN CERTIFICATE-----)")
        }
        guard document.discriminator == "CERTIFICATE" else {
            throw PKIError(.invalidPEM, path: path, "holds a \(document.discriminator), not a CERTIFICATE")
        }
        do {
            return try Certificate(derEncoded: document.derBytes)
        } catch {
            throw PKIError(.invalidCertificate, path: path, "the certificate cannot be decoded: \(error)")
        }
    }

    static func privateKey(_ text: String, path: String?) throws -> P256.Signing.PrivateKey {
        do {
            return try P256.Signing.PrivateKey(pemRepresentation: text)
        } catch {
            throw PKIError(.invalidKey, path: path, "is not a P-256 private key in PEM (PKCS#8 or SEC1)")
        }
    }
}
