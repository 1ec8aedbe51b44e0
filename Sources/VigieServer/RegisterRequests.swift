import Foundation
import NIOCore
import VigieModel
import VigieRegister
import VigieWire

extension RegisterServer {
    /// Largest body chunk of a streamed answer (exports can be hundreds of MB).
    static let chunkSize = 1 << 20

    /// The school's time zone: the first room's (days in filters are local days).
    var zone: TimeZone { TimeZone(identifier: options.config.rooms.first?.timeZone ?? "Europe/Paris") ?? .current }

    /// Filters from request arguments: from/to are local dates (YYYY-MM-DD), `to` included.
    func filter(_ args: [String: String]) throws -> RegisterFilter {
        var filter = RegisterFilter(school: school)
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = zone
        func day(_ key: String) throws -> Date? {
            guard let text = args[key] else { return nil }
            guard let d = LocalDate(text),
                  let date = calendar.date(from: DateComponents(year: d.year, month: d.month, day: d.day)) else {
                throw Reason("request.bad-argument", ["name": key, "detail": "“\(text)” is not a date YYYY-MM-DD"])
            }
            return date
        }
        filter.from = try day("from")
        if let to = try day("to") { filter.to = calendar.date(byAdding: .day, value: 1, to: to) }
        filter.room = args["room"]
        filter.seat = args["seat"]
        filter.actor = args["actor"]
        filter.sessionUser = args["user"]
        return filter
    }

    /// Sends a file as `register.part` frames, then the final answer.
    func stream(_ path: String, _ id: UInt32, final code: String, _ params: [String: String], _ out: NIOAsyncChannelOutboundWriter<Frame>) async throws {
        guard let handle = FileHandle(forReadingAtPath: path) else { throw Reason("register.error", ["detail": "cannot read \(path)"]) }
        defer { try? handle.close() }
        while let chunk = try handle.read(upToCount: Self.chunkSize), !chunk.isEmpty {
            try await reply(out, id, .ok, "register.part", body: Array(chunk))
        }
        try await reply(out, id, .ok, code, params)
    }

    func temporaryFile(_ name: String) -> String {
        let dir = URL(fileURLWithPath: options.storePath).deletingLastPathComponent().path
        return "\(dir)/.\(name)-\(UUID().uuidString).tmp"
    }

    func report(_ request: Request, peer: Peer, _ out: NIOAsyncChannelOutboundWriter<Frame>) async throws {
        guard let kind = request.args["kind"], ["screenshot.saved", "wake-on-lan"].contains(kind) else {
            throw Reason("request.bad-argument", ["name": "kind", "detail": request.args["kind"] ?? "missing"])
        }
        var args = request.args
        args.removeValue(forKey: "kind")
        let event = try record(kind, args: args, peer: peer)
        try await reply(out, request.id, .ok, "register.recorded", ["seq": String(event.seq)])
    }

    func export(_ request: Request, peer: Peer, _ out: NIOAsyncChannelOutboundWriter<Frame>) async throws {
        let format = request.args["format"] ?? "csv"
        guard let kind = RegisterExport.Format(rawValue: format) else {
            throw Reason("request.bad-argument", ["name": "format", "detail": "csv, jsonl or html"])
        }
        let filter = try filter(request.args)
        let language = Language(rawValue: request.args["lang"] ?? "") ?? options.config.school.language
        let interventions: Bool
        switch request.args["kind"] ?? "events" {
        case "events": interventions = false
        case "interventions": interventions = true
        case let other: throw Reason("request.bad-argument", ["name": "kind", "detail": "“\(other)”: events or interventions"])
        }
        // Every export is itself in the register, with a fresh checkpoint (printed in the HTML).
        try record("register.export", args: request.args, peer: peer)
        if interventions {
            // The intervention sheets: one per assistance, with the helper's note or « incomplet ».
            let records = try Interventions.collect(store: store, filter: filter)
            let path = temporaryFile("interventions")
            defer { try? FileManager.default.removeItem(atPath: path) }
            let handle = try RegisterExport.createFile(path)
            do {
                defer { try? handle.close() }
                switch kind {
                case .csv: _ = try Interventions.csv(records, language: language, to: handle)
                case .jsonl: _ = try Interventions.jsonl(records, language: language, to: handle)
                case .html: _ = try Interventions.html(records, schoolName: options.config.school.name, language: language, to: handle)
                }
            }
            return try await stream(path, request.id, final: "register.exported-interventions",
                                    ["interventions": String(records.count), "incomplete": String(records.filter { !$0.complete }.count)], out)
        }
        let checkpoint = try makeCheckpoint()
        let path = temporaryFile("export")
        defer { try? FileManager.default.removeItem(atPath: path) }
        let handle = try RegisterExport.createFile(path)
        let count: Int
        do {
            defer { try? handle.close() }
            switch kind {
            case .csv: count = try RegisterExport.csv(store: store, filter: filter, to: handle, language: language)
            case .jsonl: count = try RegisterExport.jsonl(store: store, filter: filter, to: handle)
            case .html:
                let verification = RegisterVerifier.verify(
                    store: store, school: school, caCertificate: options.identity.caCertificate, seats: options.config.seats.map(\.id))
                count = try RegisterExport.html(
                    store: store, filter: filter, record: options.config.register, schoolName: options.config.school.name,
                    verification: verification, checkpoint: checkpoint, language: language, timeZone: zone, to: handle)
            }
        }
        try await stream(path, request.id, final: "register.exported", ["events": String(count)], out)
    }

    /// Verifies every chain, every seat of the config and the server's own checkpoints;
    /// with a checkpoint in the body (`vigie register verify --checkpoint`), that too.
    func verify(_ request: Request, body: [UInt8], peer: Peer, _ out: NIOAsyncChannelOutboundWriter<Frame>) async throws {
        var checkpoint: Checkpoint?
        if !body.isEmpty {
            do {
                checkpoint = try Checkpoint(json: String(decoding: body, as: UTF8.self))
            } catch {
                throw Reason("request.bad-argument", ["name": "checkpoint", "detail": "\(error)"])
            }
            guard checkpoint?.school == school else {
                throw Reason("request.bad-argument", ["name": "checkpoint", "detail": "a checkpoint of school \(checkpoint?.school ?? "?"), not \(school)"])
            }
        }
        let report = RegisterVerifier.verify(
            store: store, school: school, caCertificate: options.identity.caCertificate, seats: options.config.seats.map(\.id),
            checkpoint: checkpoint)
        var args: [String: String] = [:]
        if let checkpoint { args["checkpoint"] = checkpoint.createdUTC }
        try record("register.verify", args: args, peer: peer, code: report.ok ? "register.valid" : "register.invalid")
        let language = Language(rawValue: request.args["lang"] ?? "") ?? options.config.school.language
        try await reply(out, request.id, report.ok ? .ok : .failed, report.ok ? "register.valid" : "register.invalid",
                        ["events": String(report.eventsChecked)], body: Array(report.text(language).utf8))
    }

    func purge(_ request: Request, peer: Peer, _ out: NIOAsyncChannelOutboundWriter<Frame>) async throws {
        let days = options.config.register.retentionDays
        let cutoff = Date().addingTimeInterval(-Double(days) * 86_400)
        var result = try store.purge(school: school, olderThan: cutoff, features: .except(Interventions.features))
        // Intervention records have their own retention (`interventions_retention_days`).
        let interventionDays = options.config.register.interventionsRetentionDays
        let interventions = try store.purge(school: school, olderThan: Date().addingTimeInterval(-Double(interventionDays) * 86_400),
                                            features: .only(Interventions.features))
        result.purgedEvents += interventions.purgedEvents
        try record("register.purge", args: ["retention_days": String(days), "interventions_retention_days": String(interventionDays)], peer: peer,
                   params: ["purged": String(result.purgedEvents), "before": result.cutoffUTC, "interventions_before": interventions.cutoffUTC])
        let files = result.screenshotFiles.joined(separator: "\n")
        try await reply(out, request.id, .ok, "register.purged",
                        ["purged": String(result.purgedEvents), "days": String(days), "files": String(result.screenshotFiles.count)],
                        body: Array(files.utf8))
    }

    func subject(_ request: Request, peer: Peer, _ out: NIOAsyncChannelOutboundWriter<Frame>) async throws {
        guard let login = request.args["user"], !login.isEmpty else {
            throw Reason("request.bad-argument", ["name": "user", "detail": "missing"])
        }
        try record("register.subject", args: ["user": login], peer: peer)
        let path = temporaryFile("subject")
        defer { try? FileManager.default.removeItem(atPath: path) }
        let handle = try RegisterExport.createFile(path)
        let count: Int
        do {
            defer { try? handle.close() }
            count = try RegisterExport.jsonl(store: store, filter: RegisterFilter(school: school, subject: login), to: handle)
        }
        try await stream(path, request.id, final: "register.exported", ["events": String(count)], out)
    }

    func checkpoint(_ request: Request, peer: Peer, _ out: NIOAsyncChannelOutboundWriter<Frame>) async throws {
        let checkpoint = try makeCheckpoint()
        try record("register.checkpoint", args: [:], peer: peer)
        try await reply(out, request.id, .ok, "register.checkpoint", ["seats": String(checkpoint.seats.count)],
                        body: Array(try checkpoint.jsonString().utf8))
    }
}
