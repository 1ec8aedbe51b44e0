/// What the school's `[signage]` section sets: the reminder printed under the
/// posters and how long the on-seat notices stay up.
public struct SignageSettings: Sendable, Hashable, Codable {
    /// The reminder line under the posters, per language (e.g. that Internet
    /// access is filtered, authenticated and logged); none when absent. A
    /// language without its own text uses the one given for the other, so
    /// that one text serves both.
    public var reminder: [Language: String]
    /// Seconds the login notice stays on the seat unless dismissed (0: until dismissed).
    public var loginNoticeSeconds: Double
    /// Seconds the monitoring indicator (« Écran consulté par … ») stays on the seat.
    public var indicatorSeconds: Double

    /// Default ``loginNoticeSeconds``.
    public static let defaultLoginNoticeSeconds: Double = 20
    /// Default ``indicatorSeconds``.
    public static let defaultIndicatorSeconds: Double = 8

    /// Settings with the given values; the defaults are what a school without a `[signage]` section gets.
    public init(reminder: [Language: String] = [:],
                loginNoticeSeconds: Double = SignageSettings.defaultLoginNoticeSeconds,
                indicatorSeconds: Double = SignageSettings.defaultIndicatorSeconds) {
        self.reminder = reminder
        self.loginNoticeSeconds = loginNoticeSeconds
        self.indicatorSeconds = indicatorSeconds
    }

    /// The reminder in `language`, else in the other language, else nil.
    public func reminder(in language: Language) -> String? {
        reminder[language] ?? Language.allCases.lazy.compactMap { reminder[$0] }.first
    }
}
