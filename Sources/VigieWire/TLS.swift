import NIOCore
import NIOPosix
import NIOSSL
import NIOTLS
import VigieModel

/// The PEM material of one identity, as NIOSSL needs it.
public struct TLSMaterial: Sendable {
    public var certificatePEM: String
    public var privateKeyPEM: String
    public var caPEM: String

    public init(certificatePEM: String, privateKeyPEM: String, caPEM: String) {
        self.certificatePEM = certificatePEM
        self.privateKeyPEM = privateKeyPEM
        self.caPEM = caPEM
    }
}

/// Mutual TLS 1.3 contexts. Both sides present a certificate signed by the school
/// CA and verify the other's chain against that CA only; identities are then
/// read from the certificate's subjectAltName URI (no host names: seats are
/// reached by address and named by their certificate).
public enum VigieTLS {
    /// How long a listener's side waits for the peer's close_notify when it closes
    /// a connection (NIOSSL's default is 5 s). A peer that answers does so within
    /// milliseconds on a school's network; one that does not (its buffers full, a
    /// laptop asleep) is let go after this, so a stream cut off for silence ends
    /// in the register within about a second of the decision.
    public static let listenerShutdownTimeout = TimeAmount.seconds(1)

    /// The context of the school server when it also enrols new seats: a client
    /// may come without a certificate (a seat with a one-time token); one that
    /// presents a certificate must present a valid one of the school CA.
    public static func serverContextAllowingEnrolment(_ m: TLSMaterial) throws -> NIOSSLContext {
        var config = TLSConfiguration.makeServerConfigurationWithMTLS(
            certificateChain: try NIOSSLCertificate.fromPEMBytes(Array(m.certificatePEM.utf8)).map { .certificate($0) },
            privateKey: .privateKey(try NIOSSLPrivateKey(bytes: Array(m.privateKeyPEM.utf8), format: .pem)),
            trustRoots: .certificates(try NIOSSLCertificate.fromPEMBytes(Array(m.caPEM.utf8)))
        )
        config.minimumTLSVersion = .tlsv13
        config.certificateVerification = .optionalVerification
        config.shutdownTimeout = listenerShutdownTimeout
        return try NIOSSLContext(configuration: config)
    }

    /// The context of a seat that has no certificate yet (enrolment): it checks the
    /// server against the school CA it was installed with, and presents nothing.
    public static func enrolmentClientContext(caPEM: String) throws -> NIOSSLContext {
        var config = TLSConfiguration.makeClientConfiguration()
        config.minimumTLSVersion = .tlsv13
        config.certificateVerification = .noHostnameVerification
        config.trustRoots = .certificates(try NIOSSLCertificate.fromPEMBytes(Array(caPEM.utf8)))
        return try NIOSSLContext(configuration: config)
    }

    /// The context of a seat's listener: client certificates are required.
    public static func serverContext(_ m: TLSMaterial) throws -> NIOSSLContext {
        var config = TLSConfiguration.makeServerConfigurationWithMTLS(
            certificateChain: try NIOSSLCertificate.fromPEMBytes(Array(m.certificatePEM.utf8)).map { .certificate($0) },
            privateKey: .privateKey(try NIOSSLPrivateKey(bytes: Array(m.privateKeyPEM.utf8), format: .pem)),
            trustRoots: .certificates(try NIOSSLCertificate.fromPEMBytes(Array(m.caPEM.utf8)))
        )
        config.minimumTLSVersion = .tlsv13
        config.certificateVerification = .noHostnameVerification
        config.shutdownTimeout = listenerShutdownTimeout
        return try NIOSSLContext(configuration: config)
    }

    /// The context of a console or of an agent talking to the school server.
    public static func clientContext(_ m: TLSMaterial) throws -> NIOSSLContext {
        var config = TLSConfiguration.makeClientConfiguration()
        config.minimumTLSVersion = .tlsv13
        config.certificateVerification = .noHostnameVerification
        config.trustRoots = .certificates(try NIOSSLCertificate.fromPEMBytes(Array(m.caPEM.utf8)))
        config.certificateChain = try NIOSSLCertificate.fromPEMBytes(Array(m.certificatePEM.utf8)).map { .certificate($0) }
        config.privateKey = .privateKey(try NIOSSLPrivateKey(bytes: Array(m.privateKeyPEM.utf8), format: .pem))
        return try NIOSSLContext(configuration: config)
    }
}

import VigiePKI

extension IdentityBundle {
    /// The PEM material NIOSSL needs for this identity.
    public var tlsMaterial: TLSMaterial {
        TLSMaterial(certificatePEM: certificatePEM, privateKeyPEM: privateKeyPEM, caPEM: caCertificatePEM)
    }
}
