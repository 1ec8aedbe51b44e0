import Foundation
import SwiftASN1
import VigieModel
import X509

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Where each Vigie field sits in a certificate. This layout is a contract that
/// the agent, the controller and the server rely on; `docs/PKI.md` has the table.
public enum CertificateLayout {
    /// X.520 organizationIdentifier (2.5.4.97): the school id (UAI).
    public static let organizationIdentifierOID: ASN1ObjectIdentifier = [2, 5, 4, 97]
    /// X.520 title (2.5.4.12): a person's role (`teacher`, `librarian`, `head`, `admin`).
    public static let titleOID: ASN1ObjectIdentifier = [2, 5, 4, 12]
    /// Default validity of a person's certificate, in days.
    public static let defaultPersonDays = 400
    /// Default validity of a seat's or server's certificate, in days (5 years).
    public static let defaultMachineDays = 5 * 365
    /// Default validity of a school CA, in days (10 years).
    public static let defaultCADays = 10 * 365
    /// Longest validity accepted for any certificate, in days (30 years).
    public static let maximumDays = 30 * 365
    /// How far notBefore is set in the past, to tolerate clocks that run late.
    public static let clockSkew: TimeInterval = 5 * 60
    /// Longest display name or school name accepted, in characters.
    public static let maximumNameLength = 64

    /// The default validity for an identity's kind.
    public static func defaultDays(for kind: Identity.Kind) -> Int {
        if case .person = kind { return defaultPersonDays }
        return defaultMachineDays
    }

    /// The extended key usages an identity's certificate carries: seats and the
    /// server are TLS servers and clients, persons are TLS clients only.
    public static func extendedKeyUsages(for kind: Identity.Kind) -> [ExtendedKeyUsage.Usage] {
        if case .person = kind { return [.clientAuth] }
        return [.serverAuth, .clientAuth]
    }

    /// The DNS name put in the subjectAltName of a seat or server: its id or
    /// name lowercased, when that is a valid host name; nil for persons.
    public static func dnsName(for kind: Identity.Kind) -> String? {
        let raw: String
        switch kind {
        case .seat(let id): raw = id
        case .server(let name): raw = name
        case .person: return nil
        }
        let name = raw.lowercased()
        return isValidHostName(name) ? name : nil
    }

    /// Letters, digits and `-` in dot-separated labels of 1 to 63 characters,
    /// no label starting or ending with `-`, 253 characters at most.
    public static func isValidHostName(_ name: String) -> Bool {
        guard !name.isEmpty, name.utf8.count <= 253 else { return false }
        for label in name.split(separator: ".", omittingEmptySubsequences: false) {
            guard (1...63).contains(label.utf8.count), label.first != "-", label.last != "-" else { return false }
            guard label.utf8.allSatisfy({ c in
                (c >= 0x30 && c <= 0x39) || (c >= 0x61 && c <= 0x7A) || (c >= 0x41 && c <= 0x5A) || c == 0x2D
            }) else { return false }
        }
        return true
    }

    /// Parses an IPv4 or IPv6 address into its network-order bytes.
    public static func ipAddressBytes(_ text: String) throws -> [UInt8] {
        var v4 = in_addr()
        if inet_pton(AF_INET, text, &v4) == 1 {
            return withUnsafeBytes(of: &v4) { Array($0) }
        }
        var v6 = in6_addr()
        if inet_pton(AF_INET6, text, &v6) == 1 {
            return withUnsafeBytes(of: &v6) { Array($0) }
        }
        throw PKIError(.invalidIPAddress, "\"\(text)\" is not an IPv4 or IPv6 address")
    }

    /// Formats the bytes of an iPAddress subjectAltName entry.
    public static func ipAddressText(_ bytes: [UInt8]) -> String {
        if bytes.count == 4 { return bytes.map(String.init).joined(separator: ".") }
        if bytes.count == 16 {
            var addr = in6_addr()
            withUnsafeMutableBytes(of: &addr) { $0.copyBytes(from: bytes) }
            var buf = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN))
            if inet_ntop(AF_INET6, &addr, &buf, socklen_t(buf.count)) != nil {
                return String(decoding: buf.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            }
        }
        return bytes.map { String(format: "%02x", $0) }.joined()
    }

    /// The subject of an identity's certificate: O = school name,
    /// organizationIdentifier = school id, title = role (persons), CN = display name.
    public static func subject(for identity: Identity, schoolName: String) -> DistinguishedName {
        var rdns: [RelativeDistinguishedName] = [
            RelativeDistinguishedName(.init(type: .RDNAttributeType.organizationName, utf8String: schoolName)),
            RelativeDistinguishedName(.init(type: organizationIdentifierOID, utf8String: identity.schoolID)),
        ]
        if let role = identity.role {
            rdns.append(RelativeDistinguishedName(.init(type: titleOID, utf8String: role.rawValue)))
        }
        rdns.append(RelativeDistinguishedName(.init(type: .RDNAttributeType.commonName, utf8String: identity.displayName)))
        return DistinguishedName(rdns)
    }

    /// The subject of a school CA: O = school name, organizationIdentifier =
    /// school id, CN = `Vigie CA — <school name>`.
    public static func caSubject(schoolID: String, schoolName: String) -> DistinguishedName {
        DistinguishedName([
            RelativeDistinguishedName(.init(type: .RDNAttributeType.organizationName, utf8String: schoolName)),
            RelativeDistinguishedName(.init(type: organizationIdentifierOID, utf8String: schoolID)),
            RelativeDistinguishedName(.init(type: .RDNAttributeType.commonName, utf8String: "Vigie CA — \(schoolName)")),
        ])
    }

    /// The subjectAltName URI of a school CA: `vigie://<school>/ca`.
    public static func caURI(schoolID: String) -> String { "vigie://\(schoolID)/ca" }

    /// The first value of the attribute `oid` in `name`, as text.
    public static func attribute(_ oid: ASN1ObjectIdentifier, in name: DistinguishedName) -> String? {
        for rdn in name {
            for attr in rdn where attr.type == oid {
                return String(attr.value)
            }
        }
        return nil
    }

    /// Lowercase hex of a serial number's big-endian bytes.
    public static func serialHex(_ serial: Certificate.SerialNumber) -> String {
        serial.bytes.map { byte in
            let s = String(byte, radix: 16)
            return s.count == 1 ? "0" + s : s
        }.joined()
    }

    /// Normalizes a serial as an admin might write it (`00:AB:cd…`, `0xABCD`)
    /// to the form Vigie prints: lowercase hex, no separators, no leading zero
    /// bytes. Returns nil when it is not hex.
    public static func normalizedSerialHex(_ text: String) -> String? {
        CertificateSerial.normalized(text)
    }

    /// A fresh random serial: 20 bytes, positive, with no leading zero byte.
    static func randomSerial() -> Certificate.SerialNumber {
        var rng = SystemRandomNumberGenerator()
        var bytes = (0..<20).map { _ in UInt8.random(in: 0...255, using: &rng) }
        bytes[0] = (bytes[0] & 0x7F) | 0x40
        return Certificate.SerialNumber(bytes: bytes)
    }

    /// `date` truncated to whole seconds, as certificates store it.
    static func wholeSeconds(_ date: Date) -> Date {
        Date(timeIntervalSince1970: date.timeIntervalSince1970.rounded(.down))
    }

    static func checkName(_ name: String, what: String, code: PKIError.Code) throws {
        guard !name.trimmingCharacters(in: .whitespaces).isEmpty else {
            throw PKIError(code, "\(what) is empty")
        }
        guard name.count <= maximumNameLength else {
            throw PKIError(code, "\(what) \"\(name)\" is longer than \(maximumNameLength) characters")
        }
        guard !name.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) else {
            throw PKIError(code, "\(what) \"\(name)\" contains control characters")
        }
    }

    static func checkDays(_ days: Int, what: String) throws {
        guard (1...maximumDays).contains(days) else {
            throw PKIError(.invalidValidity, "\(what) validity of \(days) days is out of range (1 to \(maximumDays))")
        }
    }
}
