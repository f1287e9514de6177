/// Investigative queries: who matched a partial plate, who was at several places, who
/// travels with a vehicle, where a vehicle spends its time. Each is built from the planned
/// history, area and search queries (so it uses the plate filters and the spatial tree) and
/// is tested against its brute-force definition.
extension StoreSnapshot {
    /// Matching plates of a search with their sightings, first and last time: ordered by
    /// sightings descending, then plate (`sightline search --plates`).
    public func searchPlates(_ query: Query) throws(SightlineError) -> [PlateSummary] {
        guard case .search = query.kind else { throw .invalidArgument("searchPlates takes a search query") }
        var unlimited = query
        unlimited.filters.limit = nil
        var byPlate: [Plate: PlateSummary] = [:]
        let cursor = try cursor(unlimited, options: CursorOptions(batchRows: 65_536))
        while let batch = try cursor.next() {
            for s in batch {
                byPlate[s.plate, default: PlateSummary(plate: s.plate, sightings: 0, first: s.time, last: s.time)].add(s.time)
            }
        }
        var result = byPlate.values.sorted { $0.sightings != $1.sightings ? $0.sightings > $1.sightings : $0.plate < $1.plate }
        if let limit = query.filters.limit, result.count > limit { result.removeSubrange(limit...) }
        return result
    }

    /// Plates seen in at least `minimum` of `windows` (all of them when nil): ordered by
    /// windows matched descending, then plate. `sightings` counts the plate's sightings
    /// inside the windows it matched (a sighting inside two windows counts in each).
    /// - Throws: `invalidArgument` with no window, or `minimum` outside 1...windows.count.
    public func intersect(_ windows: [IntersectionWindow], minimum: Int? = nil,
                          filters: QueryFilters = QueryFilters()) throws(SightlineError) -> [IntersectionMatch] {
        guard !windows.isEmpty else { throw .invalidArgument("intersect needs at least one window") }
        let k = minimum ?? windows.count
        guard (1...windows.count).contains(k) else { throw .invalidArgument("--min \(k) is outside 1…\(windows.count)") }
        var unlimited = filters
        unlimited.limit = nil
        var perPlate: [Plate: (windows: Int, sightings: Int)] = [:]
        for window in windows {
            let rows = try count(byPlate: Query(.area(window.area), time: window.time, filters: unlimited))
            for (plate, n) in rows { perPlate[plate, default: (0, 0)].windows += 1; perPlate[plate]!.sightings += n }
        }
        var result = perPlate.compactMap { plate, v in v.windows >= k ? IntersectionMatch(plate: plate, windows: v.windows, sightings: v.sightings) : nil }
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
        let window = within.milliseconds
        guard window >= 0 else { throw .invalidArgument("--within must not be negative") }
        guard minimumCameras >= 1 else { throw .invalidArgument("--min-cameras must be at least 1") }
        let history = try run(Query(.history(plate), time: time)).rows
        // Per camera, the plate's times merged into disjoint intervals [t − w, t + w]: each
        // interval is one camera-filtered query (the time-pruned scan reads its segments).
        var byCamera: [UInt32: [Int64]] = [:]
        for s in history { byCamera[s.camera, default: []].append(s.time) }
        var seen = Set<RowKey>()
        var perPlate: [Plate: (cameras: Set<UInt32>, sightings: Int)] = [:]
        for (camera, times) in byCamera.sorted(by: { $0.key < $1.key }) {
            var intervals: [(Int64, Int64)] = []
            for t in times.sorted() {
                let from = t.subtractingReportingOverflow(window), to = t.addingReportingOverflow(window)
                let lo = from.overflow ? Int64.min : from.partialValue, hi = to.overflow ? Int64.max : to.partialValue
                if let last = intervals.last, lo <= last.1 { intervals[intervals.count - 1].1 = max(last.1, hi) } else { intervals.append((lo, hi)) }
            }
            for (lo, hi) in intervals {
                // [lo, hi] inclusive: the query's range is half-open, so its end is hi + 1 (none at Int64.max).
                let range = TimeRange(uncheckedFrom: lo, to: hi == .max ? nil : hi + 1)
                let rows = try run(Query(.area(.box(south: -90, west: -180, north: 90, east: 180)), time: range,
                                         filters: QueryFilters(cameras: [camera]))).rows
                for r in rows where r.plate != plate {
                    // Within `window` of some sighting of the plate at this camera (the interval may join several).
                    guard times.contains(where: { Self.within($0, r.time, window) }) else { continue }
                    guard seen.insert(RowKey(plate: r.plate, time: r.time, camera: r.camera)).inserted else { continue }
                    perPlate[r.plate, default: ([], 0)].cameras.insert(camera)
                    perPlate[r.plate]!.sightings += 1
                }
            }
        }
        var result = perPlate.compactMap { p, v in
            v.cameras.count >= minimumCameras ? Companion(plate: p, cameras: v.cameras.count, sightings: v.sightings) : nil
        }
        result.sort {
            if $0.cameras != $1.cameras { return $0.cameras > $1.cameras }
            if $0.sightings != $1.sightings { return $0.sightings > $1.sightings }
            return $0.plate < $1.plate
        }
        if let limit, result.count > limit { result.removeSubrange(limit...) }
        return result
    }

    /// |a − b| ≤ w without overflow.
    static func within(_ a: Int64, _ b: Int64, _ w: Int64) -> Bool {
        let (d, overflow) = a.subtractingReportingOverflow(b)
        return !overflow && d.magnitude <= UInt64(w)
    }

    /// Where `plate` is seen most: its sightings in `time` grouped by geohash cell of
    /// `precision`, only those whose UTC hour is in `hours` when given (`22..<6` wraps past
    /// midnight); ordered by sightings descending, then cell; at most `top`.
    public func frequentLocations(_ plate: Plate, precision: Int = 7, top: Int = 10, hours: (from: Int, to: Int)? = nil,
                                  time: TimeRange = .all) throws(SightlineError) -> [FrequentLocation] {
        guard (1...12).contains(precision) else { throw .invalidArgument("precision must be 1…12, got \(precision)") }
        guard top >= 1 else { throw .invalidArgument("top must be at least 1") }
        if let h = hours {
            guard (0...23).contains(h.from), (0...24).contains(h.to), h.from != h.to else {
                throw .invalidArgument("hours \(h.from)-\(h.to): two different hours 0–24")
            }
        }
        var cells: [String: FrequentLocation] = [:]
        for s in try run(Query(.history(plate), time: time)).rows {
            if let h = hours {
                let hour = Self.hourOfDay(s.time)
                let inside = h.from < h.to ? (hour >= h.from && hour < h.to) : (hour >= h.from || hour < h.to)
                guard inside else { continue }
            }
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

    /// Matching rows counted per plate (the count path's columns plus the plate).
    func count(byPlate query: Query) throws(SightlineError) -> [Plate: Int] {
        var plan = plan(query, countOnly: true)
        plan.columns.insert(.plate)
        let (sink, _) = try QueryExecutor.run(plan, into: PlateCountSink.self)
        return sink.counts
    }
}

/// Counts per plate.
struct PlateCountSink: MatchSink {
    var counts: [Plate: Int] = [:]
    init(_ plan: QueryPlan) {}
    mutating func add(_ d: DecodedColumns, row: Int, plate: Plate) { counts[plate, default: 0] += 1 }
    mutating func add(_ batch: SightingBatch, row: Int) { counts[batch.plates[row], default: 0] += 1 }
    mutating func merge(_ other: consuming PlateCountSink) { counts.merge(other.counts, uniquingKeysWith: +) }
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
