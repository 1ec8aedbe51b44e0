import Foundation
import NIOCore
import NIOPosix
import NIOSSL
import VigieModel
import VigiePKI

/// A register request's answer: the final response and the streamed body.
public struct RegisterAnswer: Sendable {
    public var status: SeatStatus
    public var reason: Reason
    /// Body bytes (for exports, the concatenation of the `register.part` frames).
    public var bytesWritten: Int
    public var body: [UInt8]
}

/// Talks to the school server with a person's (or a seat's) certificate: one
/// connection per request, answers streamed to a file when they are big.
public struct ServerClient: Sendable {
    let server: ServerSettings
    let school: String
    let tls: NIOSSLContext

    public init(server: ServerSettings, school: String, identity: IdentityBundle) throws {
        self.server = server
        self.school = school
        self.tls = try VigieTLS.clientContext(identity.tlsMaterial)
    }

    /// Sends `feature` with `args`; the parts of a streamed answer go to `output`
    /// (a file opened by the caller) or are collected in `body`.
    public func call(_ feature: String, args: [String: String] = [:], body requestBody: [UInt8] = [], output: FileHandle? = nil,
                     timeout: Duration = .seconds(600)) async throws -> RegisterAnswer {
        let connection = try await FramedConnection.open(host: server.host, port: server.port, tls: tls)
        let school = self.school
        return try await connection.channel.executeThenClose { inbound, outbound in
            let peer = try await connection.peer()
            guard case .server = peer.kind, peer.schoolID == school else {
                throw WireError("tls.wrong-server", ["got": peer.uri])
            }
            try await outbound.write(.request(Request(id: 1, feature: feature, args: args), body: requestBody))
            var written = 0
            var body: [UInt8] = []
            for try await frame in inbound {
                let response = try frame.decodeHeader(Response.self)
                if response.code == "register.part" {
                    if let output { try output.write(contentsOf: frame.body) } else { body += frame.body }
                    written += frame.body.count
                    continue
                }
                if !frame.body.isEmpty {
                    if let output { try output.write(contentsOf: frame.body) } else { body += frame.body }
                    written += frame.body.count
                }
                return RegisterAnswer(status: response.status, reason: response.reason, bytesWritten: written, body: body)
            }
            throw WireError("net.closed")
        }
    }
}
