import TOMLKit
import VigieModel

extension Reader {
    /// Reads `[messages]`: `max_open` (1–20, default 5) and `expire_minutes` (above 0, at most 1440, default 30).
    mutating func readMessages(_ root: TOMLTable) -> MessageSettings {
        var settings = MessageSettings()
        guard let value = root["messages"] else { return settings }
        guard let t = value.table else {
            fail("messages", "must be a table ([messages] with max_open and expire_minutes)")
            return settings
        }
        checkKeys(t, "messages", allowed: ["max_open", "expire_minutes"])
        if let v = t["max_open"] {
            if let n = v.int, MessageSettings.maxOpenRange.contains(n) {
                settings.maxOpen = n
            } else {
                fail("messages.max_open", "must be a whole number from 1 to 20 (message windows open at once on a seat; default 5)")
            }
        }
        if let v = t["expire_minutes"] {
            if let n = v.int.map(Double.init) ?? v.double, n > 0, n <= MessageSettings.maxExpireMinutes {
                settings.expireMinutes = n
            } else {
                fail("messages.expire_minutes", "must be a number of minutes above 0 and at most 1440 (default 30; decimals allowed, e.g. 0.5)")
            }
        }
        return settings
    }
}
