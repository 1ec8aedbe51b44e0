import Foundation
import NIOCore
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
/// connection per request, answers streamed to a file when they are big. The
/// connection and the handshake wait at most the config's `[server] timeout`;
/// each answer (each part of a streamed one) at most the call's `timeout`.
public struct ServerClient: Sendable {
    let server: ServerSettings
    let school: String
    let transport: ClientTransport

    public init(server: ServerSettings, school: String, identity: IdentityBundle) throws {
        self.server = server
        self.school = school
        self.transport = try ClientTransport(identity: identity, deadlines: .server(seconds: server.timeoutSeconds))
    }

    /// Sends `feature` with `args`; the parts of a streamed answer go to `output`
    /// (a file opened by the caller) or are collected in `body`. Throws a
    /// ``WireError`` (`net.timeout` when the server is silent past a deadline).
    public func call(_ feature: String, args: [String: String] = [:], body requestBody: [UInt8] = [], output: FileHandle? = nil,
                     timeout: Duration = .seconds(600)) async throws -> RegisterAnswer {
        // Nothing leaves before the peer is known to be this school's server (checked in the handshake).
        try await transport.call(host: server.host, port: server.port, expecting: .server(school: school), replyWithin: timeout) { exchange in
            try await exchange.send(.request(Request(id: 1, feature: feature, args: args), body: requestBody))
            var written = 0
            var body: [UInt8] = []
            while true {
                let frame = try await exchange.next()
                let response = try frame.decodeHeader(Response.self)
                if !frame.body.isEmpty {
                    if let output { try output.write(contentsOf: frame.body) } else { body += frame.body }
                    written += frame.body.count
                }
                if response.code == "register.part" { continue }
                return RegisterAnswer(status: response.status, reason: response.reason, bytesWritten: written, body: body)
            }
        }
    }
}
