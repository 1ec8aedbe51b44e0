import Foundation

/// The languages Vigie speaks to people. French first.
public enum Language: String, Sendable, Codable, CaseIterable {
    case fr, en

    /// Picks a language from a POSIX locale string such as `en_GB.UTF-8`; French otherwise.
    public static func fromLocale(_ locale: String?) -> Language? {
        guard let locale, !locale.isEmpty, locale != "C", locale != "POSIX" else { return nil }
        if locale.hasPrefix("en") { return .en }
        if locale.hasPrefix("fr") { return .fr }
        return nil
    }
}

/// Words the stable reason codes that agents and the console produce, in French
/// or English. Parameters appear as `{name}` in the templates.
public enum Catalog {
    /// Every known code with its French and English template.
    public static let templates: [String: (fr: String, en: String)] = [
        // Success.
        "done": ("fait", "done"),
        "lock.done": ("poste verrouillé", "seat locked"),
        "lock.done-until": ("poste verrouillé jusqu’à {until}", "seat locked until {until}"),
        "lock.input-free": ("poste verrouillé à l’écran, mais clavier et souris ne sont pas retenus (vigie-input-hold ne les tient pas) : un programme de la session peut lever ce verrou",
                            "seat locked on screen, but keyboard and mouse are not held (vigie-input-hold does not hold them): a program of the session can lift this lock"),
        "lock.state": ("verrouillage refusé : le poste ne peut pas l’enregistrer ({detail})", "lock refused: the seat cannot record it ({detail})"),
        "lock.already": ("déjà verrouillé par {by}", "already locked by {by}"),
        "unlock.done": ("poste déverrouillé", "seat unlocked"),
        "unlock.not-locked": ("le poste n’était pas verrouillé", "the seat was not locked"),
        "message.shown": ("message affiché", "message shown"),
        "screenshot.saved": ("capture {width}×{height} enregistrée dans {file}", "{width}×{height} screenshot saved to {file}"),
        "screenshot.taken": ("capture {width}×{height}", "{width}×{height} screenshot"),
        "watch.started": ("vue en direct ouverte ({width} px)", "live view open ({width} px)"),
        "watch.started-narrowed": ("vue en direct ouverte ({width} px, une image toutes les {interval} ms) ; l’établissement limite ce qui était demandé ({asked_width} px, {asked_interval} ms)",
                                   "live view open ({width} px, a picture every {interval} ms); the school’s bounds narrowed what was asked ({asked_width} px, {asked_interval} ms)"),
        "watch.resumed": ("vue en direct reprise", "live view resumed"),
        "watch.stopped": ("vue en direct arrêtée après {seconds} s ({why})", "live view stopped after {seconds} s ({why})"),
        "watch.viewer-ended": ("fermée par la personne qui regardait", "closed by the viewer"),
        "watch.viewer-lost": ("la console ne répond plus depuis {seconds} s", "the console has not answered for {seconds} s"),
        "assist.no-screenshot": ("une assistance est en cours sur ce poste : rien de l’écran n’est conservé, pas de capture", "an assistance is under way at this seat: nothing of the screen is kept, no screenshot"),
        "assist.help-requested": ("{user} a demandé de l’aide (un code valable 10 minutes lui a été donné)", "{user} asked for help (a code valid 10 minutes was given)"),
        "assist.help-kept": ("demande d’aide transmise au serveur de l’établissement", "help request passed to the school server"),
        "assist.help-withdrawn": ("demande d’aide retirée", "help request withdrawn"),
        "assist.requests": ("{count} demande(s) d’aide en attente", "{count} help request(s) waiting"),
        "assist.code-matched": ("le code est celui du poste {seat}", "the code is seat {seat}’s"),
        "assist.bad-code": ("code inconnu, expiré ou déjà utilisé ({left} essai(s) avant blocage)", "unknown, expired or used code ({left} try(tries) before lockout)"),
        "assist.code-locked": ("trop de codes erronés : plus aucun code n’est vérifié avant {until}", "too many wrong codes: no code is checked before {until}"),
        "assist.code-required": ("le code de la demande d’aide est requis", "the help request’s code is needed"),
        "assist.noted": ("fiche d’intervention {id} complétée", "intervention sheet {id} completed"),
        "assist.unknown-intervention": ("aucune intervention {id} dans le registre (le poste ne l’a peut-être pas encore transmise : réessayez)", "no intervention {id} in the register (the seat may not have sent it yet: try again)"),
        "assist.not-your-intervention": ("l’intervention {id} est celle de {helper} : seul cet intervenant ou un administrateur peut la compléter", "intervention {id} is {helper}’s: only that helper or an admin may complete it"),
        "assist.reported": ("compte rendu de l’intervention {id}", "report of intervention {id}"),
        "assist.reported-incomplete": ("compte rendu de l’intervention {id} (fiche incomplète : complétez-la avec vigie assist note)", "report of intervention {id} (sheet incomplete: complete it with vigie assist note)"),
        "assist.wayland": ("la session du poste est une session Wayland : Vigie n’y voit pas l’écran, pas d’assistance", "the seat’s session is a Wayland session: Vigie cannot see its screen, no assistance"),
        "assist.hours": ("l’assistance n’est pas ouverte à cette heure ({hours})", "assistance is not open at this time ({hours})"),
        "assist.withdrawn": ("la question a été retirée de l’écran du poste : le demandeur est parti avant la réponse de {user}", "the question was taken off the seat’s screen: the helper left before {user} answered"),
        "assist.not-running": ("aucune assistance {id} en cours sur ce poste", "no assistance {id} running on this seat"),
        "assist.not-yours": ("l’assistance {id} est celle de {helper} : seul cet intervenant peut y demander la main", "assistance {id} is {helper}’s: only that helper may ask for control in it"),
        "assist.already-control": ("vous avez déjà la main dans l’assistance {id}", "you already have control in assistance {id}"),
        "assist.control-given": ("la personne au poste ({user}) vous a donné la main : votre visualiseur VNC contrôle maintenant le clavier et la souris", "the person at the seat ({user}) gave you control: your VNC viewer now has the keyboard and mouse"),
        "assist.control-refused": ("la personne au poste ({user}) a refusé la prise en main : l’assistance continue, pour voir l’écran seulement", "the person at the seat ({user}) refused control: the assistance goes on, to see the screen only"),
        "assist.extended": ("la personne au poste a prolongé l’assistance de {minutes} min", "the person at the seat extended the assistance by {minutes} min"),
        "register.exported-interventions": ("{interventions} fiches d’intervention exportées, dont {incomplete} incomplètes", "{interventions} intervention sheets exported, {incomplete} incomplete"),
        "assist.started": ("assistance ouverte avec l’accord de la personne au poste", "assistance open with the consent of the person at the seat"),
        "assist.started-view-only": ("assistance ouverte pour voir l’écran seulement : la personne au poste a refusé la prise en main", "assistance open to see the screen only: the person at the seat refused the keyboard and mouse"),
        "assist.stopped": ("assistance terminée après {seconds} s ({why})", "assistance ended after {seconds} s ({why})"),
        "assist.refused": ("la personne au poste ({user}) a refusé l’assistance", "the person at the seat ({user}) refused the assistance"),
        "assist.timeout": ("la personne au poste ({user}) n’a pas répondu en {seconds} s : pas d’assistance", "the person at the seat ({user}) did not answer within {seconds} s: no assistance"),
        "assist.ended-by-person": ("la personne au poste a arrêté l’assistance", "the person at the seat stopped the assistance"),
        "assist.time-limit": ("l’assistance a atteint sa durée maximale ({minutes} min)", "the assistance reached its longest time ({minutes} min)"),
        "assist.nobody": ("personne n’est connecté à ce poste : rien à demander (un administrateur peut faire une maintenance avec vigie view ou vigie control)", "nobody is logged in at this seat: nobody to ask (an admin may do maintenance with vigie view or vigie control)"),
        "assist.locked": ("le poste est verrouillé par {by} : pas d’assistance", "the seat is locked by {by}: no assistance"),
        "assist.unavailable": ("la demande d’accord n’a pas pu s’afficher sur le poste : pas d’assistance", "the consent question could not be shown on the seat: no assistance"),
        "consent.required": ("quelqu’un est connecté à ce poste : voir son écran ou en prendre la main demande son accord (assistance), quels que soient vos droits", "someone is logged in at this seat: seeing or controlling their screen needs their consent (assistance), whatever your grants"),
        "policy.control-room": ("la salle {room} est un lieu de surveillance : personne n’y prend la main sur un poste", "room {room} is a monitored place: nobody takes control of its seats"),
        "view.started": ("vue à distance ouverte", "remote view open"),
        "control.started": ("prise en main ouverte", "remote control open"),
        "view.stopped": ("vue à distance arrêtée après {seconds} s ({why})", "remote view stopped after {seconds} s ({why})"),
        "control.stopped": ("prise en main arrêtée après {seconds} s ({why})", "remote control stopped after {seconds} s ({why})"),
        "view.unavailable": ("vue à distance impossible sur ce poste : {detail}", "no remote view on this seat: {detail}"),
        "view.helper-ended": ("le serveur VNC du poste s’est arrêté", "the seat’s VNC server stopped"),
        "view.flood": ("la console a envoyé plus de {bytes} octets d’avance", "the console sent more than {bytes} bytes ahead"),
        "control.locked": ("le poste est verrouillé par {by} : il peut être regardé, pas pris en main", "the seat is locked by {by}: it can be viewed, not controlled"),
        "control.busy": ("quelqu’un d’autre a déjà la main sur ce poste", "someone else already controls this seat"),
        "watch.viewer-too-slow": ("la console ne lit plus les images depuis {seconds} s", "the console has not read the pictures for {seconds} s"),
        "watch.connection-closed": ("connexion fermée", "connection closed"),
        "watch.agent-stopping": ("l’agent du poste s’arrête", "the seat’s agent is stopping"),
        "watch.agent-restarted": ("l’agent du poste s’est arrêté sans la fermer (arrêt brutal) ; au plus {seconds_at_most} s", "the seat’s agent stopped without closing it (crash); at most {seconds_at_most} s"),
        "watch.session-changed": ("la personne au poste a changé", "the person at the seat changed"),
        "watch.paused": ("vue en direct en pause", "live view paused"),
        "watch.saved": ("vignette {width}×{height} enregistrée : {file}", "{width}×{height} thumbnail saved: {file}"),
        "watch.ended": ("vue en direct terminée", "live view ended"),
        "status.unlocked": ("en service, non verrouillé", "up, not locked"),
        "status.locked": ("verrouillé par {by}", "locked by {by}"),
        "status.locked-input-free": ("verrouillé par {by} à l’écran, mais clavier et souris ne sont pas retenus (vigie-input-hold ne les tient pas)",
                                     "locked by {by} on screen, but keyboard and mouse are not held (vigie-input-hold does not hold them)"),

        // Refusals (policy, identity).
        "auth.revoked": ("certificat révoqué (numéro {serial})", "certificate revoked (serial {serial})"),
        "auth.other-school": ("certificat d’un autre établissement ({school})", "certificate from another school ({school})"),
        "auth.not-a-person": ("ce certificat n’identifie pas une personne ({identity})", "this certificate does not name a person ({identity})"),
        "auth.bad-certificate": ("certificat illisible : {detail}", "unreadable certificate: {detail}"),
        "auth.certificate-refused": ("le poste a refusé votre certificat (révoqué, d’un autre établissement ou n’identifiant pas une personne) ; voyez avec l’administrateur",
                                     "the seat refused your certificate (revoked, from another school, or not a person’s); see your administrator"),
        "policy.role": ("le rôle {role} n’a aucune action sur les postes", "the {role} role has no action on seats"),
        "policy.room": ("le rôle {role} n’a pas accès à la salle {room}", "the {role} role has no access to room {room}"),
        "policy.person-room": ("{login} n’a pas accès à la salle {room}", "{login} has no access to room {room}"),
        "policy.feature": ("le rôle {role} ne peut pas faire « {feature} » dans la salle {room}", "the {role} role may not use “{feature}” in room {room}"),
        "policy.time-window": ("surveillance autorisée {windows} ; prochaine plage : {next}", "monitoring allowed {windows}; next window: {next}"),
        "policy.time-zone-unknown": ("fuseau horaire « {zone} » de la salle {room} inconnu sur ce poste : surveillance refusée", "time zone “{zone}” of room {room} unknown on this seat: monitoring refused"),
        "policy.closed-day": ("salle fermée ce jour ({date}) ; surveillance autorisée {windows} ; prochaine plage : {next}", "room closed today ({date}); monitoring allowed {windows}; next window: {next}"),
        "request.bad-argument": ("argument invalide « {name} » : {detail}", "invalid argument “{name}”: {detail}"),
        "request.expired": ("délai de la console dépassé avant l’exécution ({late} ms de retard) : rien n’a été fait",
                            "the console’s deadline passed before it could be done ({late} ms late): nothing was done"),

        // Failures on the seat.
        "x11.connect": ("pas d’accès à l’écran du poste ({detail})", "no access to the seat’s display ({detail})"),
        "x11.capture": ("la capture d’écran a échoué ({detail})", "screen capture failed ({detail})"),
        "x11.grab-keyboard": ("le clavier n’a pas pu être bloqué, poste NON verrouillé ({detail})", "the keyboard could not be grabbed, seat NOT locked ({detail})"),
        "x11.grab-pointer": ("la souris n’a pas pu être bloquée, poste NON verrouillé ({detail})", "the pointer could not be grabbed, seat NOT locked ({detail})"),
        "png.encode": ("l’image n’a pas pu être encodée ({detail})", "the image could not be encoded ({detail})"),
        "session.wayland": ("le poste est dans une session Wayland : verrouillage, messages, captures et avis ne fonctionnent qu’avec Xorg (session {session})", "the seat runs a Wayland session: lock, messages, screenshots and notices work with Xorg only (session {session})"),
        "session.none": ("aucune session graphique sur le poste ({detail})", "no graphical session on the seat ({detail})"),
        "ui.start": ("la fenêtre n’a pas pu être ouverte ({detail})", "the window could not be opened ({detail})"),
        "ui.timeout": ("la fenêtre ne s’est pas ouverte à temps", "the window did not open in time"),
        "agent.internal": ("erreur interne de l’agent ({detail})", "agent internal error ({detail})"),
        "agent.busy": ("le poste est occupé, réessayez", "the seat is busy, try again"),

        // Protocol.
        "protocol.version": ("version de protocole {got} non prise en charge (le poste parle la version {supported})", "protocol version {got} is not supported (the seat speaks version {supported})"),
        "protocol.malformed": ("message mal formé ({detail})", "malformed message ({detail})"),
        "protocol.oversized": ("message trop grand ({size} octets, maximum {max})", "message too large ({size} bytes, maximum {max})"),
        "protocol.unknown-feature": ("action inconnue « {feature} »", "unknown action “{feature}”"),

        // The register.
        "journal.unavailable": ("le journal du poste ne peut pas être écrit : rien n’a été fait ({detail})",
                                "the seat’s journal cannot be written: nothing was done ({detail})"),
        "request.started": ("commencé (l’issue suit dans le journal ; sans issue, le poste s’est arrêté avant de la noter)",
                            "started (the outcome follows in the journal; without one, the seat stopped before recording it)"),
        "register.stored": ("événements enregistrés jusqu’au n° {last}", "events stored up to #{last}"),
        "register.recorded": ("inscrit au registre (n° {seq})", "recorded in the register (#{seq})"),
        "register.exported": ("{events} événements exportés", "{events} events exported"),
        "register.valid": ("registre intègre : {events} événements vérifiés", "register intact: {events} events checked"),
        "register.invalid": ("registre ALTÉRÉ (voir le détail)", "register TAMPERED WITH (see the details)"),
        "register.purged": ("{purged} événements de plus de {days} jours purgés ({files} captures à supprimer)", "{purged} events older than {days} days purged ({files} screenshots to remove)"),
        "register.checkpoint": ("point de contrôle signé ({seats} chaînes)", "signed checkpoint ({seats} chains)"),
        "register.head": ("le serveur a les événements de ce poste jusqu’au n° {last}", "the server holds this seat’s events up to #{last}"),
        "register.resent": ("le poste {seat} a renvoyé les événements {from} à {to}, perdus par le serveur", "seat {seat} sent again events {from} to {to}, lost by the server"),
        "register.lost": ("le serveur a perdu les événements {from} à {to} du poste {seat}, qui ne les a plus (conservés {retention_days} jours)", "the server lost events {from} to {to} of seat {seat}, which no longer holds them (kept {retention_days} days)"),
        "register.gap": ("il manque des événements : le serveur attend le n° {expected}", "events are missing: the server expects #{expected}"),
        "register.chain": ("chaîne rompue : {detail}", "broken chain: {detail}"),
        "register.error": ("erreur du registre ({detail})", "register error ({detail})"),
        "register.not-a-seat": ("seul un poste peut verser son journal ({identity})", "only a seat may ship its journal ({identity})"),
        "register.wrong-seat": ("le journal de {seat} envoyé avec le certificat de {certificate}", "the journal of {seat} sent with the certificate of {certificate}"),
        "tls.wrong-server": ("le serveur a présenté le certificat de {got}", "the server presented the certificate of {got}"),

        // Enrolment.
        "enrol.done": ("poste {seat} inscrit (certificat {serial})", "seat {seat} enrolled (certificate {serial})"),
        "enrol.rate-limited": ("trop de demandes d’inscription depuis cette adresse ; réessayez dans une minute", "too many enrolment requests from this address; try again in a minute"),
        "enrol.disabled": ("ce serveur n’inscrit pas de postes (lancé sans --ca)", "this server does not enrol seats (started without --ca)"),
        "enrol.bad-proof": ("la demande ne prouve pas la possession de la clé", "the request does not prove possession of the key"),
        "enrol.token-unknown": ("jeton inconnu", "unknown token"),
        "enrol.token-used": ("ce jeton a déjà servi", "this token was already used"),
        "enrol.token-expired": ("ce jeton a expiré (24 h)", "this token has expired (24 h)"),
        "enrol.token-other-seat": ("ce jeton n’est pas celui du poste {seat}", "this token is not the one of seat {seat}"),
        "auth.no-certificate": ("un certificat de l’établissement est nécessaire", "a certificate of the school is needed"),

        // Configuration distribution.
        "config.published": ("configuration version {version} publiée : les postes vont l’appliquer", "configuration version {version} published: the seats will apply it"),
        "config.unsigned": ("configuration version {version} non signée par l’autorité de l’établissement", "configuration version {version} is not signed by the school’s authority"),
        "config.older": ("configuration version {version} refusée : la version {current} est déjà en vigueur", "configuration version {version} refused: version {current} is already in force"),
        "config.invalid": ("configuration invalide : {detail}", "invalid configuration: {detail}"),

        // Console side.
        "net.refused": ("connexion refusée (agent arrêté ?)", "connection refused (agent stopped?)"),
        "net.timeout": ("pas de réponse en {seconds} s", "no answer within {seconds} s"),
        "net.error": ("erreur réseau ({detail})", "network error ({detail})"),
        "net.closed": ("connexion fermée par le poste", "connection closed by the seat"),
        "server.unanswered": ("le serveur {address} n’a pas répondu : {detail}", "the server {address} did not answer: {detail}"),
        "tls.handshake": ("échec de la poignée de main TLS ({detail})", "TLS handshake failed ({detail})"),
        "tls.wrong-seat": ("le poste a présenté le certificat de {got} au lieu de {expected}", "the seat presented the certificate of {got} instead of {expected}"),
        "save.failed": ("la capture n’a pas pu être enregistrée ({detail})", "the screenshot could not be saved ({detail})"),
    ]

    /// Parameters that carry compact forms rather than words (schedules) are worded here.
    static func worded(_ params: [String: String], _ language: Language) -> [String: String] {
        var out = params
        if let w = params["windows"] { out["windows"] = ScheduleText.week(code: w, language) }
        if let n = params["next"] { out["next"] = n.isEmpty ? (language == .fr ? "aucune" : "none") : ScheduleText.next(code: n, language) }
        out = powerWorded(out, language)
        return out
    }

    /// The words for `reason` in `language`; an unknown code is shown as is, with its parameters.
    public static func text(_ reason: Reason, _ language: Language) -> String {
        guard let pair = templates[reason.code] ?? powerTemplates[reason.code] ?? inputTemplates[reason.code] else {
            let params = reason.params.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ", ")
            return params.isEmpty ? reason.code : "\(reason.code) (\(params))"
        }
        var text = language == .fr ? pair.fr : pair.en
        for (key, value) in worded(reason.params, language) {
            text = text.replacingOccurrences(of: "{\(key)}", with: value)
        }
        return text
    }
}
