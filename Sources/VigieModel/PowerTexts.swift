import Foundation

/// The words of the countdown shown on a seat before a power action.
extension SeatTexts {
    /// `16:45:30`, local to the room.
    public func timeWithSeconds(_ date: Date) -> String {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = timeZone
        let c = calendar.dateComponents([.hour, .minute, .second], from: date)
        return String(format: "%02d:%02d:%02d", c.hour ?? 0, c.minute ?? 0, c.second ?? 0)
    }

    /// What will happen and when: « Extinction du poste à 16:45 ».
    public func countdownTitle(_ action: PowerAction, at date: Date) -> String {
        let t = time(date)
        switch (action, language) {
        case (.off, .fr): return "Extinction du poste à \(t)"
        case (.reboot, .fr): return "Redémarrage du poste à \(t)"
        case (.logoff, .fr), (.cancel, .fr): return "Fermeture de la session à \(t)"
        case (.off, .en): return "This seat will power off at \(t)"
        case (.reboot, .en): return "This seat will restart at \(t)"
        case (.logoff, .en), (.cancel, .en): return "You will be logged off at \(t)"
        }
    }

    /// Who asked, and what to do.
    public func countdownText(by identity: Identity, at date: Date) -> String {
        switch language {
        case .fr: return "Demandé par \(actor(identity)) à \(time(date)). Enregistrez votre travail."
        case .en: return "Asked by \(actor(identity)) at \(time(date)). Save your work."
        }
    }

    /// The remaining-time line for `vigie-ui countdown --remaining`.
    public var countdownRemaining: String { language == .fr ? "dans {remaining}" : "in {remaining}" }
}
