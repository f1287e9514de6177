// Microbenchmarks of the segment codec — SipHash plate keys, sorting, per-column encode and
// decode, whole-segment encode and decode — and of the plate filter, the planner and single
// queries. Inputs are ALPR-like sightings from the built-in
// generator (seed 1), 262,144 rows = 32 blocks of 8,192, so a run stays short; `sightline
// measure` gives the same figures at millions of rows.
import Benchmark
#if canImport(Glibc)
import Glibc
#endif
@_spi(Benchmarks) import Sightline
import SightlineWorkload

private let rows = 262_144
private let hasher = PlateHasher(secret: PlateKeySecret(k0: 1, k1: 2))
nonisolated(unsafe) private var batch = SightingBatch()
nonisolated(unsafe) private var sorted: SortedBatch?
nonisolated(unsafe) private var segment: SegmentReader?
nonisolated(unsafe) private var prepared: SegmentEncoder.PreparedRows?
nonisolated(unsafe) private var store: Store?

/// About 1 km² (a 560 m circle) over 24 h around one of the rows.
private func areaQuery() throws -> Query {
    let s = batch[batch.count / 3]
    return try Query(.area(.circle(latitude: Double(s.latitudeE7) / 1e7, longitude: Double(s.longitudeE7) / 1e7, metres: 560)),
                     time: TimeRange(from: s.time - 43_200_000, to: s.time + 43_200_000))
}

/// A store of the same rows (one segment), for planner, filter and query benchmarks.
private func prepareStore() throws -> StoreSnapshot {
    if store == nil {
        try prepare()
        let dir = "/tmp/sightline-benchmarks-\(getpid())"
        var options = StoreOptions()
        options.durability = .none
        options.secret = PlateKeySecret(k0: 1, k1: 2)
        store = try Store(directory: dir, options: options)
        try store!.append(batch)
        try store!.flush()
    }
    return store!.snapshot()
}

private func prepare() throws {
    guard sorted == nil else { return }
    batch = ALPRWorkload().generate(rows: rows)
    sorted = SortedBatch(batch, hasher: hasher)
    prepared = SegmentEncoder.PreparedRows(sorted!)
    let bytes = try SegmentEncoder(hasher: hasher).encode(batch)
    segment = try SegmentReader(bytes: bytes, hasher: hasher)
}

let benchmarks: @Sendable () -> Void = {
    // One iteration = one pass over 262,144 rows: divide 262,144 by the wall clock for rows/s.
    // Thresholds (Thresholds/) flag a p50 more than 15 % slower than the checked-in baseline.
    let configuration = Benchmark.Configuration(
        metrics: [.wallClock, .mallocCountTotal],
        maxDuration: .seconds(2),
        maxIterations: 100,
        thresholds: [.wallClock: .init(relative: [.p50: 15.0])]
    )
    Benchmark.defaultConfiguration = configuration

    Benchmark("SipHash plate keys, 1,000 distinct plates", configuration: .init(metrics: [.wallClock])) { benchmark in
        try prepare()
        let plates = Array(batch.plates.prefix(1000))  // distinct inputs: nothing to hoist
        benchmark.startMeasurement()
        var x: UInt64 = 0
        for p in plates { x ^= hasher.key(p) }
        blackHole(x)
    }

    Benchmark("Sort 262k rows by plate key") { benchmark in
        try prepare()
        benchmark.startMeasurement()
        blackHole(SortedBatch(batch, hasher: hasher).count)
    }

    for column in ColumnID.allCases {
        Benchmark("Encode column \(column.name), 262k rows") { benchmark in
            try prepare()
            let encoder = try SegmentEncoder(hasher: hasher)
            benchmark.startMeasurement()
            blackHole(try encoder.encodeColumn(column, of: prepared!))
        }
    }

    let decodeSets: [(String, ColumnSet)] = [
        ("plate", .plate), ("time", .time), ("camera", .camera), ("position", .position),
        ("confidence", .confidence), ("region", .region), ("image", .image),
        ("time+lat+lon", [.time, .position]), ("all", .all),
    ]
    for (name, columns) in decodeSets {
        Benchmark("Decode \(name), 262k rows") { benchmark in
            try prepare()
            let decoder = BlockDecoder()
            benchmark.startMeasurement()
            for b in 0..<segment!.blockCount { try decoder.decode(segment!, block: b, columns: columns) }
            blackHole(decoder.rowCount)
        }
    }

    Benchmark("Encode segment, 262k sorted rows") { benchmark in
        try prepare()
        let encoder = try SegmentEncoder(hasher: hasher)
        benchmark.startMeasurement()
        var n = 0
        _ = try encoder.encode(sorted!) { (chunk: UnsafeRawBufferPointer) throws(SightlineError) in n += chunk.count }
        blackHole(n)
    }

    Benchmark("Plate filter probes, 1,000 plate keys") { benchmark in
        try prepare()
        let keys = batch.plates.prefix(1000).map { hasher.key($0) }
        benchmark.startMeasurement()
        var hits = 0
        for k in keys where segment!.mayContain(plateKey: k) { hits += 1 }
        blackHole(hits)
    }

    Benchmark("Plan a plate history") { benchmark in
        let snapshot = try prepareStore()
        let query = try Query(.history(batch.plates[batch.count / 2]))
        benchmark.startMeasurement()
        blackHole(snapshot.plan(query).estimatedBlocks)
    }

    Benchmark("Plan a 1 km² area over 24 h") { benchmark in
        let snapshot = try prepareStore()
        let query = try areaQuery()
        benchmark.startMeasurement()
        blackHole(snapshot.plan(query).estimatedBlocks)
    }

    Benchmark("Query a plate history, 262k rows") { benchmark in
        let snapshot = try prepareStore()
        let query = try Query(.history(batch.plates[batch.count / 2]))
        benchmark.startMeasurement()
        blackHole(try snapshot.run(query).count)
    }

    Benchmark("Query a 1 km² area over 24 h, 262k rows") { benchmark in
        let snapshot = try prepareStore()
        let query = try areaQuery()
        benchmark.startMeasurement()
        blackHole(try snapshot.run(query).count)
    }
}
