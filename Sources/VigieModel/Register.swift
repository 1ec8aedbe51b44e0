/// The record of processing activities (GDPR art. 30) for Vigie, as the school
/// writes it in its config (`[register]`); it heads every export.
public struct ProcessingRecord: Codable, Sendable, Equatable {
    /// Who is responsible: the school and its head.
    public var controller: String
    /// How to reach the data-protection officer.
    public var dpoContact: String
    public var purpose: String
    public var legalBasis: String
    public var peopleCategories: [String]
    public var dataCategories: [String]
    public var recipients: [String]
    /// How long events are kept before `vigie register purge` removes their content.
    public var retentionDays: Int
    public var securityMeasures: [String]
    public var transfers: String
    /// How long a seat keeps the content of events the server has acknowledged, in
    /// days (`seat_retention_days`): long enough to refill a server store restored
    /// from a backup, never longer than ``retentionDays``. Then only their links stay.
    public var seatRetentionDays: Int
    /// How long intervention records (assistance events and the helpers' notes) are
    /// kept, in days (`interventions_retention_days`, default one year): the
    /// support charter's own retention, apart from the register's.
    public var interventionsRetentionDays: Int

    public static let defaultRetentionDays = 365
    public static let defaultInterventionsRetentionDays = 365
    /// The seat retention when the config names none (capped by ``retentionDays``).
    public static let defaultSeatRetentionDays = 30

    enum CodingKeys: String, CodingKey {
        case controller, dpoContact, purpose, legalBasis, peopleCategories, dataCategories, recipients
        case retentionDays, securityMeasures, transfers, seatRetentionDays, interventionsRetentionDays
    }

    /// Decodes a record; a missing `retentionDays` means 365, missing texts and lists are empty.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        controller = try c.decodeIfPresent(String.self, forKey: .controller) ?? ""
        dpoContact = try c.decodeIfPresent(String.self, forKey: .dpoContact) ?? ""
        purpose = try c.decodeIfPresent(String.self, forKey: .purpose) ?? ""
        legalBasis = try c.decodeIfPresent(String.self, forKey: .legalBasis) ?? ""
        peopleCategories = try c.decodeIfPresent([String].self, forKey: .peopleCategories) ?? []
        dataCategories = try c.decodeIfPresent([String].self, forKey: .dataCategories) ?? []
        recipients = try c.decodeIfPresent([String].self, forKey: .recipients) ?? []
        retentionDays = try c.decodeIfPresent(Int.self, forKey: .retentionDays) ?? Self.defaultRetentionDays
        securityMeasures = try c.decodeIfPresent([String].self, forKey: .securityMeasures) ?? []
        transfers = try c.decodeIfPresent(String.self, forKey: .transfers) ?? ""
        seatRetentionDays = try c.decodeIfPresent(Int.self, forKey: .seatRetentionDays)
            ?? min(Self.defaultSeatRetentionDays, retentionDays)
        interventionsRetentionDays = try c.decodeIfPresent(Int.self, forKey: .interventionsRetentionDays)
            ?? Self.defaultInterventionsRetentionDays
    }

    public init(
        controller: String = "", dpoContact: String = "", purpose: String = "", legalBasis: String = "",
        peopleCategories: [String] = [], dataCategories: [String] = [], recipients: [String] = [],
        retentionDays: Int = ProcessingRecord.defaultRetentionDays, securityMeasures: [String] = [], transfers: String = "",
        seatRetentionDays: Int? = nil, interventionsRetentionDays: Int = ProcessingRecord.defaultInterventionsRetentionDays
    ) {
        self.interventionsRetentionDays = interventionsRetentionDays
        self.seatRetentionDays = seatRetentionDays ?? min(Self.defaultSeatRetentionDays, retentionDays)
        self.controller = controller
        self.dpoContact = dpoContact
        self.purpose = purpose
        self.legalBasis = legalBasis
        self.peopleCategories = peopleCategories
        self.dataCategories = dataCategories
        self.recipients = recipients
        self.retentionDays = retentionDays
        self.securityMeasures = securityMeasures
        self.transfers = transfers
    }
}

/// Where the school server listens and keeps the register.
public struct ServerSettings: Codable, Sendable, Equatable {
    public var host: String
    public var port: Int
    /// Absolute path of the register store (SQLite).
    public var storePath: String
    /// How often seats ask the server for a newer signed configuration, in seconds.
    public var configPollSeconds: Double
    /// How long seats and consoles wait for the server at each step of a call
    /// (connection, TLS handshake, each answer), in seconds, before they give up
    /// (seats then retry). Register commands wait longer for answers (`--timeout`).
    public var timeoutSeconds: Double

    public init(host: String, port: Int, storePath: String, configPollSeconds: Double = 60, timeoutSeconds: Double = 10) {
        self.host = host
        self.port = port
        self.storePath = storePath
        self.configPollSeconds = configPollSeconds
        self.timeoutSeconds = timeoutSeconds
    }

    public var address: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }
}

