/// A legal hold: rows of a plate, or in an area, within a time range, kept whatever the
/// retention says — through retention deletions, compactions that expire rows, and purges
/// (which refuse held rows unless forced) — until the hold is released. Held rows past the
/// retention period stay readable. Kept in the store (`HOLDS`), audited when placed and
/// released.
public struct LegalHold: Sendable, Hashable {
    /// The hold's id (`H` and 8 hex digits), for releasing it.
    public var id: String
    /// The case it serves.
    public var caseNumber: String
    /// The plate held (nil: an area hold).
    public var plate: Plate?
    /// The area held (nil: a plate hold).
    public var area: Area?
    /// The time held.
    public var time: TimeRange
    /// When it was placed (epoch ms) and by whom.
    public var placedAt: Int64, placedBy: String

    /// A hold of `plate` or `area` (exactly one) within `time`.
    public init(id: String = "", caseNumber: String, plate: Plate? = nil, area: Area? = nil, time: TimeRange = .all,
                placedAt: Int64 = 0, placedBy: String = "") throws(SightlineError) {
        guard !caseNumber.isEmpty else { throw .invalidArgument("a legal hold needs a case number") }
        guard (plate == nil) != (area == nil) else { throw .invalidArgument("a legal hold holds a plate or an area, exactly one") }
        if let area { _ = try area.validated() }
        self.id = id
        self.caseNumber = caseNumber
        self.plate = plate
        self.area = area
        self.time = time
        self.placedAt = placedAt
        self.placedBy = placedBy
    }

    /// Whether the hold covers a row.
    @inline(__always)
    public func covers(plate p: Plate, time t: Int64, latitudeE7: Int32, longitudeE7: Int32) -> Bool {
        guard time.contains(t) else { return false }
        if let plate { return plate == p }
        return area!.contains(latitudeE7: latitudeE7, longitudeE7: longitudeE7)
    }
}
