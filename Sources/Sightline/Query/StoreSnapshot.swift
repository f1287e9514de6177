/// A consistent view of a store: its segments and in-memory rows at one moment.
public struct StoreSnapshot: Sendable {
    let segments: [SegmentReader]
    /// Rows not yet in a segment: the batch being flushed (if any), then the buffer.
    let memory: [SightingBatch]
    /// Rows older than this are expired (retention): never returned.
    var expiredBefore: Int64? = nil
    /// Threads a query may read segments with (`StoreOptions.queryParallelism`).
    var parallelism = Machine.coreCount
    /// The store's instruments, recording each query's latency and reads.
    var metrics: SightlineMetrics? = nil

    /// Rows in the view.
    public var rowCount: Int { segments.reduce(memory.reduce(0) { $0 + $1.count }) { $0 + $1.rowCount } }

    /// Every row: each segment's in file order, then the in-memory ones. Allocates; for
    /// tests, tools and small stores — the query planner reads selectively.
    public func allSightings() throws(SightlineError) -> [Sighting] {
        var rows: [Sighting] = []
        for segment in segments { rows += try segment.allSightings() }
        for batch in memory { rows += batch.sightings }
        if let cutoff = expiredBefore { rows.removeAll { $0.time < cutoff } }
        return rows
    }
}
