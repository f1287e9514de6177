#if canImport(Glibc)
import Glibc
#endif
import Dispatch

/// Where matching rows go: collected, counted, or aggregated. One per worker, merged after.
protocol MatchSink: Sendable {
    init(_ plan: QueryPlan)
    /// Row `row` of the decoded block `d` (its plate is `plate`).
    mutating func add(_ d: DecodedColumns, row: Int, plate: Plate)
    /// Row `row` of an in-memory batch.
    mutating func add(_ batch: SightingBatch, row: Int)
    mutating func merge(_ other: consuming Self)
    /// Called once a worker is done (sinks that order their rows do it here, in parallel).
    mutating func finish()
}

extension MatchSink {
    mutating func finish() {}
}

struct RowSink: MatchSink {
    /// Ordered by `Query.ordered` once finished.
    var rows: [Sighting] = []
    let history: Bool
    init(_ plan: QueryPlan) {
        if case .history = plan.query.kind { history = true } else { history = false }
    }
    mutating func finish() {
        let history = self.history
        rows.sort { Query.ordered($0, $1, history: history) }
    }
    mutating func add(_ d: DecodedColumns, row: Int, plate: Plate) {
        rows.append(Sighting(unchecked: plate, time: d.times[row], latitudeE7: d.latitudes[row], longitudeE7: d.longitudes[row],
                             camera: d.cameras[row], confidence: d.confidences[row], region: Region(code: d.regions[row]),
                             image: d.images.isEmpty ? nil : d.images[row]))
    }
    mutating func add(_ batch: SightingBatch, row: Int) { rows.append(batch[row]) }
    /// Merges two finished (ordered) sinks.
    mutating func merge(_ other: consuming RowSink) {
        if other.rows.isEmpty { return }
        if rows.isEmpty { rows = other.rows; return }
        rows = SortedRuns.merge(rows[...], other.rows[...], history: history)
    }
}

struct CountSink: MatchSink {
    var count = 0
    init(_ plan: QueryPlan) {}
    mutating func add(_ d: DecodedColumns, row: Int, plate: Plate) { count += 1 }
    mutating func add(_ batch: SightingBatch, row: Int) { count += 1 }
    mutating func merge(_ other: consuming CountSink) { count += other.count }
}

/// Runs a plan: each segment's chosen blocks, decoded and filtered row by row, the
/// segments spread over the cores; then the in-memory rows.
enum QueryExecutor {
    static func run<Sink: MatchSink>(_ plan: QueryPlan, into _: Sink.Type) throws(SightlineError) -> (Sink, QueryStatistics) {
        let work = plan.segments.filter { $0.chosen != nil }
        var (sink, stats) = try parallel(plan, items: work.count, into: Sink.self) { (i, decoder, sink, stats) throws(SightlineError) in
            stats.segmentsRead += 1
            try scan(work[i].reader, blocks: work[i].chosen!.blocks, plan: plan, decoder: decoder, into: &sink, stats: &stats)
        }
        sink.merge(scanMemory(plan, into: Sink.self, stats: &stats))
        return (sink, stats)
    }

    /// Runs work items `0..<items` over at most `plan.parallelism` workers, each with its own
    /// sink, statistics and decoder (items `w`, `w + workers`, … go to worker `w`); returns
    /// the workers' finished sinks merged and their statistics added. The first error wins.
    static func parallel<Sink: MatchSink>(_ plan: QueryPlan, items: Int, into _: Sink.Type,
                                          _ item: @escaping @Sendable (Int, BlockDecoder, inout Sink, inout QueryStatistics) throws(SightlineError) -> Void)
        throws(SightlineError) -> (Sink, QueryStatistics) {
        let workers = min(items, max(1, plan.parallelism))
        let results = Locked<[(Sink, QueryStatistics)]>([])
        let failure = Locked<SightlineError?>(nil)
        @Sendable func runWorker(_ w: Int) {
            var sink = Sink(plan)
            var stats = QueryStatistics()
            let decoder = BlockDecoder()
            do throws(SightlineError) {
                for i in stride(from: w, to: items, by: workers) { try item(i, decoder, &sink, &stats) }
            } catch {
                failure.withLock { $0 = $0 ?? error }
            }
            sink.finish()
            results.withLock { $0.append((sink, stats)) }
        }
        if workers == 1 {
            runWorker(0)
        } else if workers > 1 {
            DispatchQueue.concurrentPerform(iterations: workers) { runWorker($0) }
        }
        if let error = failure.withLock({ $0 }) { throw error }
        var sink = Sink(plan)
        var stats = QueryStatistics()
        for (s, st) in results.withLock({ $0 }) {
            sink.merge(s)
            stats.add(st)
        }
        return (sink, stats)
    }

    /// The rows not yet in a segment (finished: ordered if the sink orders). Up to a buffer
    /// of rows (2 M by default), so histories and areas first find their candidates — by
    /// the batch's plate index when it has one (`MemoryPlateIndex`), else with a tight loop
    /// over the plates, or the positions against the area's covering boxes, both necessary
    /// conditions — and test only those in full: a history over 1.9 M buffered rows took
    /// 29 ms testing every row in full, 8–12 ms comparing plates, a binary search per
    /// chunk with the index.
    static func scanMemory<Sink: MatchSink>(_ plan: QueryPlan, into _: Sink.Type, stats: inout QueryStatistics) -> Sink {
        let query = plan.query
        var memorySink = Sink(plan)
        // One box, or two across the antimeridian (computed once, not per batch).
        var areaBoxes: [GeoBox]?
        if case .area(let area) = query.kind, case let boxes = area.coveringBoxes, boxes.count <= 2 { areaBoxes = boxes }
        for (m, batch) in plan.memory.enumerated() {
            let plateIndex = m < plan.memoryPlateIndexes.count ? plan.memoryPlateIndexes[m] : nil
            func consider(_ r: Int) {
                if query.matches(plate: batch.plates[r], time: batch.times[r], latitudeE7: batch.latitudesE7[r],
                                 longitudeE7: batch.longitudesE7[r], camera: batch.cameras[r],
                                 confidence: batch.confidences[r], regionCode: batch.regionCodes[r])
                    && (query.filters.retention?.keeps(plate: batch.plates[r], time: batch.times[r], camera: batch.cameras[r],
                                                       latitudeE7: batch.latitudesE7[r], longitudeE7: batch.longitudesE7[r]) ?? true) {
                    memorySink.add(batch, row: r)
                    stats.rowsMatched += 1
                }
            }
            switch query.kind {
            case .history(let plate):
                if let plateIndex {
                    var candidates = 0
                    plateIndex.forEachCandidate(of: plate, in: batch) { r in
                        candidates += 1
                        if batch.plates[r] == plate { consider(r) }
                    }
                    stats.rowsExamined += candidates
                    continue
                }
                stats.rowsExamined += batch.count
                batch.plates.withUnsafeBufferPointer { plates in
                    for r in plates.indices where plates[r] == plate { consider(r) }
                }
            case .area where areaBoxes != nil:
                stats.rowsExamined += batch.count
                let boxes = areaBoxes!
                let a = boxes[0], b = boxes.count > 1 ? boxes[1] : boxes[0]
                @inline(__always) func inside(_ box: GeoBox, _ lat: Int32, _ lon: Int32) -> Bool {
                    lat >= box.minLatitudeE7 && lat <= box.maxLatitudeE7 && lon >= box.minLongitudeE7 && lon <= box.maxLongitudeE7
                }
                batch.latitudesE7.withUnsafeBufferPointer { lats in
                    batch.longitudesE7.withUnsafeBufferPointer { lons in
                        for r in lats.indices where inside(a, lats[r], lons[r]) || inside(b, lats[r], lons[r]) { consider(r) }
                    }
                }
            case .area, .search:
                stats.rowsExamined += batch.count
                for r in 0..<batch.count { consider(r) }
            }
        }
        memorySink.finish()
        return memorySink
    }

    /// Reads `blocks` of `segment` (chosen by the plan) and adds the matching rows to `sink`.
    static func scan<Sink: MatchSink>(_ segment: SegmentReader, blocks: [Int], plan: QueryPlan, decoder: BlockDecoder,
                                      into sink: inout Sink, stats: inout QueryStatistics) throws(SightlineError) {
        let query = plan.query
        let columns = plan.columns
        let hasPlate = columns.contains(.plate), hasCamera = columns.contains(.camera)
        let hasConfidence = columns.contains(.confidence), hasRegion = columns.contains(.region)
        var target: Plate?
        if case .history(let p) = query.kind { target = p }
        let placeholder = Plate(uncheckedLow: 0, high: 0, count: 1)
        var searchPattern: PlatePattern?
        if case .search(let pattern, _) = query.kind { searchPattern = pattern }
        if let windows = plan.cameraWindows {
            try scanCompanions(segment, blocks: blocks, windows: windows, time: query.time, visibility: query.filters.visibility,
                               retention: query.filters.retention,
                               decoder: decoder, into: &sink, stats: &stats)
            return
        }
        for b in blocks {
            if let pattern = searchPattern {
                // Searches read the plate chunk first: most candidate blocks from the n-gram
                // index hold no matching plate, and then their other columns stay unread.
                try decoder.decode(segment, block: b, columns: .plate, verifyKeys: false)
                var any = false
                for r in 0..<decoder.runLengths.count where pattern.matches(try decoder.plate(run: r)) { any = true; break }
                guard any else {
                    stats.blocksRead += 1
                    stats.bytesRead += Int(segment.blocks[b].columnLengths[ColumnID.plate.rawValue])
                    stats.rowsExamined += decoder.rowCount
                    continue
                }
            } else if let target, blocks.count > 0 {
                // Histories too: a block the plate filter let through (about 1 % of segments
                // for a plate they do not hold) or whose key range merely spans the plate's
                // key costs its plate chunk only.
                try decoder.decode(segment, block: b, columns: .plate, verifyKeys: false)
                var any = false
                for r in 0..<decoder.runLengths.count where try decoder.plate(run: r) == target { any = true; break }
                guard any else {
                    stats.blocksRead += 1
                    stats.bytesRead += Int(segment.blocks[b].columnLengths[ColumnID.plate.rawValue])
                    stats.rowsExamined += decoder.rowCount
                    continue
                }
            }
            // Histories compare plate text: recomputing every run's key would cost a SipHash each.
            try decoder.decode(segment, block: b, columns: columns, verifyKeys: target == nil)
            stats.blocksRead += 1
            stats.bytesRead += segment.blocks[b].byteLength(of: columns)
            let rowCount = decoder.rowCount
            stats.rowsExamined += rowCount
            let c = DecodedColumns(decoder)
            var matched = 0
            // Retention row by row: tested where each row's real plate is known (the
            // spatial path tests rows against a placeholder plate first).
            let retention = query.filters.retention
            @inline(__always) func retained(_ row: Int, _ plate: Plate) -> Bool {
                guard let retention else { return true }
                guard retention.needsPlate else { return retention.keeps(time: c.times[row], camera: c.cameras[row]) }
                return retention.keeps(plate: plate, time: c.times[row], camera: c.cameras[row], latitudeE7: c.latitudes[row],
                                       longitudeE7: c.longitudes[row])
            }
            @inline(__always) func matches(_ row: Int, _ plate: Plate) -> Bool {
                query.matches(plate: plate, time: c.times[row], latitudeE7: c.latitudes[row],
                              longitudeE7: c.longitudes[row], camera: hasCamera ? c.cameras[row] : 0,
                              confidence: hasConfidence ? c.confidences[row] : 100,
                              regionCode: hasRegion ? c.regions[row] : 0)
            }
            if case .search(let pattern, let area) = query.kind {
                // Each plate run's rows are tested first; its plate is built and matched
                // against the pattern once, only when a row of the run is a candidate.
                let runCount = decoder.platesPending ? decoder.runLengths.count : decoder.runPlates.count
                let runLengths = decoder.runLengths.base
                var row = 0
                for r in 0..<runCount {
                    let length = Int(runLengths[r])
                    var plate: Plate?
                    for k in row..<(row + length)
                    where query.matchesExceptPattern(time: c.times[k], latitudeE7: c.latitudes[k], longitudeE7: c.longitudes[k],
                                                     camera: hasCamera ? c.cameras[k] : 0, confidence: hasConfidence ? c.confidences[k] : 100,
                                                     regionCode: hasRegion ? c.regions[k] : 0, area: area) {
                        if plate == nil {
                            let p = decoder.platesPending ? try decoder.plate(run: r) : decoder.runPlates.base[r]
                            guard pattern.matches(p) else { break }  // no row of this run can match
                            plate = p
                        }
                        guard retained(k, plate!) else { continue }
                        sink.add(c, row: k, plate: plate!)
                        matched += 1
                    }
                    row += length
                }
            } else if hasPlate && decoder.platesPending, let target {
                // A plate-ordered block decoded without keys: find the plate's run(s) by text.
                let runLengths = decoder.runLengths.base
                var row = 0
                for r in 0..<decoder.runLengths.count {
                    let length = Int(runLengths[r])
                    if try decoder.plate(run: r) == target {
                        for k in row..<(row + length) where matches(k, target) && retained(k, target) {
                            sink.add(c, row: k, plate: target)
                            matched += 1
                        }
                    }
                    row += length
                }
            } else if hasPlate && decoder.platesPending {
                // A spatial block (area query): test rows first, build plates only for matches.
                let runLengths = decoder.runLengths.base
                var run = 0, runEnd = Int(runLengths[0])
                for row in 0..<rowCount where matches(row, placeholder) {
                    while row >= runEnd { run += 1; runEnd += Int(runLengths[run]) }
                    let plate = try decoder.plate(run: run)
                    guard retained(row, plate) else { continue }
                    sink.add(c, row: row, plate: plate)
                    matched += 1
                }
            } else if hasPlate {
                let runs = decoder.runPlates.count
                let runPlates = decoder.runPlates.base, runLengths = decoder.runLengths.base
                var row = 0
                for r in 0..<runs {
                    let plate = runPlates[r]
                    let length = Int(runLengths[r])
                    if let target, plate != target { row += length; continue }
                    for k in row..<(row + length) where matches(k, plate) && retained(k, plate) {
                        sink.add(c, row: k, plate: plate)
                        matched += 1
                    }
                    row += length
                }
            } else {
                assert(!(retention?.needsPlate ?? false), "holds and hits decode plates")
                for row in 0..<rowCount where matches(row, placeholder) && retained(row, placeholder) {
                    sink.add(c, row: row, plate: placeholder)
                    matched += 1
                }
            }
            stats.rowsMatched += matched
        }
    }

    /// A convoy's blocks: times and cameras are decoded first and tested against the
    /// target's windows; the plate chunk is read only for a block with a row inside one,
    /// and a plate is built only for such rows (positions are never needed).
    static func scanCompanions<Sink: MatchSink>(_ segment: SegmentReader, blocks: [Int], windows: CameraWindows, time: TimeRange,
                                                visibility: CameraVisibility?, retention: RetentionRule? = nil,
                                                decoder: BlockDecoder, into sink: inout Sink,
                                                stats: inout QueryStatistics) throws(SightlineError) {
        var inside: [Int32] = []
        for b in blocks {
            try decoder.decode(segment, block: b, columns: [.time, .camera], verifyKeys: false)
            stats.blocksRead += 1
            stats.bytesRead += segment.blocks[b].byteLength(of: [.time, .camera])
            let rowCount = decoder.rowCount
            stats.rowsExamined += rowCount
            let times = decoder.times.base, cameras = decoder.cameras.base
            inside.removeAll(keepingCapacity: true)
            for row in 0..<rowCount where time.contains(times[row]) && windows.contains(camera: cameras[row], time: times[row])
                && (visibility?.allows(cameras[row]) ?? true) {
                inside.append(Int32(truncatingIfNeeded: row))
            }
            guard !inside.isEmpty else { continue }
            // Held rows past the retention period: positions too (an area hold needs them).
            let second: ColumnSet = retention == nil ? .plate : [.plate, .position]
            try decoder.decode(segment, block: b, columns: second, verifyKeys: false)
            stats.bytesRead += segment.blocks[b].byteLength(of: second)
            let c = DecodedColumns(decoder)
            let runLengths = decoder.runLengths.base
            var run = 0, runEnd = Int(runLengths[0])
            for row in inside {
                let row = Int(row)
                while row >= runEnd { run += 1; runEnd += Int(runLengths[run]) }
                let plate = try decoder.plate(run: run)
                if let retention, !retention.keeps(plate: plate, time: c.times[row], camera: c.cameras[row], latitudeE7: c.latitudes[row],
                                                   longitudeE7: c.longitudes[row]) { continue }
                sink.add(c, row: row, plate: plate)
                stats.rowsMatched += 1
            }
        }
    }
}
