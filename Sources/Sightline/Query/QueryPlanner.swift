import Dispatch

/// Chooses, per segment, the cheapest way to read it for a query, from index statistics:
/// segment and block time ranges, the plate filter and key ranges, the spatial tree.
enum QueryPlanner {
    static func plan(_ query: Query, segments: [SegmentReader], memory: [SightingBatch], memoryPlateIndexes: [MemoryPlateIndex?] = [], countOnly: Bool,
                     parallelism: Int = Machine.coreCount) throws(SightlineError) -> QueryPlan {
        let clock = ContinuousClock()
        let start = clock.now
        var columns: ColumnSet = countOnly ? [.time, .position] : .all
        columns.formUnion(query.filters.columns)
        var plateKey: UInt64?
        if case .history = query.kind { columns.insert(.plate) }
        if case .search = query.kind { columns.insert(.plate) }
        var boxes: [GeoBox] = []
        switch query.kind {
        case .history(let plate): plateKey = segments.first?.hasher.key(plate)
        case .area(let area): boxes = area.coveringBoxes
        case .search(_, let area): boxes = area?.coveringBoxes ?? []
        }
        var plans: [SegmentPlan] = []
        var planned: [SegmentReader] = []
        // Segments ruled out by their statistics alone are only counted: at hundreds of
        // segments, building a plan object for each would be most of the planning time.
        var skipped = (empty: 0, time: 0, plate: 0, area: 0)
        for segment in segments {
            let stats = segment.statistics
            if segment.rowCount == 0 { skipped.empty += 1; continue }
            if !query.time.overlaps(min: stats.minTime, max: stats.maxTime) { skipped.time += 1; continue }
            if let key = plateKey, !segment.mayContain(plateKey: key) { skipped.plate += 1; continue }
            if !boxes.isEmpty && !boxes.contains(where: { $0.intersects(stats.bounds) }) { skipped.area += 1; continue }
            planned.append(segment)
        }
        // A search's index lists are read here, the segments spread over the cores (a list
        // read and intersection costs ~0.1 ms per segment: serial, it was most of a search).
        var candidates = [(blocks: [Int], runs: Int)?](repeating: nil, count: planned.count)
        if case .search(let pattern, _) = query.kind {
            candidates = try Self.candidateBlocks(pattern, planned, parallelism: parallelism)
        }
        for (i, segment) in planned.enumerated() {
            plans.append(try plan(query, segment, columns: columns, plateKey: plateKey, boxes: boxes, candidates: candidates[i]))
        }
        var reasons: [SkipReason: Int] = [:]
        for (reason, n) in [(SkipReason.empty, skipped.empty), (.timeRange, skipped.time), (.plateFilter, skipped.plate), (.outsideArea, skipped.area)] where n > 0 {
            reasons[reason] = n
        }
        let memoryRows = memory.reduce(0) { $0 + $1.count }
        return QueryPlan(query: query, segments: plans, skippedSegments: reasons, memoryRows: memoryRows, planningTime: clock.now - start,
                         columns: columns, memory: memory, memoryPlateIndexes: memoryPlateIndexes, plateKey: plateKey, grouping: nil)
    }

    /// Per segment, the plate n-gram index's candidate blocks for `pattern` (nil: no index,
    /// or the pattern gives it nothing), computed on up to `parallelism` threads.
    static func candidateBlocks(_ pattern: PlatePattern, _ segments: [SegmentReader], parallelism: Int) throws(SightlineError) -> [(blocks: [Int], runs: Int)?] {
        let results = Locked([(blocks: [Int], runs: Int)?](repeating: nil, count: segments.count))
        let failure = Locked<SightlineError?>(nil)
        let workers = max(1, min(parallelism, segments.count))
        @Sendable func work(_ w: Int) {
            let streams = StreamReader(compressor: Compressor())
            for i in stride(from: w, to: segments.count, by: workers) {
                let segment = segments[i]
                guard let index = segment.plateIndex else { continue }
                do throws(SightlineError) {
                    let blocks = try index.candidates(for: pattern, streams: streams, path: segment.path) { (raw, offset) throws(SightlineError) in
                        try segment.read(into: raw, at: offset)
                    }
                    results.withLock { $0[i] = blocks }
                } catch {
                    failure.withLock { $0 = $0 ?? error }
                    return
                }
            }
        }
        if workers == 1 { work(0) } else { DispatchQueue.concurrentPerform(iterations: workers) { work($0) } }
        if let error = failure.withLock({ $0 }) { throw error }
        return results.withLock { $0 }
    }

    private static func plan(_ query: Query, _ segment: SegmentReader, columns: ColumnSet, plateKey: UInt64?, boxes: [GeoBox],
                             candidates found: (blocks: [Int], runs: Int)?) throws(SightlineError) -> SegmentPlan {
        var result = SegmentPlan(segment: segment.fileName, segmentRows: segment.rowCount, chosen: nil, alternatives: [], skipped: nil, reader: segment)
        let stats = segment.statistics
        // (Segments ruled out by their statistics never get here: `plan(_:segments:…)` counts them.)
        func estimate(_ path: AccessPath, _ blocks: [Int], matches: Double) -> PathEstimate {
            var rows = 0, bytes = 0
            for b in blocks {
                let entry = segment.blocks[b]
                rows += entry.statistics.rowCount
                bytes += entry.byteLength(of: columns)
            }
            return PathEstimate(path: path, blocks: blocks, blockCount: blocks.count, rows: rows, bytes: bytes, matches: matches)
        }
        // The scans are costed from segment totals (O(1)); their block lists are built only
        // if one of them is chosen. Plate-ordered blocks each span nearly the segment's
        // whole time range and area, so a scan pruned by block statistics reads about the
        // share of blocks the time overlap suggests.
        let (first, last) = columns.span
        let scanBytes = segment.mainColumnBytes[first...last].reduce(0, +)
        let timeFraction = Self.overlapFraction(query.time, stats.minTime, stats.maxTime)
        /// The spatial tree's blocks for the query's area and time.
        func spatialEstimate() -> PathEstimate {
            var visited = 0
            let spatialBlocks = segment.spatialTree.blocks(intersecting: boxes, from: query.time.lower, to: query.time.to, nodesVisited: &visited)
            var matches = 0.0
            for b in spatialBlocks {
                let s = segment.blocks[b].statistics
                matches += Double(s.rowCount) * Self.boxFraction(s.bounds, boxes) * Self.overlapFraction(query.time, s.minTime, s.maxTime)
            }
            return estimate(.spatialTree, spatialBlocks, matches: matches)
        }
        let scanMatches: Double
        var estimates: [PathEstimate] = []
        switch query.kind {
        case .history:
            let key = plateKey!
            var runBlocks: [Int] = []
            for b in segment.blocks(holdingPlateKey: key) {
                let s = segment.blocks[b].statistics
                if query.time.overlaps(min: s.minTime, max: s.maxTime) { runBlocks.append(b) }
            }
            // A plate's expected rows: the segment's rows over its distinct plates (from the
            // filter's size, which is sized by them).
            let distinct = max(1.0, Double(segment.plateFilter.byteCount * 8 / SegmentFormat.plateFilterBitsPerKey))
            scanMatches = Double(segment.rowCount) / distinct * timeFraction
            estimates.append(estimate(.plateRun, runBlocks, matches: scanMatches))
        case .search(_, let area):
            // A pattern's share of rows is unknown before reading; guess 0.1 % for the scans.
            scanMatches = Double(segment.rowCount) * timeFraction * 0.001
            if let index = segment.plateIndex {
                if let found {
                    result.candidatePlates = found.runs
                    let blocks = found.blocks.filter { b in
                        let s = segment.blocks[b].statistics
                        return query.time.overlaps(min: s.minTime, max: s.maxTime) && (boxes.isEmpty || boxes.contains { $0.intersects(s.bounds) })
                    }
                    // Each candidate block holds about one matching plate's rows.
                    let perPlate = Double(segment.rowCount) / Double(max(1, index.runCount))
                    estimates.append(estimate(.plateIndex, blocks, matches: Double(blocks.count) * perPlate * timeFraction))
                }
            }
            if area != nil { estimates.append(spatialEstimate()) }
        case .area:
            if let cameras = query.filters.cameras, segment.hasCameraIndex {
                // Each camera's own seconds in a block prune it (a block's range spans its cells').
                var listed = Set<Int>()
                let within: [ClosedRange<Int64>]
                if let to = query.time.to {
                    within = to > query.time.lower ? [query.time.lower...(to - 1)] : []  // to > Int64.min: no wrap
                } else {
                    within = [query.time.lower...Int64.max]
                }
                for camera in cameras { listed.formUnion(try segment.spatialBlocks(ofCamera: camera, meeting: within) ?? []) }
                let blocks = listed.sorted().filter { b in
                    let s = segment.blocks[b].statistics
                    return query.time.overlaps(min: s.minTime, max: s.maxTime) && boxes.contains { $0.intersects(s.bounds) }
                }
                var matches = 0.0
                for b in blocks {
                    let s = segment.blocks[b].statistics
                    matches += Double(s.rowCount) * Self.boxFraction(s.bounds, boxes) * Self.overlapFraction(query.time, s.minTime, s.maxTime)
                }
                estimates.append(estimate(.cameraIndex, blocks, matches: matches))
            }
            let spatial = spatialEstimate()
            scanMatches = spatial.matches
            estimates.append(spatial)
        }
        // Block-pruned scan: exact counts (no list) when the query cuts the segment's time
        // range; when it covers it, every block's time range overlaps, and plate-ordered
        // blocks each cover nearly the segment's whole area: the totals (an upper bound; if
        // this path wins, its block list and estimate are made exact below).
        var pruned = (blocks: segment.blockCount, rows: segment.rowCount, bytes: scanBytes)
        if timeFraction < 1 {
            pruned = (0, 0, 0)
            for b in 0..<segment.blockCount {
                let entry = segment.blocks[b]
                let s = entry.statistics
                guard query.time.overlaps(min: s.minTime, max: s.maxTime), boxes.isEmpty || boxes.contains(where: { $0.intersects(s.bounds) }) else { continue }
                pruned.blocks += 1
                pruned.rows += s.rowCount
                for c in first...last { pruned.bytes += Int(entry.columnLengths[c]) }
            }
        }
        estimates.append(PathEstimate(path: .timeBlocks, blocks: [], blockCount: pruned.blocks, rows: pruned.rows, bytes: pruned.bytes, matches: scanMatches))
        estimates.append(PathEstimate(path: .fullScan, blocks: [], blockCount: segment.blockCount, rows: segment.rowCount,
                                      bytes: scanBytes, matches: scanMatches))
        // Cheapest first; on a tie the more selective path (enumerated first) wins.
        // (A stable insertion sort of three: no closure allocation on the planning path.)
        for i in 1..<estimates.count {
            var j = i
            while j > 0 && estimates[j].cost < estimates[j - 1].cost { estimates.swapAt(j, j - 1); j -= 1 }
        }
        result.alternatives = estimates
        var chosen = result.alternatives[0]
        switch chosen.path {
        case .fullScan:
            chosen = estimate(.fullScan, Array(0..<segment.blockCount), matches: scanMatches)
        case .timeBlocks:
            var list: [Int] = []
            for b in 0..<segment.blockCount {
                let s = segment.blocks[b].statistics
                if query.time.overlaps(min: s.minTime, max: s.maxTime) && (boxes.isEmpty || boxes.contains(where: { $0.intersects(s.bounds) })) {
                    list.append(b)
                }
            }
            chosen = estimate(.timeBlocks, list, matches: scanMatches)
        default: break
        }
        result.alternatives[0] = chosen
        if chosen.blocks.isEmpty {
            result.skipped = .noBlock
        } else {
            result.chosen = chosen
        }
        return result
    }

    /// Share of [min, max] inside the query's time range (uniform assumption).
    static func overlapFraction(_ range: TimeRange, _ min: Int64, _ max: Int64) -> Double {
        let lo = Swift.max(Double(min), Double(range.lower)), hi = Swift.min(Double(max) + 1, Double(range.upper))
        guard hi > lo else { return 0 }
        return Swift.min(1, (hi - lo) / (Double(max) - Double(min) + 1))
    }

    /// Share of `box`'s area inside the covering boxes (uniform assumption).
    static func boxFraction(_ box: GeoBox, _ boxes: [GeoBox]) -> Double {
        let h = Double(box.maxLatitudeE7) - Double(box.minLatitudeE7) + 1
        let w = Double(box.maxLongitudeE7) - Double(box.minLongitudeE7) + 1
        var inside = 0.0
        for c in boxes {
            let dh = Double(min(box.maxLatitudeE7, c.maxLatitudeE7)) - Double(max(box.minLatitudeE7, c.minLatitudeE7)) + 1
            let dw = Double(min(box.maxLongitudeE7, c.maxLongitudeE7)) - Double(max(box.minLongitudeE7, c.minLongitudeE7)) + 1
            if dh > 0 && dw > 0 { inside += dh * dw }
        }
        return min(1, inside / (h * w))
    }
}

extension ColumnSet {
    /// The first and last column the decoder reads for this set (it reads the span between;
    /// cameras need the position chunk).
    var span: (Int, Int) {
        var bits = rawValue
        if bits & ColumnSet.camera.rawValue != 0 { bits |= ColumnSet.position.rawValue }
        guard bits != 0 else { return (0, -1) }
        return (bits.trailingZeroBitCount, 7 - bits.leadingZeroBitCount)
    }
}

extension BlockEntry {
    /// Bytes of the chunks decoding `columns` reads (a contiguous span, as the decoder reads).
    func byteLength(of columns: ColumnSet) -> Int {
        let (first, last) = columns.span
        var n = 0
        if first <= last { for c in first...last { n += Int(columnLengths[c]) } }
        return n
    }
}
