import Testing
@_spi(Benchmarks) @testable import Sightline
@testable import SightlineWorkload

/// The plate n-gram index and the camera index of format v3: built, read back, checked against
/// the rows they index, used by the planner; and v2 segments still read (and upgraded).
@Suite struct SegmentIndexTests {
    /// Rows whose plates come from a small alphabet of OCR look-alikes (many shared bigrams,
    /// plates of 1–10 characters), over a few cameras, several blocks.
    static func lookalikeBatch(_ g: inout SplitMix64, rows: Int) -> SightingBatch {
        let alphabet = Array("0OQD8B1IL2Z5SAX".utf8)
        var plates: [Plate] = []
        for _ in 0..<200 {
            let n = 1 + Int(g.next() % 10)
            let text = (0..<n).map { _ in alphabet[Int(g.next() % UInt64(alphabet.count))] }
            plates.append(text.withUnsafeBytes { Plate(uncheckedNormalized: $0) })
        }
        var batch = SightingBatch()
        for i in 0..<rows {
            let camera = UInt32(g.next() % 12)
            batch.append(Sighting(unchecked: plates[Int(g.next() % 200)], time: 1_717_200_000_000 + Int64(i) * 37_000,
                                  latitudeE7: 375_000_000 + Int32(camera) * 1_000_000 + Int32(g.next() % 1000),
                                  longitudeE7: -1_221_000_000 + Int32(g.next() % 50_000_000), camera: camera, confidence: 90, region: nil, image: nil))
        }
        return batch
    }

    static func segment(_ g: inout SplitMix64, rows: Int = 3000) throws -> (SegmentReader, [UInt8]) {
        let bytes = try SegmentEncoder(hasher: testHasher, options: SegmentOptions(blockRows: 256, spatialBlockRows: 256))
            .encode(lookalikeBatch(&g, rows: rows))
        return (try SegmentReader(bytes: bytes, hasher: testHasher), bytes)
    }

    /// The spatial copy's blocks: plate order within a block of long plate runs (dense
    /// tracks), space-time order within one of many plates (ALPR-like); either way the same
    /// rows as the plate-ordered copy, and area queries answer as a brute-force filter does.
    @Test func spatialBlocksOfVehicleRunsAreInPlateOrder() throws {
        let tracks = DenseTrackWorkload(DenseTrackWorkload.Configuration()).generate(rows: 40_000)
        let alpr = ALPRWorkload().generate(rows: 40_000)
        for (name, batch, grouped) in [("tracks", tracks, true), ("alpr", alpr, false)] {
            let bytes = try SegmentEncoder(hasher: testHasher, options: SegmentOptions(blockRows: 2048, spatialBlockRows: 1024)).encode(batch)
            let reader = try SegmentReader(bytes: bytes, hasher: testHasher)
            try reader.verify()
            let decoder = BlockDecoder()
            var plateOrdered = 0, multiPlate = 0
            var spatialRows: [Sighting] = []
            for b in reader.blockCount..<(reader.blockCount + reader.spatialBlockCount) {
                try decoder.decode(reader, block: b, columns: .all, verifyKeys: false)
                try decoder.materializePlates()
                var rows: [Sighting] = []
                let times = decoder.times.base, cameras = decoder.cameras.base
                decoder.forEachRow { plate, row in
                    rows.append(Sighting(unchecked: plate, time: times[row], latitudeE7: 0, longitudeE7: 0, camera: cameras[row], confidence: 0, region: nil, image: nil))
                }
                spatialRows += rows
                guard Set(rows.map(\.plate)).count > 1 else { continue }
                multiPlate += 1
                let keys = rows.map { testHasher.key($0.plate) }
                if zip(keys, keys.dropFirst()).allSatisfy({ $0 <= $1 }) { plateOrdered += 1 }
            }
            #expect(spatialRows.count == batch.count, "\(name): the copy holds every row")
            #expect(Set(spatialRows.map { RowKey(plate: $0.plate, time: $0.time, camera: $0.camera) })
                    == Set(batch.sightings.map { RowKey(plate: $0.plate, time: $0.time, camera: $0.camera) }), "\(name): the same rows")
            if grouped {
                #expect(multiPlate > 0 && plateOrdered == multiPlate, "\(name): \(plateOrdered) of \(multiPlate) blocks in plate order")
            } else {
                #expect(plateOrdered < multiPlate / 10, "\(name): \(plateOrdered) of \(multiPlate) blocks in plate order")
            }
            // Areas answer as a filter of the rows does.
            let snapshot = StoreSnapshot(segments: [reader], memory: [])
            var g = SplitMix64(seed: 5)
            for _ in 0..<20 {
                let s = batch.sightings[Int(g.next() % UInt64(batch.count))]
                let lat = Double(s.latitudeE7) / 1e7, lon = Double(s.longitudeE7) / 1e7
                let box = Area.box(south: lat - 0.01, west: lon - 0.01, north: lat + 0.01, east: lon + 0.01)
                let time = try TimeRange(from: s.time - 3_600_000, to: s.time + 3_600_000)
                let want = batch.sightings.filter { box.contains(latitudeE7: $0.latitudeE7, longitudeE7: $0.longitudeE7) && time.contains($0.time) }
                #expect(Set(try snapshot.run(Query(.area(box), time: time)).rows) == Set(want), "\(name): area")
            }
        }
    }

    @Test func patternsGiveTheBigramsEveryMatchHolds() throws {
        let g = PlateGramIndex.gram
        let (start, end) = (PlateGramIndex.start, PlateGramIndex.end)
        #expect(PlateGramIndex.requiredGrams(try PlatePattern("TQ*25")) == [[g(start, 84)], [g(84, 81)], [g(50, 53)], [g(53, end)]])
        #expect(PlateGramIndex.requiredGrams(try PlatePattern("A?B*")) == [[g(start, 65)]])
        #expect(PlateGramIndex.requiredGrams(try PlatePattern("*A?B*")).isEmpty)
        #expect(PlateGramIndex.requiredGrams(try PlatePattern("?AB?")) == [[g(65, 66)]])
        #expect(PlateGramIndex.requiredGrams(try PlatePattern("ABAB")) == [[g(start, 65)], [g(65, 66)], [g(66, 65)], [g(66, end)]])
        // Folded: O and 0 are one character to the index, exact or not.
        #expect(PlateGramIndex.requiredGrams(try PlatePattern("O1")) == PlateGramIndex.requiredGrams(try PlatePattern("01")))
        // Classes other than the index's folding: every member's folded bigram.
        let custom = try OCREquivalence(classes: ["AX"])
        #expect(PlateGramIndex.requiredGrams(try PlatePattern("A1", equivalence: custom))
                == [[g(start, 65), g(start, 88)].sorted(), [g(65, 49), g(88, 49)].sorted(), [g(49, end)]])
        // A plate's own bigrams: marks included, repeats once.
        var grams: [UInt16] = []
        PlateGramIndex.forEachGram(of: try Plate("AAA")) { grams.append($0) }
        #expect(grams == [g(start, 65), g(65, 65), g(65, end)])
        grams = []
        PlateGramIndex.forEachGram(of: try Plate("Z")) { grams.append($0) }
        #expect(grams == [g(start, 90), g(90, end)])
    }

    /// The index only narrows: every block holding a matching plate is a candidate.
    @Test func plateIndexNeverMissesAMatch() throws {
        let seed = testSeed()
        var g = SplitMix64(seed: seed)
        let (reader, _) = try Self.segment(&g)
        let index = try #require(reader.plateIndex)
        let decoder = BlockDecoder()
        var platesByBlock: [[Plate]] = []
        for b in 0..<reader.blockCount {
            try decoder.decode(reader, block: b, columns: .plate)
            platesByBlock.append(Array(decoder.runPlates.buffer))
        }
        #expect(index.runCount == platesByBlock.reduce(0) { $0 + $1.count })
        let streams = StreamReader(compressor: Compressor())
        var narrowed = 0
        for trial in 0..<400 {
            let plate = platesByBlock[Int(g.next() % UInt64(platesByBlock.count))].first!
            let text = InvestigationTests.randomPattern(&g, from: plate)
            let equivalent = g.next() % 2 == 0
            guard let pattern = try? PlatePattern(text, equivalence: equivalent ? .default : nil) else { continue }
            let holding = platesByBlock.indices.filter { platesByBlock[$0].contains { pattern.matches($0) } }
            guard let candidates = try index.candidateBlocks(for: pattern, streams: streams, path: reader.path, read: { (raw, offset) throws(SightlineError) in
                try reader.read(into: raw, at: offset)
            }) else {
                #expect(PlateGramIndex.requiredGrams(pattern).isEmpty)
                continue
            }
            #expect(Set(holding).isSubset(of: Set(candidates)), "trial \(trial) (SIGHTLINE_TEST_SEED=\(seed)): \(text) \(equivalent)")
            #expect(candidates == candidates.sorted() && Set(candidates).count == candidates.count)
            if candidates.count < reader.blockCount { narrowed += 1 }
        }
        #expect(narrowed > 50)
    }

    @Test func cameraIndexListsExactlyTheBlocksOfEachCamera() throws {
        var g = SplitMix64(seed: testSeed())
        let (reader, _) = try Self.segment(&g)
        let index = try #require(try reader.cameraIndex())
        let decoder = BlockDecoder()
        var blocksOf: [UInt32: [UInt32]] = [:]
        /// Per camera and spatial block: its rows' times there.
        var timesOf: [UInt32: [UInt32: [Int64]]] = [:]
        var firstUnit: [Int64] = []
        for (k, b) in reader.spatialBlocks.enumerated() {
            try decoder.decode(reader, block: b, columns: [.time, .camera])
            for c in Set(decoder.cameras.buffer) { blocksOf[c, default: []].append(UInt32(k)) }
            for (c, t) in zip(decoder.cameras.buffer, decoder.times.buffer) { timesOf[c, default: [:]][UInt32(k), default: []].append(t) }
            firstUnit.append(CameraBlockIndex.unit(reader.blocks[b].statistics.minTime))
        }
        #expect(index.cameras == blocksOf.keys.sorted())
        for (camera, blocks) in blocksOf { #expect(Array(index.spatialBlocks(of: camera)) == blocks) }
        #expect(index.spatialBlocks(of: 999).isEmpty)
        // Time pruning: a block is named exactly when one of the camera's clusters of minutes there
        // (widened to whole minutes) meets an interval — so never missing a block with a row inside one.
        let (lo, hi) = (reader.statistics.minTime, reader.statistics.maxTime)
        var pruned = 0
        for trial in 0..<200 {
            let camera = index.cameras[Int(g.next() % UInt64(index.cameras.count))]
            var intervals: [ClosedRange<Int64>] = []
            var start = lo + Int64(g.next() % UInt64(max(1, (hi - lo) / 4)))
            for _ in 0..<Int(g.next() % 4) {
                let end = start + Int64(g.next() % 120_000)
                intervals.append(start...end)
                start = end + 1 + Int64(g.next() % UInt64(max(1, (hi - lo) / 4)))
            }
            let named = index.spatialBlocks(of: camera, meeting: intervals) { firstUnit[$0] }
            var expected: [UInt32] = []
            for (block, times) in timesOf[camera]!.sorted(by: { $0.key < $1.key }) {
                // Its minutes, in runs no more than the gap apart: each run meets an interval or not.
                let u = CameraBlockIndex.unitMilliseconds
                var runs: [(first: Int64, last: Int64)] = []
                for t in times.map(CameraBlockIndex.unit).sorted() {
                    if let r = runs.last, t - r.last <= CameraBlockIndex.clusterGap { runs[runs.count - 1].last = t } else { runs.append((t, t)) }
                }
                if runs.contains(where: { r in intervals.contains { $0.lowerBound <= (r.last + 1) * u - 1 && r.first * u <= $0.upperBound } }) {
                    expected.append(block)
                }
                if times.contains(where: { t in intervals.contains { $0.contains(t) } }) {
                    #expect(named.contains(block), "trial \(trial) (SIGHTLINE_TEST_SEED=\(testSeed())): camera \(camera) block \(block) missed")
                }
            }
            #expect(named == expected, "trial \(trial): camera \(camera)")
            if named.count < blocksOf[camera]!.count { pruned += 1 }
        }
        #expect(pruned > 20)
        // Round trip through the section bytes.
        var writer = IntegerStreamWriter(compression: .default, compressor: Compressor())
        var out = ByteWriter(capacity: 64)
        try index.encode(&writer, into: &out)
        let decoded = try out.bytes.withUnsafeBytesTyped { raw throws(SightlineError) in
            var r = ByteReader(raw, fileOffset: 0, path: "x")
            return try CameraBlockIndex.decode(&r, spatialUnits: reader.spatialBlocks.map { CameraBlockIndex.unit(reader.blocks[$0].statistics.minTime)...CameraBlockIndex.unit(reader.blocks[$0].statistics.maxTime) }, streams: StreamReader(compressor: Compressor()))
        }
        #expect(decoded == index)
    }

    /// The camera index as first written (a list of minutes per camera and block, sorted
    /// and clustered one entry at a time): the reference the faster builder must equal.
    static func referenceCameraIndex(cameras: [UInt32], times: [Int64], ranges: [Range<Int>]) -> CameraBlockIndex {
        var lists: [UInt32: [(block: UInt32, units: [Int64])]] = [:]
        var blockFirstUnits: [Int64] = []
        for (b, range) in ranges.enumerated() {
            blockFirstUnits.append(CameraBlockIndex.unit(range.map { times[$0] }.min() ?? .max))
            for i in range {
                if lists[cameras[i]]?.last?.block != UInt32(b) { lists[cameras[i], default: []].append((UInt32(b), [])) }
                lists[cameras[i]]![lists[cameras[i]]!.count - 1].units.append(CameraBlockIndex.unit(times[i]))
            }
        }
        var starts: [Int32] = [0], blocks: [UInt32] = [], clusterStarts: [Int32] = [0], offsets: [UInt32] = [], spans: [UInt32] = []
        let ids = lists.keys.sorted()
        for id in ids {
            for e in lists[id]! {
                blocks.append(e.block)
                let base = blockFirstUnits[Int(e.block)]
                let units = e.units.sorted()
                if units.last! - base >= Int64(CameraBlockIndex.wholeBlock) {
                    offsets.append(0); spans.append(CameraBlockIndex.wholeBlock)
                } else {
                    var runs: [(Int64, Int64)] = []
                    for t in units {
                        if let r = runs.last, t - r.1 <= CameraBlockIndex.clusterGap { runs[runs.count - 1].1 = t } else { runs.append((t, t)) }
                    }
                    for r in runs { offsets.append(UInt32(r.0 - base)); spans.append(UInt32(r.1 - r.0)) }
                }
                clusterStarts.append(Int32(offsets.count))
            }
            starts.append(Int32(blocks.count))
        }
        return CameraBlockIndex(cameras: ids, starts: starts, blocks: blocks, clusterStarts: clusterStarts, offsets: offsets, spans: spans)
    }

    /// The builder against the reference on random columns: few or many cameras, times in
    /// order or not, blocks spanning minutes or millennia (the whole-block cluster), times
    /// before 1970, blocks of one row.
    @Test func cameraIndexBuilderEqualsTheReference() {
        var g = SplitMix64(seed: testSeed())
        for trial in 0..<300 {
            let rows = 1 + Int(g.next() % 3000)
            let cameraCount = 1 + Int(g.next() % (trial % 3 == 0 ? 5 : 400))
            let spread: Int64 = [60_000, 3_600_000, 86_400_000 * 30, Int64(1) << 62][Int(g.next() % 4)]
            let sortedTimes = g.next() % 2 == 0
            var times = (0..<rows).map { _ in Int64(bitPattern: g.next() % UInt64(spread)) - spread / 2 + 1_717_200_000_000 }
            if sortedTimes { times.sort() }
            let cameras = (0..<rows).map { _ in UInt32(truncatingIfNeeded: g.next() % UInt64(cameraCount)) &* 7919 }
            var ranges: [Range<Int>] = []
            var start = 0
            while start < rows {
                let end = min(rows, start + 1 + Int(g.next() % 700))
                ranges.append(start..<end)
                start = end
            }
            let built = CameraBlockIndex.build(cameras: cameras, times: times, ranges: ranges)
            let reference = Self.referenceCameraIndex(cameras: cameras, times: times, ranges: ranges)
            #expect(built == reference, "trial \(trial) (SIGHTLINE_TEST_SEED=\(testSeed())): \(rows) rows, \(cameraCount) cameras, spread \(spread)")
            if built != reference { break }
        }
    }

    /// A damaged index list is reported by the search that reads it (and by `verify`), never
    /// answered from.
    @Test func damagedIndexListIsReportedBySearch() throws {
        var g = SplitMix64(seed: testSeed())
        let (reader, original) = try Self.segment(&g)
        let index = try #require(reader.plateIndex)
        let pattern = try PlatePattern("*0O*")
        let k = try #require(index.position(of: PlateGramIndex.gram(0x30, 0x4F)))
        var bytes = original
        bytes[Int(index.offsets[k]) + index.lengths[k] / 2] ^= 0x10
        let damaged = try SegmentReader(bytes: bytes, hasher: testHasher, label: "seg")
        #expect(throws: SightlineError.self) { try damaged.verify() }
        let snapshot = StoreSnapshot(segments: [damaged], memory: [])
        do throws(SightlineError) {
            _ = try snapshot.run(Query(.search(pattern, within: nil)))
            Issue.record("a damaged list was answered from")
        } catch {
            guard case .corruptFile(let path, let offset, let reason) = error else { Issue.record("\(error)"); return }
            #expect(path == "seg" && offset == index.offsets[k] && reason.contains("plate index list"))
        }
    }

    @Test func plannerReadsTheIndexes() throws {
        var g = SplitMix64(seed: testSeed())
        let (reader, _) = try Self.segment(&g)
        let snapshot = StoreSnapshot(segments: [reader], memory: [])
        // One plate's rows lie in one or two plate-ordered blocks.
        let plate = try reader.allSightings()[0].plate
        let search = try snapshot.plan(Query(.search(try PlatePattern(plate.text), within: nil)))
        #expect(search.segments.first?.chosen?.path == .plateIndex)
        #expect(search.segments.first!.chosen!.blockCount < reader.blockCount)
        let camera = try snapshot.plan(Query(.area(.box(south: -90, west: -180, north: 90, east: 180)), filters: QueryFilters(cameras: [3])))
        #expect(camera.segments.first?.chosen?.path == .cameraIndex)
        let rows = try snapshot.run(Query(.area(.box(south: -90, west: -180, north: 90, east: 180)), filters: QueryFilters(cameras: [3]))).rows
        #expect(!rows.isEmpty && rows.allSatisfy { $0.camera == 3 })
        #expect(rows.count == (try reader.allSightings()).filter { $0.camera == 3 }.count)
    }

    /// A store written by format v2 (checked in; made by `sightline generate --rows 3000
    /// --seed 7` and `ingest` before v3) reads, searches by scanning, and is upgraded by
    /// `compact`.
    @Test func formatV2StoreIsReadAndUpgradedByCompaction() throws {
        let fixtures = String(#filePath.split(separator: "/", omittingEmptySubsequences: false).dropLast().joined(separator: "/")) + "/Fixtures"
        let dir = temporaryDirectory("v2")
        defer { removeTree(dir) }
        let fs = PosixFileSystem()
        try fs.createDirectory(dir)
        for name in ["000001.sls", "MANIFEST", "log-00000000000000000001.log", "plate-key.secret"] {
            let bytes = try readFile("\(fixtures)/format-v2-store/\(name)")
            try fs.writeAtomically("\(dir)/\(name)") { (write: (UnsafeRawBufferPointer) throws(SightlineError) -> Void) throws(SightlineError) in
                try bytes.withUnsafeBytesTyped { raw throws(SightlineError) in try write(raw) }
            }
        }
        let csv = String(decoding: try readFile("\(fixtures)/format-v2-rows.csv"), as: UTF8.self)
        var expected: [Sighting] = []
        for line in csv.split(separator: "\n").dropFirst() {
            let f = line.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
            expected.append(try Sighting(plate: Plate(f[0]), time: Int64(f[1])!, latitude: Double(f[2])!, longitude: Double(f[3])!,
                                         camera: UInt32(f[4])!, confidence: UInt8(f[5])!, region: f[6].isEmpty ? nil : Region(f[6])))
        }
        #expect(expected.count == 3000)
        let pattern = try PlatePattern(String(expected[0].plate.text.prefix(2)) + "*")
        let byPattern = expected.filter { pattern.matches($0.plate) }

        let readOnly = try ReadOnlyStore(directory: dir)
        let old = try readOnly.snapshot()
        #expect(old.segments.map(\.formatVersion) == [2])
        #expect(sameRows(try old.allSightings(), expected))
        let oldPlan = try old.plan(Query(.search(pattern, within: nil)))
        #expect(oldPlan.segments.allSatisfy { $0.chosen?.path != .plateIndex })
        #expect(sameRows(try old.run(Query(.search(pattern, within: nil))).rows, byPattern))
        #expect(!byPattern.isEmpty)

        let store = try Store(directory: dir, options: quietStoreOptions())
        #expect(try store.statistics().compactionDebtSegments == 1)
        try store.compact()
        let new = store.snapshot()
        #expect(new.segments.allSatisfy { $0.formatVersion == 3 })
        #expect(sameRows(try new.allSightings(), expected))
        #expect(try new.plan(Query(.search(pattern, within: nil))).segments.allSatisfy { $0.chosen == nil || $0.chosen?.path == .plateIndex })
        #expect(sameRows(try new.run(Query(.search(pattern, within: nil))).rows, byPattern))
        for s in new.segments { try s.verify() }
        try store.close()
    }
}
