/// The canonical JSON of register content, version 1 (`docs/REGISTER.md`).
///
/// One object whose values are strings or objects of strings; keys sorted by
/// their UTF-8 bytes; no whitespace; `"` and `\` escaped as `\"` and `\\`;
/// U+0000–U+001F and U+007F written `\u00xx` with lowercase hex; everything else,
/// `/` and non-ASCII included, as raw UTF-8. Written by hand so that its bytes
/// never depend on a JSON library's choices.
public enum CanonicalJSON {
    /// A value of canonical content.
    public enum Value: Sendable, Equatable {
        case string(String)
        case object([String: String])
    }

    /// The canonical bytes of `object`.
    public static func encode(_ object: [String: Value]) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(256)
        out.append(UInt8(ascii: "{"))
        var first = true
        for (key, value) in sortedByUTF8(object) {
            if !first { out.append(UInt8(ascii: ",")) }
            first = false
            appendString(key, to: &out)
            out.append(UInt8(ascii: ":"))
            switch value {
            case .string(let s): appendString(s, to: &out)
            case .object(let o): encode(o, to: &out)
            }
        }
        out.append(UInt8(ascii: "}"))
        return out
    }

    /// The canonical bytes of an object of strings.
    public static func encode(_ object: [String: String]) -> [UInt8] {
        var out: [UInt8] = []
        encode(object, to: &out)
        return out
    }

    static func encode(_ object: [String: String], to out: inout [UInt8]) {
        out.append(UInt8(ascii: "{"))
        var first = true
        for (key, value) in sortedByUTF8(object) {
            if !first { out.append(UInt8(ascii: ",")) }
            first = false
            appendString(key, to: &out)
            out.append(UInt8(ascii: ":"))
            appendString(value, to: &out)
        }
        out.append(UInt8(ascii: "}"))
    }

    static func sortedByUTF8<V>(_ object: [String: V]) -> [(String, V)] {
        object.map { ($0.key, $0.value) }.sorted { a, b in a.0.utf8.lexicographicallyPrecedes(b.0.utf8) }
    }

    private static let hex: [UInt8] = Array("0123456789abcdef".utf8)

    /// Appends `s` as a canonical JSON string.
    public static func appendString(_ s: String, to out: inout [UInt8]) {
        out.append(UInt8(ascii: "\""))
        for c in s.utf8 {
            switch c {
            case UInt8(ascii: "\""): out.append(UInt8(ascii: "\\")); out.append(c)
            case UInt8(ascii: "\\"): out.append(UInt8(ascii: "\\")); out.append(c)
            case 0x00...0x1F, 0x7F:
                out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "u"), UInt8(ascii: "0"), UInt8(ascii: "0")])
                out.append(hex[Int(c >> 4)])
                out.append(hex[Int(c & 0x0F)])
            default: out.append(c)
            }
        }
        out.append(UInt8(ascii: "\""))
    }

    // MARK: - Reading

    /// Parses a JSON object whose values are strings or objects of strings (any
    /// valid JSON of that shape, canonical or not: whitespace and all escapes are
    /// accepted). Anything else is an error.
    public static func parse(_ bytes: [UInt8]) throws -> [String: Value] {
        var p = Parser(bytes: bytes)
        p.skipSpace()
        let result: [String: Value] = try p.object { (p: inout Parser) throws -> Value in
            if p.peek == UInt8(ascii: "{") {
                return Value.object(try p.object { (q: inout Parser) throws -> String in try q.string() })
            }
            return Value.string(try p.string())
        }
        p.skipSpace()
        guard p.index == bytes.count else { throw p.error("trailing characters after the object") }
        return result
    }

    struct Parser {
        let bytes: [UInt8]
        var index = 0

        var peek: UInt8? { index < bytes.count ? bytes[index] : nil }

        func error(_ what: String) -> RegisterError {
            RegisterError(.invalidContent, "the event content is not valid JSON at byte \(index): \(what)")
        }

        mutating func skipSpace() {
            while let c = peek, c == 0x20 || c == 0x09 || c == 0x0A || c == 0x0D { index += 1 }
        }

        mutating func expect(_ c: UInt8) throws {
            skipSpace()
            guard peek == c else { throw error("expected '\(Character(Unicode.Scalar(c)))'") }
            index += 1
        }

        mutating func object<V>(_ value: (inout Parser) throws -> V) throws -> [String: V] {
            try expect(UInt8(ascii: "{"))
            var result: [String: V] = [:]
            skipSpace()
            if peek == UInt8(ascii: "}") { index += 1; return result }
            while true {
                skipSpace()
                let key = try string()
                try expect(UInt8(ascii: ":"))
                skipSpace()
                guard result[key] == nil else { throw error("duplicate key \"\(key)\"") }
                result[key] = try value(&self)
                skipSpace()
                if peek == UInt8(ascii: ",") { index += 1; continue }
                try expect(UInt8(ascii: "}"))
                return result
            }
        }

        mutating func hex4() throws -> UInt32 {
            guard index + 4 <= bytes.count else { throw error("short \\u escape") }
            var v: UInt32 = 0
            for _ in 0..<4 {
                let c = bytes[index]
                index += 1
                v <<= 4
                switch c {
                case 0x30...0x39: v |= UInt32(c - 0x30)
                case 0x41...0x46: v |= UInt32(c - 0x41 + 10)
                case 0x61...0x66: v |= UInt32(c - 0x61 + 10)
                default: throw error("bad hex digit in \\u escape")
                }
            }
            return v
        }

        mutating func string() throws -> String {
            guard peek == UInt8(ascii: "\"") else { throw error("expected a string") }
            index += 1
            let start = index
            // Fast path: no escapes.
            while index < bytes.count, bytes[index] != UInt8(ascii: "\""), bytes[index] != UInt8(ascii: "\\"), bytes[index] >= 0x20 {
                index += 1
            }
            if index < bytes.count, bytes[index] == UInt8(ascii: "\"") {
                let s = bytes[start..<index]
                index += 1
                guard let text = String(validating: s, as: UTF8.self) else { throw error("invalid UTF-8") }
                return text
            }
            var out = Array(bytes[start..<index])
            while true {
                guard let c = peek else { throw error("unterminated string") }
                index += 1
                switch c {
                case UInt8(ascii: "\""):
                    guard let text = String(validating: out, as: UTF8.self) else { throw error("invalid UTF-8") }
                    return text
                case UInt8(ascii: "\\"):
                    guard let e = peek else { throw error("unterminated escape") }
                    index += 1
                    switch e {
                    case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): out.append(e)
                    case UInt8(ascii: "b"): out.append(0x08)
                    case UInt8(ascii: "f"): out.append(0x0C)
                    case UInt8(ascii: "n"): out.append(0x0A)
                    case UInt8(ascii: "r"): out.append(0x0D)
                    case UInt8(ascii: "t"): out.append(0x09)
                    case UInt8(ascii: "u"):
                        var scalar = try hex4()
                        if (0xD800...0xDBFF).contains(scalar) {
                            guard peek == UInt8(ascii: "\\"), index + 1 < bytes.count, bytes[index + 1] == UInt8(ascii: "u") else {
                                throw error("lone surrogate")
                            }
                            index += 2
                            let low = try hex4()
                            guard (0xDC00...0xDFFF).contains(low) else { throw error("bad surrogate pair") }
                            scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                        }
                        guard let u = Unicode.Scalar(scalar) else { throw error("lone surrogate") }
                        out.append(contentsOf: Array(String(Character(u)).utf8))
                    default: throw error("unknown escape")
                    }
                case 0x00...0x1F: throw error("raw control character in a string")
                default: out.append(c)
                }
            }
        }
    }
}
