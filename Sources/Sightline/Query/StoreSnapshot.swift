/// A consistent view of a store: its segments and in-memory rows at one moment.
public struct StoreSnapshot: Sendable {
    let segments: [SegmentReader]
    /// Rows not yet in a segment: the batch being flushed (if any), then the buffer.
    let memory: [SightingBatch]
    /// A plate index per `memory` batch (nil: scanned), or empty when none has one.
    var memoryPlateIndexes: [MemoryPlateIndex?] = []
    /// What retention keeps now (nil: every row): expired rows are never returned.
    var retention: RetentionRule? = nil
    /// Threads a query may read segments with (`StoreOptions.queryParallelism`).
    var parallelism = Machine.coreCount
    /// The store's instruments, recording each query's latency and reads.
    var metrics: SightlineMetrics? = nil
    /// The store's guardrails for investigative queries.
    public internal(set) var investigationLimits: InvestigationLimits = .off
    /// Who reads through this snapshot, for whom and why (`accessed(by:)` sets it).
    public internal(set) var access: AccessContext = .unattributed
    /// Where this snapshot's reads are audited; nil for the engine's own internal reads.
    var auditTrail: AuditTrail? = nil
    /// The cameras whose rows this snapshot's reader may not see (nil: all visible).
    var visibility: CameraVisibility? = nil
    /// Set when the in-memory rows are this plate's only (`ReadOnlyStore.snapshot(access:
    /// plate:)`): the snapshot answers that plate's history and refuses anything else.
    var plateScope: Plate? = nil

    /// Refuses `kind` on a snapshot scoped to one plate unless it is that plate's history.
    func checkScope(_ kind: QueryKind?) throws(SightlineError) {
        guard let plateScope else { return }
        if case .history(let plate)? = kind, plate == plateScope { return }
        throw .invalidArgument("this view holds the in-memory rows of one plate only: it answers that plate's history, nothing else")
    }

    /// The first and last time held (expired rows aside), or nil when empty.
    var dataExtent: ClosedRange<Int64>? {
        var lo = Int64.max, hi = Int64.min
        for s in segments where s.rowCount > 0 { lo = min(lo, s.statistics.minTime); hi = max(hi, s.statistics.maxTime) }
        for b in memory { for t in b.times { lo = min(lo, t); hi = max(hi, t) } }
        if let retention, retention.holds.isEmpty { lo = max(lo, retention.expiresBefore) }
        return lo <= hi ? lo...hi : nil
    }

    /// Rows in the view.
    public var rowCount: Int { segments.reduce(memory.reduce(0) { $0 + $1.count }) { $0 + $1.rowCount } }

    /// Every row: each segment's in file order, then the in-memory ones. Allocates; for
    /// tests, tools and small stores — the query planner reads selectively.
    public func allSightings() throws(SightlineError) -> [Sighting] {
        try checkScope(nil)
        if auditTrail != nil { return try audited("export", { _ in "export all" }, { (s: StoreSnapshot) throws(SightlineError) in try s.allSightings() }, counted: Self.counted) }
        var rows: [Sighting] = []
        for segment in segments { rows += try segment.allSightings() }
        for batch in memory { rows += batch.sightings }
        if let retention {
            rows.removeAll { !retention.keeps(plate: $0.plate, time: $0.time, camera: $0.camera, latitudeE7: $0.latitudeE7, longitudeE7: $0.longitudeE7) }
        }
        if let visibility { rows.removeAll { !visibility.allows($0.camera) } }
        return rows
    }
}
