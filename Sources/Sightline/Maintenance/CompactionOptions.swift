/// How compaction groups rows into segments by time.
public enum Partitioning: String, Sendable, Hashable, CaseIterable {
    /// One UTC day per partition.
    case day
    /// One week (seven UTC days from the epoch's Thursday) per partition.
    case week

    /// Milliseconds in a partition.
    var milliseconds: Int64 { self == .day ? 86_400_000 : 7 * 86_400_000 }

    /// The partition holding time `t` (floor division: correct before 1970 too).
    func partition(of t: Int64) -> Int64 {
        let m = milliseconds
        return t >= 0 ? t / m : -((-(t + 1)) / m) - 1
    }

    /// The time range of partition `p`, half-open, saturating at the ends of time: the first
    /// partition starts at `Int64.min`, and the last one's end is `Int64.max`, which rewrites
    /// treat as inclusive (so no representable time falls outside every partition).
    func range(of p: Int64) -> (from: Int64, to: Int64) {
        let m = milliseconds
        let (from, overflow) = p.multipliedReportingOverflow(by: m)
        let (to, overflowTo) = (p + 1).multipliedReportingOverflow(by: m)
        return (overflow ? (p < 0 ? .min : .max) : from, overflowTo ? (p < 0 ? .min : .max) : to)
    }
}

/// What a compaction does.
public struct CompactionOptions: Sendable, Hashable {
    /// Rows are grouped by this partition, so whole partitions can be dropped.
    public var partitioning: Partitioning
    /// Rows per output segment (segments below half of it count as small).
    public var targetRows: Int
    /// When set, rows older than this (epoch ms) are deleted as the compaction goes.
    public var deleteOlderThan: Int64?
    /// When set, the compaction sleeps as needed to stay under this many rows a second
    /// (a background compaction should not starve ingest and queries).
    public var maximumRowsPerSecond: Int?

    /// Options; the defaults: day partitions, 8 M-row segments, no deletion, no throttle.
    public init(partitioning: Partitioning = .day, targetRows: Int = 8_000_000, deleteOlderThan: Int64? = nil,
                maximumRowsPerSecond: Int? = nil) {
        self.partitioning = partitioning
        self.targetRows = targetRows
        self.deleteOlderThan = deleteOlderThan
        self.maximumRowsPerSecond = maximumRowsPerSecond
    }
}

/// What a compaction, retention run or purge changed.
public struct RewriteSummary: Sendable, Hashable {
    /// Segment files replaced (removed once the new manifest was durable).
    public var segmentsRemoved: [String] = []
    /// Segment files written.
    public var segmentsWritten: [String] = []
    /// Rows read from the removed segments.
    public var rowsRead = 0
    /// Rows written to the new segments.
    public var rowsWritten = 0
    /// Rows deleted (expired or purged).
    public var rowsDeleted = 0
    /// Bytes of the removed segments.
    public var bytesRead = 0
    /// Bytes of the new segments.
    public var bytesWritten = 0
    /// The deletion log record's id, when rows were deleted.
    public var deletionID: String?
}
