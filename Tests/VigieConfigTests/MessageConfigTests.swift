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

@Suite struct WatchConfig {
    @Test func defaultsAndValues() throws {
        #expect(try ConfigLoader.parse(text: minimal, file: "school.toml").watch == WatchSettings(maxWidth: 1920, minIntervalMillis: 200))
        let set = try ConfigLoader.parse(text: minimal + "\n\n[watch]\nmax_width = 240\nmin_interval = 2\ncontrol_clipboard = true\n", file: "school.toml")
        #expect(set.watch == WatchSettings(maxWidth: 240, minIntervalMillis: 2000, controlClipboard: true))
        let example = try ConfigLoader.load(path: repoConfig + "/school.example.toml")
        #expect(example.watch == WatchSettings(maxWidth: 640, minIntervalMillis: 500))
    }

    @Test func mistakesAreReportedWithTheirLines() {
        let found: [String]
        do {
            _ = try ConfigLoader.parse(text: minimal + "\n\n[watch]\nmax_width = 4000\nmin_interval = 0.1\nfps = 3\ncontrol_clipboard = \"yes\"\n", file: "school.toml")
            found = []
        } catch {
            found = error.issues.map(\.description)
        }
        #expect(found == [
            "school.toml:13: watch.max_width: must be a whole number of pixels from 16 to 1920 (the widest live thumbnail; default 1920)",
            "school.toml:14: watch.min_interval: must be a number of seconds from 0.2 to 60 (the shortest time between two live pictures; default 0.2)",
            "school.toml:15: watch.fps: unknown field (expected one of: control_clipboard, max_width, min_interval)",
            "school.toml:16: watch.control_clipboard: must be true or false (whether copied text passes between a controller's viewer and the seat; default false)",
        ], "\(found)")
    }
}

@Suite struct AssistanceConfig {
    /// The loader's issues for `minimal` plus an `[assistance]` section.
    static func issues(_ section: String) -> [String] {
        do {
            _ = try ConfigLoader.parse(text: minimal + "\n\n[assistance]\n" + section, file: "school.toml")
            return []
        } catch {
            return error.issues.map(\.description)
        }
    }

    @Test func defaultsValuesAndMistakes() throws {
        #expect(try ConfigLoader.parse(text: minimal, file: "school.toml").assistance == AssistanceSettings(consentSeconds: 60, maxMinutes: 60, extendMinutes: 15))
        let set = try ConfigLoader.parse(text: minimal + "\n\n[assistance]\nconsent_seconds = 30\nmax_minutes = 45\nextend_minutes = 0\n", file: "school.toml")
        #expect(set.assistance == AssistanceSettings(consentSeconds: 30, maxMinutes: 45, extendMinutes: 0))
        let extendIssues = Self.issues("extend_minutes = -1\n")
        #expect(extendIssues.first?.hasPrefix("school.toml:13: assistance.extend_minutes: must be a number of minutes from 0 to 600") == true, "\(extendIssues)")
        let withHours = try ConfigLoader.parse(text: minimal + "\n\n[assistance]\n[[assistance.hours]]\ndays = \"mon-fri\"\nfrom = \"08:00\"\nto = \"18:00\"\n", file: "school.toml")
        #expect(withHours.assistance.hoursText == "mon-fri 08:00–18:00")
        let hourIssues = Self.issues("[[assistance.hours]]\ndays = \"mon-fri\"\nfrom = \"18:00\"\nto = \"08:00\"\n")
        #expect(hourIssues.first?.contains("assistance.hours[0].to") == true, "\(hourIssues)")
        let found = Self.issues("consent_seconds = 2\nmax_minutes = 0\n")
        #expect(found == [
            "school.toml:13: assistance.consent_seconds: must be a whole number of seconds from 10 to 600 (how long the person at the seat has to answer; default 60)",
            "school.toml:14: assistance.max_minutes: must be a number of minutes above 0 and at most 600 (an assistance's longest time; default 60)",
        ], "\(found)")
    }
}
