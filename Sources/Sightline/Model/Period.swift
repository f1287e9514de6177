/// The one way Sightline writes a period, wherever one is given: retention files and rules,
/// `compact --retain`, guardrails' maximum span, hotlist expiry. A whole number with a unit —
/// `ms`, `s`, `m` (minutes), `h`, `d`, `w`, `mo` (30 days), `y` (365 days) — or bare whole
/// milliseconds: `45s`, `12h`, `90d`, `18mo`, `2y`.
public enum Period {
    private static let units: [(suffix: String, milliseconds: Int64)] = [
        ("mo", 30 * 86_400_000), ("ms", 1), ("y", 365 * 86_400_000), ("w", 7 * 86_400_000),
        ("d", 86_400_000), ("h", 3_600_000), ("m", 60_000), ("s", 1000),
    ]

    /// The period `text` names; ``SightlineError/invalidArgument(_:)`` naming the text when it
    /// is not one (negative, fractional, an unknown unit, too long to hold).
    public static func parse(_ text: String) throws(SightlineError) -> Duration {
        for unit in units where text.hasSuffix(unit.suffix) {
            if let n = Int64(text.dropLast(unit.suffix.count)), n >= 0, n <= Int64.max / unit.milliseconds {
                return .milliseconds(n * unit.milliseconds)
            }
        }
        if let n = Int64(text), n >= 0 { return .milliseconds(n) }
        throw .invalidArgument("\(text): expected a period such as 3m, 21d, 18mo, 2y, 12h, 45s or milliseconds")
    }

    /// `period` written back in the largest unit that divides it (`parse` reads it back).
    public static func text(_ period: Duration) -> String {
        let ms = period.milliseconds
        for (suffix, scale) in [("y", Int64(365 * 86_400_000)), ("mo", 30 * 86_400_000), ("w", 7 * 86_400_000), ("d", 86_400_000),
                                ("h", 3_600_000), ("m", 60_000), ("s", 1000)] where ms >= scale && ms % scale == 0 {
            return "\(ms / scale)\(suffix)"
        }
        return "\(ms)ms"
    }
}
