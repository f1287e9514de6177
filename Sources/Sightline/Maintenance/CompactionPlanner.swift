/// Decides what a compaction rewrites, from segment statistics alone: a pure function, tested
/// with tables (as Prometheus tsdb tests its compaction `plan`). `Store.compact` runs the plan;
/// `Store.statistics` reports it as compaction debt.
///
/// A segment is rewritten when it spans partitions, holds rows older than the deletion
/// cutoff, is small (< targetRows / 2) and shares its partition with another candidate, or
/// is in an older format version (so a compaction upgrades a store to the current indexes).
/// Settled segments — within one partition and large, or alone and small — are left as they
/// are, so nothing is rewritten twice without reason.
enum CompactionPlanner {
    /// What the planner knows of a segment.
    struct Segment: Hashable {
        var name: String
        var rowCount: Int
        var minTime: Int64
        var maxTime: Int64
        /// Written in an older format version (rewritten to gain the current indexes).
        var outdated = false
    }

    /// One output: the rows of `inputs` within `time` become new segments. A partition's
    /// group has its `partition` and time range; the wide group (`partition` nil, `time`
    /// nil) holds segments spanning more than `wideSpan` partitions, whose rows are split
    /// by the partition of each row when written (their partitions are found in the data,
    /// not enumerated: random 64-bit times span 10^14 days).
    struct Group: Hashable {
        var partition: Int64?
        var time: Range<Int64>?
        var inputs: [String]
    }

    /// The rewrite: every group's output, and every input segment (removed afterwards, also
    /// those whose rows all fall in wholly expired partitions, which get no group).
    struct Plan: Hashable {
        var groups: [Group] = []
        var inputs: [String] = []
    }

    /// A segment spanning more partitions than this goes to the wide group (4096 days is
    /// eleven years: real data never does; bad clocks and edge times do).
    static let wideSpan: Int64 = 4096

    static func plan(_ segments: [Segment], options: CompactionOptions) -> Plan {
        let p = options.partitioning
        let cutoff = options.deleteOlderThan
        func span(_ s: Segment) -> Int64 {
            // Partitions are at most ±1.1e11 (day of ±2^63 ms): the difference cannot overflow.
            p.partition(of: s.maxTime) - p.partition(of: s.minTime)
        }
        func expired(_ s: Segment) -> Bool { cutoff.map { s.minTime < $0 } ?? false }
        var candidates = segments.filter { $0.rowCount > 0 && (span($0) > 0 || expired($0) || $0.outdated || $0.rowCount < options.targetRows / 2) }
        var byPartition: [Int64: [String]] = [:]
        var wide: [String] = []
        for s in candidates {
            guard span(s) <= wideSpan else { wide.append(s.name); continue }
            for q in p.partition(of: s.minTime)...p.partition(of: s.maxTime) { byPartition[q, default: []].append(s.name) }
        }
        // A small segment alone in its partition has nothing to merge with.
        candidates = candidates.filter { s in
            span(s) > 0 || expired(s) || s.outdated || (byPartition[p.partition(of: s.minTime)]?.count ?? 0) > 1
        }
        let inputNames = Set(candidates.map(\.name))
        var plan = Plan(inputs: candidates.map(\.name))
        for q in byPartition.keys.sorted() {
            let inputs = byPartition[q]!.filter { inputNames.contains($0) }
            guard !inputs.isEmpty else { continue }
            let range = p.range(of: q)
            if let cutoff, range.to <= cutoff { continue }  // wholly expired: nothing to write
            plan.groups.append(Group(partition: q, time: range.from..<range.to, inputs: inputs))
        }
        if !wide.isEmpty { plan.groups.append(Group(partition: nil, time: nil, inputs: wide)) }
        return plan
    }
}

extension CompactionPlanner.Segment {
    init(_ reader: SegmentReader) {
        self.init(name: reader.fileName, rowCount: reader.rowCount,
                  minTime: reader.statistics.minTime, maxTime: reader.statistics.maxTime,
                  outdated: reader.formatVersion < Int(SegmentFormat.version))
    }
}
