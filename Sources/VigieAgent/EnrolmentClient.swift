import Foundation
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
    ///   - deadlines: how long to wait for the connection, the handshake and the answer.
    public static func enrol(server host: String, port: Int, school: String, seat: String, token: String, caPEM: String,
                             identityDirectory: String,
                             deadlines: ClientDeadlines = .server(seconds: 10)) async throws -> IdentityBundle {
        let (request, privateKeyPEM) = try Enrolment.makeRequest(school: school, seat: seat, token: token)
        let transport = try ClientTransport(enrolmentCA: caPEM, deadlines: deadlines)
        let certificatePEM: String
        do {
            // The token goes only to a server of this school (checked in the handshake).
            certificatePEM = try await transport.call(host: host, port: port, expecting: .server(school: school)) { exchange in
                let (response, frame) = try await exchange.ask(Request(id: 1, feature: "pki.enroll", args: request.args))
                guard response.status == .ok else { throw Failure(reason: response.reason) }
                return String(decoding: frame.body, as: UTF8.self)
            }
        } catch let wire as WireError {
            throw Failure(reason: wire.reason)
        }
        let bundle = try Enrolment.saveIdentity(to: identityDirectory, privateKeyPEM: privateKeyPEM, certificatePEM: certificatePEM, caPEM: caPEM)
        guard bundle.identity.seatID == seat, bundle.identity.schoolID == school else {
            throw Failure(reason: Reason("tls.wrong-seat", ["got": bundle.identity.uri, "expected": seat]))
        }
        return bundle
    }
}
