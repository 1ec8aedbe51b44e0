/// An error from the school PKI: a stable ``code`` for programs and a message a
/// person can act on. When the problem is in a file, ``path`` names it and the
/// description starts with it (`/etc/vigie/identity/key.pem: …`).
public struct PKIError: Error, Sendable, CustomStringConvertible {
    /// A stable, machine-readable error code (`pki.key-permissions`, …).
    public struct Code: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
        /// The code's text, stable across releases.
        public let rawValue: String
        /// Wraps a code's text.
        public init(rawValue: String) { self.rawValue = rawValue }
        /// The code's text.
        public var description: String { rawValue }

        /// A CA already exists where a new one was to be written.
        public static let caExists = Code(rawValue: "pki.ca-exists")
        /// A file that would be overwritten already exists.
        public static let fileExists = Code(rawValue: "pki.file-exists")
        /// A file that was expected is missing.
        public static let fileMissing = Code(rawValue: "pki.file-missing")
        /// A file could not be read or written (permissions, I/O error, not a regular file).
        public static let fileAccess = Code(rawValue: "pki.file-access")
        /// A private key file is readable or writable by group or others.
        public static let keyPermissions = Code(rawValue: "pki.key-permissions")
        /// A PEM file does not hold what it should.
        public static let invalidPEM = Code(rawValue: "pki.invalid-pem")
        /// A certificate could not be decoded.
        public static let invalidCertificate = Code(rawValue: "pki.invalid-certificate")
        /// A private key could not be decoded, or is not a P-256 key.
        public static let invalidKey = Code(rawValue: "pki.invalid-key")
        /// A private key does not belong to the certificate next to it.
        public static let keyMismatch = Code(rawValue: "pki.key-mismatch")
        /// A certificate named as a CA is not a Vigie school CA.
        public static let notACA = Code(rawValue: "pki.not-a-ca")
        /// A certificate has no `vigie://` URI in its subjectAltName.
        public static let missingIdentityURI = Code(rawValue: "pki.missing-identity-uri")
        /// A certificate's `vigie://` URI is malformed.
        public static let malformedIdentityURI = Code(rawValue: "pki.malformed-identity-uri")
        /// A certificate carries more than one `vigie://` URI.
        public static let ambiguousIdentityURI = Code(rawValue: "pki.ambiguous-identity-uri")
        /// The subject's organizationIdentifier is missing or disagrees with the URI's school id.
        public static let schoolMismatch = Code(rawValue: "pki.school-mismatch")
        /// A person certificate's subject title disagrees with the URI's role.
        public static let roleMismatch = Code(rawValue: "pki.role-mismatch")
        /// An identity cannot be put in a certificate (bad id, login, display name, other school).
        public static let invalidIdentity = Code(rawValue: "pki.invalid-identity")
        /// A school id or school name cannot be used for a CA.
        public static let invalidSchool = Code(rawValue: "pki.invalid-school")
        /// A validity period in days is out of range.
        public static let invalidValidity = Code(rawValue: "pki.invalid-validity")
        /// An IP address given for a subjectAltName could not be parsed.
        public static let invalidIPAddress = Code(rawValue: "pki.invalid-ip-address")
        /// Building or signing a certificate failed.
        public static let signingFailed = Code(rawValue: "pki.signing-failed")
    }

    /// The stable code of this error.
    public let code: Code
    /// The file the error is about, if any.
    public let path: String?
    /// What is wrong and, where possible, what to do about it.
    public let message: String

    /// Creates an error.
    public init(_ code: Code, path: String? = nil, _ message: String) {
        self.code = code
        self.path = path
        self.message = message
    }

    /// `path: message`, or the message alone.
    public var description: String {
        if let path { return "\(path): \(message)" }
        return message
    }
}

#if canImport(Foundation)
import Foundation

extension PKIError: LocalizedError {
    /// The same text as ``description``.
    public var errorDescription: String? { description }
}
#endif
