#if canImport(Glibc)
import Glibc
#endif
import Dispatch

/// Where matching rows go: collected, counted, or aggregated. One per worker, merged after.
protocol MatchSink: Sendable {
    init(_ plan: QueryPlan)
    /// Row `row` of the block `decoder` holds (its plate is `plate`).
    mutating func add(_ decoder: BlockDecoder, row: Int, plate: Plate)
    /// Row `row` of an in-memory batch.
    mutating func add(_ batch: SightingBatch, row: Int)
    mutating func merge(_ other: consuming Self)
}

struct RowSink: MatchSink {
    var rows: [Sighting] = []
    init(_ plan: QueryPlan) {}
    mutating func add(_ d: BlockDecoder, row: Int, plate: Plate) {
        rows.append(Sighting(unchecked: plate, time: d.times[row], latitudeE7: d.latitudes[row], longitudeE7: d.longitudes[row],
                             camera: d.cameras[row], confidence: d.confidences[row], region: Region(code: d.regions[row]),
                             image: d.images.isEmpty ? nil : d.images[row]))
    }
    mutating func add(_ batch: SightingBatch, row: Int) { rows.append(batch[row]) }
    mutating func merge(_ other: consuming RowSink) { rows += other.rows }
}

struct CountSink: MatchSink {
    var count = 0
    init(_ plan: QueryPlan) {}
    mutating func add(_ d: BlockDecoder, row: Int, plate: Plate) { count += 1 }
    mutating func add(_ batch: SightingBatch, row: Int) { count += 1 }
    mutating func merge(_ other: consuming CountSink) { count += other.count }
}

/// Runs a plan: each segment's chosen blocks, decoded and filtered row by row, the
/// segments spread over the cores; then the in-memory rows.
enum QueryExecutor {
    static func run<Sink: MatchSink>(_ plan: QueryPlan, into _: Sink.Type) throws(SightlineError) -> (Sink, QueryStatistics) {
        let query = plan.query
        let work = plan.segments.filter { $0.chosen != nil }
        let workers = min(work.count, max(1, System.coreCount))
        let results = Locked<[(Sink, QueryStatistics)]>([])
        let failure = Locked<SightlineError?>(nil)
        @Sendable func runWorker(_ w: Int) {
            var sink = Sink(plan)
            var stats = QueryStatistics()
            let decoder = BlockDecoder()
            do throws(SightlineError) {
                for i in stride(from: w, to: work.count, by: workers) {
                    try scan(work[i], plan: plan, decoder: decoder, into: &sink, stats: &stats)
                }
            } catch {
                failure.withLock { $0 = $0 ?? error }
            }
            results.withLock { $0.append((sink, stats)) }
        }
        if workers <= 1 {
            if !work.isEmpty { runWorker(0) }
        } else {
            DispatchQueue.concurrentPerform(iterations: workers) { runWorker($0) }
        }
        if let error = failure.withLock({ $0 }) { throw error }
        var sink = Sink(plan)
        var stats = QueryStatistics()
        for (s, st) in results.withLock({ $0 }) {
            sink.merge(s)
            stats.add(st)
        }
        // Rows not yet in a segment: checked one by one.
        for batch in plan.memory {
            stats.rowsExamined += batch.count
            for r in 0..<batch.count where query.matches(plate: batch.plates[r], time: batch.times[r], latitudeE7: batch.latitudesE7[r],
                                                       longitudeE7: batch.longitudesE7[r], camera: batch.cameras[r],
                                                       confidence: batch.confidences[r], regionCode: batch.regionCodes[r]) {
                sink.add(batch, row: r)
                stats.rowsMatched += 1
            }
        }
        return (sink, stats)
    }

    private static func scan<Sink: MatchSink>(_ segmentPlan: SegmentPlan, plan: QueryPlan, decoder: BlockDecoder,
                                              into sink: inout Sink, stats: inout QueryStatistics) throws(SightlineError) {
        guard let chosen = segmentPlan.chosen else { return }
        let segment = segmentPlan.reader
        let query = plan.query
        let columns = plan.columns
        let hasPlate = columns.contains(.plate), hasCamera = columns.contains(.camera)
        let hasConfidence = columns.contains(.confidence), hasRegion = columns.contains(.region)
        var target: Plate?
        if case .history(let p) = query.kind { target = p }
        let placeholder = Plate(uncheckedLow: 0, high: 0, count: 1)
        stats.segmentsRead += 1
        for b in chosen.blocks {
            try decoder.decode(segment, block: b, columns: columns)
            stats.blocksRead += 1
            stats.bytesRead += segment.blocks[b].byteLength(of: columns)
            stats.rowsExamined += decoder.rowCount
            @inline(__always) func check(_ row: Int, _ plate: Plate) {
                if query.matches(plate: plate, time: decoder.times[row], latitudeE7: decoder.latitudes[row],
                                 longitudeE7: decoder.longitudes[row], camera: hasCamera ? decoder.cameras[row] : 0,
                                 confidence: hasConfidence ? decoder.confidences[row] : 100,
                                 regionCode: hasRegion ? decoder.regions[row] : 0) {
                    sink.add(decoder, row: row, plate: plate)
                    stats.rowsMatched += 1
                }
            }
            if hasPlate {
                var row = 0
                for r in 0..<decoder.runPlates.count {
                    let plate = decoder.runPlates[r]
                    let length = Int(decoder.runLengths[r])
                    if let target, plate != target { row += length; continue }
                    for k in row..<(row + length) { check(k, plate) }
                    row += length
                }
            } else {
                for row in 0..<decoder.rowCount { check(row, placeholder) }
            }
        }
    }
}

/// The machine's cores, for spreading segments.
enum System {
    static let coreCount: Int = {
        let n = sysconf(Int32(_SC_NPROCESSORS_ONLN))
        return n > 0 ? n : 1
    }()
}
