/// How `exportLake` writes.
public struct LakeExportOptions: Sendable, Hashable {
    /// The order of rows inside a file.
    public enum Order: String, Sendable, Hashable, CaseIterable {
        /// A space-filling curve of the position, then time: a bounding-box query touches
        /// few row groups (readers prune by min/max statistics).
        case space
        /// Plate, then time: for history-heavy consumers.
        case plate
    }

    /// Row order inside each file (default `space`).
    public var order: Order = .space
    /// Writes `plate_key` without `plate` and `image`: movement without identities.
    public var pseudonymous = false
    /// Only days from this one (epoch ms, rounded down to its UTC day); nil: from the first.
    public var from: Int64? = nil
    /// Only days before this time (epoch ms, rounded up to a UTC day); nil: to the last.
    public var to: Int64? = nil
    /// Page compression (zstd or none).
    public var compression = SegmentCompression.zstd(level: 3)
    /// Rows per row group: a day is cut into even groups of at most this many (the
    /// statistics' granularity).
    public var rowGroupRows = 100_000
    /// Called after each partition with what is done so far.
    public var progress: (@Sendable (LakeExportProgress) -> Void)? = nil

    /// The defaults: space order, identities included, every day.
    public init() {}

    public static func == (a: Self, b: Self) -> Bool {
        a.order == b.order && a.pseudonymous == b.pseudonymous && a.from == b.from && a.to == b.to
            && a.compression == b.compression && a.rowGroupRows == b.rowGroupRows
    }

    public func hash(into h: inout Hasher) {
        h.combine(order); h.combine(pseudonymous); h.combine(from); h.combine(to); h.combine(rowGroupRows)
    }
}

/// Progress of an export, after each partition.
public struct LakeExportProgress: Sendable {
    /// Partitions looked at so far, of `partitionsTotal`.
    public var partitionsDone: Int
    /// Partitions the export looks at.
    public var partitionsTotal: Int
    /// Rows written so far.
    public var rowsWritten: Int
    /// Rows of the store in the exported days.
    public var rowsTotal: Int
}

/// What an export did.
public struct LakeExportSummary: Sendable {
    /// Days written (new, changed, or damaged on disk), with their rows and file bytes.
    public var partitionsWritten: [String] = []
    /// Days whose sources changed but whose rows did not (e.g. after a compaction): the
    /// file stayed, the manifest was updated.
    public var partitionsUnchanged: [String] = []
    /// Days already in step, not read.
    public var partitionsSkipped = 0
    /// Days removed from the directory: no rows in the store any more (purged, expired).
    public var partitionsRemoved: [String] = []
    /// Files and directories that were not the export's, removed.
    public var foreignRemoved: [String] = []
    /// Rows written in `partitionsWritten`.
    public var rowsWritten = 0
    /// Bytes of the files written.
    public var bytesWritten: Int64 = 0
    /// Rows dated outside years 0000–9999 (the library accepts any 64-bit time): no day
    /// partition or microsecond timestamp holds them, so they are not exported.
    public var rowsNotExportable = 0
    /// Rows the exported days hold now.
    public var rowsInExport = 0
    /// Bytes of every partition file now.
    public var bytesInExport: Int64 = 0
}

/// Whether an export directory is in step with the store, partition by partition.
public struct LakeCheckReport: Sendable {
    /// One day's state.
    public struct Partition: Sendable, Hashable {
        /// The UTC day, `YYYY-MM-DD`.
        public var day: String
        /// `in step`, or why not: `missing`, `stale: …`, `damaged: …`, `obsolete`.
        public var state: String
        /// Whether the partition's file holds exactly the store's rows of the day.
        public var inStep: Bool { state == "in step" }
    }

    /// Every day of the store (in range) and of the directory, by day.
    public var partitions: [Partition]
    /// Paths in the directory that are not the export's (a file from elsewhere).
    public var foreign: [String]
    /// Why every partition is stale, when the export settings differ (nil when they match).
    public var settingsDiffer: String?

    /// True when every partition is in step and nothing foreign is present.
    public var isInStep: Bool { foreign.isEmpty && settingsDiffer == nil && partitions.allSatisfy(\.inStep) }
}

extension ReadOnlyStore {
    /// Exports the store's rows, as `access` may see them, to `directory` as GeoParquet 1.1
    /// files partitioned by day (`day=YYYY-MM-DD/part-0.parquet`): only partitions that are
    /// new or changed since the last export are written (each replaced atomically), and
    /// partitions with no rows left (purged, expired) are removed. The export is an audited
    /// read (operation `export`).
    /// - Throws: `invalidArgument` for a non-empty directory that holds no export;
    ///   `accessRefused` when the store requires what `access` does not state; I/O errors.
    public func exportLake(to directory: String, options: LakeExportOptions = LakeExportOptions(),
                           access: AccessContext) throws(SightlineError) -> LakeExportSummary {
        let snapshot = try self.snapshot(access: access)
        return try LakeExport(snapshot: snapshot, hasher: hasher, directory: directory, options: options,
                              agency: access.agency, fileSystem: fileSystem).run()
    }

    /// Whether `directory` is in step with the store as `access` may see it: per day, in
    /// step, missing, stale (sources rewritten — a purge, retention, compaction — or rows
    /// expired since), damaged (file missing or changed), or obsolete; and foreign files.
    /// Audited (operation `export-check`).
    public func checkLake(_ directory: String, options: LakeExportOptions = LakeExportOptions(),
                          access: AccessContext) throws(SightlineError) -> LakeCheckReport {
        let snapshot = try self.snapshot(access: access)
        return try LakeExport(snapshot: snapshot, hasher: hasher, directory: directory, options: options,
                              agency: access.agency, fileSystem: fileSystem).check()
    }
}
