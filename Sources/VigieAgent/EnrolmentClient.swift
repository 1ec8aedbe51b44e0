import Foundation
import NIOCore
import NIOPosix
import NIOSSL
import VigieModel
import VigiePKI
import VigieWire

/// Enrols this seat with the school server: makes the seat's key here (it never
/// leaves the seat), sends the public key with a one-time token, and writes the
/// identity folder with the certificate the server signed.
public enum EnrolmentClient {
    public struct Failure: Error, CustomStringConvertible {
        public let reason: Reason
        public var description: String { Catalog.text(reason, .en) }
    }

    /// - Parameters:
    ///   - caPEM: the school CA certificate installed with the seat: the server is checked against it.
    public static func enrol(server host: String, port: Int, school: String, seat: String, token: String, caPEM: String,
                             identityDirectory: String) async throws -> IdentityBundle {
        let (request, privateKeyPEM) = try Enrolment.makeRequest(school: school, seat: seat, token: token)
        let tls = try VigieTLS.enrolmentClientContext(caPEM: caPEM)
        let connection = try await FramedConnection.open(host: host, port: port, tls: tls, connectTimeout: .seconds(10))
        let certificatePEM: String = try await connection.channel.executeThenClose { inbound, outbound in
            // The token goes only to a server of this school.
            let peer = try await connection.peer()
            guard case .server = peer.kind, peer.schoolID == school else {
                throw Failure(reason: Reason("tls.wrong-server", ["got": peer.uri]))
            }
            try await outbound.write(.request(Request(id: 1, feature: "pki.enroll", args: request.args)))
            for try await frame in inbound {
                let response = try frame.decodeHeader(Response.self)
                guard response.status == .ok else { throw Failure(reason: response.reason) }
                return String(decoding: frame.body, as: UTF8.self)
            }
            throw Failure(reason: Reason("net.closed"))
        }
        let bundle = try Enrolment.saveIdentity(to: identityDirectory, privateKeyPEM: privateKeyPEM, certificatePEM: certificatePEM, caPEM: caPEM)
        guard bundle.identity.seatID == seat, bundle.identity.schoolID == school else {
            throw Failure(reason: Reason("tls.wrong-seat", ["got": bundle.identity.uri, "expected": seat]))
        }
        return bundle
    }
}
