import Foundation

/// How long a seat waits before trying the server again: 1 s after the first
/// failure, doubling up to 60 s, with ±20 % jitter so that a school's seats do not
/// all come back in the same second. Any answer from the server resets it, so one long outage
/// does not slow down the retries after every later blip.
public struct ShippingBackoff: Sendable {
    /// The first delay, in seconds.
    public let initial: Double
    /// The longest delay, in seconds.
    public let maximum: Double
    /// The next delay before jitter, in seconds.
    public private(set) var current: Double
    private let jitter: @Sendable () -> Double

    /// A backoff; `jitter` returns the factor applied to each delay (0.8…1.2 by default).
    public init(initial: Double = 1, maximum: Double = 60, jitter: @escaping @Sendable () -> Double = { Double.random(in: 0.8...1.2) }) {
        self.initial = initial
        self.maximum = maximum
        self.current = initial
        self.jitter = jitter
    }

    /// A failure: the delay to wait now; the next one doubles (up to ``maximum``).
    public mutating func failed() -> Duration {
        let delay = current * jitter()
        current = min(current * 2, maximum)
        return .milliseconds(Int64(delay * 1000))
    }

    /// A success (the server answered, or stored a batch): the next failure waits ``initial`` again.
    public mutating func succeeded() {
        current = initial
    }
}
