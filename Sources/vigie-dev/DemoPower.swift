import Foundation
import VigieCLI

extension DemoSchool {
    /// The demo's power and program settings: power commands that only write a
    /// line to `power.log` (a demo must never shut this machine down),
    /// Wake-on-LAN to loopback, a few harmless programs for teachers, and the
    /// teacher's grants for power, run and wake in B204.
    var powerConfig: String {
        let log = stateDir + "/power.log"
        return """

            [[grants]]
            role = "teacher"
            rooms = ["B204"]
            features = ["power", "run", "wake"]

            [power]
            off = ["/bin/sh", "-c", "echo \\"$(date '+%F %T') power off\\" >> '\(log)'"]
            reboot = ["/bin/sh", "-c", "echo \\"$(date '+%F %T') reboot\\" >> '\(log)'"]
            logoff = ["/bin/sh", "-c", "echo \\"$(date '+%F %T') log off {user}\\" >> '\(log)'"]

            [wake]
            broadcast = "127.0.0.1"
            port = 9

            [programs]
            allowed = ["/usr/bin/uname", "/usr/bin/id", "/usr/bin/uptime", "/usr/bin/xeyes"]

            """
    }
}
