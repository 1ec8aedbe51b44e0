import Foundation

/// A coded reason: a stable machine-readable `code` and the parameters that a
/// console puts into words (see ``Catalog``). Agents send reasons, never sentences.
public struct Reason: Error, Sendable, Hashable, Codable {
    public var code: String
    public var params: [String: String]

    public init(_ code: String, _ params: [String: String] = [:]) {
        self.code = code
        self.params = params
    }
}

/// The outcome of a policy check.
public enum Decision: Sendable, Hashable {
    case allow
    case refuse(Reason)
}

/// The seat's policy rules (pure): certificate → role → room → feature → time window.
public enum Policy {
    /// Whether a certificate may talk to a seat (or, with `seats`, to the school
    /// server) at all, checked inside the TLS handshake before any frame: not
    /// revoked, of this school, a person (or a seat). Nil when it may.
    public static func admit(identity: Identity, serialHex: String, config: SchoolConfig, seats: Bool = false) -> Reason? {
        if config.revokedSerials.contains(CertificateSerial.normalized(serialHex) ?? serialHex) {
            return Reason("auth.revoked", ["serial": serialHex])
        }
        guard identity.schoolID == config.school.id else {
            return Reason("auth.other-school", ["school": identity.schoolID])
        }
        switch identity.kind {
        case .person: return nil
        case .seat where seats: return nil
        default: return Reason("auth.not-a-person", ["identity": identity.uri])
        }
    }

    /// Decides whether `identity` may use `feature` on `seat` at instant `now`.
    /// - Parameters:
    ///   - serialHex: the caller's certificate serial, lowercase hex, to check against revocation.
    ///   - now: the seat's clock; monitoring features are checked against the room's windows.
    public static func decide(
        identity: Identity, serialHex: String, feature: Feature, seat: Seat, config: SchoolConfig, at now: Date = Date()
    ) -> Decision {
        if let refused = admit(identity: identity, serialHex: serialHex, config: config) { return .refuse(refused) }
        guard case .person(let login, let role) = identity.kind else {
            return .refuse(Reason("auth.not-a-person", ["identity": identity.uri]))
        }
        let grants = self.grants(for: role, in: config)
        guard !grants.isEmpty else {
            return .refuse(Reason("policy.role", ["role": role.rawValue]))
        }
        if let person = config.person(login: login), let rooms = person.rooms, !rooms.contains(seat.room) {
            return .refuse(Reason("policy.person-room", ["login": login, "room": seat.room]))
        }
        let inRoom = grants.filter { $0.rooms == nil || $0.rooms!.contains(seat.room) }
        guard !inRoom.isEmpty else {
            return .refuse(Reason("policy.room", ["role": role.rawValue, "room": seat.room]))
        }
        guard inRoom.contains(where: { $0.features.contains(feature) }) else {
            return .refuse(Reason("policy.feature", ["role": role.rawValue, "room": seat.room, "feature": feature.rawValue]))
        }
        // Assistance follows the person's consent, within the school's assistance hours when set.
        if feature == .assist, let room = config.room(seat.room),
           !config.assistance.allows(at: now, zone: TimeZone(identifier: room.timeZone) ?? TimeZone(identifier: "UTC")!) {
            return .refuse(Reason("assist.hours", ["hours": config.assistance.hoursText]))
        }
        // Remote control is for teaching: a library's posters announce monitoring
        // only, so nobody takes a library seat's keyboard and mouse, whatever the grants.
        if feature == .control, let room = config.room(seat.room), room.purpose == .surveillance {
            return .refuse(Reason("policy.control-room", ["room": room.id]))
        }
        if feature.isMonitoring, let room = config.room(seat.room) {
            let verdict = room.monitoring(at: now)
            if !verdict.allowed {
                var params = [
                    "room": room.id, "windows": room.monitoringWeekCode,
                    "next": verdict.next.map { ScheduleText.nextCode($0, from: verdict.moment.date) } ?? "",
                    "at": "\(verdict.moment.date) \(verdict.moment.time)",
                ]
                switch verdict.why {
                case .closedDay:
                    params["date"] = verdict.moment.date.description
                    return .refuse(Reason("policy.closed-day", params))
                case .unknownTimeZone:
                    return .refuse(Reason("policy.time-zone-unknown", ["room": room.id, "zone": room.timeZone]))
                default:
                    return .refuse(Reason("policy.time-window", params))
                }
            }
        }
        return .allow
    }

    /// Whether seeing or controlling a seat where someone is logged in needs that
    /// person's consent: for anyone but a teacher (control in their classrooms, the
    /// posters say so) or a librarian (a view inside the posted windows). An
    /// admin's or the head's `*` grant never stands in for the person's word. On a
    /// seat where nobody is logged in it is maintenance, and the grants decide.
    public static func needsConsent(_ identity: Identity, for feature: Feature) -> Bool {
        if feature == .assist { return true }
        guard feature == .view || feature == .control else { return false }
        switch identity.role {
        case .teacher?, .librarian?: return false
        default: return true
        }
    }

    /// The grants in force for a role: the config's, or the defaults when it names none.
    public static func grants(for role: Role, in config: SchoolConfig) -> [Grant] {
        let configured = config.grants.filter { $0.role == role }
        return configured.isEmpty ? Grant.defaults(for: role) : configured
    }

    /// The seats `identity` may reach at all (any feature), for `--all`.
    public static func reachableSeats(for identity: Identity, in config: SchoolConfig) -> [Seat] {
        guard case .person(let login, let role) = identity.kind else { return [] }
        let grants = self.grants(for: role, in: config)
        let personRooms = config.person(login: login)?.rooms
        return config.seats.filter { seat in
            if let personRooms, !personRooms.contains(seat.room) { return false }
            return grants.contains { $0.rooms == nil || $0.rooms!.contains(seat.room) }
        }
    }
}
