/// A `RuleSet` compiled for matching rows outside a store: a feed checked before (or
/// instead of) being stored, and the matching benchmark (`sightline alert-bench match`).
/// A store compiles its own rules; this is the same matcher.
public struct CompiledRuleSet: Sendable {
    let matcher: RuleMatcher

    /// Compiles `rules` (about a second per million hotlist entries).
    public init(_ rules: RuleSet) { matcher = RuleMatcher(rules) }

    /// The alerts `rows` raise at epoch millisecond `now` (entries expired by then do not
    /// match), unsequenced, in row order.
    public func alerts(in rows: SightingBatch, now: Int64) -> [Alert] {
        matcher.alerts(of: rows, logSequence: 0, now: now)
    }

    /// How many (row, rule) matches `rows` hold at epoch millisecond `now`: the matching
    /// work of `alerts(in:now:)` without building alerts.
    public func matchCount(in rows: SightingBatch, now: Int64) -> Int {
        var count = 0
        rows.plates.withUnsafeBufferPointer { plates in
            rows.times.withUnsafeBufferPointer { times in
                rows.latitudesE7.withUnsafeBufferPointer { lats in
                    rows.longitudesE7.withUnsafeBufferPointer { lons in
                        rows.cameras.withUnsafeBufferPointer { cameras in
                            for i in 0..<plates.count {
                                matcher.forEachMatch(plate: plates[i], time: times[i], latitudeE7: lats[i],
                                                     longitudeE7: lons[i], camera: cameras[i], now: now) { _ in count += 1 }
                            }
                        }
                    }
                }
            }
        }
        return count
    }
}
