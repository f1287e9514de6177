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
    /// Set when the in-memory rows are only those of one plate, or inside one box
    /// (`ReadOnlyStore.snapshot(access:plate:)`, `snapshot(access:box:)`): the snapshot
    /// answers what those rows suffice for and refuses anything else.
    var memoryScope: MemoryScope? = nil

    /// What the in-memory rows of a scoped snapshot are.
    enum MemoryScope: Sendable, Hashable {
        /// One plate's rows: its history.
        case plate(Plate)
        /// The rows inside a box: areas (and searches within an area) inside it.
        case box(GeoBox)
    }

    /// Refuses `kind` on a scoped snapshot unless the scope's rows suffice to answer it.
    func checkScope(_ kind: QueryKind?) throws(SightlineError) {
        guard let memoryScope else { return }
        func inside(_ area: Area?, _ box: GeoBox) -> Bool {
            guard let area else { return false }
            return area.coveringBoxes.allSatisfy { b in
                b.minLatitudeE7 >= box.minLatitudeE7 && b.maxLatitudeE7 <= box.maxLatitudeE7
                    && b.minLongitudeE7 >= box.minLongitudeE7 && b.maxLongitudeE7 <= box.maxLongitudeE7
            }
        }
        switch (memoryScope, kind) {
        case (.plate(let scope), .history(let plate)?) where plate == scope: return
        case (.box(let box), .area(let area)?) where inside(area, box): return
        case (.box(let box), .search(_, let area)?) where inside(area, box): return
        default:
            throw .invalidArgument("this view holds the in-memory rows of one plate or one box only: it answers that plate's history or areas inside that box, nothing else")
        }
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
