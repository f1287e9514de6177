/// A half-open time range, epoch milliseconds: `from` inclusive, `to` exclusive; either end
/// may be open.
public struct TimeRange: Sendable, Hashable {
    /// Earliest time included; nil for no lower bound.
    public var from: Int64?
    /// First time excluded; nil for no upper bound.
    public var to: Int64?

    /// A range; throws when `from ≥ to`.
    public init(from: Int64? = nil, to: Int64? = nil) throws(SightlineError) {
        if let from, let to, from >= to { throw .invalidArgument("time range is empty: from \(from) is not before to \(to)") }
        self.from = from
        self.to = to
    }

    /// Every time.
    public static let all = try! TimeRange()

    /// A range without the `from < to` check (an empty range when from ≥ to).
    init(uncheckedFrom from: Int64?, to: Int64?) {
        self.from = from
        self.to = to
    }

    var lower: Int64 { from ?? .min }
    /// Exclusive upper bound when `to` is set; `Int64.max` when it is not — then a row at
    /// `Int64.max` (a valid time) is included: test `to == nil` before using it as exclusive.
    var upper: Int64 { to ?? .max }

    @inline(__always) func contains(_ t: Int64) -> Bool { t >= lower && (to == nil || t < upper) && (from == nil || to == nil || lower < upper) }
    @inline(__always) func overlaps(min: Int64, max: Int64) -> Bool { max >= lower && (to == nil || min < upper) && (from == nil || to == nil || lower < upper) }
}

/// Filters any query can add.
public struct QueryFilters: Sendable, Hashable {
    /// Only these cameras (nil: any).
    public var cameras: Set<UInt32>? { didSet { cameraList = cameras?.sorted() } }
    /// `cameras` ascending: rows are checked by binary search, cheaper than hashing each
    /// row's camera (a convoy filters by tens of cameras over millions of rows).
    private var cameraList: [UInt32]?
    /// Only this region (nil: any).
    public var region: Region?
    /// Only rows with at least this confidence.
    public var minimumConfidence: UInt8
    /// At most this many rows, after ordering (nil: all).
    public var limit: Int?
    /// The cameras whose rows the reader may not see (the sharing policy); set by the
    /// snapshot, not by callers.
    var visibility: CameraVisibility?
    /// Retention tested row by row (per-owner periods, hotlist hits, legal holds); set by
    /// the snapshot when one cutoff cannot stand for it (otherwise the time range narrows).
    var retention: RetentionRule?

    /// Filters; the defaults keep everything.
    public init(cameras: Set<UInt32>? = nil, region: Region? = nil, minimumConfidence: UInt8 = 0, limit: Int? = nil) {
        self.cameras = cameras
        cameraList = cameras?.sorted()
        self.region = region
        self.minimumConfidence = minimumConfidence
        self.limit = limit
    }

    @inline(__always)
    func accepts(camera: UInt32, confidence: UInt8, regionCode: UInt32) -> Bool {
        confidence >= minimumConfidence && (region == nil || region!.code == regionCode) && (cameraList.map { Self.contains($0, camera) } ?? true)
            && (visibility?.allows(camera) ?? true)
    }

    @inline(__always)
    static func contains(_ sorted: [UInt32], _ camera: UInt32) -> Bool {
        let i = sorted.partitionPoint { $0 < camera }
        return i < sorted.count && sorted[i] == camera
    }

    /// Columns the filters read besides time and position.
    var columns: ColumnSet {
        var c: ColumnSet = []
        if cameras != nil || visibility != nil { c.insert(.camera) }
        if let retention {
            c.insert(.camera)  // the owner's period, by camera
            if retention.needsPlate { c.formUnion([.plate, .position]) }  // a hold or a hit names the plate (or an area)
        }
        if region != nil { c.insert(.region) }
        if minimumConfidence > 0 { c.insert(.confidence) }
        return c
    }
}

/// What a query asks.
public enum QueryKind: Sendable, Hashable {
    /// Every sighting of one plate, in time order.
    case history(Plate)
    /// Every sighting inside an area.
    case area(Area)
    /// Every sighting of the plates matching a pattern (partial or OCR-equivalent), inside
    /// an area when given. Ordered like areas: time, plate, camera.
    case search(PlatePattern, within: Area?)
}

/// A query: what, when, and filters.
public struct Query: Sendable, Hashable {
    /// History or area.
    public var kind: QueryKind
    /// When.
    public var time: TimeRange
    /// Camera, region, confidence and limit filters.
    public var filters: QueryFilters

    /// A query; areas are validated.
    public init(_ kind: QueryKind, time: TimeRange = .all, filters: QueryFilters = QueryFilters()) throws(SightlineError) {
        if case .area(let area) = kind { _ = try area.validated() }
        if case .search(_, let area?) = kind { _ = try area.validated() }
        self.kind = kind
        self.time = time
        self.filters = filters
    }

    /// Whether a row satisfies the query (the brute-force definition every path must match).
    @inline(__always)
    func matches(plate: Plate, time t: Int64, latitudeE7: Int32, longitudeE7: Int32, camera: UInt32,
                 confidence: UInt8, regionCode: UInt32) -> Bool {
        guard time.contains(t), filters.accepts(camera: camera, confidence: confidence, regionCode: regionCode) else { return false }
        switch kind {
        case .history(let p): return p == plate
        case .area(let a): return a.contains(latitudeE7: latitudeE7, longitudeE7: longitudeE7)
        case .search(let pattern, let a):
            return (a?.contains(latitudeE7: latitudeE7, longitudeE7: longitudeE7) ?? true) && pattern.matches(plate)
        }
    }

    /// `matches` without the plate test of a search (its rows are tested first; the plate,
    /// built once per run, only for runs with a candidate row).
    @inline(__always)
    func matchesExceptPattern(time t: Int64, latitudeE7: Int32, longitudeE7: Int32, camera: UInt32,
                              confidence: UInt8, regionCode: UInt32, area: Area?) -> Bool {
        guard time.contains(t), filters.accepts(camera: camera, confidence: confidence, regionCode: regionCode) else { return false }
        return area?.contains(latitudeE7: latitudeE7, longitudeE7: longitudeE7) ?? true
    }

    /// Result order: histories by time then camera; areas by time, plate, camera (then the
    /// remaining fields, so the order is total).
    static func ordered(_ a: Sighting, _ b: Sighting, history: Bool) -> Bool {
        if a.time != b.time { return a.time < b.time }
        if !history && a.plate != b.plate { return a.plate < b.plate }
        if a.camera != b.camera { return a.camera < b.camera }
        if a.plate != b.plate { return a.plate < b.plate }
        if a.latitudeE7 != b.latitudeE7 { return a.latitudeE7 < b.latitudeE7 }
        if a.longitudeE7 != b.longitudeE7 { return a.longitudeE7 < b.longitudeE7 }
        return a.confidence < b.confidence
    }
}

/// How a heat map groups sightings.
public enum HeatmapGrouping: Sendable, Hashable {
    /// Per geohash cell of this precision (1–12).
    case geohash(precision: Int)
    /// Per hour of day, UTC (keys "00" … "23").
    case hourOfDay
    /// Per day, UTC (keys "YYYY-MM-DD").
    case day
}
