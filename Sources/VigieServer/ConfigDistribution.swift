import Foundation
import NIOCore
import VigieConfig
import VigieModel
import VigiePKI
import VigieRegister
import VigieWire

extension RegisterServer {
    /// Where the server keeps the school config it distributes.
    var configBundlePath: String {
        URL(fileURLWithPath: options.storePath).deletingLastPathComponent().appendingPathComponent("config.signed.json").path
    }

    func currentBundle() -> SignedConfig? { try? SignedConfig.read(from: configBundlePath) }

    /// An admin publishes a new signed config; the seats fetch it.
    func publishConfig(_ request: Request, body: [UInt8], peer: Peer, _ out: NIOAsyncChannelOutboundWriter<Frame>) async throws {
        guard let bundle = try? JSONDecoder().decode(SignedConfig.self, from: Data(body)) else {
            throw Reason("protocol.malformed", ["detail": "the body is not a signed configuration"])
        }
        guard bundle.school == school, bundle.isSigned(byCA: options.identity.caCertificatePEM) else {
            try record("config.publish", args: ["version": String(bundle.version)], peer: peer, outcome: .refused, code: "config.unsigned")
            throw Reason("config.unsigned", ["version": String(bundle.version)])
        }
        let current = currentBundle()?.version ?? 0
        guard bundle.version > current else {
            try record("config.publish", args: ["version": String(bundle.version)], peer: peer, outcome: .refused, code: "config.older")
            throw Reason("config.older", ["version": String(bundle.version), "current": String(current)])
        }
        do {
            _ = try ConfigLoader.parse(text: bundle.toml, file: "config v\(bundle.version)")
        } catch {
            throw Reason("config.invalid", ["detail": error.description])
        }
        let data = try bundle.jsonData()
        let tmp = configBundlePath + ".tmp"
        try data.write(to: URL(fileURLWithPath: tmp))
        guard rename(tmp, configBundlePath) == 0 else { throw Reason("register.error", ["detail": "cannot save \(configBundlePath)"]) }
        try record("config.publish", args: ["version": String(bundle.version)], peer: peer, code: "config.published")
        try await reply(out, request.id, .ok, "config.published", ["version": String(bundle.version)])
    }

    /// A seat (or anyone of the school) asks for the current signed config.
    func fetchConfig(_ request: Request, _ out: NIOAsyncChannelOutboundWriter<Frame>) async throws {
        guard let data = FileManager.default.contents(atPath: configBundlePath),
              let bundle = try? JSONDecoder().decode(SignedConfig.self, from: data) else {
            return try await reply(out, request.id, .ok, "config.none")
        }
        try await reply(out, request.id, .ok, "config.bundle", ["version": String(bundle.version)], body: Array(data))
    }
}
