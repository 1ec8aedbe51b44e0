import Foundation
import NIOConcurrencyHelpers
import Logging
import VigieConfig
import VigieModel
import VigieSeatState
import VigiePKI
import VigieRegister
import VigieWire

/// The configuration the seat enforces now, and its version (0: the local file
/// it was started with). Policy decisions read it on every request.
final class LiveConfig: Sendable {
    private let state: NIOLockedValueBox<(config: SchoolConfig, version: Int)>

    init(_ config: SchoolConfig, version: Int = 0) {
        state = NIOLockedValueBox((config, version))
    }

    var current: (config: SchoolConfig, version: Int) { state.withLockedValue { $0 } }

    func set(_ config: SchoolConfig, version: Int) {
        state.withLockedValue { $0 = (config, version) }
    }
}

/// Keeps the seat's policy in step with the school: fetches the signed config
/// from the server at start and every `configPollSeconds`, accepts only one
/// signed by the school CA, of this school, newer than the one in force, that
/// still names this seat; keeps the last good one on disk and enforces it when
/// the server is away. What it accepts or refuses goes into the journal.
final class ConfigFollower: Sendable {
    let live: LiveConfig
    let server: ServerSettings
    let client: ServerClient
    let caPEM: String
    let school: String
    let seat: String
    let lastGoodPath: String
    let journal: @Sendable (_ feature: String, _ outcome: RegisterEvent.Outcome, _ code: String, _ args: [String: String]) -> Void
    let logger: Logger
    private let refused = RefusedVersions()

    init(live: LiveConfig, server: ServerSettings, identity: IdentityBundle, school: String, seat: String, stateDir: String,
         logger: Logger, journal: @escaping @Sendable (String, RegisterEvent.Outcome, String, [String: String]) -> Void) throws {
        self.live = live
        self.server = server
        self.client = try ServerClient(server: server, school: school, identity: identity)
        self.caPEM = identity.caCertificatePEM
        self.school = school
        self.seat = seat
        self.lastGoodPath = URL(fileURLWithPath: stateDir).appendingPathComponent("config.signed.json").path
        self.logger = logger
        self.journal = journal
    }

    /// The last good signed config kept on disk, if it is newer than the local file.
    func loadLastGood() {
        guard FileManager.default.fileExists(atPath: lastGoodPath) else { return }
        do {
            let bundle = try SignedConfig.read(from: lastGoodPath)
            if case .refused(let code) = consider(bundle, save: false) {
                logger.error("the kept configuration is not usable", metadata: ["file": "\(lastGoodPath)", "code": "\(code)"])
            }
        } catch {
            logger.error("the kept configuration is unreadable", metadata: ["file": "\(lastGoodPath)", "error": "\(error)"])
        }
    }

    /// Fetches at start and every `configPollSeconds`; a fetch that fails
    /// (server away or silent past `[server] timeout`) is tried again at the next poll.
    func run() async {
        while !Task.isCancelled {
            await fetchOnce()
            try? await Task.sleep(for: .milliseconds(Int64(server.configPollSeconds * 1000)))
        }
    }

    func fetchOnce() async {
        do {
            let answer = try await client.call("config.fetch", timeout: .milliseconds(Int64(server.timeoutSeconds * 1000)))
            guard answer.status == .ok, answer.reason.code == "config.bundle" else { return }
            let bundle = try JSONDecoder().decode(SignedConfig.self, from: Data(answer.body))
            _ = consider(bundle, save: true)
        } catch {
            // The server is away: the seat keeps enforcing what it has, and asks again at the next poll.
            logger.warning("config fetch failed", metadata: [
                "server": "\(server.address)", "error": "\(error)", "retry_in_s": "\(server.configPollSeconds)",
            ])
        }
    }

    enum Verdict: Equatable {
        case applied
        case unchanged
        case refused(String)
    }

    /// Checks and applies a signed config.
    @discardableResult
    func consider(_ bundle: SignedConfig, save: Bool) -> Verdict {
        let current = live.current.version
        if bundle.version == current { return .unchanged }
        let verdict: Verdict
        var parsed: SchoolConfig?
        if bundle.school != school || !bundle.isSigned(byCA: caPEM) {
            verdict = .refused("config.unsigned")
        } else if bundle.version < current {
            verdict = .refused("config.older")
        } else {
            do {
                let config = try ConfigLoader.parse(text: bundle.toml, file: "config v\(bundle.version)")
                if config.school.id != school {
                    verdict = .refused("config.unsigned")
                } else if config.seat(seat) == nil {
                    verdict = .refused("config.seat-missing")
                } else {
                    parsed = config
                    verdict = .applied
                }
            } catch {
                verdict = .refused("config.invalid")
            }
        }
        let args = ["version": String(bundle.version), "current": String(current)]
        switch verdict {
        case .applied:
            live.set(parsed!, version: bundle.version)
            if save {
                do { try SmallFile.writeDurably(Array(try bundle.jsonData()), to: lastGoodPath) } catch {
                    logger.error("cannot keep the configuration", metadata: ["file": "\(lastGoodPath)", "error": "\(error)"])
                }
            }
            logger.notice("configuration applied", metadata: ["version": "\(bundle.version)"])
            journal("config.apply", .done, "config.applied", args)
        case .refused(let code):
            if refused.firstTime(bundle.version, code) {
                logger.warning("configuration refused", metadata: ["version": "\(bundle.version)", "code": "\(code)"])
                journal("config.apply", .refused, code, args)
            }
        case .unchanged:
            break
        }
        return verdict
    }
}

/// Remembers refusals so a bad config on the server is journaled once, not every poll.
final class RefusedVersions: Sendable {
    private let seen = NIOLockedValueBox(Set<String>())
    func firstTime(_ version: Int, _ code: String) -> Bool {
        seen.withLockedValue { $0.insert("\(version) \(code)").inserted }
    }
}
