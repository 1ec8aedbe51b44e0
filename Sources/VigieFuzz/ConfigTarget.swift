import VigieConfig
import VigieModel

/// The school configuration loader on arbitrary text (bytes read as UTF-8,
/// invalid sequences replaced). What must hold:
///
/// - it throws only ``ConfigError``, with at least one issue, each naming the
///   file and, when it gives a line, a line of the text;
/// - the same text with CRLF line endings (a file edited on Windows) gives the
///   same verdict and the same issues, on the same lines;
/// - a configuration it accepts keeps the promises the agents rely on: valid
///   ids, seat ids unique in the school, each seat in its room, a port, a
///   console timeout in (0, 600] s, rooms and grants naming known rooms.
///
/// Accepted: a configuration.
public func fuzzConfig(_ bytes: UnsafeRawBufferPointer) throws(FuzzFailure) -> FuzzOutcome {
    let text = String(decoding: bytes, as: UTF8.self)
    let file = "/fuzz/school.toml"
    let fail = { (message: String) in FuzzFailure(.config, message) }

    let result = Result { () throws(ConfigError) in try ConfigLoader.parse(text: text, file: file) }
    let utf8 = Array(text.utf8)
    let crlfOnly = utf8.indices.allSatisfy { utf8[$0] != 0x0D || ($0 + 1 < utf8.count && utf8[$0 + 1] == 0x0A) }
    if utf8.contains(0x0D), crlfOnly {
        // Both line endings are newlines to TOML: LF only must read the same
        // (a lone CR is an error of its own, so such texts are left out).
        let lf = String(decoding: Array(text.utf8).crlfToLF(), as: UTF8.self)
        let other = Result { () throws(ConfigError) in try ConfigLoader.parse(text: lf, file: file) }
        let places = { (r: Result<SchoolConfig, ConfigError>) in
            (try? r.get()) != nil ? ["accepted"] : r.issueList.map { "\($0.line.map(String.init) ?? "-"):\($0.field)" }
        }
        guard places(result) == places(other) else {
            throw fail("CRLF and LF line endings read differently: \(places(result)) vs \(places(other))")
        }
    }
    switch result {
    case .failure(let error):
        guard !error.issues.isEmpty else { throw fail("ConfigError without an issue") }
        let lineCount = text.utf8.count { $0 == 0x0A } + 1
        for issue in error.issues {
            guard issue.file == file, !issue.message.isEmpty else { throw fail("issue without its file or message: \(issue)") }
            if let line = issue.line, !(1...lineCount).contains(line) {
                throw fail("issue on line \(line) of a text of \(lineCount) lines: \(issue)")
            }
        }
        return FuzzOutcome(accepted: false, error.issues[0].description)
    case .success(let config):
        guard Identity.isValidToken(config.school.id) else { throw fail("accepted school id \"\(config.school.id)\"") }
        guard config.consoleTimeout > 0, config.consoleTimeout <= 600 else { throw fail("accepted console timeout \(config.consoleTimeout)") }
        var seats = Set<String>()
        let rooms = Set(config.rooms.map(\.id))
        guard rooms.count == config.rooms.count else { throw fail("a room is declared twice") }
        for room in config.rooms {
            guard Identity.isValidToken(room.id) else { throw fail("accepted room id \"\(room.id)\"") }
            for seat in room.seats {
                guard Identity.isValidToken(seat.id), seats.insert(seat.id).inserted else { throw fail("accepted seat id \"\(seat.id)\" (invalid or twice)") }
                guard seat.room == room.id, !seat.host.isEmpty, (1...65535).contains(seat.port) else { throw fail("accepted seat \(seat)") }
            }
        }
        for grant in config.grants {
            guard grant.rooms.map({ $0.isSubset(of: rooms) }) ?? true else { throw fail("a grant names an unknown room: \(grant)") }
        }
        for person in config.people {
            guard Identity.isValidToken(person.login) else { throw fail("accepted login \"\(person.login)\"") }
            guard person.rooms.map({ $0.isSubset(of: rooms) }) ?? true else { throw fail("\(person.login) names an unknown room") }
        }
        return FuzzOutcome(accepted: true, "\(config.school.id): \(config.rooms.count) rooms, \(seats.count) seats")
    }
}

extension Result where Failure == ConfigError {
    fileprivate var issueList: [ConfigIssue] {
        if case .failure(let error) = self { return error.issues }
        return []
    }
}

extension Array where Element == UInt8 {
    /// The bytes with each CR LF replaced by LF.
    fileprivate func crlfToLF() -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(count)
        for (i, b) in enumerated() where !(b == 0x0D && i + 1 < count && self[i + 1] == 0x0A) { out.append(b) }
        return out
    }
}
