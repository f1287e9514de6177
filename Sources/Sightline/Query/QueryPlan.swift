/// A way to read one segment for a query.
public enum AccessPath: String, Sendable, Hashable, CaseIterable {
    /// The plate filter says the plate may be there; read the blocks whose key range holds it.
    case plateRun = "plate filter + key run"
    /// Descend the spatial tree; read the spatial copy's blocks that meet the area and time.
    case spatialTree = "spatial tree"
    /// Intersect the plate n-gram index's lists for the pattern's bigrams; read the blocks
    /// holding candidate plates.
    case plateIndex = "plate n-gram index"
    /// Read the spatial blocks the camera index lists for the query's cameras.
    case cameraIndex = "camera index"
    /// Read the plate-ordered blocks whose time range (and box) meet the query's.
    case timeBlocks = "time-pruned blocks"
    /// Read every plate-ordered block.
    case fullScan = "full scan"
}

/// Why a segment is read for no row of a query.
public enum SkipReason: String, Sendable, Hashable, CaseIterable, Comparable {
    /// The segment holds no row.
    case empty = "empty"
    /// Its time range misses the query's.
    case timeRange = "time range"
    /// Its plate filter says the plate is not there.
    case plateFilter = "plate filter"
    /// Its bounding box misses the area.
    case outsideArea = "outside the area"
    /// Planned, but no block's statistics meet the query.
    case noBlock = "no block meets the query"

    public static func < (a: SkipReason, b: SkipReason) -> Bool { a.rawValue < b.rawValue }
}

/// What one access path would read, from index statistics alone.
public struct PathEstimate: Sendable, Hashable {
    /// The path.
    public var path: AccessPath
    /// Blocks it reads (listed for the chosen path; alternatives carry only the count).
    public var blocks: [Int]
    /// How many blocks it reads.
    public var blockCount: Int
    /// Rows in those blocks (what decoding touches).
    public var rows: Int
    /// Bytes of the chunks it reads.
    public var bytes: Int
    /// Estimated matching rows.
    public var matches: Double
    /// The planner's cost: bytes plus a fixed charge per block (decode setup, a read call).
    public var cost: Int { bytes + blockCount * PathEstimate.perBlockCost }

    /// Bytes charged for each block read besides its chunks.
    public static let perBlockCost = 4096
}

/// The plan for one segment: the chosen path and the ones it beat, or why it is skipped.
public struct SegmentPlan: Sendable {
    /// The segment's file name.
    public var segment: String
    /// Rows in the segment.
    public var segmentRows: Int
    /// The cheapest path; nil when the segment is skipped.
    public var chosen: PathEstimate?
    /// Every path considered, cheapest first.
    public var alternatives: [PathEstimate]
    /// Why no block is read, when skipped.
    public var skipped: SkipReason?
    /// A search read through the plate n-gram index: its candidate plates in this segment
    /// (distinct plates per block, summed; an upper bound on the matching ones).
    public var candidatePlates: Int?
    let reader: SegmentReader
}

/// A query's plan over a snapshot.
public struct QueryPlan: Sendable {
    /// The query.
    public var query: Query
    /// One plan per segment that may hold matching rows.
    public var segments: [SegmentPlan]
    /// Segments ruled out by their statistics alone (time range, plate filter, area), by reason.
    public var skippedSegments: [SkipReason: Int]
    /// Rows not yet in a segment (found by plate index or a scan, then checked one by one).
    public var memoryRows: Int
    /// Time spent planning.
    public var planningTime: Duration
    /// Columns the execution decodes.
    @_spi(Benchmarks) public var columns: ColumnSet
    let memory: [SightingBatch]
    /// A plate index per `memory` batch (nil: scanned), or empty.
    let memoryPlateIndexes: [MemoryPlateIndex?]
    let plateKey: UInt64?
    /// The heat map's grouping, when the plan runs for one.
    var grouping: HeatmapGrouping?
    /// A convoy's windows per camera, when the plan runs for one.
    var cameraWindows: CameraWindows?
    /// Threads the execution may use.
    var parallelism = Machine.coreCount

    /// Totals of the chosen paths.
    public var estimatedRows: Int { segments.reduce(memoryRows) { $0 + ($1.chosen?.rows ?? 0) } }
    /// Bytes the chosen paths read.
    public var estimatedBytes: Int { segments.reduce(0) { $0 + ($1.chosen?.bytes ?? 0) } }
    /// Blocks the chosen paths read.
    public var estimatedBlocks: Int { segments.reduce(0) { $0 + ($1.chosen?.blockCount ?? 0) } }

    /// What the query may expose, known before it runs: at most this many sightings (the
    /// rows of the blocks it reads, and the rows in memory) of at most this many distinct
    /// plates (a search through the plate index: its candidate plates; otherwise the
    /// sightings bound). Upper bounds from the indexes; `explain` prints them.
    public var exposureBound: (plates: Int, sightings: Int) {
        var plates = memoryRows, sightings = memoryRows
        for s in segments {
            guard let chosen = s.chosen else { continue }
            sightings += chosen.rows
            plates += s.candidatePlates.map { Swift.min($0, chosen.rows) } ?? chosen.rows
        }
        return (plates, sightings)
    }
}

/// What running a query did.
public struct QueryStatistics: Sendable, Hashable {
    /// Segments whose blocks were read.
    public var segmentsRead = 0
    /// Blocks decoded.
    public var blocksRead = 0
    /// Bytes of chunks read.
    public var bytesRead = 0
    /// Rows decoded and examined (segments and memory).
    public var rowsExamined = 0
    /// Rows that matched (before the limit).
    public var rowsMatched = 0
    /// Time planning.
    public var planning = Duration.zero
    /// Time reading and filtering.
    public var execution = Duration.zero
    /// Time merging, ordering and limiting.
    public var merge = Duration.zero

    mutating func add(_ o: QueryStatistics) {
        segmentsRead += o.segmentsRead
        blocksRead += o.blocksRead
        bytesRead += o.bytesRead
        rowsExamined += o.rowsExamined
        rowsMatched += o.rowsMatched
    }
}

/// A query's answer.
public struct QueryResult: Sendable {
    /// Matching rows in the query's order, limited; empty for count-only queries.
    public var rows: [Sighting]
    /// Matching rows (before the limit).
    public var count: Int
    /// What it took.
    public var statistics: QueryStatistics
}
