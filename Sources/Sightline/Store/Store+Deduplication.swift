/// Finding rows a segment already holds, so that re-ingesting data stores nothing twice.
///
/// Each segment has an in-memory split-block Bloom filter of its row keys (plate, time,
/// camera), about 1.25 bytes a row, built when the segment is flushed (or, after a reopen,
/// the first time an append's time range overlaps it). An append checks each of its rows
/// against the filters of the segments whose time range covers it (and a flush checks rows
/// replayed from a log at open); only the ~1 % false positives and the true duplicates are
/// verified exactly, by decoding the blocks whose key and time ranges hold them. New data
/// (the common case) costs one filter probe per overlapping segment; a full re-ingest
/// costs one decode of the overlapping blocks.
extension Store {
    /// `rows` without those a segment already holds, and how many were dropped.
    func dropRowsAlreadyStored(_ rows: SightingBatch, segments: [SegmentReader]) throws(SightlineError) -> (SightingBatch, Int) {
        guard let (stored, storedCount) = try rowsAlreadyStored(rows, segments: segments) else { return (rows, 0) }
        var kept = SightingBatch(capacity: rows.count - storedCount)
        for i in 0..<rows.count where !stored[i] { kept.appendRow(i, of: rows) }
        return (kept, storedCount)
    }

    /// `rows` (whose `RowKey.hash`es are `hashes`) without those a segment already holds,
    /// the kept rows' hashes, and how many were dropped.
    func dropRowsAlreadyStored(_ rows: SightingBatch, hashes: [UInt64],
                               segments: [SegmentReader]) throws(SightlineError) -> (SightingBatch, [UInt64], Int) {
        guard let (stored, storedCount) = try rowsAlreadyStored(rows, hashes: hashes, segments: segments) else {
            return (rows, hashes, 0)
        }
        var kept = SightingBatch(capacity: rows.count - storedCount)
        var keptHashes: [UInt64] = []
        keptHashes.reserveCapacity(rows.count - storedCount)
        for i in 0..<rows.count where !stored[i] {
            kept.appendRow(i, of: rows)
            keptHashes.append(hashes[i])
        }
        return (kept, keptHashes, storedCount)
    }

    /// Which of `rows` a segment already holds, and how many (nil: none). `hashes` are the
    /// rows' `RowKey.hash`es when the caller has them (else they are computed, and only
    /// when some segment's time range meets the rows').
    func rowsAlreadyStored(_ rows: SightingBatch, hashes given: [UInt64]? = nil,
                           segments: [SegmentReader]) throws(SightlineError) -> ([Bool], Int)? {
        guard let low = rows.times.min(), let high = rows.times.max() else { return nil }
        let overlapping = segments.filter { $0.rowCount > 0 && $0.statistics.minTime <= high && $0.statistics.maxTime >= low }
        guard !overlapping.isEmpty else { return nil }
        let hashes = given ?? Self.rowKeyHashes(rows)
        precondition(hashes.count == rows.count, "one key hash per row")
        var stored = [Bool](repeating: false, count: rows.count)
        var storedCount = 0
        let decoder = BlockDecoder()
        // Runs of one plate (a file grouped by vehicle or plate): when runs average two rows
        // or more, each run's plate key is hashed once and a segment's plate filter rules
        // out a whole run with one probe (dense tracks: most runs are vehicles the segment
        // never saw). A feed in time order has runs of one row: rows are probed one by one.
        var runStarts: [Int] = []
        for i in 0..<rows.count where i == 0 || rows.plates[i] != rows.plates[i - 1] { runStarts.append(i) }
        runStarts.append(rows.count)
        let runCount = runStarts.count - 1
        let byRun = runCount * 2 <= rows.count
        var runKeys: [UInt64] = [], runTimes: [ClosedRange<Int64>] = []
        if byRun {
            for r in 0..<runCount {
                runKeys.append(hasher.key(rows.plates[runStarts[r]]))
                let times = rows.times[runStarts[r]..<runStarts[r + 1]]
                runTimes.append(times.min()!...times.max()!)
            }
        }
        for segment in overlapping {
            let filter = try rowFilter(of: segment, decoder: decoder)
            let first = segment.statistics.minTime, last = segment.statistics.maxTime
            // Candidates, grouped by the block(s) whose key and time ranges could hold them.
            var candidates: [Int: [Int]] = [:]
            func consider(_ i: Int, plateKey: UInt64?) {
                let time = rows.times[i]
                guard !stored[i] && time >= first && time <= last && filter.mayContain(hash: hashes[i]) else { return }
                for b in segment.blocks(holdingPlateKey: plateKey ?? hasher.key(rows.plates[i])) {
                    let stats = segment.blockStatistics(b)
                    if stats.minTime <= time && stats.maxTime >= time { candidates[b, default: []].append(i) }
                }
            }
            if byRun {
                // A run outside the segment's time range is skipped before its plate is probed:
                // a live feed's batch meets many segments, each holding a day or two of it.
                for r in 0..<runCount where runTimes[r].upperBound >= first && runTimes[r].lowerBound <= last
                    && segment.mayContain(plateKey: runKeys[r]) {
                    for i in runStarts[r]..<runStarts[r + 1] { consider(i, plateKey: runKeys[r]) }
                }
            } else {
                for i in 0..<rows.count { consider(i, plateKey: nil) }
            }
            for (block, indices) in candidates {
                try decoder.decode(segment, block: block, columns: [.plate, .time, .camera])
                var keys = RowKeySet(capacity: decoder.rowCount)
                let c = DecodedColumns(decoder)
                decoder.forEachRow { plate, row in _ = keys.insert(plate: plate, time: c.times[row], camera: c.cameras[row]) }
                for i in indices where !stored[i] && keys.contains(plate: rows.plates[i], time: rows.times[i], camera: rows.cameras[i]) {
                    stored[i] = true
                    storedCount += 1
                }
            }
        }
        return storedCount > 0 ? (stored, storedCount) : nil
    }

    /// The segment's row filter: cached, or built by decoding its key columns (and cached).
    private func rowFilter(of segment: SegmentReader, decoder: BlockDecoder) throws(SightlineError) -> SplitBlockBloomFilter {
        if let cached = rowFilters.withLock({ $0.filter(for: segment) }) { return cached }
        var filter = SplitBlockBloomFilter(expectedKeys: segment.rowCount)
        for b in 0..<segment.blockCount {
            try decoder.decode(segment, block: b, columns: [.plate, .time, .camera])
            let c = DecodedColumns(decoder)
            decoder.forEachRow { plate, row in filter.insert(hash: RowKey.hash(plate: plate, time: c.times[row], camera: c.cameras[row])) }
        }
        rowFilters.withLock { $0.insert(filter, for: segment) }
        return filter
    }

    /// The key hash of every row of `batch` (`RowKey.hash`), computed once per append and
    /// used by the segment check and the buffer's key set alike.
    static func rowKeyHashes(_ batch: SightingBatch) -> [UInt64] {
        [UInt64](unsafeUninitializedCapacity: batch.count) { hashes, initialized in
            for i in 0..<batch.count {
                hashes[i] = RowKey.hash(plate: batch.plates[i], time: batch.times[i], camera: batch.cameras[i])
            }
            initialized = batch.count
        }
    }

    /// The row filter of rows about to become a segment, less those `dropped` marks (nil: all).
    static func rowFilter(of rows: SightingBatch, skipping dropped: [Bool]? = nil) -> SplitBlockBloomFilter {
        guard let dropped else { return rowFilter(rows.plates, rows.times, rows.cameras) }
        var filter = SplitBlockBloomFilter(expectedKeys: dropped.lazy.filter { !$0 }.count)
        for i in 0..<rows.count where !dropped[i] {
            filter.insert(hash: RowKey.hash(plate: rows.plates[i], time: rows.times[i], camera: rows.cameras[i]))
        }
        return filter
    }

    static func rowFilter(of rows: SortedBatch) -> SplitBlockBloomFilter { rowFilter(rows.plates, rows.times, rows.cameras) }

    /// A filter of the row keys of rows given column by column.
    private static func rowFilter(_ plates: [Plate], _ times: [Int64], _ cameras: [UInt32]) -> SplitBlockBloomFilter {
        var filter = SplitBlockBloomFilter(expectedKeys: plates.count)
        for i in plates.indices { filter.insert(hash: RowKey.hash(plate: plates[i], time: times[i], camera: cameras[i])) }
        return filter
    }
}

/// Row filters of segments within a memory budget. When over budget, the filters of the
/// segments with the oldest data go first: new rows rarely overlap them, and an evicted
/// filter is rebuilt from the segment if a flush needs it again.
struct RowFilterCache {
    private var filters: [String: (filter: SplitBlockBloomFilter, maxTime: Int64)] = [:]
    private(set) var bytes = 0
    let budget: Int

    init(budget: Int) { self.budget = budget }

    func filter(for segment: SegmentReader) -> SplitBlockBloomFilter? { filters[segment.path]?.filter }

    mutating func remove(_ segment: SegmentReader) {
        if let old = filters.removeValue(forKey: segment.path) { bytes -= old.filter.byteCount }
    }

    mutating func insert(_ filter: SplitBlockBloomFilter, for segment: SegmentReader) {
        if let old = filters.updateValue((filter, segment.statistics.maxTime), forKey: segment.path) { bytes -= old.filter.byteCount }
        bytes += filter.byteCount
        while bytes > budget && filters.count > 1,
              let oldest = filters.filter({ $0.key != segment.path }).min(by: { $0.value.maxTime < $1.value.maxTime }) {
            bytes -= oldest.value.filter.byteCount
            filters[oldest.key] = nil
        }
    }
}
