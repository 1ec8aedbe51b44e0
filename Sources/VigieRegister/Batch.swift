import Crypto
import Foundation
import X509

/// Events of one seat shipped together, signed with the seat's key.
///
/// The signature (ECDSA P-256 with SHA-256, DER, base64) covers
/// `"vigie-batch-v1\n" + school + "\n" + seat + "\n" + lastSeq + "\n" + lastHash`:
/// the last hash commits to every event before it, so the server (or its
/// operator) cannot forge, edit or drop a seat's events without the seat's key.
public struct Batch: Codable, Sendable, Equatable {
    /// The school id.
    public var school: String
    /// The seat id.
    public var seat: String
    /// Consecutive events of the seat's chain, oldest first.
    public var events: [ChainedEvent]
    /// Base64 DER ECDSA P-256 signature of ``signedMessage``.
    public var signature: String

    /// A batch as received.
    public init(school: String, seat: String, events: [ChainedEvent], signature: String) {
        self.school = school
        self.seat = seat
        self.events = events
        self.signature = signature
    }

    /// The bytes signed for a batch ending at (`lastSeq`, `lastHash`).
    public static func signedMessage(school: String, seat: String, lastSeq: Int64, lastHash: String) -> [UInt8] {
        Array("vigie-batch-v1\n\(school)\n\(seat)\n\(lastSeq)\n\(lastHash)".utf8)
    }

    /// The bytes this batch's signature covers; nil for an empty batch.
    public var signedMessage: [UInt8]? {
        guard let last = events.last else { return nil }
        return Self.signedMessage(school: school, seat: seat, lastSeq: last.seq, lastHash: last.hash)
    }

    /// Signs `events` (not empty) with the seat's private key (PEM, P-256).
    public static func sign(school: String, seat: String, events: [ChainedEvent], privateKeyPEM: String) throws -> Batch {
        let key: P256.Signing.PrivateKey
        do {
            key = try P256.Signing.PrivateKey(pemRepresentation: privateKeyPEM)
        } catch {
            throw RegisterError(.invalidKey, "the seat's private key is not a P-256 PEM key: \(error)")
        }
        return try sign(school: school, seat: seat, events: events, key: key)
    }

    /// Signs `events` (not empty) with `key`.
    public static func sign(school: String, seat: String, events: [ChainedEvent], key: P256.Signing.PrivateKey) throws -> Batch {
        guard let last = events.last else { throw RegisterError(.invalidBatch, "a batch needs at least one event") }
        let message = signedMessage(school: school, seat: seat, lastSeq: last.seq, lastHash: last.hash)
        let signature = try key.signature(for: message)
        return Batch(school: school, seat: seat, events: events, signature: signature.derRepresentation.base64EncodedString())
    }

    /// Whether the signature is valid for `certificate`'s public key. Does not look
    /// at who the certificate names nor at the chain; ``RegisterStore/ingest(_:certificateDER:)`` does.
    public func verify(certificate: Certificate) -> Bool {
        guard let key = P256.Signing.PublicKey(certificate.publicKey) else { return false }
        return verify(publicKey: key)
    }

    /// Whether the signature is valid for `publicKey`.
    public func verify(publicKey: P256.Signing.PublicKey) -> Bool {
        guard let message = signedMessage else { return false }
        return Self.verify(signature: signature, message: message, publicKey: publicKey)
    }

    static func verify(signature: String, message: [UInt8], publicKey: P256.Signing.PublicKey) -> Bool {
        guard let der = Data(base64Encoded: signature),
            let sig = try? P256.Signing.ECDSASignature(derRepresentation: der)
        else { return false }
        return publicKey.isValidSignature(sig, for: message)
    }
}
