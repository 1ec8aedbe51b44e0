import Crypto
import Foundation
import VigiePKI
import X509

/// A signed statement of how far every chain of a school went at one instant.
///
/// A hash chain alone cannot show that its newest events were cut off; a
/// checkpoint can: ``RegisterVerifier/verify(store:against:caCertificate:seats:)``
/// proves the register has only grown since. The server makes one every day and
/// at every export, and prints it in the export.
///
/// The signature (ECDSA P-256, SHA-256, DER, base64, by the server's key) covers
/// ``signedMessage``: `"vigie-checkpoint-v1\n" + school + "\n" + createdUTC + "\n"`
/// then, for each seat sorted by its UTF-8 bytes, `seat + " " + seq + " " + hash + "\n"`.
public struct Checkpoint: Codable, Sendable, Equatable {
    /// One chain's last link at the checkpoint.
    public struct SeatLink: Codable, Sendable, Equatable {
        /// The seat id, or `@server`.
        public var seat: String
        /// Its last seq.
        public var seq: Int64
        /// Its last hash.
        public var hash: String

        /// A chain's link at a checkpoint.
        public init(seat: String, seq: Int64, hash: String) {
            self.seat = seat
            self.seq = seq
            self.hash = hash
        }
    }

    /// The format version (1).
    public var version: Int
    /// The school id.
    public var school: String
    /// When it was made, UTC (`RegisterTime.utc`).
    public var createdUTC: String
    /// Every chain's last link, sorted by seat.
    public var seats: [SeatLink]
    /// Base64 DER ECDSA P-256 signature of ``signedMessage``.
    public var signature: String
    /// The signer's certificate (PEM), normally the school server's.
    public var certificate: String

    /// A checkpoint as read.
    public init(version: Int = 1, school: String, createdUTC: String, seats: [SeatLink], signature: String, certificate: String) {
        self.version = version
        self.school = school
        self.createdUTC = createdUTC
        self.seats = seats
        self.signature = signature
        self.certificate = certificate
    }

    /// The bytes the signature covers.
    public var signedMessage: [UInt8] {
        var text = "vigie-checkpoint-v1\n\(school)\n\(createdUTC)\n"
        for link in seats.sorted(by: { $0.seat.utf8.lexicographicallyPrecedes($1.seat.utf8) }) {
            text += "\(link.seat) \(link.seq) \(link.hash)\n"
        }
        return Array(text.utf8)
    }

    /// Reads the last link of every chain of `school`, signs them with the server's
    /// key, keeps the checkpoint in the store and returns it.
    public static func make(
        store: any RegisterStore, school: String, privateKeyPEM: String, certificatePEM: String, date: Date = Date()
    ) throws -> Checkpoint {
        let key: P256.Signing.PrivateKey
        do {
            key = try P256.Signing.PrivateKey(pemRepresentation: privateKeyPEM)
        } catch {
            throw RegisterError(.invalidKey, "the server's private key is not a P-256 PEM key: \(error)")
        }
        let certificate: Certificate
        do {
            certificate = try Certificate(pemEncoded: certificatePEM)
        } catch {
            throw RegisterError(.invalidKey, "the server's certificate cannot be read: \(error)")
        }
        guard Certificate.PublicKey(key.publicKey) == certificate.publicKey else {
            throw RegisterError(.invalidKey, "the private key does not belong to the certificate")
        }
        let links = try store.lastLinks(school: school)
            .map { SeatLink(seat: $0.seat, seq: $0.seq, hash: $0.hash) }
            .sorted { $0.seat.utf8.lexicographicallyPrecedes($1.seat.utf8) }
        var checkpoint = Checkpoint(
            school: school, createdUTC: RegisterTime.utc(date), seats: links, signature: "", certificate: certificatePEM)
        checkpoint.signature = try key.signature(for: checkpoint.signedMessage).derRepresentation.base64EncodedString()
        try store.saveCheckpoint(checkpoint)
        return checkpoint
    }

    /// The signer's certificate, decoded.
    public var signerCertificate: Certificate? { try? Certificate(pemEncoded: certificate) }

    /// Whether the signature is valid for the enclosed certificate and, when
    /// `caCertificate` is given, that certificate was signed by it and names a
    /// server of this checkpoint's school.
    public func verifySignature(caCertificate: Certificate? = nil) -> Bool {
        guard version == 1, let cert = signerCertificate, let key = P256.Signing.PublicKey(cert.publicKey) else { return false }
        guard Batch.verify(signature: signature, message: signedMessage, publicKey: key) else { return false }
        if let caCertificate {
            guard caCertificate.subject == cert.issuer, caCertificate.publicKey.isValidSignature(cert.signature, for: cert),
                let identity = try? CertificateIdentity.identity(of: cert), identity.schoolID == school,
                case .server = identity.kind
            else { return false }
        }
        return true
    }

    /// Pretty JSON, keys sorted.
    public func jsonString() throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return String(decoding: try encoder.encode(self), as: UTF8.self)
    }

    /// Reads a checkpoint's JSON.
    public init(json: String) throws {
        do {
            self = try JSONDecoder().decode(Checkpoint.self, from: Data(json.utf8))
        } catch {
            throw RegisterError(.invalidCheckpoint, "not a Vigie checkpoint: \(error)")
        }
    }

    /// Writes the checkpoint's JSON to `path` (mode 0644: it holds no secret).
    public func write(to path: String) throws {
        do {
            try Data((try jsonString() + "\n").utf8).write(to: URL(fileURLWithPath: path), options: .atomic)
        } catch let error as RegisterError {
            throw error
        } catch {
            throw RegisterError(.fileAccess, "\(path): cannot write the checkpoint: \(error)")
        }
    }

    /// Reads a checkpoint file.
    public static func read(from path: String) throws -> Checkpoint {
        let data: Data
        do {
            data = try Data(contentsOf: URL(fileURLWithPath: path))
        } catch {
            throw RegisterError(.fileAccess, "\(path): cannot read: \(error)")
        }
        do {
            return try Checkpoint(json: String(decoding: data, as: UTF8.self))
        } catch let error as RegisterError {
            throw RegisterError(error.code, "\(path): \(error.message)")
        }
    }
}
