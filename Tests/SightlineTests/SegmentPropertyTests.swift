import Testing
@_spi(Benchmarks) @testable import Sightline
@testable import SightlineWorkload

/// Random sightings with the edge cases the format must carry exactly.
func randomBatch(_ g: inout SplitMix64, rows: Int, plates: Int, images: Bool = false, regions: Bool = true) -> SightingBatch {
    let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789".utf8)
    let platePool: [Plate] = (0..<max(1, plates)).map { i in
        let length = i == 0 ? 10 : 1 + Int(g.next() % 10)
        let bytes = (0..<length).map { _ in alphabet[Int(g.next() % 36)] }
        return bytes.withUnsafeBytes { Plate(uncheckedNormalized: $0) }
    }
    let edgeLatitudes: [Int32] = [900_000_000, -900_000_000, 0, 1, -1]
    let edgeLongitudes: [Int32] = [1_800_000_000, -1_800_000_000, 1_799_999_999, -1_799_999_999, 0]
    let edgeTimes: [Int64] = [0, -1, 1_717_200_000_000, Int64.max, Int64.min, -62_135_596_800_000]
    var batch = SightingBatch(capacity: rows)
    var lastTime: Int64 = 1_717_200_000_000
    for _ in 0..<rows {
        let plate = platePool[Int(g.next() % UInt64(platePool.count))]
        let time: Int64 = switch g.next() % 8 {
        case 0: edgeTimes[Int(g.next() % UInt64(edgeTimes.count))]
        case 1, 2: lastTime  // equal timestamps
        default: 1_717_200_000_000 + Int64(g.next() % 2_592_000_000)
        }
        lastTime = time
        let lat: Int32 = g.next() % 6 == 0 ? edgeLatitudes[Int(g.next() % 5)] : Int32(Int64(g.next() % 1_800_000_001) - 900_000_000)
        let lon: Int32 = g.next() % 6 == 0 ? edgeLongitudes[Int(g.next() % 5)] : Int32(Int64(g.next() % 3_600_000_001) - 1_800_000_000)
        let camera: UInt32 = g.next() % 4 == 0 ? UInt32(truncatingIfNeeded: g.next()) : UInt32(g.next() % 50)
        let region: UInt32 = regions && g.next() % 2 == 0 ? [0x4143, 0x5753_4E, 0x58_54][Int(g.next() % 3)] : 0
        let image: String? = images && g.next() % 3 == 0 ? "https://img.example/\(g.next() % 1000)/é.jpg" : nil
        batch.appendUnchecked(plate: plate, time: time, latitudeE7: lat, longitudeE7: lon, camera: camera,
                              confidence: UInt8(g.next() % 101), regionCode: region, image: image)
    }
    return batch
}

/// A fixed camera repeated often enough to get a camera home, mixed into random rows.
func batchWithHomes(_ g: inout SplitMix64, rows: Int) -> SightingBatch {
    var batch = randomBatch(&g, rows: rows, plates: max(1, rows / 5))
    let plates = batch.plates
    for i in 0..<rows where i % 2 == 0 {
        let cam = UInt32(1000 + i % 7)
        batch.appendUnchecked(plate: plates[i], time: Int64(i) * 1000, latitudeE7: 377_000_000 + Int32(cam), longitudeE7: -1_224_000_000,
                              camera: cam, confidence: 90, regionCode: 0, image: nil)
    }
    return batch
}

@Suite struct SegmentPropertyTests {
    @Test(arguments: [SegmentCompression.none, .lz4, .zstd(level: 3)])
    func randomSegmentsRoundTrip(compression: SegmentCompression) throws {
        var g = SplitMix64(seed: 2024)
        for trial in 0..<12 {
            let rows = [1, 2, 3, 17, 255, 256, 257, 1000, 3000][trial % 9]
            let batch = trial % 3 == 0 ? batchWithHomes(&g, rows: rows)
                : randomBatch(&g, rows: rows, plates: 1 + Int(g.next() % UInt64(rows + 1)), images: trial % 2 == 0, regions: trial % 4 != 1)
            let blockRows = [256, 300, 8192][trial % 3]
            let bytes = try SegmentEncoder(hasher: testHasher, options: SegmentOptions(blockRows: blockRows, compression: compression)).encode(batch)
            let reader = try SegmentReader(bytes: bytes, hasher: testHasher)
            let decoded = try reader.allSightings()
            #expect(reader.rowCount == batch.count)
            #expect(sameRows(decoded, batch.sightings), "trial \(trial): \(rows) rows, block \(blockRows), \(compression)")
            // File order is segment order, and block statistics bound their rows.
            #expect(decoded.map { testHasher.key($0.plate) } == decoded.map { testHasher.key($0.plate) }.sorted())
            let decoder = BlockDecoder()
            for b in 0..<reader.blockCount {
                try decoder.decode(reader, block: b, columns: .all)
                let s = reader.blockStatistics(b)
                for r in try decoder.sightings() {
                    #expect(r.time >= s.minTime && r.time <= s.maxTime)
                    #expect(r.latitudeE7 >= s.bounds.minLatitudeE7 && r.latitudeE7 <= s.bounds.maxLatitudeE7)
                    #expect(r.longitudeE7 >= s.bounds.minLongitudeE7 && r.longitudeE7 <= s.bounds.maxLongitudeE7)
                    let k = testHasher.key(r.plate)
                    #expect(k >= s.minPlateKey && k <= s.maxPlateKey)
                }
            }
        }
    }

    @Test func emptySegment() throws {
        let bytes = try SegmentEncoder(hasher: testHasher).encode(SightingBatch())
        let reader = try SegmentReader(bytes: bytes, hasher: testHasher)
        #expect(reader.rowCount == 0 && reader.blockCount == 0)
        #expect(try reader.allSightings().isEmpty)
    }

    @Test func oneRowSegment() throws {
        let s = try Sighting(plate: Plate("ABCDE12345"), time: 1_717_200_000_123, latitude: -90, longitude: 180,
                             camera: .max, confidence: 0, region: Region("NSW"), image: "s3://b/k.jpg")
        #expect(try roundTrip(SightingBatch([s])) == [s])
    }

    @Test func equalRowsAreKeptAndOrdered() throws {
        let s = try Sighting(plate: Plate("AAA111"), time: 5, latitudeE7: 1, longitudeE7: 2, camera: 3, confidence: 4)
        let decoded = try roundTrip(SightingBatch(Array(repeating: s, count: 1000)))
        let same = decoded == Array(repeating: s, count: 1000)
        #expect(same)
    }

    @Test func decodingASubsetOfColumnsMatchesFullDecoding() throws {
        var g = SplitMix64(seed: 5)
        let bytes = try SegmentEncoder(hasher: testHasher, options: SegmentOptions(blockRows: 512)).encode(batchWithHomes(&g, rows: 2000))
        let reader = try SegmentReader(bytes: bytes, hasher: testHasher)
        let full = BlockDecoder(), partial = BlockDecoder()
        for b in 0..<reader.blockCount {
            try full.decode(reader, block: b, columns: .all)
            try partial.decode(reader, block: b, columns: [.time, .position])
            #expect(Array(partial.times.buffer) == Array(full.times.buffer), "times differ in block \(b)")
            #expect(Array(partial.latitudes.buffer) == Array(full.latitudes.buffer), "latitudes differ in block \(b)")
            #expect(Array(partial.longitudes.buffer) == Array(full.longitudes.buffer), "longitudes differ in block \(b)")
            try partial.decode(reader, block: b, columns: [.camera])
            #expect(Array(partial.cameras.buffer) == Array(full.cameras.buffer), "cameras differ in block \(b)")
        }
    }

    @Test func workloadsAreDeterministic() {
        #expect(ALPRWorkload().generate(rows: 5000) == ALPRWorkload().generate(rows: 5000))
        #expect(DenseTrackWorkload().generate(rows: 5000) == DenseTrackWorkload().generate(rows: 5000))
        var c = ALPRWorkload.Configuration()
        c.seed = 2
        #expect(ALPRWorkload(c).generate(rows: 5000) != ALPRWorkload().generate(rows: 5000))
    }

    @Test func invalidOptionsAreRejected() {
        #expect(throws: SightlineError.self) { try SegmentEncoder(hasher: testHasher, options: SegmentOptions(blockRows: 10)) }
        #expect(throws: SightlineError.self) { try SegmentCompression(parsing: "zstd:99") }
        #expect(throws: SightlineError.self) { try SegmentCompression(parsing: "gzip") }
    }
}

