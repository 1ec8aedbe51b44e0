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

    /// Reads `[watch]`: `max_width` (16–1920 pixels, default 1920) and
    /// `min_interval` (seconds between pictures, 0.2–60, default 0.2).
    mutating func readWatch(_ root: TOMLTable) -> WatchSettings {
        var settings = WatchSettings()
        guard let value = root["watch"] else { return settings }
        guard let t = value.table else {
            fail("watch", "must be a table ([watch] with max_width, min_interval and control_clipboard)")
            return settings
        }
        checkKeys(t, "watch", allowed: ["max_width", "min_interval", "control_clipboard"])
        if let v = t["max_width"] {
            if let n = v.int, WatchSettings.widths.contains(n) {
                settings.maxWidth = n
            } else {
                fail("watch.max_width", "must be a whole number of pixels from 16 to 1920 (the widest live thumbnail; default 1920)")
            }
        }
        if let v = t["min_interval"] {
            if let seconds = v.int.map(Double.init) ?? v.double, WatchSettings.intervalsMillis.contains(Int((seconds * 1000).rounded())) {
                settings.minIntervalMillis = Int((seconds * 1000).rounded())
            } else {
                fail("watch.min_interval", "must be a number of seconds from 0.2 to 60 (the shortest time between two live pictures; default 0.2)")
            }
        }
        if let v = t["control_clipboard"] {
            if let b = v.bool {
                settings.controlClipboard = b
            } else {
                fail("watch.control_clipboard", "must be true or false (whether copied text passes between a controller's viewer and the seat; default false)")
            }
        }
        return settings
    }

    mutating func readAssistance(_ root: TOMLTable) -> AssistanceSettings {
        var settings = AssistanceSettings()
        guard let value = root["assistance"] else { return settings }
        guard let t = value.table else {
            fail("assistance", "must be a table ([assistance] with consent_seconds and max_minutes)")
            return settings
        }
        checkKeys(t, "assistance", allowed: ["consent_seconds", "max_minutes", "extend_minutes", "hours"])
        if t["hours"] != nil { settings.hours = readSlots(t, "hours", "assistance").map(\.slot) }
        if let v = t["consent_seconds"] {
            if let n = v.int, AssistanceSettings.consentRange.contains(n) {
                settings.consentSeconds = n
            } else {
                fail("assistance.consent_seconds", "must be a whole number of seconds from 10 to 600 (how long the person at the seat has to answer; default 60)")
            }
        }
        if let v = t["max_minutes"] {
            if let m = v.int.map(Double.init) ?? v.double, m > 0, m <= AssistanceSettings.maxMinutesLimit {
                settings.maxMinutes = m
            } else {
                fail("assistance.max_minutes", "must be a number of minutes above 0 and at most 600 (an assistance's longest time; default 60)")
            }
        }
        if let v = t["extend_minutes"] {
            if let m = v.int.map(Double.init) ?? v.double, m >= 0, m <= AssistanceSettings.maxMinutesLimit {
                settings.extendMinutes = m
            } else {
                fail("assistance.extend_minutes", "must be a number of minutes from 0 to 600 (what the person may add when the end nears; 0: never asked; default 15)")
            }
        }
        return settings
    }
}
