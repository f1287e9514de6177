import Testing
@_spi(Benchmarks) @testable import Sightline
@testable import SightlineWorkload

@Suite struct SortTests {
    @Test(arguments: [0, 1, 2, 255, 256, 257, 5000])
    func radixSortMatchesTheStandardLibrary(count: Int) {
        var g = SplitMix64(seed: UInt64(count) &+ 17)
        // Few distinct high bits and many duplicates, so every pass and the skip path run.
        var keys = (0..<count).map { _ in g.next() % 4 == 0 ? g.next() : (g.next() % 50) << 40 | (g.next() % 3) }
        var payload = (0..<count).map { UInt32($0) }
        let expected = zip(keys, payload).sorted { ($0.0, $0.1) < ($1.0, $1.1) }
        keys.withUnsafeMutableBufferPointer { k in payload.withUnsafeMutableBufferPointer { p in RadixSort.sort(keys: k, payload: p) } }
        let same = keys == expected.map(\.0) && payload == expected.map(\.1)  // stable: payload order kept among equal keys
        #expect(same)
    }

    @Test func longRunsOfOnePlateAreOrderedByTimeThenCamera() throws {
        // A heavy plate (more rows than the insertion-sort cutoff) in reverse time order.
        let plate = try Plate("HEAVY1")
        var batch = SightingBatch()
        for i in (0..<500).reversed() {
            batch.append(try Sighting(plate: plate, time: Int64(i / 2), latitudeE7: 0, longitudeE7: 0,
                                      camera: UInt32(i % 2 == 0 ? 9 : 3), confidence: 50))
        }
        let sorted = SortedBatch(batch, hasher: testHasher)
        let pairs = zip(sorted.times, sorted.cameras).map { ($0, $1) }
        #expect(pairs.elementsEqual(pairs.sorted { ($0.0, $0.1) < ($1.0, $1.1) }, by: { $0 == $1 }))
    }
}
