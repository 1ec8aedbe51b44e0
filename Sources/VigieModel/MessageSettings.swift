import Foundation

/// `[messages]`: how message windows behave on a seat.
public struct MessageSettings: Sendable, Codable, Equatable {
    /// The most message windows open at once on a seat; a new one closes the oldest.
    public var maxOpen: Int
    /// Minutes after which a message window closes by itself (decimals allowed).
    public var expireMinutes: Double

    /// The defaults: 5 windows, 30 minutes.
    public init(maxOpen: Int = 5, expireMinutes: Double = 30) {
        self.maxOpen = maxOpen
        self.expireMinutes = expireMinutes
    }

    /// Accepted values, as `vigie config check` states them.
    public static let maxOpenRange = 1...20
    /// Above 0 and at most a day.
    public static let maxExpireMinutes = 1440.0
}

/// `[watch]`: the bounds a school sets on live views; a viewer asks within them
/// (the seat narrows what it is asked to these).
public struct WatchSettings: Sendable, Codable, Equatable {
    /// The widest thumbnail a viewer gets, in pixels.
    public var maxWidth: Int
    /// The shortest time between two pictures of a stream, in milliseconds.
    public var minIntervalMillis: Int
    /// Whether text copied on either side passes between a controller's VNC
    /// viewer and the seat (`vigie control` only; never in a view).
    public var controlClipboard: Bool

    /// The defaults: up to 1920 px, up to 5 pictures a second, no clipboard.
    public init(maxWidth: Int = 1920, minIntervalMillis: Int = 200, controlClipboard: Bool = false) {
        self.maxWidth = maxWidth
        self.minIntervalMillis = minIntervalMillis
        self.controlClipboard = controlClipboard
    }

    /// What a viewer may ask at all, and what the config may set.
    public static let widths = 16...1920
    public static let intervalsMillis = 200...60_000
}

/// `[assistance]`: how long the person at a seat has to answer, and how long an
/// assistance they accepted may last.
public struct AssistanceSettings: Sendable, Codable, Equatable {
    /// Seconds the consent window waits; no answer is a refusal.
    public var consentSeconds: Int
    /// Minutes an assistance lasts at most; then it ends, and the helper is told why.
    public var maxMinutes: Double
    /// Minutes the person may add when the end nears (asked on the seat; 0: never asked).
    public var extendMinutes: Double
    /// When assistance may be asked, in the seat's room's time (`[[assistance.hours]]`,
    /// the charter's "office hours"); empty: at any time.
    public var hours: [WeeklySlot] = []

    /// The defaults: a minute to answer, an hour at most (the charter's "1 hour"), 15 more if the person wants.
    public init(consentSeconds: Int = 60, maxMinutes: Double = 60, extendMinutes: Double = 15) {
        self.consentSeconds = consentSeconds
        self.maxMinutes = maxMinutes
        self.extendMinutes = extendMinutes
    }

    enum CodingKeys: String, CodingKey { case consentSeconds, maxMinutes, extendMinutes, hours }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        consentSeconds = try c.decodeIfPresent(Int.self, forKey: .consentSeconds) ?? 60
        maxMinutes = try c.decodeIfPresent(Double.self, forKey: .maxMinutes) ?? 60
        extendMinutes = try c.decodeIfPresent(Double.self, forKey: .extendMinutes) ?? 15
        hours = try c.decodeIfPresent([WeeklySlot].self, forKey: .hours) ?? []
    }

    /// Whether an assistance may be asked at `now` in a room of time zone `zone`.
    public func allows(at now: Date, zone: TimeZone) -> Bool {
        guard !hours.isEmpty else { return true }
        let moment = LocalMoment(now, in: zone)
        return hours.contains { $0.days.contains(moment.weekday) && $0.span.contains(moment.minute) }
    }

    /// The hours as the console says them: `mon-fri 08:00–18:00`.
    public var hoursText: String {
        hours.map { slot in
            let days = slot.days.sorted()
            let contiguous = days.count > 1 && days.last!.rawValue - days.first!.rawValue == days.count - 1
            let d = contiguous ? "\(days.first!.code)-\(days.last!.code)" : days.map(\.code).joined(separator: ",")
            return "\(d) \(slot.span)"
        }.joined(separator: "; ")
    }

    public static let consentRange = 10...600
    /// Above 0 and at most a school day.
    public static let maxMinutesLimit = 600.0
}
