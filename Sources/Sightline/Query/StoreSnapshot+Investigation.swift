/// Investigative queries: who matched a partial plate, who was at several places, who
/// travels with a vehicle, where a vehicle spends its time. Each is built from the planned
/// history, area and search queries (so it uses the plate filters and the spatial tree) and
/// is tested against its brute-force definition.
extension StoreSnapshot {
    /// Matching plates of a search with their sightings, first and last time: ordered by
    /// sightings descending, then plate (`sightline search --plates`).
    public func searchPlates(_ query: Query) throws(SightlineError) -> [PlateSummary] {
        try checkScope(nil)
        if auditTrail != nil {
            return try audited("search-plates", query.auditText, { (s: StoreSnapshot) throws(SightlineError) in try s.searchPlates(query) },
                               counted: { ($0.reduce(0) { $0 + $1.sightings }, $0.count) })
        }
        guard case .search = query.kind else { throw .invalidArgument("searchPlates takes a search query") }
        try investigationLimits.checkSpan(query.time, extent: dataExtent, "the search")
        var result = try plateSummaries(query)
        try investigationLimits.checkPlates(result.count, "the search")
        if let limit = query.filters.limit, result.count > limit { result.removeSubrange(limit...) }
        return result
    }

    /// Refuses a search the guardrails do not allow (its span; and, when plates are capped,
    /// its distinct plates, counted first). Called by `run`, `count` and `cursor`.
    func guardSearch(_ query: Query) throws(SightlineError) {
        guard case .search = query.kind, investigationLimits.isOn else { return }
        try investigationLimits.checkSpan(query.time, extent: dataExtent, "the search")
        if investigationLimits.maximumPlates != nil { try investigationLimits.checkPlates(try plateSummaries(query).count, "the search") }
    }

    /// A search's plates, by sightings descending then plate, unlimited and unguarded.
    func plateSummaries(_ query: Query) throws(SightlineError) -> [PlateSummary] {
        // The count path's columns plus the plate: no sighting is built.
        var plan = try plan(query, countOnly: true)
        plan.columns.insert(.plate)
        let (sink, _) = try QueryExecutor.run(plan, into: PlateSummarySink.self)
        return sink.summaries.values.sorted { $0.sightings != $1.sightings ? $0.sightings > $1.sightings : $0.plate < $1.plate }
    }

    /// Plates seen in at least `minimum` of `windows` (all of them when nil): ordered by
    /// windows matched descending, then plate. `sightings` counts the plate's sightings
    /// inside the windows it matched (a sighting inside two windows counts in each).
    /// - Throws: `invalidArgument` with no window, or `minimum` outside 1...windows.count.
    public func intersect(_ windows: [IntersectionWindow], minimum: Int? = nil,
                          filters: QueryFilters = QueryFilters()) throws(SightlineError) -> [IntersectionMatch] {
        try checkScope(nil)
        if auditTrail != nil {
            return try audited("intersect", { _ in
                (["intersect"] + windows.map { "window=\($0.area.auditText)@\($0.time.auditText)" } + (minimum.map { ["min=\($0)"] } ?? []) + filters.auditParts)
                    .joined(separator: " ")
            }, { (s: StoreSnapshot) throws(SightlineError) in try s.intersect(windows, minimum: minimum, filters: filters) }, counted: { ($0.reduce(0) { $0 + $1.sightings }, $0.count) })
        }
        guard !windows.isEmpty else { throw .invalidArgument("intersect needs at least one window") }
        let k = minimum ?? windows.count
        guard (1...windows.count).contains(k) else { throw .invalidArgument("--min \(k) is outside 1…\(windows.count)") }
        let extent = dataExtent
        for (i, w) in windows.enumerated() { try investigationLimits.checkSpan(w.time, extent: extent, "window \(i + 1)") }
        var unlimited = filters
        unlimited.limit = nil
        var perPlate: [Plate: (windows: Int, sightings: Int)] = [:]
        for window in windows {
            let rows = try count(byPlate: Query(.area(window.area), time: window.time, filters: unlimited))
            for (plate, n) in rows { perPlate[plate, default: (0, 0)].windows += 1; perPlate[plate]!.sightings += n }
        }
        var result = perPlate.compactMap { plate, v in v.windows >= k ? IntersectionMatch(plate: plate, windows: v.windows, sightings: v.sightings) : nil }
        try investigationLimits.checkPlates(result.count, "the intersection")
        result.sort { $0.windows != $1.windows ? $0.windows > $1.windows : $0.plate < $1.plate }
        if let limit = filters.limit, result.count > limit { result.removeSubrange(limit...) }
        return result
    }

    /// Travelling companions of `plate`: for each of its sightings s in `time`, the sightings
    /// r with r.camera = s.camera, |r.time − s.time| ≤ `within`, r.plate ≠ `plate`. Per
    /// companion plate: distinct cameras and distinct companion sightings; plates with at least
    /// `minimumCameras` cameras, ordered by cameras, then sightings (both descending), then plate.
    public func convoy(_ plate: Plate, within: Duration, minimumCameras: Int = 2, time: TimeRange = .all,
                       limit: Int? = nil) throws(SightlineError) -> [Companion] {
        try checkScope(nil)
        if auditTrail != nil {
            return try audited("convoy", { t in
                "convoy plate=\(t.name(plate)) within=\(within.milliseconds)ms min-cameras=\(minimumCameras) time=\(time.auditText)" + (limit.map { " limit=\($0)" } ?? "")
            }, { (s: StoreSnapshot) throws(SightlineError) in try s.convoy(plate, within: within, minimumCameras: minimumCameras, time: time, limit: limit) },
               counted: { ($0.reduce(0) { $0 + $1.sightings }, $0.count) })
        }
        let window = within.milliseconds
        guard window >= 0 else { throw .invalidArgument("--within must not be negative") }
        guard minimumCameras >= 1 else { throw .invalidArgument("--min-cameras must be at least 1") }
        try investigationLimits.checkSpan(time, extent: dataExtent, "the convoy")
        guard let plan = try companionsPlan(plate, within: window, time: time) else { return [] }
        let (sink, _) = try QueryExecutor.run(plan, into: CompanionSink.self)
        var perPlate: [Plate: (cameras: Set<UInt32>, sightings: Int)] = [:]
        // Distinct sightings: rows equal in plate, time and camera count once.
        for r in Set(sink.rows) {
            perPlate[r.plate, default: ([], 0)].cameras.insert(r.camera)
            perPlate[r.plate]!.sightings += 1
        }
        var result = perPlate.compactMap { p, v in
            v.cameras.count >= minimumCameras ? Companion(plate: p, cameras: v.cameras.count, sightings: v.sightings) : nil
        }
        try investigationLimits.checkPlates(result.count, "the convoy")
        result.sort {
            if $0.cameras != $1.cameras { return $0.cameras > $1.cameras }
            if $0.sightings != $1.sightings { return $0.sightings > $1.sightings }
            return $0.plate < $1.plate
        }
        if let limit, result.count > limit { result.removeSubrange(limit...) }
        return result
    }

    /// Where `plate` is seen most: its sightings in `time` grouped by geohash cell of
    /// `precision`, only those whose UTC hour is in `hours` when given (`22..<6` wraps past
    /// midnight); ordered by sightings descending, then cell; at most `top`.
    public func frequentLocations(_ plate: Plate, precision: Int = 7, top: Int = 10, hours: (from: Int, to: Int)? = nil,
                                  time: TimeRange = .all) throws(SightlineError) -> [FrequentLocation] {
        try checkScope(nil)
        if auditTrail != nil {
            return try audited("frequent", { t in
                "frequent plate=\(t.name(plate)) precision=\(precision) top=\(top)" + (hours.map { " hours=\($0.from)-\($0.to)" } ?? "") + " time=\(time.auditText)"
            }, { (s: StoreSnapshot) throws(SightlineError) in try s.frequentLocations(plate, precision: precision, top: top, hours: hours, time: time) },
               counted: { ($0.reduce(0) { $0 + $1.sightings }, $0.isEmpty ? 0 : 1) })
        }
        guard (1...12).contains(precision) else { throw .invalidArgument("precision must be 1…12, got \(precision)") }
        guard top >= 1 else { throw .invalidArgument("top must be at least 1") }
        if let h = hours {
            guard (0...23).contains(h.from), (0...24).contains(h.to), h.from != h.to else {
                throw .invalidArgument("hours \(h.from)-\(h.to): two different hours 0–24")
            }
        }
        let window = try hours.map { h throws(SightlineError) in try HourWindow(from: h.from, to: h.to) }
        var cells: [String: FrequentLocation] = [:]
        for s in try run(Query(.history(plate), time: time)).rows {
            if let window, !window.contains(s.time) { continue }
            let cell = try Geohash(latitudeE7: s.latitudeE7, longitudeE7: s.longitudeE7, precision: precision).description
            cells[cell, default: FrequentLocation(cell: cell, sightings: 0, first: s.time, last: s.time)].add(s.time)
        }
        let sorted = cells.values.sorted { $0.sightings != $1.sightings ? $0.sightings > $1.sightings : $0.cell < $1.cell }
        return Array(sorted.prefix(top))
    }

    /// The UTC hour of day of an epoch-millisecond time (floor division: right before 1970).
    static func hourOfDay(_ t: Int64) -> Int {
        let hours = t >= 0 ? t / 3_600_000 : -((-(t + 1)) / 3_600_000) - 1
        return Int((hours % 24 + 24) % 24)
    }

    /// The second stage of a convoy: `plate`'s history in `time` (run now), then one planned
    /// query over the plate's cameras and the hull of its windows (the camera index names
    /// each camera's blocks), each segment keeping only the blocks whose time range meets a
    /// window of a camera listing them. Every block is decoded once, however many of the
    /// plate's sightings it serves. Nil when the plate has no sighting in `time`.
    func companionsPlan(_ plate: Plate, within window: Int64, time: TimeRange) throws(SightlineError) -> QueryPlan? {
        let history = try run(Query(.history(plate), time: time)).rows
        guard !history.isEmpty else { return nil }
        let windows = CameraWindows(target: plate, sightings: history, within: window)
        let query = try Query(.area(.box(south: -90, west: -180, north: 90, east: 180)), time: windows.hull,
                              filters: QueryFilters(cameras: Set(windows.cameras)))
        // Only the segments meeting a window: the hull spans the gaps between the plate's
        // days (a plate seen in March and in May would plan every segment in between).
        let meeting = segments.filter { s in windows.cameraIntervals.contains { CameraWindows.overlaps($0, s.statistics.minTime, s.statistics.maxTime) } }
        var narrowed = StoreSnapshot(segments: meeting, memory: memory, memoryPlateIndexes: memoryPlateIndexes, retention: retention, parallelism: parallelism,
                                     metrics: metrics, investigationLimits: investigationLimits)
        narrowed.visibility = visibility
        var plan = try narrowed.plan(query, countOnly: true)
        if meeting.count < segments.count { plan.skippedSegments[.timeRange, default: 0] += segments.count - meeting.count }
        plan.columns.insert(.plate)
        plan.cameraWindows = windows
        for i in plan.segments.indices {
            guard let chosen = plan.segments[i].chosen else { continue }
            let reader = plan.segments[i].reader
            let keep: [Int]
            if chosen.path == .cameraIndex {
                // By each camera's own seconds in a block, not the block's range (which spans
                // all its cells' rows: often the whole day).
                var listed = Set<Int>()
                for (camera, intervals) in zip(windows.cameras, windows.cameraIntervals) {
                    listed.formUnion(try reader.spatialBlocks(ofCamera: camera, meeting: intervals) ?? [])
                }
                keep = chosen.blocks.filter { listed.contains($0) }
            } else {
                keep = chosen.blocks.filter { b in
                    let s = reader.blocks[b].statistics
                    return windows.cameraIntervals.contains { CameraWindows.overlaps($0, s.minTime, s.maxTime) }
                }
            }
            // The estimates follow the blocks kept (what the convoy's scan decodes).
            var estimate = chosen
            estimate.blocks = keep
            estimate.blockCount = keep.count
            estimate.rows = keep.reduce(0) { $0 + reader.blocks[$1].statistics.rowCount }
            estimate.bytes = keep.reduce(0) { $0 + reader.blocks[$1].byteLength(of: [.time, .camera, .plate]) }
            estimate.matches = Swift.min(estimate.matches, Double(estimate.rows))
            if let k = plan.segments[i].alternatives.firstIndex(where: { $0.path == chosen.path }) { plan.segments[i].alternatives[k] = estimate }
            plan.segments[i].chosen = keep.isEmpty ? nil : estimate
            if keep.isEmpty { plan.segments[i].skipped = .noBlock }
        }
        return plan
    }

    /// Matching rows counted per plate (the count path's columns plus the plate).
    func count(byPlate query: Query) throws(SightlineError) -> [Plate: Int] {
        var plan = try plan(query, countOnly: true)
        plan.columns.insert(.plate)
        let (sink, _) = try QueryExecutor.run(plan, into: PlateCountSink.self)
        return sink.counts
    }
}

/// A plate's sightings as time windows per camera: for each camera, the intervals
/// [t − w, t + w] around its times there, merged (sorted, disjoint, inclusive).
struct CameraWindows: Sendable {
    let target: Plate
    /// The cameras, ascending, and their intervals: the per-row lookup is a binary search
    /// (a plate passes tens of cameras), not a hash.
    let cameras: [UInt32]
    let cameraIntervals: [[ClosedRange<Int64>]]
    /// From the earliest window's start to just past the latest's end (a query range).
    let hull: TimeRange

    init(target: Plate, sightings: [Sighting], within w: Int64) {
        self.target = target
        var times: [UInt32: [Int64]] = [:]
        for s in sightings { times[s.camera, default: []].append(s.time) }
        cameras = times.keys.sorted()
        var cameraIntervals: [[ClosedRange<Int64>]] = []
        var lower = Int64.max, upper = Int64.min
        for camera in cameras {
            var merged: [ClosedRange<Int64>] = []
            for t in times[camera]!.sorted() {
                let from = t.subtractingReportingOverflow(w), to = t.addingReportingOverflow(w)
                let lo = from.overflow ? Int64.min : from.partialValue, hi = to.overflow ? Int64.max : to.partialValue
                if let last = merged.last, lo <= last.upperBound { merged[merged.count - 1] = last.lowerBound...max(last.upperBound, hi) }
                else { merged.append(lo...hi) }
            }
            lower = min(lower, merged.first!.lowerBound)
            upper = max(upper, merged.last!.upperBound)
            cameraIntervals.append(merged)
        }
        self.cameraIntervals = cameraIntervals
        // Half-open: its end is upper + 1 (none at Int64.max).
        hull = TimeRange(uncheckedFrom: lower, to: upper == .max ? nil : upper + 1)
    }

    /// Whether a row at `camera` and `time` is within the window of one of the plate's sightings there.
    @inline(__always)
    func contains(camera: UInt32, time: Int64) -> Bool {
        let c = cameras.partitionPoint { $0 < camera }
        guard c < cameras.count, cameras[c] == camera else { return false }
        let list = cameraIntervals[c]
        let k = list.partitionPoint { $0.upperBound < time }
        return k < list.count && list[k].contains(time)
    }

    /// Whether [min, max] meets one of `intervals`.
    static func overlaps(_ intervals: [ClosedRange<Int64>], _ min: Int64, _ max: Int64) -> Bool {
        intervals.contains { $0.lowerBound <= max && min <= $0.upperBound }
    }
}

/// The companion sightings of a convoy: rows of other plates inside the target's windows.
struct CompanionSink: MatchSink {
    var rows: [RowKey] = []
    let windows: CameraWindows
    init(_ plan: QueryPlan) { windows = plan.cameraWindows! }
    mutating func add(_ d: DecodedColumns, row: Int, plate: Plate) { add(plate, d.times[row], d.cameras[row]) }
    mutating func add(_ batch: SightingBatch, row: Int) { add(batch.plates[row], batch.times[row], batch.cameras[row]) }
    @inline(__always)
    private mutating func add(_ plate: Plate, _ time: Int64, _ camera: UInt32) {
        if plate != windows.target && windows.contains(camera: camera, time: time) { rows.append(RowKey(plate: plate, time: time, camera: camera)) }
    }
    mutating func merge(_ other: consuming CompanionSink) { rows += other.rows }
}

/// Counts per plate.
struct PlateCountSink: MatchSink {
    var counts: [Plate: Int] = [:]
    init(_ plan: QueryPlan) {}
    mutating func add(_ d: DecodedColumns, row: Int, plate: Plate) { counts[plate, default: 0] += 1 }
    mutating func add(_ batch: SightingBatch, row: Int) { counts[batch.plates[row], default: 0] += 1 }
    mutating func merge(_ other: consuming PlateCountSink) { counts.merge(other.counts, uniquingKeysWith: +) }
}

/// Per plate: matching sightings, first and last time.
struct PlateSummarySink: MatchSink {
    var summaries: [Plate: PlateSummary] = [:]
    init(_ plan: QueryPlan) {}
    mutating func add(_ d: DecodedColumns, row: Int, plate: Plate) { add(plate, d.times[row]) }
    mutating func add(_ batch: SightingBatch, row: Int) { add(batch.plates[row], batch.times[row]) }
    private mutating func add(_ plate: Plate, _ time: Int64) {
        summaries[plate, default: PlateSummary(plate: plate, sightings: 0, first: time, last: time)].add(time)
    }
    mutating func merge(_ other: consuming PlateSummarySink) {
        summaries.merge(other.summaries) { a, b in
            PlateSummary(plate: a.plate, sightings: a.sightings + b.sightings, first: min(a.first, b.first), last: max(a.last, b.last))
        }
    }
}

/// One plate of a search: its matching sightings and their first and last times.
public struct PlateSummary: Sendable, Hashable {
    /// The plate.
    public var plate: Plate
    /// Its matching sightings.
    public var sightings: Int
    /// The first and last of their times (epoch ms).
    public var first: Int64, last: Int64

    mutating func add(_ t: Int64) {
        sightings += 1
        first = min(first, t)
        last = max(last, t)
    }
}

/// A place and a time span for `intersect`: a box (or any area) and a half-open time range.
public struct IntersectionWindow: Sendable, Hashable {
    /// Where.
    public var area: Area
    /// When.
    public var time: TimeRange

    /// A window; the area is validated.
    public init(area: Area, time: TimeRange) throws(SightlineError) {
        _ = try area.validated()
        self.area = area
        self.time = time
    }
}

/// A plate seen in several windows.
public struct IntersectionMatch: Sendable, Hashable {
    /// The plate.
    public var plate: Plate
    /// Windows it was seen in.
    public var windows: Int
    /// Its sightings inside the windows it matched.
    public var sightings: Int
}

/// A plate seen near another at the same cameras.
public struct Companion: Sendable, Hashable {
    /// The companion plate.
    public var plate: Plate
    /// Distinct cameras where it was seen within the window of the target's sightings.
    public var cameras: Int
    /// Its distinct sightings within those windows.
    public var sightings: Int
}

/// A geohash cell where a plate is often seen.
public struct FrequentLocation: Sendable, Hashable {
    /// The cell.
    public var cell: String
    /// The plate's sightings in it.
    public var sightings: Int
    /// The first and last of their times (epoch ms).
    public var first: Int64, last: Int64

    mutating func add(_ t: Int64) {
        sightings += 1
        first = min(first, t)
        last = max(last, t)
    }
}
