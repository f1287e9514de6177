import ArgumentParser
import Foundation
@_spi(Benchmarks) import Sightline
import SightlineCommandLine
import SightlineWorkload

/// Measures the segment codec on generated data: bytes per sighting (per column), sort,
/// encode and decode rates on one core. Build with `-c release` for figures worth quoting.
struct MeasureCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "measure",
        abstract: "Measure segment size and encode/decode speed on generated data (one core)."
    )

    enum Workload: String, ExpressibleByArgument, CaseIterable { case alpr, tracks }

    @Option(help: "alpr (ALPR-like reads) or tracks (dense GPS tracks).") var workload: Workload = .alpr
    @Option(help: "Sightings to generate.") var rows: Int = 2_000_000
    @Option(help: "Rows per block.") var blockRows: Int = 8192
    @Option(help: "none, lz4, zstd or zstd:LEVEL.") var compression: String = "zstd"
    @Option(help: "Timed repetitions; the best is reported.") var repetitions: Int = 3
    @Option(help: "Timed repetitions of decoding (default: --repetitions).") var decodeRepetitions: Int?
    @Option(help: "Write the figures as JSON to this path.") var json: String?

    func run() throws {
        do {
            try measure()
        } catch {
            throw CommandFailure(error)
        }
    }

    func measure() throws {
        let clock = ContinuousClock()
        let options = SegmentOptions(blockRows: blockRows, compression: try SegmentCompression(parsing: compression))
        let hasher = PlateHasher(secret: PlateKeySecret(k0: 1, k1: 2))
        var start = clock.now
        let batch: SightingBatch = switch workload {
        case .alpr: ALPRWorkload().generate(rows: rows)
        case .tracks: DenseTrackWorkload().generate(rows: rows)
        }
        print("generated \(batch.count) \(workload.rawValue) sightings in \(String(format: "%.2f", seconds(clock.now - start))) s")

        let encoder = try SegmentEncoder(hasher: hasher, options: options)
        var bestSort = Duration.seconds(1e9), bestEncode = Duration.seconds(1e9)
        var bytes: [UInt8] = []
        var summary: SegmentSummary!
        for _ in 0..<max(1, repetitions) {
            start = clock.now
            let sorted = SortedBatch(batch, hasher: hasher)
            let sorting = clock.now - start
            bytes.removeAll(keepingCapacity: true)
            start = clock.now
            summary = try encoder.encode(sorted) { (chunk: UnsafeRawBufferPointer) throws(SightlineError) in bytes.append(contentsOf: chunk) }
            let encoding = clock.now - start
            bestSort = min(bestSort, sorting)
            bestEncode = min(bestEncode, encoding)
        }

        let reader = try SegmentReader(bytes: bytes, hasher: hasher)
        let decoder = BlockDecoder()
        func decodeAll(_ columns: ColumnSet) throws -> Duration {
            var best = Duration.seconds(1e9)
            var checksum: Int64 = 0
            for _ in 0..<max(1, decodeRepetitions ?? repetitions) {
                let t0 = clock.now
                for b in 0..<reader.blockCount {
                    try decoder.decode(reader, block: b, columns: columns)
                    if columns.contains(.time) { checksum &+= decoder.times[0] }
                }
                best = min(best, clock.now - t0)
            }
            if checksum == 42 { print("") }  // keeps the work observable to the optimizer
            return best
        }
        let timePosition = try decodeAll([.time, .position])
        let all = try decodeAll(.all)

        let n = batch.count
        print("")
        print("segment: \(summary.blockCount) blocks of \(blockRows) rows, \(options.compression), \(summary.cameraHomeCount) camera homes")
        print(String(format: "size:    %@ = %.3f bytes/sighting", formatBytes(summary.fileBytes), summary.bytesPerRow))
        for id in ColumnID.allCases {
            print(String(format: "  %-11@ %8.3f B/row", id.name as NSString, Double(summary.columnBytes[id.rawValue]) / Double(n)))
        }
        print(String(format: "  %-11@ %8.3f B/row", "homes" as NSString, Double(summary.cameraHomeBytes) / Double(n)))
        print(String(format: "  %-11@ %8.3f B/row", "plate filter" as NSString, Double(summary.plateFilterBytes) / Double(n)))
        print(String(format: "  spatial copy %8.3f B/row:", Double(summary.spatialBytes) / Double(n)))
        for id in ColumnID.allCases {
            print(String(format: "    %-11@ %8.3f B/row", id.name as NSString, Double(summary.spatialColumnBytes[id.rawValue]) / Double(n)))
        }
        print(String(format: "  %-11@ %8.3f B/row", "metadata" as NSString, Double(summary.metadataBytes) / Double(n)))
        // Area reach: blocks whose statistics meet a 1 km × 1 km, 1 h query centred on a row
        // (256 rows spread over the batch), in plate order and in the spatial copy.
        var reach = (plateOrdered: 0, spatial: 0)
        let samples = min(256, n)
        for k in 0..<samples {
            let i = k * n / samples
            let lat = batch.latitudesE7[i], lon = batch.longitudesE7[i], t = batch.times[i]
            func meets(_ s: BlockStatistics) -> Bool {
                s.minTime <= t + 1_800_000 && s.maxTime >= t - 1_800_000 && s.bounds.minLatitudeE7 <= lat + 45_000 && s.bounds.maxLatitudeE7 >= lat - 45_000
                    && s.bounds.minLongitudeE7 <= lon + 57_000 && s.bounds.maxLongitudeE7 >= lon - 57_000
            }
            for b in 0..<reader.blockCount where meets(reader.blockStatistics(b)) { reach.plateOrdered += 1 }
            for b in 0..<reader.spatialBlockCount where meets(reader.blockStatistics(reader.blockCount + b)) { reach.spatial += 1 }
        }
        print(String(format: "area reach: a 1 km², 1 h query meets %.1f plate-ordered blocks of %d, %.1f spatial blocks of %d",
                     Double(reach.plateOrdered) / Double(samples), reader.blockCount, Double(reach.spatial) / Double(samples), reader.spatialBlockCount))
        print("sort:    \(formatRate(n, bestSort))  (hash + sort by plate key, time, camera)")
        print("encode:  \(formatRate(n, bestEncode))  (sorted rows → segment bytes)")
        print("sort+encode: \(formatRate(n, bestSort + bestEncode))")
        print("decode time+lat+lon: \(formatRate(n, timePosition))")
        print("decode all columns:  \(formatRate(n, all))")

        if let json {
            let report: [String: Any] = [
                "workload": workload.rawValue, "rows": n, "blockRows": blockRows, "compression": "\(options.compression)",
                "fileBytes": summary.fileBytes, "bytesPerSighting": summary.bytesPerRow,
                "spatialBytesPerRow": Double(summary.spatialBytes) / Double(n),
                "plateFilterBytesPerRow": Double(summary.plateFilterBytes) / Double(n),
                "columnBytesPerRow": Dictionary(uniqueKeysWithValues: ColumnID.allCases.map { ($0.name, Double(summary.columnBytes[$0.rawValue]) / Double(n)) }),
                "sortRowsPerSecond": Double(n) / seconds(bestSort),
                "encodeRowsPerSecond": Double(n) / seconds(bestEncode),
                "decodeTimeLatLonRowsPerSecond": Double(n) / seconds(timePosition),
                "decodeAllRowsPerSecond": Double(n) / seconds(all),
            ]
            let data = try JSONSerialization.data(withJSONObject: report, options: [.prettyPrinted, .sortedKeys])
            try data.write(to: URL(fileURLWithPath: json))
        }
    }
}
