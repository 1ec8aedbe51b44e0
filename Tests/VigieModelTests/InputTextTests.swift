import Testing
@testable import VigieModel

@Suite struct InputTextTests {
    @Test func durationsAreReadWithoutEverOverflowing() {
        #expect(DurationText.parse("90s") == .seconds(90))
        #expect(DurationText.parse("20m") == .seconds(1200))
        #expect(DurationText.parse("1h30m") == .seconds(5400))
        #expect(DurationText.parse("45") == .seconds(45))
        #expect(DurationText.parse("7d") == .seconds(604_800))
        #expect(DurationText.parse("168h") == .seconds(604_800))
        #expect(DurationText.parse("169h") == .tooLong)
        #expect(DurationText.parse("604801") == .tooLong)
        #expect(DurationText.parse("99999999999999999h") == .tooLong)
        #expect(DurationText.parse("9223372036854775807s") == .tooLong)
        #expect(DurationText.parse("99999999999999999999999999") == .tooLong)
        #expect(DurationText.parse("-5m") == .notPositive)
        #expect(DurationText.parse("0m") == .notPositive)
        #expect(DurationText.parse("0") == .notPositive)
        for bad in ["", "m", "5x", "1h30", "demain", "1.5h", "٣m", "-", "h5"] {
            #expect(DurationText.parse(bad) == .malformed, "\(bad)")
        }
    }

    @Test func errorsNameTheOptionAndTheLimitInBothLanguages() throws {
        let fr = try #require(DurationText.problem("169h", option: "--for", language: .fr))
        #expect(fr.description == "--for : « 169h » est trop long : au plus 7 jours (168h)")
        #expect(fr.code == "input.duration.too-long")
        let en = try #require(DurationText.problem("-5m", option: "--for", language: .en))
        #expect(en.description == "--for: “-5m” is not a positive duration (at least 1s, at most 7 days; e.g. 20m)")
        #expect(DurationText.problem("20m", option: "--for", language: .fr) == nil)
    }

    @Test func messagesAreMeasuredInBytes() {
        #expect(MessageLimits.problem("Rangez vos affaires") == nil)
        #expect(MessageLimits.problem(String(repeating: "a", count: 2000)) == nil)
        #expect(MessageLimits.problem(String(repeating: "é", count: 1000)) == nil)
        #expect(MessageLimits.problem(String(repeating: "é", count: 1001)) == Reason("input.message.too-long", ["bytes": "2002", "max": "2000"]))
        let oneCharacter = "e" + String(repeating: "\u{0301}", count: 30_000)
        #expect(oneCharacter.count == 1)
        #expect(MessageLimits.problem(oneCharacter)?.code == "input.message.too-long")
        #expect(MessageLimits.problem(" \n\t")?.code == "input.message.empty")
        #expect(Catalog.text(Reason("message.too-long", ["bytes": "3001", "max": "2000"]), .fr) == "message refusé : 3001 octets, au plus 2000")
    }
}
