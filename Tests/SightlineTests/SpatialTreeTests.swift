import Testing
@_spi(Benchmarks) @testable import Sightline
@testable import SightlineWorkload

@Suite struct SpatialTreeTests {
    static func block(_ s: Int32, _ w: Int32, _ n: Int32, _ e: Int32, time: ClosedRange<Int64>, rows: Int = 10) -> BlockStatistics {
        BlockStatistics(rowCount: rows, minPlateKey: 0, maxPlateKey: .max, minTime: time.lowerBound, maxTime: time.upperBound,
                        bounds: GeoBox(minLatitudeE7: s, minLongitudeE7: w, maxLatitudeE7: n, maxLongitudeE7: e))
    }

    /// Small hand-made trees: which blocks a box and time range reach.
    @Test(arguments: [
        // (box S, W, N, E), [from, to), expected blocks
        ((0, 0, 5, 5), Int64(0), Int64(100), [0]),
        ((0, 0, 25, 25), 0, 100, [0, 1]),           // block 2 starts at time 100: outside [0, 100)
        ((11, 11, 11, 11), 0, 100, [1]),            // a point on block 1's corner
        ((6, 6, 9, 9), 0, 100, []),                 // between blocks
        ((10, 10, 100, 100), 0, 100, [1]),          // boxes of 1 and 2, times of 0 and 1: only 1
        ((0, 0, 100, 100), 50, 60, [0, 1]),         // blocks 0 and 1 cover times 50..59
        ((0, 0, 100, 100), 100, 200, [2]),          // half-open: block 0 ends at 99
        ((0, 0, 100, 100), 300, 400, []),
    ] as [((Int32, Int32, Int32, Int32), Int64, Int64, [Int])])
    func findsExactlyTheBlocksThatMeetTheQuery(box: (Int32, Int32, Int32, Int32), from: Int64, to: Int64, expected: [Int]) {
        let stats = [Self.block(0, 0, 5, 5, time: 0...99), Self.block(10, 10, 15, 15, time: 40...60), Self.block(20, 20, 25, 25, time: 100...199)]
        let tree = SpatialTree(stats, range: 0..<3)
        var visited = 0
        let got = tree.blocks(intersecting: [GeoBox(minLatitudeE7: box.0, minLongitudeE7: box.1, maxLatitudeE7: box.2, maxLongitudeE7: box.3)],
                              from: from, to: to, nodesVisited: &visited)
        #expect(got == expected)
        #expect(visited >= 1)
    }

    /// Many levels (fan-out 16): the tree's answer equals a scan of every block's statistics,
    /// and the upper levels summarize their children (box, times, rows).
    @Test func equalsABruteForceScanAtEveryDepth() {
        var g = SplitMix64(seed: 41)
        for count in [1, 15, 16, 17, 256, 300, 5000] {
            var stats: [BlockStatistics] = []
            for i in 0..<count {
                // Blocks along a diagonal, as Z-ordered spatial blocks are roughly.
                let base = Int32(i * 1000)
                let t = Int64(g.next() % 10_000)
                stats.append(Self.block(base, base, base + Int32(g.next() % 3000), base + Int32(g.next() % 3000), time: t...(t + Int64(g.next() % 500))))
            }
            // The tree covers a sub-range of the blocks (the spatial copy's), as in a segment.
            let offset = 3
            let tree = SpatialTree(Array(repeating: Self.block(0, 0, 0, 0, time: 0...0), count: offset) + stats, range: offset..<(offset + count))
            let top = tree.levels.last!
            #expect(top.count <= SpatialTree.fanout)
            #expect(top.reduce(0) { $0 + $1.rows } == count * 10)
            for _ in 0..<50 {
                let s = Int32(g.next() % UInt64(count * 1000 + 1)), w = Int32(g.next() % UInt64(count * 1000 + 1))
                let box = GeoBox(minLatitudeE7: s, minLongitudeE7: w, maxLatitudeE7: s + Int32(g.next() % 20_000), maxLongitudeE7: w + Int32(g.next() % 20_000))
                let from = Int64(g.next() % 10_000), to = from + Int64(g.next() % 3000)
                var visited = 0
                let got = tree.blocks(intersecting: [box], from: from, to: to, nodesVisited: &visited)
                let want = stats.indices.filter { stats[$0].maxTime >= from && stats[$0].minTime < to && box.intersects(stats[$0].bounds) }.map { $0 + offset }
                #expect(got == want, "\(count) blocks, box \(box), [\(from), \(to))")
            }
        }
    }
}
