import Foundation
import Testing
import VigieModel
import VigieRegister

/// The help codes' rules, on a given clock: ten minutes, one use, lockouts.
@Suite struct HelpCodeRules {
    let start = Date(timeIntervalSince1970: 1_800_000_000)

    @Test func aCodeWorksOnceAndOnlyWithinTenMinutes() {
        let book = HelpCodes()
        _ = book.put(seat: "B204-01", room: "B204", user: "eleve", description: "", code: "123456", now: start)
        #expect(book.check("123456", who: ["tech"], now: start.addingTimeInterval(601)) == .wrong(left: 4), "expired after 10 minutes")
        _ = book.put(seat: "B204-01", room: "B204", user: "eleve", description: "écran", code: "654321", now: start)
        guard case .matched(let p) = book.check("654321", who: ["tech"], now: start.addingTimeInterval(599)) else {
            Issue.record("a code within its 10 minutes is accepted")
            return
        }
        #expect(p.seat == "B204-01" && p.description == "écran")
        #expect(book.check("654321", who: ["tech"], now: start.addingTimeInterval(600)) == .wrong(left: 3), "used once")
    }

    /// A server's requests outlive a restart: kept with their HMAC under the same key
    /// they still match their code; under another key, nothing matches.
    @Test func requestsKeptUnderTheSameKeyStillMatchAfterARestart() {
        let key = [UInt8](repeating: 7, count: 32)
        let before = HelpCodes(key: key)
        let kept = before.put(seat: "B204-01", room: "B204", user: "eleve", description: "écran", code: "123456", now: start)
        #expect(!kept.digest.isEmpty && kept.digest != Array("123456".utf8))
        let after = HelpCodes(key: key)
        after.restore([kept], now: start.addingTimeInterval(30))
        #expect(after.pending(now: start.addingTimeInterval(30)).map(\.seat) == ["B204-01"])
        guard case .matched(let p) = after.check("123456", who: ["tech"], now: start.addingTimeInterval(31)) else {
            Issue.record("a kept request matches its code under the same key")
            return
        }
        #expect(p.description == "écran")
        let stranger = HelpCodes(key: [UInt8](repeating: 9, count: 32))
        stranger.restore([kept], now: start)
        #expect(stranger.check("123456", who: ["tech"], now: start) == .wrong(left: 4), "another key gives nothing back")
        // An expired request is not taken back.
        let late = HelpCodes(key: key)
        late.restore([kept], now: start.addingTimeInterval(601))
        #expect(late.pending(now: start.addingTimeInterval(601)).isEmpty)
    }

    @Test func fiveWrongCodesLockTheHelperOutForTenMinutesAndVoidTheSeatsRequest() {
        let book = HelpCodes()
        _ = book.put(seat: "B204-01", room: "B204", user: "eleve", description: "", code: "111111", now: start)
        for i in 0..<4 {
            #expect(book.check("99999\(i)", who: ["tech", "@seat"], seat: "B204-01", now: start) == .wrong(left: 4 - i))
        }
        #expect(book.check("999994", who: ["tech", "@seat"], seat: "B204-01", now: start) == .locked(until: start.addingTimeInterval(600)))
        // Locked: even the right code is not checked, and the seat's request is gone.
        #expect(book.check("111111", who: ["tech"], now: start.addingTimeInterval(60)) == .locked(until: start.addingTimeInterval(600)))
        #expect(book.pending(now: start.addingTimeInterval(60)).isEmpty)
        // Another helper is not locked out by the first one's tries.
        _ = book.put(seat: "B204-02", room: "B204", user: "eleve2", description: "", code: "222222", now: start.addingTimeInterval(60))
        if case .matched = book.check("222222", who: ["other"], now: start.addingTimeInterval(61)) {} else {
            Issue.record("another helper is not locked out")
        }
        // After ten minutes the helper may try again.
        #expect(book.check("000000", who: ["tech"], now: start.addingTimeInterval(601)) == .wrong(left: 4))
    }

    @Test func codesAreSixDigits() {
        #expect(HelpCodes.isWellFormed("012345"))
        #expect(!HelpCodes.isWellFormed("12345") && !HelpCodes.isWellFormed("12345a") && !HelpCodes.isWellFormed("١٢٣٤٥٦"))
        for _ in 0..<100 { #expect(HelpCodes.isWellFormed(HelpCodes.draw())) }
    }
}
