import Tracing

/// Queries over a snapshot: plan with the indexes, then read only what the plan names.
extension StoreSnapshot {
    /// The plan `query` would run with: per segment, the chosen access path and the
    /// alternatives with their estimated rows and bytes.
    /// - Throws: a checksum or format error from an index list planning reads (a search
    ///   reads the plate n-gram index's lists for its bigrams).
    public func plan(_ query: Query, countOnly: Bool = false) throws(SightlineError) -> QueryPlan {
        try checkScope(query.kind)
        var query = query
        if let retention, query.time.lower < retention.keepsFrom {
            // Retention: expired rows are never returned, whatever is still on disk. Rows
            // before the earliest cutoff are gone (held ones aside): the range narrows.
            if retention.holds.isEmpty, query.time.lower < retention.expiresBefore {
                let cutoff = retention.expiresBefore
                query.time = (try? TimeRange(from: cutoff, to: query.time.to)) ?? TimeRange(uncheckedFrom: cutoff, to: cutoff)
            }
            // Per-owner periods, hotlist hits and holds: the rest is a test of each row.
            if !retention.isOneCutoff { query.filters.retention = retention }
        }
        // Sharing policy: rows of hidden cameras are filtered where rows are examined, so they
        // are never materialized nor counted.
        if let visibility { query.filters.visibility = visibility }
        var plan = try QueryPlanner.plan(query, segments: segments, memory: memory, memoryPlateIndexes: memoryPlateIndexes,
                                         countOnly: countOnly, parallelism: parallelism)
        plan.parallelism = parallelism
        return plan
    }

    /// The matching rows, ordered (histories by time then camera; areas by time, plate,
    /// camera) and limited.
    /// - Throws: `investigationRefused` for a search beyond the store's guardrails.
    public func run(_ query: Query) throws(SightlineError) -> QueryResult {
        if auditTrail != nil { return try audited("query", query.auditText, { (s: StoreSnapshot) throws(SightlineError) in try s.run(query) }, counted: { Self.counted($0.rows) }) }
        let clock = ContinuousClock()
        let span = startSpan("sightline.query")
        defer { span.end() }
        try guardSearch(query)
        let plan = try plan(query)
        let started = clock.now
        var (sink, stats) = try QueryExecutor.run(plan, into: RowSink.self)
        let executed = clock.now
        var rows = sink.rows  // ordered: each worker sorted its rows, the merge kept the order
        let count = rows.count
        if let limit = query.filters.limit, rows.count > limit { rows.removeSubrange(max(0, limit)...) }
        stats.planning = plan.planningTime
        stats.execution = executed - started
        stats.merge = clock.now - executed
        record(query, stats, span: span)
        return QueryResult(rows: rows, count: count, statistics: stats)
    }

    /// The number of matching rows (the limit does not apply); decodes fewer columns.
    public func count(_ query: Query) throws(SightlineError) -> QueryResult {
        if auditTrail != nil { return try audited("count", query.auditText, { (s: StoreSnapshot) throws(SightlineError) in try s.count(query) }, counted: { ($0.count, -1) }) }
        let clock = ContinuousClock()
        let span = startSpan("sightline.query")
        defer { span.end() }
        try guardSearch(query)
        let plan = try plan(query, countOnly: true)
        let started = clock.now
        var (sink, stats) = try QueryExecutor.run(plan, into: CountSink.self)
        stats.planning = plan.planningTime
        stats.execution = clock.now - started
        record(query, stats, span: span)
        return QueryResult(rows: [], count: sink.count, statistics: stats)
    }

    /// Matching rows counted per geohash cell, hour of day or day, in key order.
    public func heatmap(_ query: Query, by grouping: HeatmapGrouping) throws(SightlineError) -> [HeatmapCell] {
        if auditTrail != nil {
            return try audited("heatmap", { "\(query.auditText($0)) by=\(grouping)" }, { (s: StoreSnapshot) throws(SightlineError) in try s.heatmap(query, by: grouping) },
                               counted: { ($0.reduce(0) { $0 + $1.count }, -1) })
        }
        if case .geohash(let p) = grouping, !(1...12).contains(p) { throw .invalidArgument("geohash precision must be 1...12, got \(p)") }
        var plan = try plan(query, countOnly: true)
        plan.grouping = grouping
        plan.columns.formUnion([.time, .position])
        let (sink, _) = try QueryExecutor.run(plan, into: HeatmapSink.self)
        return sink.allCounts.map { HeatmapCell(key: $0.key, count: $0.value) }.sorted { $0.key < $1.key }
    }
}

/// One cell of a heat map.
public struct HeatmapCell: Sendable, Hashable {
    /// The cell: a geohash (`.geohash`), an hour of day `00`–`23` (`.hourOfDay`) or a UTC day
    /// `YYYY-MM-DD` (`.day`).
    public var key: String
    /// Matching rows in it.
    public var count: Int
}

/// Counts per heat-map key.
struct HeatmapSink: MatchSink {
    var counts: [String: Int] = [:]
    let grouping: HeatmapGrouping
    init(_ plan: QueryPlan) { grouping = plan.grouping ?? .hourOfDay }

    func key(time: Int64, latitudeE7: Int32, longitudeE7: Int32) -> String {
        switch grouping {
        case .geohash(let p):
            return (try? Geohash(latitudeE7: latitudeE7, longitudeE7: longitudeE7, precision: p))?.description ?? "?"
        case .hourOfDay:
            // Floor division: times before 1970 fall in the right hour too.
            let hours = time >= 0 ? time / 3_600_000 : -((-(time + 1)) / 3_600_000) - 1
            let hour = (hours % 24 + 24) % 24
            return hour < 10 ? "0\(hour)" : "\(hour)"
        case .day:
            return String(Timestamp.rfc3339(time).prefix(10))
        }
    }
    /// Per-day counts by day number: a day's key string is made once, not once a row (the
    /// GeoParquet export counts every row of a store by day).
    var dayCounts: [Int64: (time: Int64, count: Int)] = [:]
    @inline(__always) static func dayNumber(_ time: Int64) -> Int64 {
        time >= 0 ? time / 86_400_000 : -((-(time + 1)) / 86_400_000) - 1
    }
    @inline(__always) mutating func countDay(_ time: Int64) {
        dayCounts[Self.dayNumber(time), default: (time, 0)].count += 1
    }
    mutating func add(_ d: DecodedColumns, row: Int, plate: Plate) {
        if case .day = grouping { countDay(d.times[row]); return }
        counts[key(time: d.times[row], latitudeE7: d.latitudes[row], longitudeE7: d.longitudes[row]), default: 0] += 1
    }
    mutating func add(_ batch: SightingBatch, row: Int) {
        if case .day = grouping { countDay(batch.times[row]); return }
        counts[key(time: batch.times[row], latitudeE7: batch.latitudesE7[row], longitudeE7: batch.longitudesE7[row]), default: 0] += 1
    }
    mutating func merge(_ other: consuming HeatmapSink) {
        counts.merge(other.counts, uniquingKeysWith: +)
        dayCounts.merge(other.dayCounts) { ($0.time, $0.count + $1.count) }
    }
    /// Every count by key (day numbers turned into `YYYY-MM-DD`).
    var allCounts: [String: Int] {
        var all = counts
        // Each day named from a time seen in it (a day number times 86,400,000 can overflow).
        for (_, day) in dayCounts { all[key(time: day.time, latitudeE7: 0, longitudeE7: 0), default: 0] += day.count }
        return all
    }
}

extension StoreSnapshot {
    /// The snapshot's segments (for tools that sample or inspect them).
    public var segmentReaders: [SegmentReader] { segments }
}

extension StoreSnapshot {
    /// Records a finished query in the store's metrics and its span.
    func record(_ query: Query, _ stats: QueryStatistics, span: (any Span)? = nil) {
        var history = false
        if case .history = query.kind { history = true }
        if let metrics {
            (history ? metrics.historyQueries : metrics.areaQueries).recordNanoseconds((stats.planning + stats.execution + stats.merge).nanoseconds)
            metrics.blocksRead.increment(by: stats.blocksRead)
            metrics.bytesRead.increment(by: stats.bytesRead)
        }
        guard let span else { return }
        span.attributes["sightline.query.kind"] = history ? "history" : "area"
        span.attributes["sightline.blocks_read"] = stats.blocksRead
        span.attributes["sightline.bytes_read"] = stats.bytesRead
        span.attributes["sightline.rows_matched"] = stats.rowsMatched
    }
}
