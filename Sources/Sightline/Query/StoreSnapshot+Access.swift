/// Accountable reads: every public read of a snapshot taken by a store checks the store's
/// access requirement and appends an audit record — refused reads too — that is durable
/// before the answer is returned (Docs/architecture.md, "Accountable access").
extension StoreSnapshot {
    /// This snapshot, read on behalf of `context`: its reads are audited under it and refused
    /// when the store requires a purpose (or a case number) `context` does not state.
    public func accessed(by context: AccessContext) -> StoreSnapshot {
        var copy = self
        copy.access = context
        return copy
    }

    /// Records that the embedding service refused `operation` to this snapshot's reader
    /// before reaching the store (a credential without the role the operation needs, say):
    /// one `refused` audit record with `reason`, durable when this returns, so refusals
    /// decided outside the engine are as accountable as its own. `query` describes what was
    /// asked (it must not hold a plate in clear: services pass the route, not its values).
    public func recordRefusal(_ operation: String, query: String, reason: String) throws(SightlineError) {
        guard let trail = auditTrail else { return }
        try trail.record(access, operation, query, rows: 0, plates: 0, outcome: .refused, detail: reason)
    }

    /// Runs `body` on an unaudited copy (its own inner reads are not separate records), and
    /// records the operation: refused when the requirement or the guardrails refuse it,
    /// failed when it throws, answered with `counted`'s rows and plates otherwise.
    func audited<R>(_ operation: String, _ text: (AuditTrail) -> String, _ body: (StoreSnapshot) throws(SightlineError) -> R,
                    counted: (R) -> (rows: Int, plates: Int)) throws(SightlineError) -> R {
        guard let trail = auditTrail else { return try body(self) }
        var inner = self
        inner.auditTrail = nil
        let query = text(trail)
        if let reason = trail.requirement.refusal(of: access) {
            try trail.record(access, operation, query, rows: 0, plates: 0, outcome: .refused, detail: reason)
            throw .accessRefused(reason)
        }
        let result: R
        do throws(SightlineError) {
            result = try body(inner)
        } catch {
            let refused: Bool
            if case .investigationRefused = error { refused = true } else { refused = false }
            // The operation's own error is what the caller needs; a failure to record it too
            // is secondary (the answer was not returned either way).
            _ = try? trail.record(access, operation, query, rows: 0, plates: 0, outcome: refused ? .refused : .failed, detail: "\(error)")
            throw error
        }
        let (rows, plates) = counted(result)
        try trail.record(access, operation, query, rows: rows, plates: plates, outcome: .answered)
        return result
    }

    /// This snapshot without its audit trail: its reads are neither checked nor recorded.
    /// Only for measuring what the audit costs (`sightline query-bench --unaudited`).
    @_spi(Benchmarks)
    public var unaudited: StoreSnapshot {
        var copy = self
        copy.auditTrail = nil
        return copy
    }

    static func counted(_ rows: [Sighting]) -> (rows: Int, plates: Int) {
        (rows.count, distinctPlates(rows))
    }

    /// Distinct plates of `rows` by open addressing over the packed plate (a `Set<Plate>`
    /// hashes each with SipHash: 5 ms for a 94 k-row answer, a quarter of its query time).
    static func distinctPlates(_ rows: [Sighting]) -> Int {
        guard rows.count > 1 else { return rows.count }
        var capacity = 16
        while capacity < rows.count * 2 { capacity <<= 1 }
        let mask = capacity - 1
        var lows = [UInt64](repeating: 0, count: capacity)
        // high | count << 16 | 1 << 24: never 0 for a used slot.
        var tags = [UInt32](repeating: 0, count: capacity)
        var distinct = 0
        lows.withUnsafeMutableBufferPointer { lows in
            tags.withUnsafeMutableBufferPointer { tags in
                for row in rows.indices {
                    let p = rows[row].plate
                    let tag = UInt32(p.high) | UInt32(p.count) << 16 | 1 << 24
                    // Multiply-shift (wrapping: a hash).
                    var i = Int(truncatingIfNeeded: ((p.low ^ UInt64(tag) << 40) &* 0x9E37_79B9_7F4A_7C15) >> 32) & mask
                    while tags[i] != 0 && !(tags[i] == tag && lows[i] == p.low) { i = (i + 1) & mask }
                    if tags[i] == 0 {
                        tags[i] = tag
                        lows[i] = p.low
                        distinct += 1
                    }
                }
            }
        }
        return distinct
    }
}
