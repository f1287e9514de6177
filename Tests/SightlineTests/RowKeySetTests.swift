import Testing
import Glibc
import Logging
@_spi(Benchmarks) @testable import Sightline
@testable import SightlineWorkload

@Suite struct RowKeySetTests {
    @Test func behavesLikeASetOfRowKeys() throws {
        var g = SplitMix64(seed: 77)
        var set = RowKeySet(capacity: 4)
        var reference = Set<RowKey>()
        let plates = try ["A", "B", "AB12", "ZZZZZZZZZZ", "0"].map { try Plate($0) }
        for round in 0..<3 {
            for _ in 0..<20_000 {
                // A small key space, so duplicates and near-misses (same plate and time,
                // other camera) are frequent.
                let key = RowKey(plate: plates[Int(g.next() % 5)], time: Int64(g.next() % 300) - 150, camera: UInt32(g.next() % 7))
                let inserted = set.insert(plate: key.plate, time: key.time, camera: key.camera)
                #expect(inserted == reference.insert(key).inserted)
            }
            #expect(set.count == reference.count, "round \(round)")
            for k in reference { #expect(set.contains(plate: k.plate, time: k.time, camera: k.camera)) }
            set.removeAll()
            reference.removeAll()
            #expect(!set.contains(plate: plates[0], time: 0, camera: 0))
        }
    }
}
