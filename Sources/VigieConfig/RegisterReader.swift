import Foundation
import TOMLKit
import VigieModel

extension Reader {
    /// `[server]`: address = "host:port", store = "path" (relative to the config file).
    mutating func readServer(_ root: TOMLTable) -> ServerSettings? {
        guard let value = root["server"] else { return nil }
        guard let t = value.table else {
            fail("server", "must be a table ([server])")
            return nil
        }
        checkKeys(t, "server", allowed: ["address", "store", "config_poll_seconds", "timeout"])
        guard let address = string(t, "address", "server") else { return nil }
        guard let (host, port) = Self.parseAddress(address) else {
            fail("server.address", "“\(address)” is not host:port (e.g. 10.20.0.5:7444)")
            return nil
        }
        let store = string(t, "store", "server", required: false) ?? "register.sqlite"
        let path = store.hasPrefix("/") ? store : URL(fileURLWithPath: file).deletingLastPathComponent().appendingPathComponent(store).path
        var poll = 60.0
        if let v = t["config_poll_seconds"] {
            if let d = v.double ?? v.int.map(Double.init), d >= 1, d <= 86_400 { poll = d } else {
                fail("server.config_poll_seconds", "must be a number of seconds between 1 and 86400")
            }
        }
        var timeout = 10.0
        if let v = t["timeout"] {
            if let d = v.double ?? v.int.map(Double.init), d >= 0.5, d <= 600 { timeout = d } else {
                fail("server.timeout", "must be a number of seconds between 0.5 and 600: how long seats and consoles wait for the server")
            }
        }
        return ServerSettings(host: host, port: port, storePath: path, configPollSeconds: poll, timeoutSeconds: timeout)
    }

    /// `[register]`: the art. 30 record.
    mutating func readRecord(_ root: TOMLTable) -> ProcessingRecord {
        var record = ProcessingRecord()
        guard let value = root["register"] else { return record }
        guard let t = value.table else {
            fail("register", "must be a table ([register])")
            return record
        }
        checkKeys(t, "register", allowed: [
            "controller", "dpo", "purpose", "legal_basis", "people", "data", "recipients", "retention_days", "security", "transfers",
            "seat_retention_days", "interventions_retention_days",
        ])
        record.controller = string(t, "controller", "register") ?? ""
        record.dpoContact = string(t, "dpo", "register") ?? ""
        record.purpose = string(t, "purpose", "register") ?? ""
        record.legalBasis = string(t, "legal_basis", "register") ?? ""
        // An art. 30 record names its categories: every list is required.
        func list(_ key: String) -> [String] {
            guard let l = stringList(t, key, "register") else {
                if t[key] == nil { fail("register.\(key)", "missing (required in the art. 30 record): a list of texts") }
                return []
            }
            return l
        }
        record.peopleCategories = list("people")
        record.dataCategories = list("data")
        record.recipients = list("recipients")
        record.securityMeasures = list("security")
        record.transfers = string(t, "transfers", "register", required: false) ?? "aucun"
        if let v = t["retention_days"] {
            if let d = v.int, (1...3650).contains(d) { record.retentionDays = d } else {
                fail("register.retention_days", "must be a number of days between 1 and 3650")
            }
        }
        record.seatRetentionDays = min(ProcessingRecord.defaultSeatRetentionDays, record.retentionDays)
        if let v = t["seat_retention_days"] {
            if let d = v.int, (1...record.retentionDays).contains(d) { record.seatRetentionDays = d } else {
                fail("register.seat_retention_days",
                     "must be a number of days between 1 and retention_days (\(record.retentionDays)): how long seats keep events the server has stored")
            }
        }
        if let v = t["interventions_retention_days"] {
            if let d = v.int, (1...3650).contains(d) { record.interventionsRetentionDays = d } else {
                fail("register.interventions_retention_days", "must be a number of days between 1 and 3650: how long intervention records are kept")
            }
        }
        return record
    }
}
