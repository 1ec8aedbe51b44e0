import Crypto
import Foundation
import SwiftASN1
import VigieModel
import X509

extension SchoolCA {
    /// Issues a certificate for `identity` with a freshly generated P-256 key.
    ///
    /// - Parameters:
    ///   - identity: who the certificate names; its school id must be this CA's.
    ///   - validityDays: defaults to 400 days for persons, 5 years for seats and
    ///     servers; never beyond the CA's own notAfter.
    ///   - ipAddresses: IPv4/IPv6 addresses added to the subjectAltName (seats and servers).
    ///   - now: the issuing time (tests pass a fixed one).
    public func issue(
        identity: Identity, validityDays: Int? = nil, ipAddresses: [String] = [], now: Date = Date()
    ) throws -> IssuedCertificate {
        let key = P256.Signing.PrivateKey()
        let issued = try issue(
            identity: identity, publicKey: key.publicKey, validityDays: validityDays,
            ipAddresses: ipAddresses, now: now)
        return IssuedCertificate(
            identity: issued.identity, certificate: issued.certificate,
            certificatePEM: issued.certificatePEM, privateKeyPEM: key.pemRepresentation)
    }

    /// Issues a certificate for `identity` binding a public key the holder
    /// generated itself (e.g. taken from a seat's certificate signing request).
    /// The result has no ``IssuedCertificate/privateKeyPEM``.
    public func issue(
        identity: Identity, publicKey: P256.Signing.PublicKey, validityDays: Int? = nil,
        ipAddresses: [String] = [], now: Date = Date()
    ) throws -> IssuedCertificate {
        try check(identity)
        let days = validityDays ?? CertificateLayout.defaultDays(for: identity.kind)
        try CertificateLayout.checkDays(days, what: "certificate")
        if !ipAddresses.isEmpty, identity.role != nil {
            throw PKIError(.invalidIdentity, "IP addresses are for seats and servers, not for a person's certificate")
        }
        var names: [GeneralName] = [.uniformResourceIdentifier(identity.uri)]
        if let dns = CertificateLayout.dnsName(for: identity.kind) { names.append(.dnsName(dns)) }
        for ip in ipAddresses {
            names.append(.ipAddress(ASN1OctetString(contentBytes: ArraySlice(try CertificateLayout.ipAddressBytes(ip)))))
        }

        let start = CertificateLayout.wholeSeconds(now.addingTimeInterval(-CertificateLayout.clockSkew))
        let wanted = CertificateLayout.wholeSeconds(now.addingTimeInterval(TimeInterval(days) * 86_400))
        let end = min(wanted, certificate.notValidAfter)
        guard end > now else {
            throw PKIError(.invalidValidity, "the school CA expired on \(certificate.notValidAfter); create a new CA")
        }
        let caKey = Certificate.PrivateKey(privateKey)
        let subjectKey = Certificate.PublicKey(publicKey)
        let caSKI = (try? certificate.extensions.subjectKeyIdentifier)??.keyIdentifier
            ?? SubjectKeyIdentifier(hash: certificate.publicKey).keyIdentifier
        do {
            let extensions = try Certificate.Extensions {
                Critical(BasicConstraints.notCertificateAuthority)
                Critical(KeyUsage(digitalSignature: true))
                try ExtendedKeyUsage(CertificateLayout.extendedKeyUsages(for: identity.kind))
                SubjectKeyIdentifier(hash: subjectKey)
                AuthorityKeyIdentifier(keyIdentifier: caSKI)
                SubjectAlternativeNames(names)
            }
            let cert = try Certificate(
                version: .v3,
                serialNumber: CertificateLayout.randomSerial(),
                publicKey: subjectKey,
                notValidBefore: start,
                notValidAfter: end,
                issuer: certificate.subject,
                subject: CertificateLayout.subject(for: identity, schoolName: schoolName),
                signatureAlgorithm: .ecdsaWithSHA256,
                extensions: extensions,
                issuerPrivateKey: caKey)
            return IssuedCertificate(
                identity: identity, certificate: cert,
                certificatePEM: try cert.serializeAsPEM().pemString, privateKeyPEM: nil)
        } catch let error as PKIError {
            throw error
        } catch {
            throw PKIError(.signingFailed, "cannot build the certificate for \(identity.uri): \(error)")
        }
    }

    private func check(_ identity: Identity) throws {
        guard identity.schoolID == schoolID else {
            throw PKIError(
                .invalidIdentity,
                "\(identity.uri) belongs to school \(identity.schoolID) but this CA is school \(schoolID)'s")
        }
        guard Identity.parse(uri: identity.uri, displayName: identity.displayName) != nil else {
            let what: String
            switch identity.kind {
            case .seat(let id): what = "seat id \"\(id)\""
            case .server(let name): what = "server name \"\(name)\""
            case .person(let login, _): what = "login \"\(login)\""
            }
            throw PKIError(
                .invalidIdentity, "\(what) is not valid: use 1 to 64 ASCII letters, digits, '-', '_' or '.'")
        }
        try CertificateLayout.checkName(identity.displayName, what: "display name", code: .invalidIdentity)
    }
}
