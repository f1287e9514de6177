import Testing
@_spi(Benchmarks) @testable import Sightline
@testable import SightlineWorkload

/// Brute force: every row of the snapshot, filtered by the query's own definition, ordered.
func bruteForce(_ snapshot: StoreSnapshot, _ query: Query) throws -> [Sighting] {
    var history = false
    if case .history = query.kind { history = true }
    var rows = try snapshot.allSightings().filter {
        query.matches(plate: $0.plate, time: $0.time, latitudeE7: $0.latitudeE7, longitudeE7: $0.longitudeE7,
                      camera: $0.camera, confidence: $0.confidence, regionCode: $0.region?.code ?? 0)
    }
    rows.sort { Query.ordered($0, $1, history: history) }
    if let limit = query.filters.limit, rows.count > limit { rows.removeSubrange(limit...) }
    return rows
}

@Suite struct QueryTests {
    /// A store of several segments plus unflushed rows, with late rows, rows at the poles
    /// and on the antimeridian, and a camera cluster (fixed positions).
    static func randomStore(_ dir: String, seed: UInt64) throws -> (Store, [Sighting]) {
        var g = SplitMix64(seed: seed)
        var options = storeOptions(bufferRows: 700)
        options.segment = SegmentOptions(blockRows: 256, spatialBlockRows: 256)
        let store = try Store(directory: dir, options: options)
        var all: [Sighting] = []
        for k in 0..<6 {
            let batch = k % 2 == 0 ? batchWithHomes(&g, rows: 300) : randomBatch(&g, rows: 400, plates: 60, images: k == 3)
            try store.append(batch)
        }
        try store.flush()
        try store.append(randomBatch(&g, rows: 150, plates: 30))  // stays in memory
        all = try store.snapshot().allSightings()
        return (store, all)
    }

    static func randomArea(_ g: inout SplitMix64, around rows: [Sighting]) -> Area {
        let r = rows[Int(g.next() % UInt64(rows.count))]
        let lat = Double(r.latitudeE7) / 1e7, lon = Double(r.longitudeE7) / 1e7
        let size = [0.0001, 0.01, 1, 30][Int(g.next() % 4)]
        switch g.next() % 6 {
        case 0:  // a box whose south-west corner is exactly a row (edges inclusive)
            return .box(south: lat, west: lon, north: min(90, lat + size), east: min(180, lon + size))
        case 1:  // across the antimeridian
            return .box(south: max(-90, lat - size), west: 170, north: min(90, lat + size), east: -170)
        case 2:
            return .circle(latitude: lat, longitude: lon, metres: size * 111_000)
        case 3:  // a cap at a pole
            return .circle(latitude: 90, longitude: 0, metres: 500_000)
        case 4:
            func vertex(_ a: Double, _ o: Double) -> Area.Vertex {
                Area.Vertex(latitude: max(-90, min(90, a)), longitude: max(-180, min(180, o)))
            }
            return .polygon([vertex(lat - size, lon - size), vertex(lat + size, lon), vertex(lat - size, lon + size)])
        default:  // empty: a tiny box in the South Atlantic nobody drives in
            return .box(south: -45.00001, west: -20.00001, north: -45, east: -20)
        }
    }

    static func randomQuery(_ g: inout SplitMix64, _ rows: [Sighting]) throws -> Query {
        let kind: QueryKind = g.next() % 2 == 0 ? .history(rows[Int(g.next() % UInt64(rows.count))].plate) : .area(randomArea(&g, around: rows))
        let times = rows.map(\.time)
        var time = TimeRange.all
        if g.next() % 2 == 0 {
            let a = times[Int(g.next() % UInt64(times.count))], b = times[Int(g.next() % UInt64(times.count))]
            if a != b { time = try TimeRange(from: g.next() % 3 == 0 ? nil : min(a, b), to: max(a, b)) }
        }
        var filters = QueryFilters()
        if g.next() % 4 == 0 { filters.cameras = Set(rows.prefix(40).map(\.camera)) }
        if g.next() % 4 == 0 { filters.minimumConfidence = UInt8(g.next() % 100) }
        if g.next() % 5 == 0 { filters.region = Region(code: 0x4143) }
        if g.next() % 4 == 0 { filters.limit = Int(g.next() % 5) }
        return try Query(kind, time: time, filters: filters)
    }

    @Test func everyQueryMatchesABruteForceScan() throws {
        let dir = temporaryDirectory("query-diff")
        defer { removeTree(dir) }
        let (store, rows) = try Self.randomStore(dir, seed: 31)
        let snapshot = store.snapshot()
        #expect(store.segmentNames.count >= 2 && snapshot.memory.contains { !$0.isEmpty })
        var g = SplitMix64(seed: 32)
        var nonEmpty = 0
        for trial in 0..<400 {
            let query = try Self.randomQuery(&g, rows)
            let want = try bruteForce(snapshot, query)
            let got = try snapshot.run(query)
            #expect(got.rows == want, "trial \(trial): \(query)")
            var unlimited = query
            unlimited.filters.limit = nil
            let wantCount = try bruteForce(snapshot, unlimited).count
            #expect(got.count == wantCount, "trial \(trial)")
            #expect(try snapshot.count(query).count == wantCount, "trial \(trial): count")
            if !want.isEmpty { nonEmpty += 1 }
        }
        #expect(nonEmpty > 100)  // the trials are not all trivially empty
    }

    @Test func heatmapsMatchABruteForceCount() throws {
        let dir = temporaryDirectory("query-heat")
        defer { removeTree(dir) }
        let (store, rows) = try Self.randomStore(dir, seed: 33)
        let snapshot = store.snapshot()
        var g = SplitMix64(seed: 34)
        for trial in 0..<40 {
            var query = try Self.randomQuery(&g, rows)
            query.filters.limit = nil
            query.kind = .area(Self.randomArea(&g, around: rows))
            let grouping: HeatmapGrouping = [.geohash(precision: 1 + Int(g.next() % 7)), .hourOfDay, .day][trial % 3]
            let got = try snapshot.heatmap(query, by: grouping)
            var want: [String: Int] = [:]
            for r in try bruteForce(snapshot, query) {
                let key: String = switch grouping {
                case .geohash(let p): try Geohash(latitudeE7: r.latitudeE7, longitudeE7: r.longitudeE7, precision: p).description
                case .hourOfDay: String(Timestamp.rfc3339(r.time).split(separator: "T")[1].prefix(2))
                case .day: String(Timestamp.rfc3339(r.time).prefix(10))
                }
                want[key, default: 0] += 1
            }
            #expect(Dictionary(uniqueKeysWithValues: got.map { ($0.key, $0.count) }) == want, "trial \(trial)")
        }
    }

    @Test func rfc3339FormattingRoundTrips() {
        #expect(Timestamp.rfc3339(1_717_228_800_123) == "2024-06-01T08:00:00.123Z")
        #expect(Timestamp.rfc3339(0) == "1970-01-01T00:00:00.000Z")
        #expect(Timestamp.rfc3339(-1) == "1969-12-31T23:59:59.999Z")
        for t: Int64 in [0, -1, 1_717_228_800_123, 951_782_400_000, -62_135_596_800_000] {
            #expect(Timestamp.parse(Timestamp.rfc3339(t).utf8[...]) == t)
        }
    }

    /// A city-sized store: the planner's choices and the accuracy of its estimates.
    @Test func thePlannerPicksTheCheapestPathAndItsEstimatesHold() throws {
        let dir = temporaryDirectory("query-plan")
        defer { removeTree(dir) }
        var options = storeOptions()
        options.segment = SegmentOptions(blockRows: 1024, spatialBlockRows: 512)
        let store = try Store(directory: dir, options: options)
        var c = ALPRWorkload.Configuration()
        c.days = 2
        try store.append(ALPRWorkload(c).generate(rows: 60_000))
        try store.flush()
        let snapshot = store.snapshot()
        let rows = try snapshot.allSightings()
        let plate = rows[rows.count / 2].plate

        let history = try Query(.history(plate))
        let historyPlan = try snapshot.plan(history)
        #expect(historyPlan.segments.allSatisfy { $0.chosen?.path == .plateRun || $0.skipped != nil })
        // A small area: the spatial tree.
        let r = rows[7]
        let small = try Query(.area(.circle(latitude: Double(r.latitudeE7) / 1e7, longitude: Double(r.longitudeE7) / 1e7, metres: 300)))
        #expect(try snapshot.plan(small).segments.compactMap(\.chosen?.path) == [.spatialTree])
        // The whole world: reading the plate-ordered blocks is cheaper than the spatial copy.
        let world = try Query(.area(.box(south: -90, west: -180, north: 90, east: 180)))
        let worldPath = try snapshot.plan(world).segments.compactMap(\.chosen?.path)
        #expect(worldPath == [.timeBlocks] || worldPath == [.fullScan])

        // Estimates of what is read are exact (the planner lists the blocks it will read);
        // estimated matches are within 4× of the actual for a non-trivial area.
        for query in [history, small, world] {
            let plan = try snapshot.plan(query)
            let result = try snapshot.run(query)
            #expect(result.statistics.blocksRead == plan.estimatedBlocks)
            #expect(result.statistics.bytesRead == plan.estimatedBytes)
            #expect(result.statistics.rowsExamined == plan.estimatedRows)
        }
        let plan = try snapshot.plan(small)
        let estimated = plan.segments.compactMap(\.chosen?.matches).reduce(0, +)
        let actual = Double(try snapshot.run(small).count)
        #expect(actual > 0 && estimated <= actual * 4 && estimated >= actual / 4, "estimated \(estimated), actual \(actual)")
    }

    @Test func invalidQueriesAreRejected() {
        #expect(throws: SightlineError.self) { try TimeRange(from: 10, to: 10) }
        #expect(throws: SightlineError.self) { try Query(.area(.box(south: 10, west: 0, north: 5, east: 1))) }
        #expect(throws: SightlineError.self) { try Query(.area(.circle(latitude: 0, longitude: 0, metres: 0))) }
        #expect(throws: SightlineError.self) { try Query(.area(.polygon([.init(latitude: 0, longitude: 0), .init(latitude: 1, longitude: 1)]))) }
    }
}
