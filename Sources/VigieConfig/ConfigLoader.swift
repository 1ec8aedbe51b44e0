import Foundation
import TOMLKit
import VigieModel

/// One problem in a configuration file: where it is and what to do about it.
public struct ConfigIssue: Error, Sendable, Hashable, CustomStringConvertible {
    public var file: String
    /// 1-based line, when known.
    public var line: Int?
    /// The field's path, e.g. `rooms.CDI.seats[1].address`.
    public var field: String
    public var message: String

    public init(file: String, line: Int?, field: String, message: String) {
        self.file = file
        self.line = line
        self.field = field
        self.message = message
    }

    /// `school.toml:42: rooms.CDI.seats[1].address: …`
    public var description: String {
        let place = line.map { "\(file):\($0)" } ?? file
        return field.isEmpty ? "\(place): \(message)" : "\(place): \(field): \(message)"
    }
}

/// Every problem found in a configuration file (the loader reports them all at once).
public struct ConfigError: Error, Sendable, CustomStringConvertible {
    public var issues: [ConfigIssue]
    public var description: String { issues.map(\.description).joined(separator: "\n") }
}

/// Reads and validates a school configuration (`Config/school.example.toml` documents it).
public enum ConfigLoader {
    /// Loads `path`. Relative paths inside the file are relative to the file's folder.
    public static func load(path: String) throws(ConfigError) -> SchoolConfig {
        let text: String
        do {
            text = try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            throw ConfigError(issues: [ConfigIssue(file: path, line: nil, field: "", message: "cannot read the file (\(Self.reason(error)))")])
        }
        return try parse(text: text, file: path)
    }

    /// Parses configuration text; `file` names it in errors and anchors relative paths.
    public static func parse(text: String, file: String) throws(ConfigError) -> SchoolConfig {
        if let line = badTableHeader(text) {
            throw ConfigError(issues: [ConfigIssue(file: file, line: line, field: "", message: "TOML syntax: a table header must start with a key, e.g. [rooms.B204]")])
        }
        let table: TOMLTable
        do {
            table = try TOMLTable(string: text)
        } catch let error as TOMLParseError {
            throw ConfigError(issues: [ConfigIssue(file: file, line: error.source.begin.line, field: "", message: "TOML syntax: \(error.description)")])
        } catch {
            throw ConfigError(issues: [ConfigIssue(file: file, line: nil, field: "", message: "TOML syntax: \(error)")])
        }
        var reader = Reader(file: file, lines: TOMLLines(text: text))
        let config = reader.read(table)
        if !reader.issues.isEmpty || config == nil {
            throw ConfigError(issues: reader.issues.sorted { ($0.line ?? 0, $0.field) < ($1.line ?? 0, $1.field) })
        }
        return config!
    }

    /// The line of a table header whose first key starts with a character no key
    /// starts with (`[%]`, `[[ =a]]`, `[é]`): toml++ aborts on an assertion there
    /// instead of reporting a syntax error (found by fuzzing, docs/FUZZING.md).
    /// Works on bytes (a combining mark after `[` would hide it in a Character).
    /// Every line is checked, even inside a multi-line string (telling those apart
    /// needs a TOML lexer; a second fuzz run showed a simple one was fooled), so
    /// such a string may not have a line starting with `[` and a non-key character.
    static func badTableHeader(_ text: String) -> Int? {
        let bytes = Array(text.utf8)
        var lineNumber = 0
        for line in bytes.split(separator: 0x0A, omittingEmptySubsequences: false) {
            lineNumber += 1
            var i = line.startIndex
            func skipBlanks() { while i < line.endIndex, line[i] == 0x20 || line[i] == 0x09 { i += 1 } }
            skipBlanks()
            if i < line.endIndex, line[i] == UInt8(ascii: "[") {
                i += 1
                if i < line.endIndex, line[i] == UInt8(ascii: "[") { i += 1 }
                skipBlanks()
                guard i < line.endIndex else { return lineNumber }
                let c = line[i]
                let startsKey = (0x30...0x39).contains(c) || (0x41...0x5A).contains(c) || (0x61...0x7A).contains(c)
                    || c == UInt8(ascii: "_") || c == UInt8(ascii: "-") || c == UInt8(ascii: "\"") || c == UInt8(ascii: "'")
                    || c == UInt8(ascii: "]")
                if !startsKey { return lineNumber }
            }
        }
        return nil
    }

    static func reason(_ error: Error) -> String {
        let ns = error as NSError
        if let underlying = ns.userInfo[NSUnderlyingErrorKey] as? NSError, underlying.domain == NSPOSIXErrorDomain,
           let message = strerror(Int32(underlying.code)) {
            return String(cString: message)
        }
        return ns.localizedDescription
    }
}

/// Walks the TOML tree, collecting issues with their lines.
struct Reader {
    let file: String
    let lines: TOMLLines
    var issues: [ConfigIssue] = []

    init(file: String, lines: TOMLLines) {
        self.file = file
        self.lines = lines
    }

    mutating func fail(_ field: String, _ message: String) {
        issues.append(ConfigIssue(file: file, line: lines.line(field), field: field, message: message))
    }

    mutating func checkKeys(_ table: TOMLTable, _ path: String, allowed: Set<String>) {
        for key in table.keys where !allowed.contains(key) {
            let field = path.isEmpty ? key : "\(path).\(key)"
            fail(field, "unknown field (expected one of: \(allowed.sorted().joined(separator: ", ")))")
        }
    }

    mutating func string(_ table: TOMLTable, _ key: String, _ path: String, required: Bool = true) -> String? {
        let field = "\(path).\(key)"
        guard let value = table[key] else {
            if required { fail(field, "missing (required)") }
            return nil
        }
        guard let s = value.string else {
            fail(field, "must be a text in quotes")
            return nil
        }
        return s
    }

    mutating func stringList(_ table: TOMLTable, _ key: String, _ path: String) -> [String]? {
        let field = "\(path).\(key)"
        guard let value = table[key] else { return nil }
        guard let array = value.array else {
            fail(field, "must be a list of texts, e.g. [\"a\", \"b\"]")
            return nil
        }
        var out: [String] = []
        for (i, item) in array.enumerated() {
            guard let s = item.string else {
                fail("\(field)[\(i)]", "must be a text in quotes")
                continue
            }
            out.append(s)
        }
        return out
    }

    mutating func tables(_ table: TOMLTable, _ key: String, _ path: String) -> [TOMLTable] {
        guard let value = table[key] else { return [] }
        guard let array = value.array else {
            fail("\(path).\(key)", "must be a list of tables ([[\(path).\(key)]] sections)")
            return []
        }
        var out: [TOMLTable] = []
        for (i, item) in array.enumerated() {
            if let t = item.table { out.append(t) } else { fail("\(path).\(key)[\(i)]", "must be a table") }
        }
        return out
    }

    mutating func read(_ root: TOMLTable) -> SchoolConfig? {
        checkKeys(root, "", allowed: ["school", "pki", "console", "rooms", "grants", "people", "signage", "server", "register", "power", "wake", "programs", "messages", "watch", "assistance"])

        // [school]
        var school: School?
        if let t = root["school"]?.table {
            checkKeys(t, "school", allowed: ["id", "name", "language"])
            let id = string(t, "id", "school")
            let name = string(t, "name", "school")
            var language = Language.fr
            if let l = string(t, "language", "school", required: false) {
                if let parsed = Language(rawValue: l) { language = parsed } else { fail("school.language", "“\(l)” is not a supported language (fr or en)") }
            }
            if let id, !Identity.isValidToken(id) {
                fail("school.id", "“\(id)” is not a valid school id (letters, digits, - _ . ; e.g. the UAI 0750001A)")
            }
            if let id, let name { school = School(id: id, name: name, language: language) }
        } else {
            fail("school", "missing [school] section (id and name of the school)")
        }

        // [pki]: the trust anchor is the ca.pem of each identity folder; the config
        // only lists what the school has revoked.
        var revoked = Set<String>()
        if let t = root["pki"]?.table {
            checkKeys(t, "pki", allowed: ["revoked"])
            for (i, serial) in (stringList(t, "revoked", "pki") ?? []).enumerated() {
                if let s = CertificateSerial.normalized(serial) {
                    revoked.insert(s)
                } else {
                    fail("pki.revoked[\(i)]", "“\(serial)” is not a certificate serial in hexadecimal (as printed by `vigie pki issue`)")
                }
            }
        }

        // [console]
        var timeout = SchoolConfig.defaultConsoleTimeout
        if let t = root["console"]?.table {
            checkKeys(t, "console", allowed: ["timeout"])
            if let v = t["timeout"] {
                if let d = v.double ?? v.int.map(Double.init), d > 0, d <= 600 { timeout = d } else { fail("console.timeout", "must be a number of seconds between 0 and 600") }
            }
        }

        // [rooms.ID]
        var rooms: [Room] = []
        var seatIDs: [String: String] = [:]
        if let roomsTable = root["rooms"]?.table {
            let ids = roomsTable.keys.sorted { (lines.order["rooms.\($0)"] ?? 0) < (lines.order["rooms.\($1)"] ?? 0) }
            for id in ids {
                if let room = readRoom(id: id, roomsTable[id], seatIDs: &seatIDs) { rooms.append(room) }
            }
        }
        if rooms.isEmpty && root["rooms"] == nil { fail("rooms", "no room: add a [rooms.ID] section") }
        let roomIDs = Set(rooms.map(\.id))

        // [[grants]]
        var grants: [Grant] = []
        for (i, t) in tables(root, "grants", "").enumerated() {
            let path = "grants[\(i)]"
            checkKeys(t, path, allowed: ["role", "rooms", "features"])
            var role: Role?
            if let r = string(t, "role", path) {
                role = Role(rawValue: r)
                if role == nil { fail("\(path).role", "unknown role “\(r)” (teacher, librarian, head, admin or technician)") }
            }
            let rooms = readRooms(t, path, known: roomIDs)
            var features = Set<Feature>()
            for (j, f) in (stringList(t, "features", path) ?? []).enumerated() {
                if f == "*" { features.formUnion(Feature.allCases) } else if let feature = Feature(rawValue: f) { features.insert(feature) } else {
                    fail("\(path).features[\(j)]", "unknown feature “\(f)” (one of: \(Feature.allCases.map(\.rawValue).joined(separator: ", ")), or *)")
                }
            }
            if let role { grants.append(Grant(role: role, rooms: rooms, features: features)) }
        }

        // [[people]]
        var people: [Person] = []
        var logins = Set<String>()
        for (i, t) in tables(root, "people", "").enumerated() {
            let path = "people[\(i)]"
            checkKeys(t, path, allowed: ["login", "name", "rooms"])
            guard let login = string(t, "login", path) else { continue }
            if !Identity.isValidToken(login) { fail("\(path).login", "“\(login)” is not a valid login (letters, digits, - _ .)") }
            if !logins.insert(login).inserted { fail("\(path).login", "“\(login)” is listed twice") }
            let name = string(t, "name", path, required: false)
            people.append(Person(login: login, name: name, rooms: readRooms(t, path, known: roomIDs)))
        }

        // [signage] (SignageReader.swift), [server] and [register] (RegisterReader.swift),
        // [power], [wake], [programs] (PowerReader.swift)
        let signage = readSignage(root)
        let server = readServer(root)
        let record = readRecord(root)
        let (power, programs) = readPower(root, rooms: roomIDs)
        let messages = readMessages(root)
        let watch = readWatch(root)
        let assistance = readAssistance(root)
        guard let school else { return nil }
        var config = SchoolConfig(school: school, revokedSerials: revoked, rooms: rooms, grants: grants, people: people,
                                  consoleTimeout: timeout, signage: signage, server: server, register: record)
        config.power = power
        config.programs = programs
        config.messages = messages
        config.watch = watch
        config.assistance = assistance
        return config
    }

    /// `rooms = ["B204", "CDI"]` or `["*"]`; nil means every room.
    mutating func readRooms(_ t: TOMLTable, _ path: String, known: Set<String>) -> Set<String>? {
        guard let list = stringList(t, "rooms", path) else { return nil }
        if list.contains("*") { return nil }
        for (j, r) in list.enumerated() where !known.contains(r) {
            fail("\(path).rooms[\(j)]", "unknown room “\(r)” (rooms: \(known.sorted().joined(separator: ", ")))")
        }
        return Set(list)
    }

    mutating func readRoom(id: String, _ value: TOMLValueConvertible?, seatIDs: inout [String: String]) -> Room? {
        let path = "rooms.\(id)"
        guard let t = value?.table else {
            fail(path, "must be a table ([rooms.\(id)])")
            return nil
        }
        if !Identity.isValidToken(id) { fail(path, "“\(id)” is not a valid room id (letters, digits, - _ .)") }
        checkKeys(t, path, allowed: ["name", "purpose", "time_zone", "seats", "opening", "monitoring", "closed", "min_unmonitored_minutes"])
        let name = string(t, "name", path, required: false) ?? id
        var purpose = RoomPurpose.pedagogy
        if let p = string(t, "purpose", path) {
            if let parsed = RoomPurpose(rawValue: p) { purpose = parsed } else { fail("\(path).purpose", "“\(p)” is not a purpose (pedagogy for a classroom, surveillance for a library)") }
        }
        let zone = string(t, "time_zone", path, required: false) ?? "Europe/Paris"
        if TimeZone(identifier: zone) == nil { fail("\(path).time_zone", "unknown time zone “\(zone)” (an IANA name such as Europe/Paris)") }
        var seats: [Seat] = []
        for (i, s) in tables(t, "seats", path).enumerated() {
            let sp = "\(path).seats[\(i)]"
            checkKeys(s, sp, allowed: ["id", "address", "mac"])
            guard let seatID = string(s, "id", sp) else { continue }
            if !Identity.isValidToken(seatID) { fail("\(sp).id", "“\(seatID)” is not a valid seat id (letters, digits, - _ .)") }
            if let other = seatIDs[seatID] {
                fail("\(sp).id", "seat “\(seatID)” is already declared in room \(other)")
            }
            seatIDs[seatID] = id
            var mac: String?
            if let m = string(s, "mac", sp, required: false) {
                if Self.isMAC(m) { mac = m.lowercased() } else { fail("\(sp).mac", "“\(m)” is not a MAC address like 52:54:00:12:34:56") }
            }
            guard let address = string(s, "address", sp) else { continue }
            guard let (host, port) = Self.parseAddress(address) else {
                fail("\(sp).address", "“\(address)” is not host:port (e.g. 10.20.4.11:7443 or [fd00::11]:7443)")
                continue
            }
            seats.append(Seat(id: seatID, room: id, host: host, port: port, mac: mac))
        }
        if seats.isEmpty && t["seats"] == nil { fail(path, "room \(id) has no seat (add [[\(path).seats]] sections)") }
        let schedule = readSchedule(t, path, purpose: purpose)
        return Room(id: id, name: name, purpose: purpose, timeZone: zone, seats: seats, schedule: schedule)
    }

    static func parseAddress(_ s: String) -> (String, Int)? {
        var host: Substring
        var portPart: Substring
        if s.hasPrefix("[") {
            guard let close = s.firstIndex(of: "]"), s[s.index(after: close)...].hasPrefix(":") else { return nil }
            host = s[s.index(after: s.startIndex)..<close]
            portPart = s[s.index(close, offsetBy: 2)...]
        } else {
            guard let colon = s.lastIndex(of: ":"), !s[..<colon].contains(":") else { return nil }
            host = s[..<colon]
            portPart = s[s.index(after: colon)...]
        }
        guard !host.isEmpty, let port = Int(portPart), (1...65535).contains(port) else { return nil }
        return (String(host), port)
    }

    static func isMAC(_ s: String) -> Bool {
        let parts = s.split(separator: ":", omittingEmptySubsequences: false)
        return parts.count == 6 && parts.allSatisfy { $0.count == 2 && $0.allSatisfy(\.isHexDigit) }
    }
}
