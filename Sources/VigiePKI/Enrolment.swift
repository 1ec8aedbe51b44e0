import Crypto
import Foundation
import VigieModel
import X509

/// Enrolling a seat with a one-time token: the seat makes its key itself and
/// sends only the public half, with a proof that it holds the private one; the
/// school server checks the token and signs a seat certificate for that key.
///
/// Proof: ECDSA P-256 (DER, base64) over
/// `"vigie-enrol-v1\n" + school + "\n" + seat + "\n" + token + "\n" + publicKeyPEM`.
public enum Enrolment {
    /// What a seat sends (as request arguments).
    public struct Request: Sendable, Equatable {
        public var school: String
        public var seat: String
        public var token: String
        public var publicKeyPEM: String
        public var proof: String

        public init(school: String, seat: String, token: String, publicKeyPEM: String, proof: String) {
            self.school = school
            self.seat = seat
            self.token = token
            self.publicKeyPEM = publicKeyPEM
            self.proof = proof
        }

        public var args: [String: String] {
            ["school": school, "seat": seat, "token": token, "public_key": publicKeyPEM, "proof": proof]
        }

        public init?(args: [String: String]) {
            guard let school = args["school"], let seat = args["seat"], let token = args["token"],
                  let key = args["public_key"], let proof = args["proof"] else { return nil }
            self.init(school: school, seat: seat, token: token, publicKeyPEM: key, proof: proof)
        }

        static func message(school: String, seat: String, token: String, publicKeyPEM: String) -> Data {
            Data("vigie-enrol-v1\n\(school)\n\(seat)\n\(token)\n\(publicKeyPEM)".utf8)
        }

        /// True when the proof was made with the private key of `publicKeyPEM`.
        public var proofHolds: Bool {
            guard let key = try? P256.Signing.PublicKey(pemRepresentation: publicKeyPEM),
                  let der = Data(base64Encoded: proof),
                  let signature = try? P256.Signing.ECDSASignature(derRepresentation: der) else { return false }
            return key.isValidSignature(signature, for: Self.message(school: school, seat: seat, token: token, publicKeyPEM: publicKeyPEM))
        }
    }

    /// A new key for the seat and the request that goes with it.
    public static func makeRequest(school: String, seat: String, token: String) throws -> (request: Request, privateKeyPEM: String) {
        let key = P256.Signing.PrivateKey()
        let publicPEM = key.publicKey.pemRepresentation
        let signature = try key.signature(for: Request.message(school: school, seat: seat, token: token, publicKeyPEM: publicPEM))
        let request = Request(school: school, seat: seat, token: token, publicKeyPEM: publicPEM, proof: signature.derRepresentation.base64EncodedString())
        return (request, key.pemRepresentation)
    }

    /// Signs the seat certificate for an accepted request.
    public static func issue(_ request: Request, ca: SchoolCA, ipAddresses: [String] = []) throws -> IssuedCertificate {
        let key = try P256.Signing.PublicKey(pemRepresentation: request.publicKeyPEM)
        let identity = Identity(schoolID: ca.schoolID, kind: .seat(id: request.seat), displayName: request.seat)
        return try ca.issue(identity: identity, publicKey: key, ipAddresses: ipAddresses)
    }

    /// Writes the seat's identity folder from the key it made and the certificate it received.
    public static func saveIdentity(to directory: String, privateKeyPEM: String, certificatePEM: String, caPEM: String) throws -> IdentityBundle {
        let certificate = try Certificate(pemEncoded: certificatePEM)
        let identity = try CertificateIdentity.identity(of: certificate)
        let issued = IssuedCertificate(identity: identity, certificate: certificate, certificatePEM: certificatePEM, privateKeyPEM: privateKeyPEM)
        _ = try issued.save(to: directory, caCertificatePEM: caPEM, overwrite: true)
        return try IdentityBundle.load(from: directory)
    }

    /// A fresh one-time token: 20 random bytes in lowercase base32 (32 characters).
    public static func newToken() -> String {
        var rng = SystemRandomNumberGenerator()
        let alphabet = Array("abcdefghijklmnopqrstuvwxyz234567")
        var bits = 0, value = 0
        var out = ""
        for _ in 0..<20 {
            value = (value << 8) | Int(UInt8.random(in: 0...255, using: &rng))
            bits += 8
            while bits >= 5 {
                out.append(alphabet[(value >> (bits - 5)) & 31])
                bits -= 5
            }
        }
        return out
    }

    /// What the server keeps of a token: its SHA-256, never the token itself.
    public static func tokenHash(_ token: String) -> String {
        SHA256.hash(data: Data(token.utf8)).map { String(format: "%02x", $0) }.joined()
    }
}
