import Foundation
import SwiftASN1
import VigieModel
import X509

/// Reads the Vigie identity out of a peer's certificate.
///
/// The subjectAltName URI (`vigie://…`) is authoritative; the subject CN gives
/// the display name; the subject's organizationIdentifier must name the same
/// school as the URI, and a person's title (if present) the same role.
public enum CertificateIdentity {
    /// Parses a DER certificate (as NIOSSL hands it over) into its identity,
    /// its serial (lowercase hex) and its notAfter.
    public static func parse(der: [UInt8]) throws -> (identity: Identity, serialHex: String, notAfter: Date) {
        let certificate: Certificate
        do {
            certificate = try Certificate(derEncoded: der)
        } catch {
            throw PKIError(.invalidCertificate, "the certificate cannot be decoded: \(error)")
        }
        return (try identity(of: certificate), CertificateLayout.serialHex(certificate.serialNumber), certificate.notValidAfter)
    }

    /// The identity named by `certificate`; `path` is only used in errors.
    public static func identity(of certificate: Certificate, path: String? = nil) throws -> Identity {
        let sans: SubjectAlternativeNames?
        do {
            sans = try certificate.extensions.subjectAlternativeNames
        } catch {
            throw PKIError(.missingIdentityURI, path: path, "the subjectAltName extension cannot be decoded: \(error)")
        }
        let uris = (sans ?? SubjectAlternativeNames()).compactMap { name -> String? in
            if case .uniformResourceIdentifier(let uri) = name, uri.hasPrefix("vigie:") { return uri }
            return nil
        }
        guard let uri = uris.first else {
            throw PKIError(
                .missingIdentityURI, path: path,
                "the certificate has no vigie:// URI in its subjectAltName; it was not issued by `vigie pki issue`")
        }
        guard uris.count == 1 else {
            throw PKIError(
                .ambiguousIdentityURI, path: path,
                "the certificate has \(uris.count) vigie:// URIs in its subjectAltName (\(uris.joined(separator: ", "))); exactly one is allowed")
        }
        let commonName = CertificateLayout.attribute(.RDNAttributeType.commonName, in: certificate.subject)
        guard var identity = Identity.parse(uri: uri, displayName: commonName ?? "") else {
            throw PKIError(
                .malformedIdentityURI, path: path,
                "the subjectAltName URI \"\(uri)\" is not a Vigie identity (vigie://SCHOOL/seat/ID, vigie://SCHOOL/server/NAME or vigie://SCHOOL/person/ROLE/LOGIN)")
        }
        if commonName?.isEmpty ?? true {
            identity.displayName = identity.seatID ?? identity.login ?? {
                if case .server(let name) = identity.kind { return name }
                return uri
            }()
        }
        guard let orgID = CertificateLayout.attribute(CertificateLayout.organizationIdentifierOID, in: certificate.subject) else {
            throw PKIError(
                .schoolMismatch, path: path,
                "the subject has no organizationIdentifier (2.5.4.97); a Vigie certificate names its school there (expected \(identity.schoolID))")
        }
        guard orgID == identity.schoolID else {
            throw PKIError(
                .schoolMismatch, path: path,
                "the subject's organizationIdentifier is \(orgID) but the subjectAltName URI \(uri) names school \(identity.schoolID); the certificate is inconsistent and is refused")
        }
        if let role = identity.role,
            let title = CertificateLayout.attribute(CertificateLayout.titleOID, in: certificate.subject),
            title != role.rawValue
        {
            throw PKIError(
                .roleMismatch, path: path,
                "the subject's title is \(title) but the subjectAltName URI \(uri) names role \(role.rawValue); the certificate is inconsistent and is refused")
        }
        return identity
    }

    /// Normalizes a serial written by an admin (`00:AB:CD…`, uppercase, `0x…`)
    /// to the lowercase hex Vigie prints, for comparing against revocation lists.
    public static func normalizedSerialHex(_ text: String) -> String? {
        CertificateLayout.normalizedSerialHex(text)
    }
}
