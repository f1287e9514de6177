/// A UTC time-of-day window `[from, to)` in hours; wraps past midnight when `from > to`
/// (`22-6` is 22:00 to 06:00).
public struct HourWindow: Sendable, Hashable, CustomStringConvertible {
    /// First hour, 0–23.
    public let from: Int
    /// First hour past the window, 0–24.
    public let to: Int

    /// A window; `from` and `to` must differ.
    public init(from: Int, to: Int) throws(SightlineError) {
        guard (0...23).contains(from), (0...24).contains(to), from != to else {
            throw .invalidArgument("hours \(from)-\(to): two different hours, 0–23 and 0–24")
        }
        self.from = from
        self.to = to
    }

    /// A window written `H1-H2` (as `sightline … --hours` and the rules file take it).
    public init(parsing text: String) throws(SightlineError) {
        let parts = text.split(separator: "-")
        guard parts.count == 2, let a = Int(parts[0]), let b = Int(parts[1]) else { throw .invalidArgument("hours \(text): expected H1-H2") }
        try self.init(from: a, to: b)
    }

    /// Whether epoch millisecond `t`'s UTC hour is inside.
    public func contains(_ t: Int64) -> Bool {
        let hour = StoreSnapshot.hourOfDay(t)
        return from < to ? (hour >= from && hour < to) : (hour >= from || hour < to)
    }

    /// `H1-H2`.
    public var description: String { "\(from)-\(to)" }
}
