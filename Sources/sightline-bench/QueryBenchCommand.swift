import ArgumentParser
import Foundation
@_spi(Benchmarks) import Sightline
import SightlineCommandLine

/// Latency of the query mix on an existing store, warm cache: histories, areas of 1 km² over
/// 24 h and 30 days, small areas over an hour, counts, and the planning overhead alone.
struct QueryBenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "query-bench",
        abstract: "Measure query latency (p50/p95/p99/max) on a store, warm cache.")

    @Argument(help: "Store directory.") var store: String
    @Option(help: "Queries per type.") var queries = 200
    @Option(help: "Seed for choosing plates and places.") var seed: UInt64 = 1
    @Option(help: "Write the results as JSON here.") var json: String?
    @OptionGroup var access: AccessArguments
    @Flag(help: "Skip the audit log (to measure what auditing each query costs).") var unaudited = false
    @Flag(help: "Describe each type's slowest query.") var verbose = false
    @Flag(help: "Run the investigative mix instead: 4-character searches, 3-window intersections, convoys, frequent locations.") var investigative = false
    @Option(help: "Run these queries instead (JSON: [{type, plate} | {type, south, west, north, east, from, to, count?}]), as Benchmarks/peers/peers.py writes them.") var queryFile: String?

    struct QuerySpec: Codable {
        var type: String
        var plate: String?
        var south: Double?, west: Double?, north: Double?, east: Double?
        var from: Int64?, to: Int64?
        var count: Bool?

        func query() throws -> Query {
            let time = try TimeRange(from: from, to: to)
            if let plate { return try Query(.history(try Plate(plate)), time: time) }
            guard let south, let west, let north, let east else { throw ValidationError("query \(type): no plate and no box") }
            return try Query(.area(.box(south: south, west: west, north: north, east: east)), time: time)
        }
    }

    struct Row: Codable { var type: String; var queries: Int; var meanRows: Double; var p50Ms: Double; var p95Ms: Double; var p99Ms: Double; var maxMs: Double }

    func run() throws {
        var benchmark = access
        if (benchmark.purpose ?? "").isEmpty { benchmark.purpose = "benchmark" }  // each query is audited like any read
        let audited = try openSnapshot(store, benchmark)
        let snapshot = unaudited ? audited.unaudited : audited
        if let queryFile {
            try runFile(queryFile, snapshot)
            return
        }
        let segments = snapshot.segmentReaders.filter { $0.rowCount > 0 }
        guard !segments.isEmpty else { throw ValidationError("the store has no segments") }
        // Sample real rows: random blocks of random segments.
        var state = seed &* 0x9E37_79B9_7F4A_7C15 | 1
        func next() -> UInt64 { state ^= state << 13; state ^= state >> 7; state ^= state << 17; return state }
        let decoder = BlockDecoder()
        var samples: [Sighting] = []
        while samples.count < queries {
            let segment = segments[Int(next() % UInt64(segments.count))]
            try decoder.decode(segment, block: Int(next() % UInt64(segment.blockCount)), columns: .all)
            let rows = try decoder.sightings()
            samples.append(rows[Int(next() % UInt64(rows.count))])
        }
        func square(_ s: Sighting, metres: Double) -> Area {
            let lat = Double(s.latitudeE7) / 1e7, lon = Double(s.longitudeE7) / 1e7
            let dLat = metres / 2 / 111_195.0, dLon = dLat / max(0.01, cos(lat * .pi / 180))
            return .box(south: max(-90, lat - dLat), west: max(-180, lon - dLon), north: min(90, lat + dLat), east: min(180, lon + dLon))
        }
        let hour: Int64 = 3_600_000
        if investigative { return try runInvestigative(snapshot, samples, square: square) }
        let types: [(String, (Sighting) throws -> Query, Bool)] = [
            ("history, all time", { try Query(.history($0.plate)) }, false),
            ("area 1 km², 24 h", { try Query(.area(square($0, metres: 1000)), time: TimeRange(from: $0.time - 12 * hour, to: $0.time + 12 * hour)) }, false),
            ("area 1 km², 30 days", { try Query(.area(square($0, metres: 1000)), time: TimeRange(from: $0.time - 15 * 24 * hour, to: $0.time + 15 * 24 * hour)) }, false),
            ("area 0.01 km², 1 h", { try Query(.area(square($0, metres: 100)), time: TimeRange(from: $0.time - hour / 2, to: $0.time + hour / 2)) }, false),
            ("area 25 km², 1 h", { try Query(.area(square($0, metres: 5000)), time: TimeRange(from: $0.time - hour / 2, to: $0.time + hour / 2)) }, false),
            ("count 1 km², 24 h", { try Query(.area(square($0, metres: 1000)), time: TimeRange(from: $0.time - 12 * hour, to: $0.time + 12 * hour)) }, true),
        ]
        let clock = ContinuousClock()
        var report: [Row] = []
        print("\(snapshot.rowCount) rows in \(segments.count) segments; \(queries) queries per type, warm cache")
        print("type                      mean rows      p50 ms    p95 ms    p99 ms    max ms")
        func line(_ r: Row) {
            print(String(format: "%-25@ %9.1f %11.3f %9.3f %9.3f %9.3f", r.type as NSString, r.meanRows, r.p50Ms, r.p95Ms, r.p99Ms, r.maxMs))
        }
        func summarize(_ type: String, _ times: [Duration], rows: Int) -> Row {
            Self.summarize(type, times.map { seconds($0) * 1e3 }, rows: rows)
        }
        for (name, make, countOnly) in types {
            let qs = try samples.map(make)
            for q in qs { _ = countOnly ? try snapshot.count(q) : try snapshot.run(q) }  // warm up
            var times: [Duration] = []
            var rows = 0
            var slowest: (Duration, QueryStatistics, Query)?
            for q in qs {
                let t0 = clock.now
                let r = countOnly ? try snapshot.count(q) : try snapshot.run(q)
                let t = clock.now - t0
                times.append(t)
                rows += r.count
                if t > (slowest?.0 ?? .zero) { slowest = (t, r.statistics, q) }
            }
            if verbose, let (t, s, q) = slowest {
                print(String(format: "  slowest: %.3f ms, %d blocks, %d rows examined, %d matched; execute %.3f ms", seconds(t) * 1e3,
                             s.blocksRead, s.rowsExamined, s.rowsMatched, seconds(s.execution) * 1e3) + " — \(q.kind) \(q.time)")
            }
            let row = summarize(name, times, rows: rows)
            report.append(row)
            line(row)
        }
        // Heat maps: 25 km² over 24 h, per geohash-6 cell (~1.2 × 0.6 km).
        do {
            let qs = try samples.map { try Query(.area(square($0, metres: 5000)), time: TimeRange(from: $0.time - 12 * hour, to: $0.time + 12 * hour)) }
            for q in qs { _ = try snapshot.heatmap(q, by: .geohash(precision: 6)) }
            var times: [Duration] = []
            var cells = 0
            for q in qs {
                let t0 = clock.now
                cells += try snapshot.heatmap(q, by: .geohash(precision: 6)).count
                times.append(clock.now - t0)
            }
            let row = summarize("heat map 25 km², 24 h", times, rows: cells)
            report.append(row)
            line(row)
        }
        // Planning alone (what every query pays before reading).
        for (name, make) in [("planning, history", { (s: Sighting) throws -> Query in try Query(.history(s.plate)) }),
                             ("planning, area 24 h", types[1].1), ("planning, area all time", { try Query(.area(square($0, metres: 1000))) })] {
            var planTimes: [Duration] = []
            for s in samples {
                let q = try make(s)
                let t0 = clock.now
                _ = try snapshot.plan(q)
                planTimes.append(clock.now - t0)
            }
            let planning = summarize(name, planTimes, rows: 0)
            report.append(planning)
            line(planning)
        }
        if let json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            try encoder.encode(report).write(to: URL(fileURLWithPath: json))
        }
    }

    /// The investigative mix (issue 11), each query built from a sampled sighting: a search
    /// keeping the plate's first two and last two characters (`TQ*25`), as plates and as rows;
    /// three 1 km² × 24 h windows around it and two other samples; its plate's convoy at
    /// ±60 s (plates with at most 500 sightings, the target's bound); its plate's frequent locations.
    func runInvestigative(_ snapshot: StoreSnapshot, _ samples: [Sighting], square: @escaping (Sighting, Double) -> Area) throws {
        let hour: Int64 = 3_600_000
        let clock = ContinuousClock()
        func pattern(_ s: Sighting) throws -> Query {
            let text = s.plate.text
            return try Query(.search(try PlatePattern(String(text.prefix(2)) + "*" + String(text.suffix(2))), within: nil))
        }
        func windows(_ k: Int) throws -> [IntersectionWindow] {
            try [samples[k], samples[(k + 1) % samples.count], samples[(k + 2) % samples.count]].map {
                try IntersectionWindow(area: square($0, 1000), time: TimeRange(from: $0.time - 12 * hour, to: $0.time + 12 * hour))
            }
        }
        // The convoy target is for a plate with at most 500 sightings: sampled sightings favour
        // heavy plates, so the convoy's plates are the sampled ones within that bound.
        var convoyPlates: [Plate] = []
        var convoyHistory = 0, heaviest = 0
        for s in samples {
            let n = try snapshot.count(Query(.history(s.plate))).count
            guard n <= 500 else { continue }
            convoyPlates.append(s.plate)
            convoyHistory += n
            heaviest = max(heaviest, n)
        }
        guard !convoyPlates.isEmpty else { throw ValidationError("no sampled plate has ≤ 500 sightings") }
        let types: [(String, (Int) throws -> Int)] = [
            ("search 4 chars, plates", { try snapshot.searchPlates(pattern(samples[$0])).count }),
            ("search 4 chars, rows", { try snapshot.run(pattern(samples[$0])).count }),
            ("intersect 3 × 1 km² 24 h", { try snapshot.intersect(windows($0)).count }),
            ("convoy ±60 s", { try snapshot.convoy(convoyPlates[$0 % convoyPlates.count], within: .seconds(60)).count }),
            ("frequent locations", { try snapshot.frequentLocations(samples[$0].plate).count }),
        ]
        print("\(snapshot.rowCount) rows; \(samples.count) queries per type, warm cache")
        print("convoy plates: \(convoyPlates.count) of the sampled plates have ≤ 500 sightings (mean \(convoyHistory / convoyPlates.count), most \(heaviest))")
        print("type                      mean rows      p50 ms    p95 ms    p99 ms    max ms")
        var report: [Row] = []
        for (name, body) in types {
            for k in samples.indices { _ = try body(k) }  // warm up
            var times: [Double] = []
            var rows = 0
            for k in samples.indices {
                let t0 = clock.now
                rows += try body(k)
                times.append(seconds(clock.now - t0) * 1e3)
            }
            let row = Self.summarize(name, times, rows: rows)
            report.append(row)
            print(String(format: "%-25@ %9.1f %11.3f %9.3f %9.3f %9.3f", name as NSString, row.meanRows, row.p50Ms, row.p95Ms, row.p99Ms, row.maxMs))
        }
        if let json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            try encoder.encode(report).write(to: URL(fileURLWithPath: json))
        }
    }

    /// Percentiles (nearest rank) of latencies in milliseconds.
    static func summarize(_ type: String, _ milliseconds: [Double], rows: Int) -> Row {
        let ms = milliseconds.sorted()
        func p(_ q: Double) -> Double { ms[min(ms.count - 1, Int((Double(ms.count) * q).rounded(.up)) - 1)] }
        return Row(type: type, queries: ms.count, meanRows: Double(rows) / Double(ms.count), p50Ms: p(0.5), p95Ms: p(0.95), p99Ms: p(0.99), maxMs: ms.last!)
    }

    /// Times the queries of a file, warm, per type.
    func runFile(_ path: String, _ snapshot: StoreSnapshot) throws {
        let specs = try JSONDecoder().decode([QuerySpec].self, from: Data(contentsOf: URL(fileURLWithPath: path)))
        let queries = try specs.map { ($0.type, try $0.query(), $0.count ?? false) }
        for (_, q, c) in queries { _ = c ? try snapshot.count(q) : try snapshot.run(q) }  // warm up
        var times: [String: [Double]] = [:], rows: [String: Int] = [:]
        var order: [String] = []
        let clock = ContinuousClock()
        for (type, q, c) in queries {
            let t0 = clock.now
            let r = c ? try snapshot.count(q) : try snapshot.run(q)
            if times[type] == nil { order.append(type) }
            times[type, default: []].append(seconds(clock.now - t0) * 1e3)
            rows[type, default: 0] += r.count
        }
        var report: [Row] = []
        for type in order {
            let row = Self.summarize(type, times[type]!, rows: rows[type]!)
            report.append(row)
            print(String(format: "%-25@ %9.1f %11.3f %9.3f %9.3f %9.3f", type as NSString, row.meanRows, row.p50Ms, row.p95Ms, row.p99Ms, row.maxMs))
        }
        if let json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            try encoder.encode(report).write(to: URL(fileURLWithPath: json))
        }
    }
}
