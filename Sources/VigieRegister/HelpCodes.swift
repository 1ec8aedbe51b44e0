import Crypto
import Foundation
import NIOConcurrencyHelpers

/// Help requests and their short codes (the support charter's « code de
/// connexion », six digits, ten minutes, one use), as the seat and the school
/// server each keep them.
///
/// A code is never kept in clear: only its HMAC under a key drawn at start (the
/// seat's, never written) or read from a 0600 file of its own (the server's, so
/// that its pending requests outlive a restart), so neither the table nor a log
/// can give it back, and six digits cannot be tried offline without that key. Wrong codes are counted
/// per helper and per seat: after ``maxWrong`` within ``window`` the helper (or
/// the seat's request) is locked out for ``lockout``, and a seat's request is
/// voided, so guessing a million codes is not possible.
public final class HelpCodes: Sendable {
    /// A pending request.
    public struct Pending: Sendable, Equatable {
        public var seat: String
        public var room: String
        /// The login of the person who asked.
        public var user: String
        /// Their one line about the problem (may be empty).
        public var description: String
        public var asked: Date
        public var expires: Date
        /// The code's HMAC (what a server keeps across a restart).
        public internal(set) var digest: [UInt8]

        /// A request as kept on disk (its digest under the same key).
        public init(seat: String, room: String, user: String, description: String, asked: Date, expires: Date, digest: [UInt8]) {
            self.seat = seat
            self.room = room
            self.user = user
            self.description = description
            self.asked = asked
            self.expires = expires
            self.digest = digest
        }
    }

    /// What a code given by a helper turned out to be.
    public enum Check: Sendable, Equatable {
        /// It matches this request, which is now used.
        case matched(Pending)
        /// No pending request has it; `left` tries before the lockout.
        case wrong(left: Int)
        /// Too many wrong codes: none is checked before `until`.
        case locked(until: Date)
    }

    public static let lifetime: TimeInterval = 600
    public static let maxWrong = 5
    public static let window: TimeInterval = 600
    public static let lockout: TimeInterval = 600
    /// Pending requests kept at most (one per seat; a school server holds a few thousand seats).
    public static let maxPending = 20_000

    struct State {
        var pending: [String: Pending] = [:]
        var wrong: [String: [Date]] = [:]
        var locked: [String: Date] = [:]
    }

    private let key: SymmetricKey
    private let state = NIOLockedValueBox(State())

    /// With a fresh key (nothing survives the process), or `key` (32 bytes).
    public init(key: [UInt8]? = nil) {
        self.key = key.map { SymmetricKey(data: $0) } ?? SymmetricKey(size: .bits256)
    }

    /// Takes back requests kept on disk (those not yet expired).
    public func restore(_ kept: [Pending], now: Date = Date()) {
        state.withLockedValue { s in
            for p in kept where p.expires > now && s.pending.count < Self.maxPending { s.pending[p.seat] = p }
        }
    }

    /// Whether `code` is six digits.
    public static func isWellFormed(_ code: String) -> Bool {
        code.utf8.count == 6 && code.utf8.allSatisfy { $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }
    }

    /// A fresh code, uniformly drawn.
    public static func draw() -> String {
        var rng = SystemRandomNumberGenerator()
        let n = Int.random(in: 0..<1_000_000, using: &rng)
        let text = String(n)
        return String(repeating: "0", count: 6 - text.count) + text
    }

    func digest(_ code: String) -> [UInt8] {
        Array(HMAC<SHA256>.authenticationCode(for: Array(code.utf8), using: key))
    }

    /// Keeps a request under `code` (replacing the seat's earlier one).
    public func put(seat: String, room: String, user: String, description: String, code: String, now: Date = Date()) -> Pending {
        let pending = Pending(seat: seat, room: room, user: user, description: description, asked: now,
                              expires: now.addingTimeInterval(Self.lifetime), digest: digest(code))
        state.withLockedValue { s in
            s.pending = s.pending.filter { $0.value.expires > now }
            if s.pending.count >= Self.maxPending, s.pending[seat] == nil, let oldest = s.pending.min(by: { $0.value.asked < $1.value.asked }) {
                s.pending.removeValue(forKey: oldest.key)
            }
            s.pending[seat] = pending
        }
        return pending
    }

    /// The requests still valid, oldest first.
    public func pending(now: Date = Date()) -> [Pending] {
        state.withLockedValue { s in
            s.pending = s.pending.filter { $0.value.expires > now }
            return s.pending.values.sorted { $0.asked < $1.asked }
        }
    }

    /// Removes a seat's request (answered, or its person logged out).
    public func remove(seat: String) {
        state.withLockedValue { _ = $0.pending.removeValue(forKey: seat) }
    }

    /// Checks a code for `who` (a helper's identity, and on a seat also the seat):
    /// every key in `who` counts the wrong tries. A match uses the request up.
    /// `seat`, when given, restricts the match to that seat's request.
    public func check(_ code: String, who: [String], seat: String? = nil, now: Date = Date()) -> Check {
        state.withLockedValue { s in
            s.pending = s.pending.filter { $0.value.expires > now }
            for key in who {
                if let until = s.locked[key] {
                    if until > now { return .locked(until: until) }
                    s.locked.removeValue(forKey: key)
                }
            }
            let d = digest(code)
            if Self.isWellFormed(code),
               let hit = s.pending.first(where: { (seat == nil || $0.key == seat) && Self.same($0.value.digest, d) }) {
                s.pending.removeValue(forKey: hit.key)
                return .matched(hit.value)
            }
            var left = Self.maxWrong
            var lockedUntil: Date?
            for key in who {
                var tries = (s.wrong[key] ?? []).filter { now.timeIntervalSince($0) < Self.window }
                tries.append(now)
                if tries.count >= Self.maxWrong {
                    let until = now.addingTimeInterval(Self.lockout)
                    s.locked[key] = until
                    s.wrong.removeValue(forKey: key)
                    lockedUntil = until
                } else {
                    s.wrong[key] = tries
                    left = min(left, Self.maxWrong - tries.count)
                }
            }
            if s.wrong.count > 50_000 { s.wrong = s.wrong.filter { $0.value.contains { now.timeIntervalSince($0) < Self.window } } }
            if let lockedUntil {
                // A seat locked out loses its pending code: guessing cannot go on with a new helper.
                if let seat { s.pending.removeValue(forKey: seat) }
                return .locked(until: lockedUntil)
            }
            return .wrong(left: left)
        }
    }

    /// Constant-time comparison.
    static func same(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        guard a.count == b.count else { return false }
        var diff: UInt8 = 0
        for i in a.indices { diff |= a[i] ^ b[i] }
        return diff == 0
    }
}
