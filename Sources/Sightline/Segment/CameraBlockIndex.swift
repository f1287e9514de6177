/// A segment's camera index: for each camera, the spatial-copy blocks holding its rows, and
/// when its rows in each block were read, as clusters of minutes.
///
/// The spatial copy is ordered by ~1 km cell, then time, and a block holds a few cells, so a
/// block's own time range is usually the whole segment's: what prunes a camera-filtered read
/// (the convoy's "who passed this camera within a minute") is when the camera itself read
/// inside each block. A busy fixed camera's rows of a day make one cluster; a mobile reader
/// crossing a cell a few times a day makes a few one-minute clusters, so a
/// two-minute window reads only the blocks where it was then. Small — a few bytes per
/// (camera, block) pair — so it is read and checked whole when the segment opens. Layout:
/// Docs/format.md, "Camera index".
struct CameraBlockIndex: Sendable, Equatable {
    /// Cameras, ascending.
    let cameras: [UInt32]
    /// `starts[k]..<starts[k + 1]`: camera k's entries in `blocks` and `clusterStarts`.
    let starts: [Int32]
    /// Spatial block numbers (0 = the first spatial block), ascending per camera.
    let blocks: [UInt32]
    /// `clusterStarts[e]..<clusterStarts[e + 1]`: entry e's clusters in `offsets` and `spans`.
    let clusterStarts: [Int32]
    /// A cluster's first minute, counted from the block's first minute (⌊minTime / 60,000⌋).
    let offsets: [UInt32]
    /// Minutes from a cluster's first minute to its last (whole minutes, floored).
    let spans: [UInt32]

    /// Rows of one camera and block more than this many units apart start a new cluster.
    static let clusterGap: Int64 = 5

    /// The span of the one cluster of an entry whose minutes do not fit 32 bits: it meets
    /// every interval.
    static let wholeBlock = UInt32.max

    static let empty = CameraBlockIndex(cameras: [], starts: [0], blocks: [], clusterStarts: [0], offsets: [], spans: [])

    /// The spatial blocks (numbered from 0) holding rows of `camera`.
    func spatialBlocks(of camera: UInt32) -> ArraySlice<UInt32> {
        entries(of: camera).map { blocks[$0] } ?? []
    }

    /// The spatial blocks (numbered from 0) where `camera` read in a minute meeting one of
    /// `intervals` (sorted, disjoint, inclusive ms), given each block's first minute.
    func spatialBlocks(of camera: UInt32, meeting intervals: [ClosedRange<Int64>], firstUnit: (Int) -> Int64) -> [UInt32] {
        guard let range = entries(of: camera) else { return [] }
        var result: [UInt32] = []
        for e in range {
            let base = firstUnit(Int(blocks[e]))
            for c in Int(clusterStarts[e])..<Int(clusterStarts[e + 1]) {
                if spans[c] == Self.wholeBlock { result.append(blocks[e]); break }
                // Minute numbers are ms / 60,000: the sums cannot wrap; the products saturate.
                let firstUnit = base + Int64(offsets[c])
                let first = Self.start(ofUnit: firstUnit)
                let next = Self.start(ofUnit: firstUnit + Int64(spans[c]) + 1)
                let last = next == .max ? .max : next - 1
                // The first interval ending at or after the cluster's start decides.
                let k = intervals.partitionPoint { $0.upperBound < first }
                if k < intervals.count && intervals[k].lowerBound <= last { result.append(blocks[e]); break }
            }
        }
        return result
    }

    /// Camera k's entry positions, nil when the camera is absent.
    private func entries(of camera: UInt32) -> Range<Int>? {
        let lo = cameras.partitionPoint { $0 < camera }
        guard lo < cameras.count, cameras[lo] == camera else { return nil }
        return Int(starts[lo])..<Int(starts[lo + 1])
    }

    /// The index of the spatial copy's `cameras` and `times` columns cut into `ranges`.
    ///
    /// Block by block: each row's camera gets a slot (one hash probe), the block's minutes
    /// are grouped by camera with a counting sort (they are mostly in time order already:
    /// a spatial block is in cell and time order, or a vehicle's fixes in order), and each
    /// (camera, block) entry's clusters go into flat arrays. A final counting sort puts
    /// the entries in camera order, keeping block order. No allocation per entry.
    static func build(cameras: [UInt32], times: [Int64], ranges: [Range<Int>]) -> CameraBlockIndex {
        var table = CameraSlotTable()
        var ids: [UInt32] = []
        // Per slot: the last block that met it, and its camera's place among that block's.
        var lastBlock: [Int] = [], localIndex: [Int] = []
        // The entries in block order, and their clusters.
        var entrySlots: [Int32] = [], entryBlocks: [UInt32] = [], entryClusters: [Int32] = [0]
        var offsets: [UInt32] = [], spans: [UInt32] = []
        // Scratch of one block.
        var localSlots: [Int] = [], runStarts: [Int] = [], rowLocal: [Int32] = [], units: [Int64] = []
        for (b, range) in ranges.enumerated() {
            var blockMin = Int64.max
            for i in range { blockMin = min(blockMin, times[i]) }
            let base = Self.unit(blockMin)
            localSlots.removeAll(keepingCapacity: true)
            runStarts.removeAll(keepingCapacity: true)
            rowLocal.removeAll(keepingCapacity: true)
            for i in range {
                let slot = table.slot(for: cameras[i], next: ids.count)
                if slot == ids.count {
                    ids.append(cameras[i])
                    lastBlock.append(-1)
                    localIndex.append(0)
                }
                if lastBlock[slot] != b {
                    lastBlock[slot] = b
                    localIndex[slot] = localSlots.count
                    localSlots.append(slot)
                    runStarts.append(0)
                }
                runStarts[localIndex[slot]] += 1  // counts for now
                rowLocal.append(Int32(localIndex[slot]))
            }
            // Counts → run starts (and one past the end); then each row's minute into its run.
            var total = 0
            for l in runStarts.indices {
                let c = runStarts[l]
                runStarts[l] = total
                total += c
            }
            runStarts.append(total)
            var next = runStarts
            if units.count < range.count { units = [Int64](repeating: 0, count: range.count) }
            for (k, i) in range.enumerated() {
                let l = Int(rowLocal[k])
                units[next[l]] = Self.unit(times[i])
                next[l] += 1
            }
            units.withUnsafeMutableBufferPointer { units in
                for l in localSlots.indices {
                    var run = UnsafeMutableBufferPointer(rebasing: units[runStarts[l]..<runStarts[l + 1]])
                    var sorted = true
                    for k in run.indices.dropFirst() where run[k - 1] > run[k] { sorted = false; break }
                    if !sorted { run.sort() }
                    entrySlots.append(Int32(localSlots[l]))
                    entryBlocks.append(UInt32(b))
                    if run[run.count - 1] - base >= Int64(wholeBlock) {
                        // Not expressible in 32 bits (a block spanning millennia): one
                        // cluster that meets every interval.
                        offsets.append(0)
                        spans.append(wholeBlock)
                    } else {
                        var first = run[0], last = run[0]
                        for t in run.dropFirst() {
                            if t - last <= clusterGap { last = t; continue }
                            offsets.append(UInt32(first - base))  // < wholeBlock: checked above
                            spans.append(UInt32(last - first))
                            (first, last) = (t, t)
                        }
                        offsets.append(UInt32(first - base))
                        spans.append(UInt32(last - first))
                    }
                    entryClusters.append(Int32(offsets.count))
                }
            }
        }
        // Entries by camera (ascending id), each camera's in block order: a stable counting
        // sort on the camera's rank.
        let order = ids.indices.sorted { ids[$0] < ids[$1] }
        var rank = [Int](repeating: 0, count: ids.count)
        for (r, slot) in order.enumerated() { rank[slot] = r }
        var starts = [Int32](repeating: 0, count: ids.count + 1)
        for slot in entrySlots { starts[rank[Int(slot)] + 1] += 1 }
        for r in 0..<ids.count { starts[r + 1] += starts[r] }
        var place = starts.map(Int.init)
        var sortedEntries = [Int](repeating: 0, count: entrySlots.count)
        for (e, slot) in entrySlots.enumerated() {
            let r = rank[Int(slot)]
            sortedEntries[place[r]] = e
            place[r] += 1
        }
        var blocks: [UInt32] = [], clusterStarts: [Int32] = [0], sortedOffsets: [UInt32] = [], sortedSpans: [UInt32] = []
        blocks.reserveCapacity(entrySlots.count)
        clusterStarts.reserveCapacity(entrySlots.count + 1)
        sortedOffsets.reserveCapacity(offsets.count)
        sortedSpans.reserveCapacity(spans.count)
        for e in sortedEntries {
            blocks.append(entryBlocks[e])
            let clusters = Int(entryClusters[e])..<Int(entryClusters[e + 1])
            sortedOffsets.append(contentsOf: offsets[clusters])
            sortedSpans.append(contentsOf: spans[clusters])
            clusterStarts.append(Int32(sortedOffsets.count))
        }
        return CameraBlockIndex(cameras: order.map { ids[$0] }, starts: starts, blocks: blocks,
                                clusterStarts: clusterStarts, offsets: sortedOffsets, spans: sortedSpans)
    }

    /// Milliseconds per time unit of the clusters: a minute — finer buys little for windows of
    /// a minute or more, and each bit saved is saved on every mobile read.
    static let unitMilliseconds: Int64 = 60_000

    /// The unit (minute since the epoch) holding epoch millisecond `t` (floor, also before 1970).
    static func unit(_ t: Int64) -> Int64 { t >= 0 ? t / unitMilliseconds : -((-(t + 1)) / unitMilliseconds) - 1 }

    /// The first millisecond of unit `u`, saturating at Int64's ends.
    static func start(ofUnit u: Int64) -> Int64 {
        let (ms, overflow) = u.multipliedReportingOverflow(by: unitMilliseconds)
        return overflow ? (u < 0 ? .min : .max) : ms
    }

    /// Section bytes: six integer streams — cameras (ascending), blocks per camera, each
    /// camera's blocks as deltas from its previous one (the first from 0), clusters per
    /// entry, each cluster's start (the first from the block's first minute, the next from
    /// the previous cluster's last minute), each cluster's span, in minutes.
    func encode(_ writer: inout IntegerStreamWriter, into out: inout ByteWriter) throws(SightlineError) {
        func write(_ values: [UInt64], _ writer: inout IntegerStreamWriter) throws(SightlineError) {
            try values.withUnsafeBufferPointerTyped { b throws(SightlineError) in _ = try writer.write(b, signed: false, to: &out) }
        }
        try write(cameras.map { UInt64($0) }, &writer)
        try write((0..<cameras.count).map { UInt64(starts[$0 + 1] - starts[$0]) }, &writer)
        var values: [UInt64] = []
        for k in 0..<cameras.count {
            var previous: UInt32 = 0
            for b in blocks[Int(starts[k])..<Int(starts[k + 1])] {
                values.append(UInt64(b - previous))  // ascending per camera: no wrap
                previous = b
            }
        }
        try write(values, &writer)
        try write((0..<blocks.count).map { UInt64(clusterStarts[$0 + 1] - clusterStarts[$0]) }, &writer)
        values.removeAll(keepingCapacity: true)
        for e in 0..<blocks.count {
            var previousLast: UInt32 = 0
            for c in Int(clusterStarts[e])..<Int(clusterStarts[e + 1]) {
                values.append(UInt64(offsets[c] - previousLast))  // clusters ascending, apart: no wrap
                previousLast = offsets[c] + spans[c]
            }
        }
        try write(values, &writer)
        try write(spans.map { UInt64($0) }, &writer)
    }

    /// Decodes a section (its checksum already verified) for a segment whose spatial blocks
    /// span `spatialUnits` (each block's first and last minute): every cluster must lie
    /// inside its block's.
    static func decode(_ reader: inout ByteReader, spatialUnits: [ClosedRange<Int64>], streams: StreamReader) throws(SightlineError) -> CameraBlockIndex {
        let spatialBlockCount = spatialUnits.count
        let scratch = ScratchBuffer<UInt64>()
        let n = try streams.readIntegers(&reader, expectedCount: nil, into: scratch, "camera index: cameras")
        var cameras: [UInt32] = []
        cameras.reserveCapacity(n)
        for k in 0..<n {
            let c = scratch.base[k]
            guard c <= UInt64(UInt32.max), k == 0 || UInt32(c) > cameras[k - 1] else { throw reader.corrupt("camera index: camera \(k) out of order") }
            cameras.append(UInt32(c))
        }
        try streams.readIntegers(&reader, expectedCount: n, into: scratch, "camera index: blocks per camera")
        var starts: [Int32] = [0]
        starts.reserveCapacity(n + 1)
        var total = 0
        for k in 0..<n {
            let m = scratch.base[k]
            guard m >= 1, m <= UInt64(spatialBlockCount) else { throw reader.corrupt("camera index: camera \(k) in \(m) blocks") }
            total += Int(m)
            guard total <= Int(Int32.max) else { throw reader.corrupt("camera index: too many entries") }
            starts.append(Int32(total))
        }
        try streams.readIntegers(&reader, expectedCount: total, into: scratch, "camera index: blocks")
        var blocks: [UInt32] = []
        blocks.reserveCapacity(total)
        for k in 0..<n {
            var previous: UInt64 = 0
            for e in Int(starts[k])..<Int(starts[k + 1]) {
                let (b, overflow) = previous.addingReportingOverflow(scratch.base[e])
                guard !overflow, b < UInt64(spatialBlockCount), e == Int(starts[k]) || b > previous else {
                    throw reader.corrupt("camera index: camera \(k)'s blocks out of order or past \(spatialBlockCount)")
                }
                blocks.append(UInt32(b))
                previous = b
            }
        }
        try streams.readIntegers(&reader, expectedCount: total, into: scratch, "camera index: clusters per entry")
        var clusterStarts: [Int32] = [0]
        clusterStarts.reserveCapacity(total + 1)
        var clusters = 0
        for e in 0..<total {
            let m = scratch.base[e]
            guard m >= 1, m <= UInt64(Int32.max) - UInt64(clusters) else { throw reader.corrupt("camera index: entry \(e) has \(m) clusters") }
            clusters += Int(m)
            clusterStarts.append(Int32(clusters))
        }
        // Minutes are milliseconds / 60,000, far from Int64's ends: the difference cannot wrap.
        let widths = spatialUnits.map { UInt64(bitPattern: $0.upperBound &- $0.lowerBound) }
        let firsts = ScratchBuffer<UInt64>()
        try streams.readIntegers(&reader, expectedCount: clusters, into: firsts, "camera index: cluster starts")
        try streams.readIntegers(&reader, expectedCount: clusters, into: scratch, "camera index: cluster spans")
        var offsets: [UInt32] = [], spans: [UInt32] = []
        offsets.reserveCapacity(clusters); spans.reserveCapacity(clusters)
        for e in 0..<total {
            // Clusters ascending, more than the gap apart, inside the block's minutes.
            let width = widths[Int(blocks[e])]
            var previousLast: UInt64 = 0
            let range = Int(clusterStarts[e])..<Int(clusterStarts[e + 1])
            if range.count == 1 && firsts.base[range.lowerBound] == 0 && scratch.base[range.lowerBound] == UInt64(Self.wholeBlock) {
                offsets.append(0); spans.append(Self.wholeBlock)
                continue
            }
            for c in range {
                let (first, o1) = previousLast.addingReportingOverflow(firsts.base[c])
                let (last, o2) = first.addingReportingOverflow(scratch.base[c])
                guard !o1, !o2, last <= width, last < UInt64(Self.wholeBlock),
                      c == range.lowerBound || firsts.base[c] > UInt64(clusterGap) else {
                    throw reader.corrupt("camera index: entry \(e) cluster \(c - Int(clusterStarts[e])) outside its block's minutes or out of order")
                }
                offsets.append(UInt32(first))  // < wholeBlock: checked above
                spans.append(UInt32(last - first))
                previousLast = last
            }
        }
        guard reader.isAtEnd else { throw reader.corrupt("camera index: \(reader.remaining) trailing bytes") }
        return CameraBlockIndex(cameras: cameras, starts: starts, blocks: blocks, clusterStarts: clusterStarts, offsets: offsets, spans: spans)
    }
}
