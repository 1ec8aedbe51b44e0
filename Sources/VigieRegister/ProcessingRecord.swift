/// The record of processing activities (GDPR art. 30) for the school's remote
/// supervision, written in the config's `[register]` section and printed at the
/// head of every export.
public struct ProcessingRecord: Codable, Sendable, Equatable {
    /// The controller: the school and its head (name, address).
    public var controller: String
    /// How to reach the data protection officer (DPO).
    public var dpoContact: String
    /// Why the seats are supervised.
    public var purpose: String
    /// The legal basis (art. 6), e.g. a task carried out in the public interest.
    public var legalBasis: String
    /// Whose data: pupils, staff at the seats, teachers and librarians who act.
    public var peopleCategories: [String]
    /// Which data: logins, times, actions, message texts, screenshot metadata.
    public var dataCategories: [String]
    /// Who receives it: the head of school, the DPO, on request the authorities.
    public var recipients: [String]
    /// How long events keep their content, in days (default 365).
    public var retentionDays: Int
    /// Security measures: mutual TLS, school CA, signed hash chains, access by role.
    public var securityMeasures: [String]
    /// Transfers outside the EU, if any ("none").
    public var transfers: String

    /// A record; every field has a school-neutral default except the controller and the DPO.
    public init(
        controller: String, dpoContact: String,
        purpose: String = "Supervision of the school's computers during lessons and in the library (CDI)",
        legalBasis: String = "Public interest task (GDPR art. 6(1)(e))",
        peopleCategories: [String] = ["pupils", "staff using the seats", "teachers and librarians"],
        dataCategories: [String] = ["logins", "times", "actions and their outcome", "message texts", "screenshot metadata"],
        recipients: [String] = ["head of school", "data protection officer"],
        retentionDays: Int = 365,
        securityMeasures: [String] = ["mutual TLS with the school CA", "seat-signed hash chains", "access by role"],
        transfers: String = "none"
    ) {
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

    enum CodingKeys: String, CodingKey {
        case controller, dpoContact, purpose, legalBasis, peopleCategories, dataCategories, recipients
        case retentionDays, securityMeasures, transfers
    }

    /// Decodes a record; a missing `retentionDays` means 365, missing lists are empty.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        controller = try c.decode(String.self, forKey: .controller)
        dpoContact = try c.decode(String.self, forKey: .dpoContact)
        purpose = try c.decodeIfPresent(String.self, forKey: .purpose) ?? ""
        legalBasis = try c.decodeIfPresent(String.self, forKey: .legalBasis) ?? ""
        peopleCategories = try c.decodeIfPresent([String].self, forKey: .peopleCategories) ?? []
        dataCategories = try c.decodeIfPresent([String].self, forKey: .dataCategories) ?? []
        recipients = try c.decodeIfPresent([String].self, forKey: .recipients) ?? []
        retentionDays = try c.decodeIfPresent(Int.self, forKey: .retentionDays) ?? 365
        securityMeasures = try c.decodeIfPresent([String].self, forKey: .securityMeasures) ?? []
        transfers = try c.decodeIfPresent(String.self, forKey: .transfers) ?? ""
    }
}
