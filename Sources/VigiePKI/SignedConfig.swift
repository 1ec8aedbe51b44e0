import Crypto
import Foundation
import X509

/// The school configuration as the server distributes it: the TOML text, a
/// version number that only grows, signed by the school CA, so that a seat
/// enforces only what the school signed — not what a server, or anyone on the
/// network, would like it to.
///
/// Signature: ECDSA P-256 (DER, base64) by the CA key over
/// `"vigie-config-v1\n" + school + "\n" + version + "\n" + SHA-256(toml) hex`.
public struct SignedConfig: Codable, Sendable, Equatable {
    public var school: String
    public var version: Int
    public var signedUTC: String
    /// The configuration file's text, exactly as signed.
    public var toml: String
    public var signature: String

    static func message(school: String, version: Int, toml: String) -> Data {
        let digest = SHA256.hash(data: Data(toml.utf8)).map { String(format: "%02x", $0) }.joined()
        return Data("vigie-config-v1\n\(school)\n\(version)\n\(digest)".utf8)
    }

    /// Signs `toml` as version `version` with the school CA's key.
    public static func sign(toml: String, version: Int, ca: SchoolCA, now: Date = Date()) throws -> SignedConfig {
        let signature = try ca.privateKey.signature(for: message(school: ca.schoolID, version: version, toml: toml))
        let f = ISO8601DateFormatter()
        return SignedConfig(school: ca.schoolID, version: version, signedUTC: f.string(from: now), toml: toml,
                            signature: signature.derRepresentation.base64EncodedString())
    }

    /// True when the CA of `caCertificatePEM` signed exactly this text and version.
    public func isSigned(byCA caCertificatePEM: String) -> Bool {
        guard let ca = try? Certificate(pemEncoded: caCertificatePEM),
              let key = P256.Signing.PublicKey(ca.publicKey),
              let der = Data(base64Encoded: signature),
              let sig = try? P256.Signing.ECDSASignature(derRepresentation: der) else { return false }
        return key.isValidSignature(sig, for: Self.message(school: school, version: version, toml: toml))
    }

    public func jsonData() throws -> Data {
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys, .prettyPrinted]
        return try e.encode(self)
    }

    public static func read(from path: String) throws -> SignedConfig {
        try JSONDecoder().decode(SignedConfig.self, from: Data(contentsOf: URL(fileURLWithPath: path)))
    }
}
