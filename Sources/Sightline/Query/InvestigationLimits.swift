/// The guardrails of investigative queries (search, intersect, convoy): they expose many
/// people at once, so a store's owner can cap how much time one may span and how many
/// distinct plates one may return. A query beyond either is refused with
/// `SightlineError.investigationRefused`, before any row is returned. Both are off until the
/// owner sets them (`Store.setInvestigationLimits`, `sightline guardrails`); they are kept in
/// the store (file `GUARDRAILS`) and honoured by every process that opens it, read-only
/// included. `sightline stats` shows them.
///
/// A plate's own history and its frequent locations are not capped: they concern the one
/// plate the user already names.
public struct InvestigationLimits: Sendable, Hashable, CustomStringConvertible {
    /// Most time one investigative query may span (its range, cut to the data the store
    /// holds: an open-ended query spans from the first to the last row). nil: no cap.
    public var maximumTimeSpan: Duration?
    /// Most distinct plates one investigative query may return. nil: no cap.
    public var maximumPlates: Int?

    /// Limits; both nil (the default) is off.
    public init(maximumTimeSpan: Duration? = nil, maximumPlates: Int? = nil) {
        self.maximumTimeSpan = maximumTimeSpan
        self.maximumPlates = maximumPlates
    }

    /// No guardrail.
    public static let off = InvestigationLimits()

    /// Whether either limit is set.
    public var isOn: Bool { maximumTimeSpan != nil || maximumPlates != nil }

    /// `max span 31 days, max plates 1000`, or `off`.
    public var description: String {
        guard isOn else { return "off" }
        var parts: [String] = []
        if let span = maximumTimeSpan { parts.append("max span \(Self.describe(span))") }
        if let plates = maximumPlates { parts.append("max plates \(plates)") }
        return parts.joined(separator: ", ")
    }

    static func describe(_ d: Duration) -> String {
        let ms = d.milliseconds
        if ms % 86_400_000 == 0 { return "\(ms / 86_400_000) days" }
        if ms % 3_600_000 == 0 { return "\(ms / 3_600_000) hours" }
        if ms >= 86_400_000 { return "\(ms / 86_400_000).\(ms % 86_400_000 * 10 / 86_400_000) days" }
        if ms >= 3_600_000 { return "\(ms / 3_600_000).\(ms % 3_600_000 * 10 / 3_600_000) hours" }
        return "\(ms) ms"
    }

    /// Refuses `what` when `range`, cut to the data's `extent`, spans more than allowed.
    func checkSpan(_ range: TimeRange, extent: ClosedRange<Int64>?, _ what: String) throws(SightlineError) {
        guard let cap = maximumTimeSpan, let extent else { return }
        let from = max(range.lower, extent.lowerBound)
        let to = min(range.upper, extent.upperBound &+ 1)  // half-open; the extent's end is inclusive
        guard to > from else { return }
        let span = to.subtractingReportingOverflow(from)
        if span.overflow || span.partialValue > cap.milliseconds {
            throw .investigationRefused("\(what) spans \(span.overflow ? "all time" : Self.describe(.milliseconds(span.partialValue))) of data; "
                + "this store allows \(Self.describe(cap)) per investigative query — give a narrower --from/--to")
        }
    }

    /// Refuses `what` when it would return more than the allowed distinct plates.
    func checkPlates(_ plates: Int, _ what: String) throws(SightlineError) {
        guard let cap = maximumPlates, plates > cap else { return }
        throw .investigationRefused("\(what) would return \(plates) distinct plates; this store allows \(cap) per investigative query — narrow the pattern, places or times")
    }
}
