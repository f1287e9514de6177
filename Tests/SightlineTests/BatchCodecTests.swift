import Testing
import Glibc
@_spi(Benchmarks) @testable import Sightline
@testable import SightlineWorkload

@Suite struct BatchCodecTests {
    @Test func roundTripsRandomBatches() throws {
        var g = SplitMix64(seed: 31)
        for rows in [0, 1, 50, 2000] {
            let batch = randomBatch(&g, rows: rows, plates: max(1, rows / 3), images: rows % 2 == 0)
            var out = ByteWriter()
            BatchCodec.encode(batch, into: &out)
            let back = try out.bytes.withUnsafeBytes { raw in
                var r = ByteReader(raw, fileOffset: 0, path: "wal")
                let b = try BatchCodec.decode(&r)
                #expect(r.isAtEnd)
                return b
            }
            #expect(back.sightings == batch.sightings, "\(rows) rows")
        }
    }

    @Test func rejectsInvalidRowsWithTheirOffset() throws {
        let s = try Sighting(plate: Plate("AB12"), time: 1, latitudeE7: 1, longitudeE7: 1, camera: 1, confidence: 50)
        var out = ByteWriter()
        BatchCodec.encode(SightingBatch([s]), into: &out)
        var bad = out.bytes
        bad[4 + 1 + 4 + 8 + 4 + 4 + 4] = 101  // confidence of row 0
        #expect(throws: SightlineError.self) {
            try bad.withUnsafeBytes { raw in var r = ByteReader(raw, fileOffset: 0, path: "wal"); _ = try BatchCodec.decode(&r) }
        }
        var lowercase = out.bytes
        lowercase[5] = UInt8(ascii: "a")  // first plate character
        #expect(throws: SightlineError.self) {
            try lowercase.withUnsafeBytes { raw in var r = ByteReader(raw, fileOffset: 0, path: "wal"); _ = try BatchCodec.decode(&r) }
        }
    }
}
