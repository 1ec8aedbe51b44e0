import Crypto
import Foundation

/// The hashes of the chain, version 1 (`docs/REGISTER.md`).
public enum ChainHash {
    /// Lowercase hex of `bytes`.
    public static func hex<D: Sequence>(_ bytes: D) -> String where D.Element == UInt8 {
        let digits: [UInt8] = Array("0123456789abcdef".utf8)
        var out: [UInt8] = []
        out.reserveCapacity(64)
        for b in bytes {
            out.append(digits[Int(b >> 4)])
            out.append(digits[Int(b & 0x0F)])
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// SHA-256 of `bytes`, lowercase hex.
    public static func sha256<D: DataProtocol>(_ bytes: D) -> String {
        hex(SHA256.hash(data: bytes))
    }

    /// The prevHash of a chain's first event: `SHA-256("vigie-genesis-v1\n" + school + "\n" + seat)`.
    public static func genesis(school: String, seat: String) -> String {
        sha256(Array("vigie-genesis-v1\n\(school)\n\(seat)".utf8))
    }

    /// The content hash: SHA-256 of the canonical content bytes.
    public static func content(_ canonical: [UInt8]) -> String { sha256(canonical) }

    /// The link: `SHA-256("vigie-chain-v1\n" + prevHash + "\n" + seq + "\n" + timeUTC + "\n" + contentHash)`,
    /// seq in decimal without leading zeros.
    public static func link(prevHash: String, seq: Int64, timeUTC: String, contentHash: String) -> String {
        sha256(Array("vigie-chain-v1\n\(prevHash)\n\(seq)\n\(timeUTC)\n\(contentHash)".utf8))
    }
}

/// One link of a chain: sequence number, time and hashes, and the content
/// (canonical JSON) until it is purged.
public struct ChainedEvent: Codable, Sendable, Equatable {
    /// Position in the chain, from 1.
    public var seq: Int64
    /// The event's UTC time (also in the content), kept after a purge.
    public var timeUTC: String
    /// The previous event's ``hash``, or the chain's genesis for seq 1.
    public var prevHash: String
    /// SHA-256 of ``content``'s UTF-8 bytes.
    public var contentHash: String
    /// The link hash (``ChainHash/link(prevHash:seq:timeUTC:contentHash:)``).
    public var hash: String
    /// The canonical JSON of the event; nil once purged.
    public var content: String?

    /// A link as stored.
    public init(seq: Int64, timeUTC: String, prevHash: String, contentHash: String, hash: String, content: String?) {
        self.seq = seq
        self.timeUTC = timeUTC
        self.prevHash = prevHash
        self.contentHash = contentHash
        self.hash = hash
        self.content = content
    }

    /// The decoded content, nil when purged or not valid.
    public var event: RegisterEvent? {
        guard let content else { return nil }
        return try? RegisterEvent(json: content)
    }

    /// Chains `event` after `previous` (nil for the first event of the chain).
    public static func make(after previous: (seq: Int64, hash: String)?, school: String, seat: String, event: RegisterEvent) -> ChainedEvent {
        let bytes = event.canonicalBytes
        let contentHash = ChainHash.content(bytes)
        let seq = (previous?.seq ?? 0) + 1
        let prev = previous?.hash ?? ChainHash.genesis(school: school, seat: seat)
        return ChainedEvent(
            seq: seq, timeUTC: event.timeUTC, prevHash: prev, contentHash: contentHash,
            hash: ChainHash.link(prevHash: prev, seq: seq, timeUTC: event.timeUTC, contentHash: contentHash),
            content: String(decoding: bytes, as: UTF8.self))
    }

    /// Whether ``hash`` is the link of the other fields.
    public var linkHolds: Bool {
        hash == ChainHash.link(prevHash: prevHash, seq: seq, timeUTC: timeUTC, contentHash: contentHash)
    }

    /// Whether the content (when present) hashes to ``contentHash``.
    public var contentHolds: Bool {
        guard let content else { return true }
        return ChainHash.content(Array(content.utf8)) == contentHash
    }

    /// Checks that this event follows `previous` in the chain of (`school`, `seat`): seq,
    /// prevHash, link, content hash, and that the content names the same school, seat and time.
    public func check(after previous: (seq: Int64, hash: String)?, school: String, seat: String) throws {
        let expectedSeq = (previous?.seq ?? 0) + 1
        let expectedPrev = previous?.hash ?? ChainHash.genesis(school: school, seat: seat)
        let whereText = "seat \(seat) of school \(school), seq \(seq)"
        guard seq == expectedSeq else {
            throw RegisterError(.brokenChain, "\(whereText): expected seq \(expectedSeq)")
        }
        guard prevHash == expectedPrev else {
            throw RegisterError(.brokenChain, "\(whereText): prevHash does not match the previous event's hash")
        }
        guard linkHolds else { throw RegisterError(.brokenChain, "\(whereText): hash does not match its fields") }
        guard let content else { throw RegisterError(.invalidContent, "\(whereText): the event has no content") }
        guard contentHolds else { throw RegisterError(.brokenChain, "\(whereText): contentHash does not match the content") }
        let event = try RegisterEvent(json: content)
        guard event.school == school, event.seat == seat else {
            throw RegisterError(.invalidContent, "\(whereText): the content names seat \(event.seat) of school \(event.school)")
        }
        guard event.timeUTC == timeUTC else {
            throw RegisterError(.invalidContent, "\(whereText): the content's time \(event.timeUTC) differs from the chain's \(timeUTC)")
        }
        guard RegisterTime.parseUTC(timeUTC) != nil else {
            throw RegisterError(.invalidContent, "\(whereText): time \"\(timeUTC)\" is not of the form 2026-11-23T09:02:00.123Z")
        }
    }
}
