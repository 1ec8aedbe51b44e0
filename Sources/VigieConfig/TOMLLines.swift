/// Finds the line of each key in a TOML text. TOMLKit (toml++) reports positions
/// only for syntax errors, so errors about a value's meaning need this small scan
/// to name the line an admin must edit.
///
/// Paths look like `school.id`, `rooms.B204.purpose`, `rooms.B204.seats[1].address`
/// (array-of-tables entries are numbered from 0 in file order).
struct TOMLLines {
    private(set) var lines: [String: Int] = [:]
    /// Table paths in the order their headers appear, for file-order iteration.
    private(set) var order: [String: Int] = [:]

    init(text: String) {
        var prefix = ""
        var arrayCounts: [String: Int] = [:]
        var depth = 0  // open brackets of a multi-line value
        var lineNumber = 0
        // CR LF is one Character in Swift: split on it too (files edited on Windows).
        for raw in text.split(omittingEmptySubsequences: false, whereSeparator: { $0 == "\n" || $0 == "\r\n" }) {
            lineNumber += 1
            let line = Self.stripComment(String(raw)).trimmingCharacters(in: .whitespaces)
            if depth > 0 {
                depth += Self.bracketBalance(line)
                continue
            }
            if line.isEmpty { continue }
            if line.hasPrefix("[[") {
                let name = Self.normalise(String(line.dropFirst(2).prefix { $0 != "]" }))
                let index = arrayCounts[name, default: 0]
                arrayCounts[name] = index + 1
                prefix = "\(name)[\(index)]"
                record(prefix, lineNumber)
            } else if line.hasPrefix("[") {
                prefix = Self.normalise(String(line.dropFirst().prefix { $0 != "]" }))
                record(prefix, lineNumber)
            } else if let eq = Self.assignment(line) {
                let key = Self.normalise(String(line[..<eq]))
                let path = prefix.isEmpty ? key : "\(prefix).\(key)"
                record(path, lineNumber)
                depth = max(0, Self.bracketBalance(String(line[line.index(after: eq)...])))
            }
        }
    }

    private mutating func record(_ path: String, _ line: Int) {
        if lines[path] == nil { lines[path] = line }
        if order[path] == nil { order[path] = order.count }
        // Intermediate tables created by dotted headers (`[rooms.B204]` creates `rooms`).
        var parts = path.split(separator: ".")
        while parts.count > 1 {
            parts.removeLast()
            let parent = parts.joined(separator: ".")
            if lines[parent] == nil { lines[parent] = line }
            if order[parent] == nil { order[parent] = order.count }
        }
    }

    /// The line of `path`, or of its nearest enclosing table that has one.
    func line(_ path: String) -> Int? {
        var candidate = path
        while true {
            if let line = lines[candidate] { return line }
            guard let cut = candidate.lastIndex(where: { $0 == "." || $0 == "[" }) else { return nil }
            candidate = String(candidate[..<cut])
        }
    }

    private static func normalise(_ key: String) -> String {
        key.split(separator: ".").map { part in
            var p = part.trimmingCharacters(in: .whitespaces)
            if p.count >= 2, (p.hasPrefix("\"") && p.hasSuffix("\"")) || (p.hasPrefix("'") && p.hasSuffix("'")) {
                p = String(p.dropFirst().dropLast())
            }
            return p
        }.joined(separator: ".")
    }

    /// The index of the `=` of a key/value line, outside quotes.
    private static func assignment(_ line: String) -> String.Index? {
        var quote: Character?
        for i in line.indices {
            let c = line[i]
            if let q = quote { if c == q { quote = nil } } else if c == "\"" || c == "'" { quote = c } else if c == "=" { return i }
        }
        return nil
    }

    private static func stripComment(_ line: String) -> String {
        var quote: Character?
        for i in line.indices {
            let c = line[i]
            if let q = quote { if c == q { quote = nil } } else if c == "\"" || c == "'" { quote = c } else if c == "#" { return String(line[..<i]) }
        }
        return line
    }

    private static func bracketBalance(_ s: String) -> Int {
        var balance = 0
        var quote: Character?
        for c in s {
            if let q = quote { if c == q { quote = nil } } else if c == "\"" || c == "'" { quote = c } else if c == "[" || c == "{" { balance += 1 } else if c == "]" || c == "}" { balance -= 1 }
        }
        return balance
    }
}

import Foundation
