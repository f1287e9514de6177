/// A packed R-tree over a segment's spatial blocks. The blocks are in Z-order, so runs of
/// consecutive blocks cover compact neighbourhoods: each level groups `fanout` consecutive
/// nodes of the level below under their bounding box, time range and row count. Built when
/// a segment is opened, from the block statistics in its footer (nothing extra on disk).
struct SpatialTree: Sendable {
    struct Node: Sendable {
        var bounds: GeoBox
        var minTime: Int64
        var maxTime: Int64
        var rows: Int
        /// Children in the level below; at level 0, the block index.
        var children: Range<Int>
    }

    static let fanout = 16
    /// `levels[0]` holds one node per block; the last level is the roots.
    let levels: [[Node]]

    init(_ statistics: [BlockStatistics], range: Range<Int>) {
        var level = range.map { b in
            Node(bounds: statistics[b].bounds, minTime: statistics[b].minTime, maxTime: statistics[b].maxTime,
                 rows: statistics[b].rowCount, children: b..<(b + 1))
        }
        var levels = [level]
        while level.count > Self.fanout {
            level = stride(from: 0, to: level.count, by: Self.fanout).map { start in
                let children = start..<min(level.count, start + Self.fanout)
                var node = Node(bounds: .empty, minTime: .max, maxTime: .min, rows: 0, children: children)
                for c in children {
                    node.bounds.formUnion(level[c].bounds)
                    node.minTime = min(node.minTime, level[c].minTime)
                    node.maxTime = max(node.maxTime, level[c].maxTime)
                    node.rows += level[c].rows
                }
                return node
            }
            levels.append(level)
        }
        self.levels = levels
    }

    /// Block indices whose box meets one of `boxes` and whose time range meets
    /// [`from`, `to`) — [`from`, `Int64.max`] when `to` is nil (no upper bound: a row at
    /// `Int64.max` is a valid time) — in Z-order; `nodesVisited` counts the nodes examined.
    func blocks(intersecting boxes: [GeoBox], from: Int64, to: Int64?, nodesVisited: inout Int) -> [Int] {
        var result: [Int] = []
        guard let top = levels.last else { return result }
        func visit(_ level: Int, _ index: Int) {
            let node = levels[level][index]
            nodesVisited += 1
            guard node.maxTime >= from && (to == nil || node.minTime < to!), boxes.contains(where: { $0.intersects(node.bounds) }) else { return }
            if level == 0 {
                result.append(node.children.lowerBound)
            } else {
                for c in node.children { visit(level - 1, c) }
            }
        }
        for i in top.indices { visit(levels.count - 1, i) }
        return result
    }
}
