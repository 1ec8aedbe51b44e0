import Foundation

/// The purpose of a room, as the posters announce it.
public enum RoomPurpose: String, Sendable, Codable, CaseIterable {
    /// A classroom: the teacher's console may control the seats for teaching.
    case pedagogy
    /// A library (CDI): seats may be watched only inside the posted windows.
    case surveillance
}

/// A seat (one PC) in a room.
public struct Seat: Sendable, Hashable, Codable {
    /// Unique within the school, e.g. `B204-02`.
    public var id: String
    /// The id of the room the seat is in.
    public var room: String
    /// Host name or IP address where the agent listens.
    public var host: String
    /// TCP port where the agent listens.
    public var port: Int
    /// The network card's MAC address (`aa:bb:cc:dd:ee:ff`), for Wake-on-LAN.
    public var mac: String?

    public init(id: String, room: String, host: String, port: Int, mac: String?) {
        self.id = id
        self.room = room
        self.host = host
        self.port = port
        self.mac = mac
    }

    /// `host:port`, with brackets around an IPv6 address.
    public var address: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }
}

/// A room and its seats.
public struct Room: Sendable, Hashable, Codable {
    public var id: String
    /// A name for people (`Salle B204`, `CDI`).
    public var name: String
    public var purpose: RoomPurpose
    /// IANA time zone name; policy times are local to the room.
    public var timeZone: String
    public var seats: [Seat]
    /// Opening hours, monitoring windows and closed dates.
    public var schedule: RoomSchedule

    public init(id: String, name: String, purpose: RoomPurpose, timeZone: String, seats: [Seat], schedule: RoomSchedule = RoomSchedule()) {
        self.id = id
        self.name = name
        self.purpose = purpose
        self.timeZone = timeZone
        self.seats = seats
        self.schedule = schedule
    }
}

/// A grant: a role may use some features in some rooms.
public struct Grant: Sendable, Hashable, Codable {
    public var role: Role
    /// Room ids; nil means every room of the school.
    public var rooms: Set<String>?
    public var features: Set<Feature>

    public init(role: Role, rooms: Set<String>?, features: Set<Feature>) {
        self.role = role
        self.rooms = rooms
        self.features = features
    }

    /// The grants that apply when the config names none for a role.
    public static func defaults(for role: Role) -> [Grant] {
        switch role {
        case .teacher:
            return [Grant(role: .teacher, rooms: nil, features: [.lock, .unlock, .message, .screenshot, .thumbnail, .watch, .view, .control, .status, .power, .run, .wake])]
        case .librarian:
            return [Grant(role: .librarian, rooms: nil, features: [.screenshot, .thumbnail, .watch, .view, .message, .lock, .unlock, .status])]
        case .head, .technician:
            return []
        case .admin:
            return [Grant(role: .admin, rooms: nil, features: Set(Feature.allCases))]
        }
    }
}

/// A named person the config narrows to some rooms.
public struct Person: Sendable, Hashable, Codable {
    /// The login in the person's certificate (`vigie://<school>/person/<role>/<login>`).
    public var login: String
    public var name: String?
    /// Rooms this person may act in; nil means whatever the role's grants allow.
    public var rooms: Set<String>?

    public init(login: String, name: String?, rooms: Set<String>?) {
        self.login = login
        self.name = name
        self.rooms = rooms
    }
}

/// The school's identity.
public struct School: Sendable, Hashable, Codable {
    /// The school's id (UAI for French schools), carried by every certificate.
    public var id: String
    public var name: String
    /// Language of the texts shown on the seats and by default in the console.
    public var language: Language

    public init(id: String, name: String, language: Language) {
        self.id = id
        self.name = name
        self.language = language
    }
}

/// The whole school configuration, validated.
public struct SchoolConfig: Sendable, Codable {
    public var school: School
    /// Serials (lowercase hex) of revoked certificates.
    public var revokedSerials: Set<String>
    public var rooms: [Room]
    public var grants: [Grant]
    public var people: [Person]
    /// How long the console waits for each seat, in seconds.
    public var consoleTimeout: Double
    /// `[console] timeout` when the config sets none, in seconds: the deadline a console
    /// gives every request. A seat's helper waits are shorter (`Spawn.helperStartWait`).
    public static let defaultConsoleTimeout: Double = 5
    /// Posters and on-seat notices (`[signage]`).
    public var signage: SignageSettings
    /// The school server (register), when the school runs one.
    public var server: ServerSettings?
    /// The art. 30 record that heads every export of the register.
    public var register: ProcessingRecord
    /// `[power]` and `[wake]`: power commands, countdown, Wake-on-LAN targets.
    public var power = PowerSettings()
    /// `[programs]`: what teachers may start with `vigie run`.
    public var programs = ProgramSettings()
    /// `[messages]`: message windows open at once and their expiry.
    public var messages = MessageSettings()
    /// `[watch]`: the bounds of live views (thumbnail width, pictures per second).
    public var watch = WatchSettings()
    /// `[assistance]`: the consent window's wait, an assistance's longest time.
    public var assistance = AssistanceSettings()

    public init(
        school: School, revokedSerials: Set<String>, rooms: [Room], grants: [Grant],
        people: [Person], consoleTimeout: Double, signage: SignageSettings = SignageSettings(),
        server: ServerSettings? = nil, register: ProcessingRecord = ProcessingRecord()
    ) {
        self.server = server
        self.register = register
        self.school = school
        self.revokedSerials = revokedSerials
        self.rooms = rooms
        self.grants = grants
        self.people = people
        self.consoleTimeout = consoleTimeout
        self.signage = signage
    }

    /// Every seat of the school, room by room, in config order.
    public var seats: [Seat] { rooms.flatMap(\.seats) }

    public func room(_ id: String) -> Room? { rooms.first { $0.id == id } }

    public func seat(_ id: String) -> Seat? {
        for room in rooms { if let seat = room.seats.first(where: { $0.id == id }) { return seat } }
        return nil
    }

    public func person(login: String) -> Person? { people.first { $0.login == login } }
}

/// Certificate serials as the config and the agents compare them.
public enum CertificateSerial {
    /// Normalizes a serial as an admin might write it (`00:AB:cd…`, `0xABCD`)
    /// to the form Vigie prints: lowercase hex, no separators, no leading zero
    /// bytes. Returns nil when it is not hex.
    public static func normalized(_ text: String) -> String? {
        var s = text.trimmingCharacters(in: .whitespaces).lowercased()
        if s.hasPrefix("0x") { s.removeFirst(2) }
        s.removeAll { $0 == ":" || $0 == " " || $0 == "-" }
        guard !s.isEmpty, s.allSatisfy({ $0.isHexDigit && $0.isASCII }) else { return nil }
        if s.count % 2 == 1 { s = "0" + s }
        while s.hasPrefix("00") && s.count > 2 { s.removeFirst(2) }
        return s
    }
}
