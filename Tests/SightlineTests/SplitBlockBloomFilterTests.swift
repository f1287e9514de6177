import Testing
import Glibc
import Logging
@_spi(Benchmarks) @testable import Sightline
@testable import SightlineWorkload

@Suite struct SplitBlockBloomFilterTests {
    @Test func hasNoFalseNegativesAndAboutOnePercentFalsePositives() {
        var g = SplitMix64(seed: 12)
        var filter = SplitBlockBloomFilter(expectedKeys: 100_000)
        let inserted = (0..<100_000).map { _ in g.next() }
        for h in inserted { filter.insert(hash: h) }
        #expect(inserted.allSatisfy { filter.mayContain(hash: $0) })
        let probes = 200_000
        let falsePositives = (0..<probes).filter { _ in filter.mayContain(hash: g.next()) }.count
        let rate = Double(falsePositives) / Double(probes)
        #expect(rate > 0.002 && rate < 0.02, "false-positive rate \(rate)")  // theory: ~0.9 % at 10 bits a key
        #expect(filter.byteCount == (100_000 * 10 + 255) / 256 * 32)
    }

    @Test func anEmptyFilterHoldsNothing() {
        let filter = SplitBlockBloomFilter(expectedKeys: 0)
        var g = SplitMix64(seed: 13)
        #expect((0..<1000).allSatisfy { _ in !filter.mayContain(hash: g.next()) })
    }
}
