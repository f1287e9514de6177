// Conversions the engine needs between `Duration` (its API) and the milliseconds and
// seconds its files and clocks use.

extension Duration {
    /// Whole milliseconds, rounded toward zero (saturating).
    var milliseconds: Int64 {
        let (s, a) = components
        let (ms, overflow) = s.multipliedReportingOverflow(by: 1000)
        if overflow { return s < 0 ? .min : .max }
        return ms.addingReportingOverflow(a / 1_000_000_000_000_000).overflow ? (s < 0 ? .min : .max) : ms + a / 1_000_000_000_000_000
    }
}

/// Seconds as a `Double` (rates, sleeps).
func seconds(_ d: Duration) -> Double {
    Double(d.components.seconds) + Double(d.components.attoseconds) * 1e-18
}

extension Duration {
    /// Whole nanoseconds (saturating).
    var nanoseconds: Int64 {
        let (s, a) = components
        let (n, overflow) = s.multipliedReportingOverflow(by: 1_000_000_000)
        return overflow ? (s < 0 ? .min : .max) : n &+ a / 1_000_000_000  // attoseconds < 1e18: no overflow
    }
}
