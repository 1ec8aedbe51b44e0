import Foundation
import Testing

@testable import VigieRegister

/// The golden event of `docs/REGISTER.md`: any other implementation checks itself against these bytes and hashes.
let goldenEvent = RegisterEvent(
    school: "0750001A", seat: "B204-02", timeUTC: "2026-11-23T09:02:00.123Z", timeLocal: "2026-11-23T10:02:00.123+01:00",
    room: "B204", actor: "vigie://0750001A/person/teacher/mmartin", actorName: "Mme Martin", actorRole: "teacher",
    feature: "message", args: ["text": "Élèves : « rangez » \"vite\"\\ \n\u{01}\u{7f} 😀 </fin>"], outcome: .done,
    code: "message.shown", params: ["room": "B204", "Zone": "B"], sessionUser: "eleve01", configVersion: "2026-09-01.3")

let goldenJSON = #"{"actor":"vigie://0750001A/person/teacher/mmartin","actorName":"Mme Martin","actorRole":"teacher","args":{"text":"Élèves : « rangez » \"vite\"\\ \u000a\u0001\u007f 😀 </fin>"},"code":"message.shown","configVersion":"2026-09-01.3","feature":"message","outcome":"done","params":{"Zone":"B","room":"B204"},"room":"B204","school":"0750001A","seat":"B204-02","sessionUser":"eleve01","timeLocal":"2026-11-23T10:02:00.123+01:00","timeUTC":"2026-11-23T09:02:00.123Z"}"#

@Suite struct CanonicalTests {
    @Test func goldenBytesAndHashes() {
        #expect(goldenEvent.canonicalJSON == goldenJSON)
        #expect(goldenEvent.canonicalBytes.count == 465)
        // Computed independently (Python hashlib) from the bytes above.
        #expect(ChainHash.content(goldenEvent.canonicalBytes) == "821ff38e82c470fe1ea6c9324bfb7e9d675f0e2bf69b513cdc5d5f50a9f66093")
        #expect(ChainHash.genesis(school: "0750001A", seat: "B204-02") == "162bf06530b1c317f3608a324b1ef0ebc765c7ffc5862f87a354e7ab59de2125")
        let first = ChainedEvent.make(after: nil, school: "0750001A", seat: "B204-02", event: goldenEvent)
        #expect(first.seq == 1)
        #expect(first.prevHash == "162bf06530b1c317f3608a324b1ef0ebc765c7ffc5862f87a354e7ab59de2125")
        #expect(first.contentHash == "821ff38e82c470fe1ea6c9324bfb7e9d675f0e2bf69b513cdc5d5f50a9f66093")
        #expect(first.hash == "4bbb14a9bf80e4b5e1f526cc9ebd6cfa591a5ffe999e4ee6a17edb2a6ada8ba3")
        #expect(first.event == goldenEvent)
        let second = ChainedEvent.make(after: (first.seq, first.hash), school: "0750001A", seat: "B204-02", event: goldenEvent)
        #expect(second.seq == 2 && second.prevHash == first.hash && second.linkHolds)
    }

    @Test func absentOptionalsAreOmittedAndEmptyObjectsKept() {
        let e = RegisterEvent(
            school: "S", seat: "@server", timeUTC: "2026-01-01T00:00:00.000Z", timeLocal: "2026-01-01T01:00:00.000+01:00",
            feature: "register.export", outcome: .done, code: "ok")
        #expect(e.canonicalJSON == #"{"args":{},"code":"ok","feature":"register.export","outcome":"done","params":{},"school":"S","seat":"@server","timeLocal":"2026-01-01T01:00:00.000+01:00","timeUTC":"2026-01-01T00:00:00.000Z"}"#)
    }

    @Test func decoderReadsAnyEquivalentJSON() throws {
        // Whitespace, \u escapes, a surrogate pair, \/ and \n: the same event.
        let loose = """
            { "timeUTC" : "2026-11-23T09:02:00.123Z", "timeLocal":"2026-11-23T10:02:00.123+01:00",
              "school":"0750001A","seat":"B204-02","room":"B204","actor":"vigie:\\/\\/0750001A\\/person\\/teacher\\/mmartin",
              "actorName":"Mme Martin","actorRole":"teacher","feature":"message","outcome":"done","code":"message.shown",
              "args": {"text":"\\u00c9l\\u00e8ves : \\u00ab rangez \\u00bb \\"vite\\"\\\\ \\n\\u0001\\u007f \\ud83d\\ude00 </fin>"},
              "params":{"room":"B204","Zone":"B"},"sessionUser":"eleve01","configVersion":"2026-09-01.3" }
            """
        let e = try RegisterEvent(json: loose)
        #expect(e == goldenEvent)
        #expect(e.canonicalJSON == goldenJSON)
        // And JSONDecoder agrees with ours.
        #expect(try JSONDecoder().decode(RegisterEvent.self, from: Data(goldenJSON.utf8)) == goldenEvent)
    }

    @Test func decoderRefusesOtherShapes() {
        for bad in [#"{"school":1}"#, #"{"a":"b"} x"#, #"{"a":"b","a":"c"}"#, #"{"a":"\ud800"}"#, "{\"a\":\"\u{01}\"}", #"["a"]"#] {
            #expect(throws: RegisterError.self) { try CanonicalJSON.parse(Array(bad.utf8)) }
        }
        #expect(throws: RegisterError.self) { try RegisterEvent(json: #"{"school":"S"}"#) }
    }

    @Test func times() {
        #expect(RegisterTime.utc(baseDate) == "2026-11-23T09:02:00.123Z")
        #expect(RegisterTime.local(baseDate, paris) == "2026-11-23T10:02:00.123+01:00")
        let summer = Date(timeIntervalSince1970: 1_783_000_000)
        #expect(RegisterTime.local(summer, paris).hasSuffix("+02:00"))
        #expect(RegisterTime.local(baseDate, TimeZone(identifier: "America/Cayenne")!) == "2026-11-23T06:02:00.123-03:00")
        #expect(RegisterTime.utc(Date(timeIntervalSince1970: 0)) == "1970-01-01T00:00:00.000Z")
        #expect(RegisterTime.parseUTC("2026-11-23T09:02:00.123Z").map(RegisterTime.utc) == "2026-11-23T09:02:00.123Z")
        #expect(RegisterTime.parseUTC("2026-02-30T09:02:00.123Z") == nil)
        #expect(RegisterTime.parseUTC("2026-11-23 09:02:00") == nil)
    }
}
