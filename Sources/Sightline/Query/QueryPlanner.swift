/// Chooses, per segment, the cheapest way to read it for a query, from index statistics:
/// segment and block time ranges, the plate filter and key ranges, the spatial tree.
enum QueryPlanner {
    static func plan(_ query: Query, segments: [SegmentReader], memory: [SightingBatch], countOnly: Bool) -> QueryPlan {
        let clock = ContinuousClock()
        let start = clock.now
        var columns: ColumnSet = countOnly ? [.time, .position] : .all
        columns.formUnion(query.filters.columns)
        var plateKey: UInt64?
        if case .history = query.kind { columns.insert(.plate) }
        var boxes: [GeoBox] = []
        switch query.kind {
        case .history(let plate): plateKey = segments.first?.hasher.key(plate)
        case .area(let area): boxes = area.coveringBoxes
        }
        var plans: [SegmentPlan] = []
        plans.reserveCapacity(segments.count)
        for segment in segments {
            plans.append(plan(query, segment, columns: columns, plateKey: plateKey, boxes: boxes))
        }
        let memoryRows = memory.reduce(0) { $0 + $1.count }
        return QueryPlan(query: query, segments: plans, memoryRows: memoryRows, planningTime: clock.now - start,
                         columns: columns, memory: memory, plateKey: plateKey, grouping: nil)
    }

    private static func plan(_ query: Query, _ segment: SegmentReader, columns: ColumnSet, plateKey: UInt64?, boxes: [GeoBox]) -> SegmentPlan {
        let name = String(segment.path.split(separator: "/").last ?? "")
        var result = SegmentPlan(segment: name, segmentRows: segment.rowCount, chosen: nil, alternatives: [], skipped: nil, reader: segment)
        let stats = segment.statistics
        guard segment.rowCount > 0 else { result.skipped = "empty"; return result }
        guard query.time.overlaps(min: stats.minTime, max: stats.maxTime) else { result.skipped = "time range"; return result }
        if let key = plateKey, !segment.mayContain(plateKey: key) { result.skipped = "plate filter"; return result }
        if !boxes.isEmpty && !boxes.contains(where: { $0.intersects(stats.bounds) }) { result.skipped = "outside the area"; return result }

        func estimate(_ path: AccessPath, _ blocks: [Int], matches: Double) -> PathEstimate {
            var rows = 0, bytes = 0
            for b in blocks {
                let entry = segment.blocks[b]
                rows += entry.statistics.rowCount
                bytes += entry.byteLength(of: columns)
            }
            return PathEstimate(path: path, blocks: blocks, rows: rows, bytes: bytes, matches: matches)
        }
        let all = Array(0..<segment.blockCount)
        var timeBlocks: [Int] = []
        for b in all {
            let s = segment.blocks[b].statistics
            if query.time.overlaps(min: s.minTime, max: s.maxTime) && (boxes.isEmpty || boxes.contains(where: { $0.intersects(s.bounds) })) {
                timeBlocks.append(b)
            }
        }
        let timeFraction = Self.overlapFraction(query.time, stats.minTime, stats.maxTime)
        var estimates: [PathEstimate] = []
        switch query.kind {
        case .history:
            let key = plateKey!
            var runBlocks: [Int] = []
            var b = firstBlock(segment, withMaxKeyAtLeast: key)
            while b < segment.blockCount, segment.blocks[b].statistics.minPlateKey <= key {
                let s = segment.blocks[b].statistics
                if query.time.overlaps(min: s.minTime, max: s.maxTime) { runBlocks.append(b) }
                b += 1
            }
            // A plate's expected rows: the segment's rows over its distinct plates (from the
            // filter's size, which is sized by them).
            let distinct = max(1.0, Double(segment.plateFilter.byteCount * 8 / SegmentFormat.plateFilterBitsPerKey))
            let perPlate = Double(segment.rowCount) / distinct * timeFraction
            estimates.append(estimate(.plateRun, runBlocks, matches: perPlate))
            estimates.append(estimate(.timeBlocks, timeBlocks, matches: perPlate))
        case .area:
            var visited = 0
            let spatialBlocks = segment.spatialTree.blocks(intersecting: boxes, from: query.time.lower, to: query.time.upper, nodesVisited: &visited)
            var matches = 0.0
            for b in spatialBlocks {
                let s = segment.blocks[b].statistics
                matches += Double(s.rowCount) * Self.boxFraction(s.bounds, boxes) * Self.overlapFraction(query.time, s.minTime, s.maxTime)
            }
            estimates.append(estimate(.spatialTree, spatialBlocks, matches: matches))
            estimates.append(estimate(.timeBlocks, timeBlocks, matches: matches))
        }
        estimates.append(estimate(.fullScan, all, matches: estimates[0].matches))
        // Cheapest first; on a tie the more selective index path (enumerated first) wins.
        let order = estimates.indices.sorted { (estimates[$0].cost, $0) < (estimates[$1].cost, $1) }
        result.alternatives = order.map { estimates[$0] }
        if result.alternatives[0].blocks.isEmpty {
            result.skipped = "no block meets the query"
        } else {
            result.chosen = result.alternatives[0]
        }
        return result
    }

    static func firstBlock(_ segment: SegmentReader, withMaxKeyAtLeast key: UInt64) -> Int {
        var low = 0, high = segment.blockCount
        while low < high {
            let mid = (low + high) / 2
            if segment.blocks[mid].statistics.maxPlateKey < key { low = mid + 1 } else { high = mid }
        }
        return low
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

extension BlockEntry {
    /// Bytes of the chunks decoding `columns` reads (a contiguous span, as the decoder reads).
    func byteLength(of columns: ColumnSet) -> Int {
        var wanted = columns
        if wanted.contains(.camera) { wanted.insert(.position) }
        guard let first = ColumnID.allCases.first(where: { wanted.contains($0) }),
              let last = ColumnID.allCases.last(where: { wanted.contains($0) }) else { return 0 }
        return Int(offset(of: last) - offset(of: first)) + Int(columnLengths[last.rawValue])
    }
}
