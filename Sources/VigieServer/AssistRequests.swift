import Foundation
import NIOCore
import VigieModel
import VigieRegister
import VigieWire

/// Assistance on the school server: the help requests seats forward (codes kept
/// as HMACs only, ten minutes, in the state file next to the store so that a
/// restart loses none), who may see them and resolve a code,
/// and the intervention records: the helper's note, the sheet's export and the
/// report for the person assisted.
extension RegisterServer {
    /// A seat forwards the request its session user made (`vigie-ui help`): the seat
    /// checked who asked; here it is kept for whoever may assist in that room.
    func helpRequest(_ request: Request, seat seatID: String, peer: Peer, _ out: NIOAsyncChannelOutboundWriter<Frame>) async throws {
        guard let seat = options.config.seat(seatID) else {
            return try await reply(out, request.id, .refused, "policy.unknown-seat", ["seat": seatID])
        }
        let a = request.args
        guard let code = a["code"], HelpCodes.isWellFormed(code), let user = a["user"], Identity.isValidToken(user),
              (a["description"] ?? "").count <= 200 else {
            return try await reply(out, request.id, .failed, "protocol.malformed", ["detail": "a help request has code, user, description"])
        }
        if a["withdrawn"] == "true" {
            helpCodes.remove(seat: seatID)
            try enrolment.dropHelpRequest(school: school, seat: seatID)
            return try await reply(out, request.id, .ok, "assist.help-withdrawn")
        }
        let pending = helpCodes.put(seat: seatID, room: seat.room, user: user, description: a["description"] ?? "", code: code)
        try enrolment.keepHelpRequest(school: school, pending)
        logger.notice("help requested", metadata: ["seat": "\(seatID)"])
        try await reply(out, request.id, .ok, "assist.help-kept", ["expires": RegisterTime.utc(pending.expires)])
    }

    /// The requests the caller may answer (their grants give `assist` in the seat's room).
    func helpRequests(_ request: Request, peer: Peer, _ out: NIOAsyncChannelOutboundWriter<Frame>) async throws {
        let now = Date()
        var lines: [String] = []
        for p in helpCodes.pending(now: now) {
            guard let seat = options.config.seat(p.seat), mayAssist(peer, seat) else { continue }
            let object: [String: String] = [
                "seat": p.seat, "room": p.room, "user": p.user, "description": p.description,
                "asked": RegisterTime.local(p.asked, zone), "expires_in": String(Int(p.expires.timeIntervalSince(now))),
            ]
            lines.append(String(decoding: CanonicalJSON.encode(object), as: UTF8.self))
        }
        try await reply(out, request.id, .ok, "assist.requests", ["count": String(lines.count)], body: Array(lines.joined(separator: "\n").utf8))
    }

    func mayAssist(_ peer: Peer, _ seat: Seat) -> Bool {
        if case .allow = Policy.decide(identity: peer.identity, serialHex: peer.serial, feature: .assist, seat: seat, config: options.config) {
            return true
        }
        return false
    }

    /// A helper gives the code the person read them: the seat it belongs to, if any.
    /// Wrong codes are counted per helper and journaled; the seat checks the code again.
    func resolveCode(_ request: Request, peer: Peer, _ out: NIOAsyncChannelOutboundWriter<Frame>) async throws {
        let code = request.args["code"] ?? ""
        switch helpCodes.check(code, who: [peer.identity.uri]) {
        case .matched(let p):
            guard let seat = options.config.seat(p.seat), mayAssist(peer, seat) else {
                // Not theirs to answer: the request stays for someone who may.
                helpCodes.restore([p])
                try record("assist.code", args: ["seat": p.seat], peer: peer, outcome: .refused, code: "policy.room",
                           params: ["role": peer.identity.role?.rawValue ?? "-", "room": p.room])
                return try await reply(out, request.id, .refused, "policy.room", ["role": peer.identity.role?.rawValue ?? "-", "room": p.room])
            }
            // The seat checks the same code again and uses it up: it is given back to the seat's request.
            try enrolment.dropHelpRequest(school: school, seat: p.seat)
            try record("assist.code", args: ["seat": p.seat], peer: peer, code: "assist.code-matched", params: ["seat": p.seat])
            try await reply(out, request.id, .ok, "assist.code-matched",
                            ["seat": p.seat, "room": p.room, "user": p.user, "description": p.description])
        case .wrong(let left):
            try record("assist.code", args: [:], peer: peer, outcome: .refused, code: "assist.bad-code", params: ["left": String(left)])
            try await reply(out, request.id, .refused, "assist.bad-code", ["left": String(left)])
        case .locked(let until):
            let params = ["until": RegisterTime.local(until, zone)]
            try record("assist.code", args: [:], peer: peer, outcome: .refused, code: "assist.code-locked", params: params)
            try await reply(out, request.id, .refused, "assist.code-locked", params)
        }
    }

    /// The helper completes the intervention sheet. Only its helper or an admin may;
    /// the seat's record may take a few seconds to arrive (its journal is shipped).
    func interventionNote(_ request: Request, peer: Peer, _ out: NIOAsyncChannelOutboundWriter<Frame>) async throws {
        let a = request.args
        guard let id = a["intervention"], let (seat, seq) = Intervention.parse(id: id) else {
            throw Reason("request.bad-argument", ["name": "intervention", "detail": "SEAT-NUMBER, as vigie assist printed it"])
        }
        var fields: [String: String] = ["intervention": id]
        for name in Intervention.noteFields {
            let value = (a[name] ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
            guard value.count <= 2000 else { throw Reason("request.bad-argument", ["name": name, "detail": "2000 characters at most"]) }
            if !value.isEmpty { fields[name] = value }
        }
        guard fields.count > 1 else {
            throw Reason("request.bad-argument", ["name": "note", "detail": "nothing to write: give --problem, --diagnosis, --before, --after or --advice"])
        }
        var started: RegisterEvent?
        let until = Date().addingTimeInterval(15)
        while true {
            if let chained = try store.event(school: school, seat: seat, seq: seq), let content = chained.content {
                started = try RegisterEvent(json: content)
                break
            }
            if Date() > until { break }
            try await Task.sleep(for: .milliseconds(250))
        }
        guard let started, started.feature == "assist", started.code == "assist.started" else {
            throw Reason("assist.unknown-intervention", ["id": id])
        }
        guard started.actor == peer.identity.uri || peer.identity.role == .admin else {
            try record("assist.note", args: ["intervention": id], peer: peer, outcome: .refused, code: "assist.not-your-intervention")
            return try await reply(out, request.id, .refused, "assist.not-your-intervention", ["id": id, "helper": started.actorName ?? "?"])
        }
        let event = try record("assist.note", args: fields, peer: peer, code: "assist.noted", params: ["id": id])
        try await reply(out, request.id, .ok, "assist.noted", ["id": id, "seq": String(event.seq)])
    }

    /// One intervention's report (text or HTML, French first), for the person assisted.
    func interventionReport(_ request: Request, peer: Peer, _ out: NIOAsyncChannelOutboundWriter<Frame>) async throws {
        guard let id = request.args["intervention"], let parsed = Intervention.parse(id: id) else {
            throw Reason("request.bad-argument", ["name": "intervention", "detail": "SEAT-NUMBER, as vigie assist printed it"])
        }
        let format = request.args["format"] ?? "txt"
        guard format == "txt" || format == "html" else { throw Reason("request.bad-argument", ["name": "format", "detail": "txt or html"]) }
        let language = Language(rawValue: request.args["lang"] ?? "") ?? options.config.school.language
        guard let found = try Interventions.collect(store: store, filter: RegisterFilter(school: school), only: parsed).first else {
            throw Reason("assist.unknown-intervention", ["id": id])
        }
        // A technician reports on their own interventions; the head and admins on any.
        if peer.identity.role == .technician, found.helperURI != peer.identity.uri {
            try record("assist.report", args: ["intervention": id], peer: peer, outcome: .refused, code: "assist.not-your-intervention")
            return try await reply(out, request.id, .refused, "assist.not-your-intervention", ["id": id, "helper": found.helperName])
        }
        try record("assist.report", args: ["intervention": id, "format": format], peer: peer)
        let text = format == "html"
            ? Interventions.htmlPage([found], schoolName: options.config.school.name, language: language)
            : Interventions.text(found, schoolName: options.config.school.name, language: language)
        try await reply(out, request.id, .ok, found.complete ? "assist.reported" : "assist.reported-incomplete", ["id": id], body: Array(text.utf8))
    }
}
