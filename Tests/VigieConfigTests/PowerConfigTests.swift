import Foundation
import Testing
import VigieModel
@testable import VigieConfig

@Suite struct PowerConfig {
    @Test func defaultsWhenTheSectionsAreAbsent() throws {
        let config = try ConfigLoader.parse(text: minimal, file: "school.toml")
        #expect(config.power.commands.off == ["/usr/bin/systemctl", "poweroff"])
        #expect(config.power.commands.reboot == ["/usr/bin/systemctl", "reboot"])
        #expect(config.power.commands.logoff == ["/usr/bin/loginctl", "terminate-session", "{session}"])
        #expect(config.power.defaultDelay == 60)
        #expect(config.power.wakeTarget(room: "B204") == WakeTarget(broadcast: "255.255.255.255", port: 9))
        #expect(config.programs.allowed.isEmpty)
    }

    @Test func sectionsAreReadWithPerRoomWakeOverrides() throws {
        let config = try ConfigLoader.parse(text: minimal + """

            [rooms.B205]
            purpose = "pedagogy"
            [[rooms.B205.seats]]
            id = "B205-01"
            address = "10.20.5.41:7443"

            [power]
            off = ["/usr/bin/touch", "/tmp/off"]
            delay = 120

            [wake]
            broadcast = "10.20.255.255"
            port = 7

            [wake.rooms.B205]
            broadcast = "10.20.5.255"

            [programs]
            allowed = ["/usr/bin/firefox", "/usr/bin/libreoffice"]
            """, file: "school.toml")
        #expect(config.power.commands.off == ["/usr/bin/touch", "/tmp/off"])
        #expect(config.power.commands.reboot == ["/usr/bin/systemctl", "reboot"])
        #expect(config.power.defaultDelay == 120)
        #expect(config.power.wakeTarget(room: "B204") == WakeTarget(broadcast: "10.20.255.255", port: 7))
        #expect(config.power.wakeTarget(room: "B205") == WakeTarget(broadcast: "10.20.5.255", port: 7))
        #expect(config.programs.allowed == ["/usr/bin/firefox", "/usr/bin/libreoffice"])
    }

    @Test func everyMistakeIsReportedWithItsLine() {
        let found = issues(minimal + """

            [power]
            off = []
            reboot = ["systemctl", "reboot"]
            logoff = "loginctl terminate-session"
            delay = -1
            halt = ["/usr/bin/true"]

            [wake]
            broadcast = "10.20.255"
            port = 70000

            [wake.rooms.Z999]
            broadcast = "10.20.5.255"

            [programs]
            allowed = ["firefox", "/usr/bin/../bin/sh", "/usr/bin/firefox"]
            """)
        let described = found.map(\.description)
        let expected = [
            "school.toml:12: power.off: is empty",
            "school.toml:13: power.reboot[0]: “systemctl” is not an absolute path",
            "school.toml:14: power.logoff: must be a list of texts",
            "school.toml:15: power.delay: must be a number of seconds between 0 and 86400",
            "school.toml:16: power.halt: unknown field",
            "school.toml:19: wake.broadcast: “10.20.255” is not an IPv4 address",
            "school.toml:20: wake.port: must be a UDP port between 1 and 65535",
            "school.toml:22: wake.rooms.Z999: unknown room “Z999”",
            "school.toml:26: programs.allowed[0]: “firefox” is not an absolute path",
            "school.toml:26: programs.allowed[1]: “/usr/bin/../bin/sh” is not an absolute path without . or ..",
        ]
        for prefix in expected {
            #expect(described.contains { $0.hasPrefix(prefix) }, "missing \(prefix) in:\n\(described.joined(separator: "\n"))")
        }
        #expect(found.count == expected.count, "\(described.joined(separator: "\n"))")
    }

    @Test func theExampleConfigDocumentsTheNewSections() throws {
        let config = try ConfigLoader.load(path: repoConfig + "/school.example.toml")
        #expect(config.power.wakeTarget(room: "B204").broadcast == "10.20.255.255")
        #expect(!config.programs.allowed.isEmpty)
    }
}
