import Foundation

/// The words shown on a seat's screen (lock screen, message window), in the
/// school's language. Times are local to the room.
public struct SeatTexts: Sendable {
    public var language: Language
    public var timeZone: TimeZone

    public init(language: Language, timeZoneID: String) {
        self.language = language
        self.timeZone = TimeZone(identifier: timeZoneID) ?? .current
    }

    /// The role as people at the seat know it.
    public func roleName(_ role: Role) -> String {
        switch (role, language) {
        case (.teacher, .fr): return "professeur"
        case (.librarian, .fr): return "professeur documentaliste"
        case (.head, .fr): return "chef d’établissement"
        case (.technician, .fr): return "technicien informatique"
        case (.technician, .en): return "IT technician"
        case (.admin, .fr): return "administrateur"
        case (.teacher, .en): return "teacher"
        case (.librarian, .en): return "librarian"
        case (.head, .en): return "head of school"
        case (.admin, .en): return "administrator"
        }
    }

    /// `10:02`, local to the room.
    public func time(_ date: Date) -> String {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = timeZone
        let c = calendar.dateComponents([.hour, .minute], from: date)
        return String(format: "%02d:%02d", c.hour ?? 0, c.minute ?? 0)
    }

    /// Who acted: `Mme Martin (professeur documentaliste)`.
    public func actor(_ identity: Identity) -> String {
        if let role = identity.role { return "\(identity.displayName) (\(roleName(role)))" }
        return identity.displayName
    }

    public var lockTitle: String { language == .fr ? "Poste verrouillé" : "Seat locked" }

    /// The lines under the lock title.
    public func lockLines(by identity: Identity, at date: Date, until: Date?) -> [String] {
        var lines: [String]
        switch language {
        case .fr: lines = ["par \(actor(identity)) à \(time(date))"]
        case .en: lines = ["by \(actor(identity)) at \(time(date))"]
        }
        if let until {
            lines.append(language == .fr ? "jusqu’à \(time(until))" : "until \(time(until))")
        }
        return lines
    }

    public func messageTitle(from identity: Identity, at date: Date) -> String {
        switch language {
        case .fr: return "Message de \(actor(identity)) à \(time(date))"
        case .en: return "Message from \(actor(identity)) at \(time(date))"
        }
    }
}
