import Foundation
import VigieModel

/// What happened, as the register keeps it: the content of one event.
///
/// The content is hashed through its canonical encoding (``CanonicalJSON``,
/// `docs/REGISTER.md`); the chain (``ChainedEvent``) links the hash of the
/// content, so the content can be purged later while the chain and the dates
/// stay provable. Never put screenshot pixels here: only their size and, for
/// `screenshot.saved`, where the file went.
public struct RegisterEvent: Codable, Sendable, Equatable {
    /// How a decision ended.
    public enum Outcome: String, Codable, Sendable, CaseIterable {
        /// The seat (or the server) did it.
        case done
        /// The policy said no; ``RegisterEvent/code`` says why.
        case refused
        /// It was allowed but did not work; ``RegisterEvent/code`` says why.
        case failed
        /// The seat recorded that it is about to do it, before doing it: the event
        /// that says how it ended follows and names this one (`params.started`, its seq).
        /// A `started` event that no later event names means the seat stopped in
        /// between (crash, power cut): it may or may not have been done.
        case started
    }

    /// The chain of the school server itself (Wake-on-LAN, exports, purges, access requests).
    public static let serverSeat = "@server"

    /// The school id (UAI).
    public var school: String
    /// The seat id, or ``serverSeat`` for the server's own chain.
    public var seat: String
    /// UTC instant, `2026-11-23T09:02:00.123Z` (``RegisterTime/utc(_:)``).
    public var timeUTC: String
    /// The same instant in the room's time zone, `2026-11-23T10:02:00.123+01:00`.
    public var timeLocal: String
    /// The room id, when known.
    public var room: String?
    /// Who asked: the identity URI of the caller's certificate (`vigie://…/person/teacher/mmartin`).
    public var actor: String?
    /// The caller's display name (certificate CN).
    public var actorName: String?
    /// The caller's role (`teacher`, `librarian`, `head`, `admin`).
    public var actorRole: String?
    /// What was asked: a ``Feature`` raw value (`lock`, `message`, …) or a server
    /// action (`wake-on-lan`, `register.export`, `register.purge`, `register.subject`,
    /// `screenshot.saved`).
    public var feature: String
    /// The arguments that matter: message text, command line, screenshot size (`width`,
    /// `height`, `bytes`), for `screenshot.saved` the `file` it went to.
    public var args: [String: String]
    /// How it ended.
    public var outcome: Outcome
    /// A stable code (`ok`, `policy.window`, `screen.no-display`, …).
    public var code: String
    /// The code's parameters, for the console's words (``VigieModel/Catalog``).
    public var params: [String: String]
    /// The login of the user at the seat, when known.
    public var sessionUser: String?
    /// The version of the school config the seat enforced.
    public var configVersion: String?

    /// An event; `timeUTC` and `timeLocal` come from `date` and the room's `timeZone`.
    public init(
        school: String, seat: String, date: Date, timeZone: TimeZone = .current,
        room: String? = nil, actor: String? = nil, actorName: String? = nil, actorRole: String? = nil,
        feature: String, args: [String: String] = [:], outcome: Outcome, code: String = "ok",
        params: [String: String] = [:], sessionUser: String? = nil, configVersion: String? = nil
    ) {
        self.init(
            school: school, seat: seat, timeUTC: RegisterTime.utc(date), timeLocal: RegisterTime.local(date, timeZone),
            room: room, actor: actor, actorName: actorName, actorRole: actorRole, feature: feature, args: args,
            outcome: outcome, code: code, params: params, sessionUser: sessionUser, configVersion: configVersion)
    }

    /// An event with its times already written.
    public init(
        school: String, seat: String, timeUTC: String, timeLocal: String,
        room: String? = nil, actor: String? = nil, actorName: String? = nil, actorRole: String? = nil,
        feature: String, args: [String: String] = [:], outcome: Outcome, code: String = "ok",
        params: [String: String] = [:], sessionUser: String? = nil, configVersion: String? = nil
    ) {
        self.school = school
        self.seat = seat
        self.timeUTC = timeUTC
        self.timeLocal = timeLocal
        self.room = room
        self.actor = actor
        self.actorName = actorName
        self.actorRole = actorRole
        self.feature = feature
        self.args = args
        self.outcome = outcome
        self.code = code
        self.params = params
        self.sessionUser = sessionUser
        self.configVersion = configVersion
    }

    /// The actor as an ``Identity``, when ``actor`` is a `vigie://` URI.
    public var actorIdentity: Identity? {
        actor.flatMap { Identity.parse(uri: $0, displayName: actorName ?? "") }
    }

    /// The actor's login (from a person URI), if any.
    public var actorLogin: String? { actorIdentity?.login }

    /// The canonical encoding v1 (UTF-8 bytes), see ``CanonicalJSON``.
    public var canonicalBytes: [UInt8] {
        var object: [String: CanonicalJSON.Value] = [
            "school": .string(school), "seat": .string(seat), "timeUTC": .string(timeUTC),
            "timeLocal": .string(timeLocal), "feature": .string(feature), "args": .object(args),
            "outcome": .string(outcome.rawValue), "code": .string(code), "params": .object(params),
        ]
        if let room { object["room"] = .string(room) }
        if let actor { object["actor"] = .string(actor) }
        if let actorName { object["actorName"] = .string(actorName) }
        if let actorRole { object["actorRole"] = .string(actorRole) }
        if let sessionUser { object["sessionUser"] = .string(sessionUser) }
        if let configVersion { object["configVersion"] = .string(configVersion) }
        return CanonicalJSON.encode(object)
    }

    /// The canonical encoding v1 as a string.
    public var canonicalJSON: String { String(decoding: canonicalBytes, as: UTF8.self) }

    /// Decodes canonical (or any equivalent) JSON content.
    public init(json: String) throws {
        let object = try CanonicalJSON.parse(Array(json.utf8))
        func string(_ key: String, required: Bool = true) throws -> String? {
            switch object[key] {
            case .string(let s)?: return s
            case nil where !required: return nil
            case nil: throw RegisterError(.invalidContent, "the event has no \"\(key)\"")
            default: throw RegisterError(.invalidContent, "the event's \"\(key)\" is not a string")
            }
        }
        func strings(_ key: String) throws -> [String: String] {
            switch object[key] {
            case .object(let o)?: return o
            case nil: return [:]
            default: throw RegisterError(.invalidContent, "the event's \"\(key)\" is not an object of strings")
            }
        }
        let outcomeText = try string("outcome")!
        guard let outcome = Outcome(rawValue: outcomeText) else {
            throw RegisterError(.invalidContent, "the event's outcome \"\(outcomeText)\" is not done, refused, failed or started")
        }
        self.init(
            school: try string("school")!, seat: try string("seat")!, timeUTC: try string("timeUTC")!,
            timeLocal: try string("timeLocal")!, room: try string("room", required: false),
            actor: try string("actor", required: false), actorName: try string("actorName", required: false),
            actorRole: try string("actorRole", required: false), feature: try string("feature")!,
            args: try strings("args"), outcome: outcome, code: try string("code")!, params: try strings("params"),
            sessionUser: try string("sessionUser", required: false),
            configVersion: try string("configVersion", required: false))
    }
}
