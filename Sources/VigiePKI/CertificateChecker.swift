@_spi(FixedExpiryValidationTime) import X509
import Foundation
import SwiftASN1

/// Offline verification of a certificate against a school CA, with
/// swift-certificates' `Verifier` and its RFC 5280 policy. Production TLS is
/// checked by NIOSSL; this serves tests and `vigie pki show`.
public enum CertificateChecker {
    /// The outcome of ``verify(leafDER:caDER:at:)``.
    public enum Result: Sendable, Equatable {
        /// The certificate chains to the CA and is valid at the given time.
        case valid
        /// It does not; `reason` says why in words a person can act on.
        case invalid(reason: String)

        /// Whether the result is ``valid``.
        public var isValid: Bool { self == .valid }
    }

    /// Verifies that `leafDER` was issued by `caDER` and that both are valid at `date`.
    public static func verify(leafDER: [UInt8], caDER: [UInt8], at date: Date = Date()) async -> Result {
        let leaf: Certificate
        let ca: Certificate
        do {
            leaf = try Certificate(derEncoded: leafDER)
        } catch {
            return .invalid(reason: "the certificate cannot be decoded: \(error)")
        }
        do {
            ca = try Certificate(derEncoded: caDER)
        } catch {
            return .invalid(reason: "the CA certificate cannot be decoded: \(error)")
        }
        return await verify(leaf: leaf, ca: ca, at: date)
    }

    /// Verifies decoded certificates; see ``verify(leafDER:caDER:at:)``.
    public static func verify(leaf: Certificate, ca: Certificate, at date: Date = Date()) async -> Result {
        var verifier = Verifier(rootCertificates: CertificateStore([ca])) {
            RFC5280Policy(fixedExpiryValidationTime: date)
        }
        let result = await verifier.validate(leaf: leaf, intermediates: CertificateStore())
        switch result {
        case .validCertificate(let chain):
            // A CA certificate trivially "validates" against itself; a leaf must not be the root.
            if Array(chain).count < 2 && leaf == ca {
                return .invalid(reason: "this is the CA certificate itself, not a certificate it issued")
            }
            return .valid
        case .couldNotValidate(let failures):
            return .invalid(reason: explain(leaf: leaf, ca: ca, at: date, failures: failures.map { String(describing: $0.policyFailureReason) }))
        }
    }

    /// Turns the verifier's failures into one sentence, checking the common
    /// cases first so the message names the real cause.
    private static func explain(leaf: Certificate, ca: Certificate, at date: Date, failures: [String]) -> String {
        let formatter = ISO8601DateFormatter()
        if leaf.issuer != ca.subject {
            return "issued by \"\(leaf.issuer)\", not by this CA (\"\(ca.subject)\"): the certificate belongs to another school or another CA"
        }
        if !ca.publicKey.isValidSignature(leaf.signature, for: leaf) {
            return "the signature does not match this CA's key: the certificate was signed by another CA with the same name"
        }
        if date > leaf.notValidAfter {
            return "expired on \(formatter.string(from: leaf.notValidAfter)); issue a new certificate"
        }
        if date < leaf.notValidBefore {
            return "not valid before \(formatter.string(from: leaf.notValidBefore)); check this machine's clock"
        }
        if date > ca.notValidAfter {
            return "the school CA expired on \(formatter.string(from: ca.notValidAfter)); create a new CA and re-issue"
        }
        if date < ca.notValidBefore {
            return "the school CA is not valid before \(formatter.string(from: ca.notValidBefore)); check this machine's clock"
        }
        if failures.isEmpty {
            return "the certificate does not chain to this CA (unhandled critical extension?)"
        }
        return "the certificate does not verify against this CA: " + failures.joined(separator: "; ")
    }
}
