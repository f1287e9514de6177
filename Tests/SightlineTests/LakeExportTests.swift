import Foundation
import Testing
import Glibc
@_spi(Benchmarks) @testable import Sightline
@testable import SightlineWorkload

/// Rows spread over `days` UTC days from 2024-06-01, with regions, images and nulls of both.
func lakeRows(_ g: inout SplitMix64, rows: Int, days: Int, plates: Int = 60) -> [Sighting] {
    var all = randomBatch(&g, rows: rows, plates: plates, images: true).sightings
    for i in all.indices { all[i].time = 1_717_200_000_000 + Int64(g.next() % UInt64(days * 86_400_000)) }
    var seen = Set<RowKey>()
    return all.filter { seen.insert(RowKey(plate: $0.plate, time: $0.time, camera: $0.camera)).inserted }
}

/// The rows of one Parquet file Sightline wrote, read back with `ParquetFileReader`.
func lakeFileRows(_ bytes: [UInt8], path: String = "test.parquet") throws -> [Sighting] {
    let r = try ParquetFileReader(bytes: bytes, path: path)
    let pseudonymous = !r.leaves.contains { $0.path == ["plate"] }
    guard case .int64(let keys) = try r.values(of: ["plate_key"]), case .int64(let times) = try r.values(of: ["time"]),
          case .double(let lats) = try r.values(of: ["latitude"]), case .double(let lons) = try r.values(of: ["longitude"]),
          case .int64(let cameras) = try r.values(of: ["camera"]), case .int32(let confidences) = try r.values(of: ["confidence"]),
          case .byteArray(let regions) = try r.values(of: ["region"]), case .byteArray(let geometry) = try r.values(of: ["geometry"]),
          case .double(let xmin) = try r.values(of: ["bbox", "xmin"]), case .double(let ymax) = try r.values(of: ["bbox", "ymax"])
    else { throw SightlineError.invalidArgument("unexpected column types") }
    var plates: [[UInt8]?] = [], images: [[UInt8]?] = []
    if !pseudonymous {
        guard case .byteArray(let p) = try r.values(of: ["plate"]), case .byteArray(let i) = try r.values(of: ["image"]) else {
            throw SightlineError.invalidArgument("unexpected plate/image types")
        }
        plates = p; images = i
    }
    var rows: [Sighting] = []
    for i in 0..<keys.count {
        // Every copy of the position agrees: columns, WKB point, bbox covering.
        let g = geometry[i]!
        #expect(g.count == 21 && g[0] == 1 && g[1] == 1)
        let x = Double(bitPattern: g[5..<13].reversed().reduce(0) { $0 << 8 | UInt64($1) })
        let y = Double(bitPattern: g[13..<21].reversed().reduce(0) { $0 << 8 | UInt64($1) })
        #expect(x == lons[i]! && y == lats[i]! && xmin[i]! == lons[i]! && ymax[i]! == lats[i]!)
        #expect(times[i]! % 1000 == 0)
        let plate = pseudonymous ? try Plate("X") : try Plate(String(decoding: plates[i]!, as: UTF8.self))
        if !pseudonymous { #expect(Int64(bitPattern: testHasher.key(plate)) == keys[i]!) }
        rows.append(try Sighting(plate: plate, time: times[i]! / 1000, latitudeE7: Int32((lats[i]! * 1e7).rounded()),
                                 longitudeE7: Int32((lons[i]! * 1e7).rounded()), camera: UInt32(cameras[i]!), confidence: UInt8(confidences[i]!),
                                 region: try regions[i].map { try Region(String(decoding: $0, as: UTF8.self)) },
                                 image: pseudonymous ? nil : images[i].map { String(decoding: $0, as: UTF8.self) }))
    }
    return rows
}

func rowMultiset(_ rows: [Sighting]) -> [String: Int] {
    Dictionary(rows.map { ("\($0.plate) \($0.time) \($0.latitudeE7) \($0.longitudeE7) \($0.camera) \($0.confidence) \($0.region?.text ?? "-") \($0.image ?? "-")", 1) },
               uniquingKeysWith: +)
}

@Suite struct LakeExportTests {
    // MARK: Codecs

    @Test func thriftCompactRoundTripsNestedStructsListsAndExtremes() throws {
        let seed = testSeed()
        var g = SplitMix64(seed: seed)
        for _ in 0..<200 {
            var w = ThriftCompactWriter()
            var expected: [Int16: ThriftValue] = [:]
            w.beginStructValue()
            var id: Int16 = 0
            for _ in 0..<Int(g.next() % 12) {
                id += Int16(1 + g.next() % (g.next() % 3 == 0 ? 40 : 3))  // deltas above 15 take the long header
                switch g.next() % 5 {
                case 0: let v = Int64(bitPattern: g.next()); w.i64(id, v); expected[id] = .integer(v)
                case 1: let v = Int32(truncatingIfNeeded: g.next()); w.i32(id, v); expected[id] = .integer(Int64(v))
                case 2: let v = g.next() % 2 == 0; w.bool(id, v); expected[id] = .bool(v)
                case 3:
                    let v = (0..<Int(g.next() % 300)).map { _ in UInt8(truncatingIfNeeded: g.next()) }
                    w.binary(id, v); expected[id] = .binary(v)
                default:
                    let n = Int(g.next() % 20)
                    w.beginList(id, .structure, count: n)
                    var elements: [ThriftValue] = []
                    for k in 0..<n {
                        w.beginStructValue(); w.i32(1, Int32(k)); w.string(20, "e\(k)"); w.endStruct()
                        elements.append(.structure([1: .integer(Int64(k)), 20: .binary(Array("e\(k)".utf8))]))
                    }
                    expected[id] = .list(elements)
                }
            }
            w.endStruct()
            var r = ThriftCompactReader(w.bytes, path: "t")
            #expect(try r.readStruct() == .structure(expected), "seed \(seed)")
            #expect(r.position == w.bytes.count)
            // Every truncation is an error, never a crash.
            for cut in 0..<w.bytes.count {
                var t = ThriftCompactReader(Array(w.bytes[..<cut]), path: "t")
                #expect(throws: SightlineError.self) { try t.readStruct() }
            }
        }
    }

    @Test func partitionFilesRoundTripEveryColumnInBothOrders() throws {
        let seed = testSeed()
        var g = SplitMix64(seed: seed)
        let rows = lakeRows(&g, rows: 2_500, days: 1).sorted { Query.ordered($0, $1, history: false) }
        for order in LakeExportOptions.Order.allCases {
            for pseudonymous in [false, true] {
                var options = LakeExportOptions()
                options.order = order
                options.pseudonymous = pseudonymous
                options.rowGroupRows = 700
                if g.next() % 2 == 0 { options.compression = .none }
                let encoder = LakePartitionEncoder(options: options, hasher: testHasher)
                let (bytes, groups) = try encoder.encode(rows, parallelism: 1 + Int(g.next() % 3))
                #expect(groups == 4)
                let back = try lakeFileRows(bytes)
                // The rows, in the order the option names.
                let expected = encoder.order(SightingBatch(rows)).map { rows[Int($0)] }
                if pseudonymous {
                    #expect(back.map(\.time) == expected.map(\.time), "seed \(seed)")
                    #expect(back.map(\.camera) == expected.map(\.camera))
                    #expect(back.map(\.region) == expected.map(\.region))
                } else {
                    #expect(back == expected, "seed \(seed) order \(order)")
                }
                if order == .space {
                    let cells = back.map { SpatialOrder.cell(latitudeE7: $0.latitudeE7, longitudeE7: $0.longitudeE7) }
                    #expect(cells == cells.sorted())
                } else if !pseudonymous {
                    #expect(back.map(\.plate) == back.map(\.plate).sorted())
                }
                // Row groups are even, and their statistics bound their values.
                let reader = try ParquetFileReader(bytes: bytes, path: "t")
                #expect(reader.rowGroupRows == [625, 625, 625, 625])
                #expect(reader.keyValueMetadata["geo"]?.contains(#""covering":{"bbox""#) == true)
                let geo = try JSONSerialization.jsonObject(with: Data(reader.keyValueMetadata["geo"]!.utf8)) as! [String: Any]
                #expect(geo["version"] as? String == "1.1.0" && geo["primary_column"] as? String == "geometry")
                guard case .int64(let keys) = try reader.values(of: ["plate_key"]) else { Issue.record("plate_key is not int64"); continue }
                var at = 0
                for (group, chunks) in reader.rowGroups.enumerated() {
                    let n = Int(reader.rowGroupRows[group])
                    let slice = back[at..<(at + n)]
                    at += n
                    let times = chunks.first { $0.path == ["time"] }!
                    #expect(times.min == withUnsafeBytes(of: (slice.map(\.time).min()! * 1000).littleEndian, Array.init))
                    #expect(times.max == withUnsafeBytes(of: (slice.map(\.time).max()! * 1000).littleEndian, Array.init))
                    let lat = chunks.first { $0.path == ["latitude"] }!
                    let lo = Double(bitPattern: lat.min!.reversed().reduce(0) { $0 << 8 | UInt64($1) })
                    #expect(lo == Double(slice.map(\.latitudeE7).min()!) / 1e7)
                    // The Bloom filter (plate, or plate_key when pseudonymous) holds every value of its group.
                    for (k, s) in zip(at - n..<at, slice) {
                        let hash = pseudonymous
                            ? withUnsafeBytes(of: keys[k]!.littleEndian) { XXHash64.hash($0) }
                            : Array(s.plate.text.utf8).withUnsafeBytes { XXHash64.hash($0) }
                        let found = try reader.bloomFilterMayContain(group: group, columnPath: pseudonymous ? ["plate_key"] : ["plate"], hash: hash)
                        #expect(found == true, "group \(group) plate \(s.plate) pseudonymous \(pseudonymous) order \(order): \(String(describing: found))")
                    }
                    if !pseudonymous {
                        // And rejects most plates it does not hold (~1 % false positives at its size).
                        var maybe = 0
                        for k in 0..<200 {
                            let hash = Array("NOT\(k)X".utf8).withUnsafeBytes { XXHash64.hash($0) }
                            if try reader.bloomFilterMayContain(group: group, columnPath: ["plate"], hash: hash) == true { maybe += 1 }
                        }
                        #expect(maybe < 20, "\(maybe) of 200 absent plates pass the filter")
                    }
                    let region = chunks.first { $0.path == ["region"] }!
                    #expect(region.nulls == Int64(slice.filter { $0.region == nil }.count))
                    if !pseudonymous {
                        let plate = chunks.first { $0.path == ["plate"] }!
                        #expect(plate.min.map { String(decoding: $0, as: UTF8.self) } == slice.map(\.plate.text).min())
                        #expect(plate.max.map { String(decoding: $0, as: UTF8.self) } == slice.map(\.plate.text).max())
                    }
                }
            }
        }
    }

    @Test func xxHash64MatchesTheReferenceVectors() {
        // From the reference implementation (python-xxhash 3.x, seed 0).
        func h(_ b: [UInt8]) -> UInt64 { b.withUnsafeBytes { XXHash64.hash($0) } }
        #expect(h([]) == 0xEF46_DB37_51D8_E999)
        #expect(h(Array("abc".utf8)) == 0x44BC_2CF5_AD77_0999)
        #expect(h(Array("7ABC123".utf8)) == 0xE4EE_7BA8_AEDC_4BA0)
        #expect(h((0..<40).map(UInt8.init)) == 0xF5DA_40F1_B117_41E9)
    }

    @Test func damagedParquetFilesAreErrorsNeverCrashes() throws {
        var g = SplitMix64(seed: 7)
        let rows = lakeRows(&g, rows: 300, days: 1).sorted { Query.ordered($0, $1, history: false) }
        var options = LakeExportOptions()
        options.rowGroupRows = 100
        let (bytes, _) = try LakePartitionEncoder(options: options, hasher: testHasher).encode(rows)
        let footerLength = Int(bytes[bytes.count - 8]) | Int(bytes[bytes.count - 7]) << 8
        var errors = 0
        for _ in 0..<400 {
            var damaged = bytes
            // Mostly in the footer, where a flip changes structure rather than values.
            let at = g.next() % 4 == 0 ? Int(g.next() % UInt64(bytes.count)) : bytes.count - 8 - Int(g.next() % UInt64(footerLength + 8))
            damaged[at] ^= UInt8(1 + g.next() % 255)
            do {
                let r = try ParquetFileReader(bytes: damaged, path: "d")
                for leaf in r.leaves { _ = try r.values(of: leaf.path) }
            } catch { errors += 1 }
        }
        #expect(errors > 0)
        for cut in stride(from: 0, to: bytes.count, by: max(1, bytes.count / 300)) {
            #expect(throws: SightlineError.self) { try ParquetFileReader(bytes: Array(bytes[..<cut]), path: "t") }
        }
    }

    @Test func manifestRoundTripsAndDetectsEveryFlippedByte() throws {
        let manifest = LakeManifest(
            settings: .init(order: .plate, pseudonymous: true, compression: "zstd(3)", agency: "SF PD%x"),
            partitions: ["2024-06-01": .init(day: "2024-06-01", rows: 12, rowGroups: 1, bytes: 3456, crc: 0xDEAD_BEEF,
                                             digest: 0x0123_4567_89AB_CDEF, sources: ["000001.sls", "wal"]),
                         "2024-06-02": .init(day: "2024-06-02", rows: 1, rowGroups: 1, bytes: 99, crc: 1, digest: 2, sources: ["000002.sls"])])
        let bytes = manifest.encode()
        #expect(try LakeManifest.decode(bytes, path: "m") == manifest)
        for i in 0..<bytes.count {
            var damaged = bytes
            damaged[i] ^= 0x04
            #expect(throws: SightlineError.self) { try LakeManifest.decode(damaged, path: "m") }
        }
        for cut in 0..<bytes.count { #expect(throws: SightlineError.self) { try LakeManifest.decode(Array(bytes[..<cut]), path: "m") } }
    }

    // MARK: Export against a store

    /// Every partition file equals the store's rows of its day, as the reader sees them.
    static func expectInStep(_ store: String, _ lake: String, access: AccessContext = AccessContext(requester: "t", purpose: "test"),
                             _ comment: Comment? = nil) throws {
        let reader = try ReadOnlyStore(directory: store, options: storeOptions())
        let snapshot = try reader.snapshot(access: access)
        let report = try reader.checkLake(lake, access: access)
        #expect(report.isInStep, "\(report.partitions.filter { !$0.inStep }) \(report.foreign) \(comment?.description ?? "")")
        var days = Set<String>()
        for p in report.partitions {
            days.insert(p.day)
            let path = "\(lake)/day=\(p.day)/part-0.parquet"
            let bytes = try PosixFileSystem().contentsIfPresent(path)!
            let from = Timestamp.milliseconds(p.day + "T00:00:00Z")!
            let expected = try snapshot.run(Query(.area(LakeExport.world), time: TimeRange(from: from, to: from + 86_400_000))).rows
            #expect(rowMultiset(try lakeFileRows(bytes, path: path)) == rowMultiset(expected), "day \(p.day) \(comment?.description ?? "")")
        }
        let dirs = Set(try PosixFileSystem().contentsOfDirectory(lake).filter { $0.hasPrefix("day=") }.map { String($0.dropFirst(4)) })
        #expect(dirs == days)
    }

    @Test func exportFollowsPurgesRetentionCompactionAndHandEdits() throws {
        let seed = testSeed()
        var g = SplitMix64(seed: seed)
        let dir = temporaryDirectory("lake-store"), lake = temporaryDirectory("lake") + "/out"
        defer { removeTree(dir); removeTree(String(lake.dropLast(4))) }
        let rows = lakeRows(&g, rows: 3_000, days: 5, plates: 40)
        let store = try Store(directory: dir, options: storeOptions(bufferRows: 700))
        var batch = SightingBatch()
        for r in rows { batch.append(r) }
        try store.append(batch)
        try store.flush()
        let reader = try ReadOnlyStore(directory: dir, options: storeOptions())
        let access = AccessContext(requester: "t", purpose: "test")
        var summary = try reader.exportLake(to: lake, access: access)
        #expect(summary.partitionsWritten.count == 5 && summary.rowsWritten == rows.count, "seed \(seed)")
        try Self.expectInStep(dir, lake, "first export, seed \(seed)")
        // Again: nothing to do.
        summary = try reader.exportLake(to: lake, access: access)
        #expect(summary.partitionsWritten.isEmpty && summary.partitionsSkipped == 5)

        // A purge rewrites the segments holding the plate: its days go stale, then the plate leaves the lake.
        let victim = rows[Int(g.next() % UInt64(rows.count))].plate
        let victimDays = Set(rows.filter { $0.plate == victim }.map { LakeExport.dayName(HeatmapSink.dayNumber($0.time)) })
        _ = try store.purge(victim)
        let stale = try reader.checkLake(lake, access: access)
        #expect(!stale.isInStep)
        #expect(Set(stale.partitions.filter { !$0.inStep }.map(\.day)).isSuperset(of: victimDays))
        #expect(stale.partitions.filter { !$0.inStep }.allSatisfy { $0.state.hasPrefix("stale: its store files were rewritten") })
        summary = try reader.exportLake(to: lake, access: access)
        #expect(Set(summary.partitionsWritten).isSuperset(of: victimDays), "seed \(seed)")
        try Self.expectInStep(dir, lake, "after the purge, seed \(seed)")
        for day in try PosixFileSystem().contentsOfDirectory(lake) where day.hasPrefix("day=") {
            let bytes = try PosixFileSystem().contentsIfPresent("\(lake)/\(day)/part-0.parquet")!
            #expect(try !lakeFileRows(bytes).contains { $0.plate == victim })
        }

        // A compaction renames every segment but changes no row: files stay byte for byte.
        let before = try PosixFileSystem().contentsOfDirectory(lake).filter { $0.hasPrefix("day=") }
            .map { try PosixFileSystem().contentsIfPresent("\(lake)/\($0)/part-0.parquet")! }
        _ = try store.compact(CompactionOptions(targetRows: 100_000))
        summary = try reader.exportLake(to: lake, access: access)
        #expect(summary.partitionsWritten.isEmpty && summary.partitionsUnchanged.count == 5, "\(summary)")
        let after = try PosixFileSystem().contentsOfDirectory(lake).filter { $0.hasPrefix("day=") }
            .map { try PosixFileSystem().contentsIfPresent("\(lake)/\($0)/part-0.parquet")! }
        #expect(before == after)
        try Self.expectInStep(dir, lake, "after compaction")

        // Retention deletes the first day: its partition leaves the lake.
        _ = try store.compact(CompactionOptions(targetRows: 100_000, deleteOlderThan: 1_717_200_000_000 + 86_400_000))
        #expect(try reader.checkLake(lake, access: access).partitions.first?.state.hasPrefix("obsolete") == true)
        summary = try reader.exportLake(to: lake, access: access)
        #expect(summary.partitionsRemoved == ["2024-06-01"])
        try Self.expectInStep(dir, lake, "after retention")

        // Hand edits: a file deleted, a file from elsewhere, a stray partition — reported, then repaired.
        let fs = PosixFileSystem()
        try fs.remove("\(lake)/day=2024-06-03/part-0.parquet")
        try fs.replaceAtomically("\(lake)/day=2024-06-04/extra.parquet", with: [1, 2, 3])
        try fs.createDirectory("\(lake)/day=1999-01-01")
        try fs.replaceAtomically("\(lake)/day=1999-01-01/part-0.parquet", with: [4])
        let edited = try reader.checkLake(lake, access: access)
        #expect(edited.partitions.first { $0.day == "2024-06-03" }?.state.hasPrefix("damaged") == true)
        #expect(Set(edited.foreign) == ["day=2024-06-04/extra.parquet", "day=1999-01-01"])
        summary = try reader.exportLake(to: lake, access: access)
        #expect(summary.partitionsWritten == ["2024-06-03"] && Set(summary.foreignRemoved) == Set(edited.foreign))
        try Self.expectInStep(dir, lake, "after repair")
        // A byte changed in place is found by --check's checksum, and repaired once reported.
        var bytes = try fs.contentsIfPresent("\(lake)/day=2024-06-05/part-0.parquet")!
        bytes[bytes.count / 2] ^= 1
        try fs.replaceAtomically("\(lake)/day=2024-06-05/part-0.parquet", with: bytes)
        #expect(try reader.checkLake(lake, access: access).partitions.first { $0.day == "2024-06-05" }?.state.contains("checksum") == true)

        // Every export and check is an audited read.
        let audit = try AuditLog.records(directory: dir)
        #expect(audit.filter { $0.operation == "export" }.count == 6)
        #expect(audit.contains { $0.operation == "export-check" })
        try store.close()
    }

    @Test func exportRefusesADirectoryThatIsNotAnExportAndRespectsTheRange() throws {
        var g = SplitMix64(seed: 3)
        let dir = temporaryDirectory("lake-store2"), other = temporaryDirectory("lake-other")
        defer { removeTree(dir); removeTree(other) }
        let store = try Store(directory: dir, options: storeOptions())
        var batch = SightingBatch()
        for r in lakeRows(&g, rows: 500, days: 4) { batch.append(r) }
        try store.append(batch)
        try store.close()
        let reader = try ReadOnlyStore(directory: dir, options: storeOptions())
        let access = AccessContext(requester: "t", purpose: "test")
        try PosixFileSystem().replaceAtomically("\(other)/notes.txt", with: Array("mine".utf8))
        #expect(throws: SightlineError.self) { try reader.exportLake(to: other, access: access) }
        #expect(try PosixFileSystem().contentsOfDirectory(other) == ["notes.txt"])
        var options = LakeExportOptions()
        options.from = 1_717_200_000_000 + 86_400_000 + 5
        options.to = 1_717_200_000_000 + 2 * 86_400_000 + 5  // rounds out to 2024-06-02 and 2024-06-03
        let lake = other + "/lake"
        let summary = try reader.exportLake(to: lake, options: options, access: access)
        #expect(summary.partitionsWritten == ["2024-06-02", "2024-06-03"])
    }
}

/// The export against engines Sightline does not control, and under SIGKILL.
@Suite struct LakeExportProcessTests {
    /// Whether `python3` can import DuckDB and pyarrow (the independent readers).
    static let pythonReaders: Bool = {
        guard let p = try? ChildProcess("/usr/bin/env", ["python3", "-c", "import duckdb, pyarrow"], captureStandardError: true) else { return false }
        return p.finish().0 == 0
    }()

    static func canonical(_ s: Sighting) -> String {
        "\(s.plate),\(s.time),\(s.latitudeE7),\(s.longitudeE7),\(s.camera),\(s.confidence),\(s.region?.text ?? ""),\(s.image ?? "")"
    }

    @Test(.enabled(if: pythonReaders, "python3 with duckdb and pyarrow is not installed (pip install duckdb pyarrow)"))
    func duckDBAndPyArrowReturnSightlinesRowsForHistoryAndAreaQueries() throws {
        let seed = testSeed()
        var g = SplitMix64(seed: seed)
        let dir = temporaryDirectory("lake-engines")
        defer { removeTree(dir) }
        // A city's worth of positions (randomBatch spreads them over the world).
        var rows = lakeRows(&g, rows: 4_000, days: 3, plates: 50)
        for i in rows.indices {
            rows[i].latitudeE7 = 377_000_000 + Int32(g.next() % 1_000_000)
            rows[i].longitudeE7 = -1_225_000_000 + Int32(g.next() % 1_000_000)
        }
        let store = try Store(directory: "\(dir)/store", options: storeOptions(bufferRows: 1_500))
        var batch = SightingBatch()
        for r in rows { batch.append(r) }
        try store.append(batch)
        try store.close()
        let reader = try ReadOnlyStore(directory: "\(dir)/store", options: storeOptions())
        let access = AccessContext(requester: "t", purpose: "test")
        var options = LakeExportOptions()
        options.rowGroupRows = 500
        if g.next() % 2 == 0 { options.order = .plate }
        _ = try reader.exportLake(to: "\(dir)/lake", options: options, access: access)
        let snapshot = try reader.snapshot()
        var lines: [String] = [], expected: [[String: Int]] = []
        for q in 0..<12 {
            let from = 1_717_200_000_000 + Int64(g.next() % 200_000_000), to = from + 1 + Int64(g.next() % 150_000_000)
            let query: Query
            if q % 2 == 0 {
                let plate = rows[Int(g.next() % UInt64(rows.count))].plate
                query = try Query(.history(plate), time: TimeRange(from: from, to: to))
                lines.append("history \(plate) \(from) \(to)")
            } else {
                // Edges between representable coordinates: no point lies on one.
                let s = 37.7 + Double(g.next() % 60_000) / 1e5 + 0.5e-7, w = -122.5 + Double(g.next() % 60_000) / 1e5 + 0.5e-7
                let n = s + 0.01 + Double(g.next() % 30_000) / 1e5, e = w + 0.01 + Double(g.next() % 30_000) / 1e5
                query = try Query(.area(.box(south: s, west: w, north: n, east: e)), time: TimeRange(from: from, to: to))
                lines.append("area \(s) \(w) \(n) \(e) \(from) \(to)")
            }
            expected.append(Dictionary(try snapshot.run(query).rows.map { (Self.canonical($0), 1) }, uniquingKeysWith: +))
        }
        try PosixFileSystem().replaceAtomically("\(dir)/queries", with: Array(lines.joined(separator: "\n").utf8))
        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("Scripts/lake-readers.py").path
        let (status, output) = try ChildProcess("/usr/bin/env", ["python3", script, "\(dir)/lake", "\(dir)/queries"], captureStandardError: true).finish()
        #expect(status == 0, "\(output.prefix(2000))")
        var answers: [String: [[String: Int]]] = ["duckdb": Array(repeating: [:], count: lines.count), "pyarrow": Array(repeating: [:], count: lines.count)]
        for line in output.split(separator: "\n") {
            let parts = line.split(separator: " ", maxSplits: 2).map(String.init)
            guard parts.count == 3, let n = Int(parts[1]), answers[parts[0]] != nil else { Issue.record("unexpected line \(line)"); continue }
            answers[parts[0]]![n][parts[2], default: 0] += 1
        }
        for engine in ["duckdb", "pyarrow"] {
            for (n, want) in expected.enumerated() {
                #expect(answers[engine]![n] == want, "\(engine) query \(lines[n]) seed \(seed): \(answers[engine]![n].count) distinct rows, want \(want.count)")
            }
        }
        #expect(expected.contains { !$0.isEmpty })
    }

    @Test func anExportKilledAtAnyMomentLeavesEveryPartitionWholeThenCompletes() throws {
        let seed = testSeed()
        var g = SplitMix64(seed: seed)
        let dir = temporaryDirectory("lake-kill")
        defer { removeTree(dir) }
        let rows = lakeRows(&g, rows: 12_000, days: 12, plates: 30)
        let store = try Store(directory: "\(dir)/store", options: storeOptions(bufferRows: 2_000))
        var batch = SightingBatch()
        for r in rows { batch.append(r) }
        try store.append(batch)
        try store.flush()
        let lake = "\(dir)/lake"
        let access = AccessContext(requester: "t", purpose: "test")
        let reader = try ReadOnlyStore(directory: "\(dir)/store", options: storeOptions())
        _ = try reader.exportLake(to: lake, access: access)
        let fs = PosixFileSystem()
        var old: [String: [UInt8]] = [:]
        for d in try fs.contentsOfDirectory(lake) where d.hasPrefix("day=") { old[d] = try fs.contentsIfPresent("\(lake)/\(d)/part-0.parquet")! }
        // Change most days: purge several plates (every day holds some of them).
        for plate in Set(rows.prefix(40).map(\.plate)).prefix(6) { _ = try store.purge(plate) }
        try store.close()
        let snapshot = try reader.snapshot()
        var new: [String: [String: Int]] = [:]
        for d in old.keys {
            let from = Timestamp.milliseconds(String(d.dropFirst(4)) + "T00:00:00Z")!
            new[d] = rowMultiset(try snapshot.run(Query(.area(LakeExport.world), time: TimeRange(from: from, to: from + 86_400_000))).rows)
        }
        var kills = 0, oldSeen = 0, newSeen = 0
        var delay = 0
        while true {
            let child = try ChildProcess(CommandLineTests.binary, ["export", "\(dir)/store", lake, "--purpose", "t"], captureStandardError: true)
            usleep(useconds_t(delay * 1000))
            let (_, killed) = child.kill9WithStatus()
            // Whatever moment it died at, each partition is the old file or the whole new one.
            for d in old.keys {
                let path = "\(lake)/\(d)/part-0.parquet"
                guard let bytes = try fs.contentsIfPresent(path) else { Issue.record("\(path) missing after a kill at \(delay) ms, seed \(seed)"); continue }
                if bytes == old[d]! { oldSeen += 1; continue }
                #expect(rowMultiset(try lakeFileRows(bytes, path: path)) == new[d]!, "\(path) after a kill at \(delay) ms, seed \(seed)")
                newSeen += 1
            }
            guard killed else { break }
            kills += 1
            delay += 2 + Int(g.next() % 25)
        }
        #expect(kills >= 3, "the export finished before enough kills: \(kills)")
        #expect(oldSeen > 0 && newSeen > 0)
        try LakeExportTests.expectInStep("\(dir)/store", lake, "after \(kills) kills, seed \(seed)")
        #expect(try fs.contentsOfDirectory("\(lake)/_staging").isEmpty)
    }
}
