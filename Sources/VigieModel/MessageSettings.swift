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
