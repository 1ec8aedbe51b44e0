import Foundation
import Testing
import VigieModel
@testable import VigieConfig

@Suite struct MessageConfig {
    @Test func defaultsAndValues() throws {
        let plain = try ConfigLoader.parse(text: minimal, file: "school.toml")
        #expect(plain.messages == MessageSettings(maxOpen: 5, expireMinutes: 30))
        let set = try ConfigLoader.parse(text: minimal + "\n\n[messages]\nmax_open = 2\nexpire_minutes = 0.5\n", file: "school.toml")
        #expect(set.messages == MessageSettings(maxOpen: 2, expireMinutes: 0.5))
        let example = try ConfigLoader.load(path: repoConfig + "/school.example.toml")
        #expect(example.messages == MessageSettings(maxOpen: 5, expireMinutes: 30))
    }

    @Test func mistakesAreReportedWithTheirLines() {
        let found: [String]
        do {
            _ = try ConfigLoader.parse(text: minimal + "\n\n[messages]\nmax_open = 0\nexpire_minutes = 0\nlimit = 3\n", file: "school.toml")
            found = []
        } catch {
            found = error.issues.map(\.description)
        }
        #expect(found == [
            "school.toml:13: messages.max_open: must be a whole number from 1 to 20 (message windows open at once on a seat; default 5)",
            "school.toml:14: messages.expire_minutes: must be a number of minutes above 0 and at most 1440 (default 30; decimals allowed, e.g. 0.5)",
            "school.toml:15: messages.limit: unknown field (expected one of: expire_minutes, max_open)",
        ], "\(found)")
        let big = (try? ConfigLoader.parse(text: minimal + "\n[messages]\nexpire_minutes = 1441\n", file: "school.toml")) == nil
        #expect(big)
        let table = (try? ConfigLoader.parse(text: "messages = 3\n" + minimal, file: "school.toml")) == nil
        #expect(table)
    }
}
