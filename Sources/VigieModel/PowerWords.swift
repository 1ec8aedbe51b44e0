/// The words for the codes of power actions, Wake-on-LAN and `vigie run`
/// (French first), kept apart from the main catalog so that each part stays readable.
extension Catalog {
    static let powerTemplates: [String: (fr: String, en: String)] = [
        // Power: scheduled, done, cancelled.
        "power.scheduled": ("{action} à {at}, à la demande de {by}", "{action} at {at}, asked by {by}"),
        "power.scheduled-unseen": ("{action} à {at}, à la demande de {by} ; le compte à rebours n’a pas pu être affiché ({detail})",
                                   "{action} at {at}, asked by {by}; the countdown could not be shown ({detail})"),
        "power.done": ("{action} : commande lancée", "{action}: command started"),
        "power.cancelled": ("compte à rebours annulé ({action} à {at})", "countdown cancelled ({action} at {at})"),
        "power.nothing-pending": ("aucune action en attente sur ce poste", "nothing pending on this seat"),
        "power.failed": ("la commande de {action} a échoué ({detail})", "the {action} command failed ({detail})"),
        "power.no-session": ("aucune session graphique ouverte sur le poste ({detail})", "no graphical session on the seat ({detail})"),

        // Run.
        "run.done": ("{program} terminé, code de sortie 0", "{program} exited with status 0"),
        "run.exit": ("{program} terminé avec le code de sortie {exit}", "{program} exited with status {exit}"),
        "run.signal": ("{program} arrêté par le signal {signal}", "{program} killed by signal {signal}"),
        "run.timeout": ("{program} arrêté au bout de {seconds} s (délai dépassé)", "{program} killed after {seconds} s (timeout)"),
        "run.start": ("{program} n’a pas pu être lancé ({detail})", "{program} could not be started ({detail})"),
        "run.no-session-user": ("utilisateur de la session inconnu sur ce poste : rien n’a été lancé (un administrateur peut utiliser --privileged)",
                                "no session user known on this seat: nothing was started (an administrator may use --privileged)"),
        "run.unknown-user": ("l’utilisateur de session « {user} » n’existe pas sur le poste", "the session user “{user}” does not exist on the seat"),
        "run.cannot-switch-user": ("l’agent n’a pas le droit de lancer un programme en tant que {user} : rien n’a été lancé",
                                   "the agent may not start a program as {user}: nothing was started"),
        "policy.program": ("programme refusé « {program} » : {why}", "program refused “{program}”: {why}"),
        "policy.privileged": ("--privileged est réservé aux administrateurs (rôle {role})", "--privileged is for administrators only (role {role})"),

        // Wake-on-LAN (sent by the console).
        "wake.sent": ("paquet Wake-on-LAN envoyé pour {mac} à {broadcast}:{port}", "Wake-on-LAN packet sent for {mac} to {broadcast}:{port}"),
        "wake.no-mac": ("pas d’adresse MAC dans la configuration : ce poste ne peut pas être réveillé", "no MAC address in the configuration: this seat cannot be woken"),
        "wake.send-failed": ("l’envoi du paquet Wake-on-LAN a échoué ({detail})", "the Wake-on-LAN packet could not be sent ({detail})"),
    ]

    /// Words for the `action` and `why` parameters.
    static func powerWorded(_ params: [String: String], _ language: Language) -> [String: String] {
        var out = params
        if let a = params["action"], let action = PowerAction(rawValue: a) {
            switch (action, language) {
            case (.off, .fr): out["action"] = "extinction"
            case (.reboot, .fr): out["action"] = "redémarrage"
            case (.logoff, .fr): out["action"] = "fermeture de session"
            case (.cancel, .fr): out["action"] = "annulation"
            case (.off, .en): out["action"] = "power off"
            case (.reboot, .en): out["action"] = "reboot"
            case (.logoff, .en): out["action"] = "log off"
            case (.cancel, .en): out["action"] = "cancel"
            }
        }
        if let w = params["why"], let why = ProgramPolicy.Why(rawValue: w) {
            switch (why, language) {
            case (.relative, .fr): out["why"] = "chemin relatif (un chemin absolu est exigé)"
            case (.dotDot, .fr): out["why"] = "chemin avec « . », « .. » ou « // » (interdit)"
            case (.missing, .fr): out["why"] = "absent du poste"
            case (.emptyAllowlist, .fr): out["why"] = "aucun programme n’est autorisé aux professeurs ([programs] allowed est vide)"
            case (.notAllowed, .fr): out["why"] = "absent de la liste des programmes autorisés ([programs] allowed)"
            case (.relative, .en): out["why"] = "relative path (an absolute path is required)"
            case (.dotDot, .en): out["why"] = "path with “.”, “..” or “//” (forbidden)"
            case (.missing, .en): out["why"] = "not found on the seat"
            case (.emptyAllowlist, .en): out["why"] = "teachers may run no program ([programs] allowed is empty)"
            case (.notAllowed, .en): out["why"] = "not in the list of allowed programs ([programs] allowed)"
            }
        }
        return out
    }
}
