/// A segment's camera index: for each camera, the spatial-copy blocks holding its rows.
///
/// The spatial copy is ordered by ~1 km cell, then time, so a fixed camera's rows of a few
/// minutes lie in one or two blocks of its cell, and a mobile reader's in the few blocks of
/// the cells it passed. A query filtered by camera (the convoy's "who passed this camera
/// within a minute") reads those blocks whose time range meets its own, instead of every
/// block of the period. Small — a few bytes per (camera, block) pair — so it is read and
/// checked whole when the segment opens. Layout: Docs/format.md, "Camera index".
struct CameraBlockIndex: Sendable, Equatable {
    /// Cameras, ascending.
    let cameras: [UInt32]
    /// `starts[k]..<starts[k + 1]`: camera k's entries in `blocks`.
    let starts: [Int32]
    /// Spatial block numbers (0 = the first spatial block), ascending per camera.
    let blocks: [UInt32]

    static let empty = CameraBlockIndex(cameras: [], starts: [0], blocks: [])

    /// The spatial blocks (numbered from 0) holding rows of `camera`.
    func spatialBlocks(of camera: UInt32) -> ArraySlice<UInt32> {
        let lo = cameras.partitionPoint { $0 < camera }
        guard lo < cameras.count, cameras[lo] == camera else { return [] }
        return blocks[Int(starts[lo])..<Int(starts[lo + 1])]
    }

    /// The index of `cameras` (the spatial copy's camera column) cut into `ranges`.
    static func build(cameras: [UInt32], ranges: [Range<Int>]) -> CameraBlockIndex {
        var table = CameraSlotTable()
        var ids: [UInt32] = []
        var lists: [[UInt32]] = []
        for (b, range) in ranges.enumerated() {
            for i in range {
                let slot = table.slot(for: cameras[i], next: ids.count)
                if slot == ids.count { ids.append(cameras[i]); lists.append([]) }
                if lists[slot].last != UInt32(b) { lists[slot].append(UInt32(b)) }
            }
        }
        let order = ids.indices.sorted { ids[$0] < ids[$1] }
        var starts: [Int32] = [0], blocks: [UInt32] = []
        for k in order {
            blocks.append(contentsOf: lists[k])
            starts.append(Int32(blocks.count))
        }
        return CameraBlockIndex(cameras: order.map { ids[$0] }, starts: starts, blocks: blocks)
    }

    /// Section bytes: three integer streams — cameras (ascending), blocks per camera, and
    /// each camera's blocks as deltas from its previous one (the first from 0).
    func encode(_ writer: inout IntegerStreamWriter, into out: inout ByteWriter) throws(SightlineError) {
        var values = cameras.map { UInt64($0) }
        try values.withUnsafeBufferPointerTyped { b throws(SightlineError) in _ = try writer.write(b, signed: false, to: &out) }
        values = (0..<cameras.count).map { UInt64(starts[$0 + 1] - starts[$0]) }
        try values.withUnsafeBufferPointerTyped { b throws(SightlineError) in _ = try writer.write(b, signed: false, to: &out) }
        values.removeAll(keepingCapacity: true)
        for k in 0..<cameras.count {
            var previous: UInt32 = 0
            for b in blocks[Int(starts[k])..<Int(starts[k + 1])] {
                values.append(UInt64(b - previous))  // ascending per camera: no wrap
                previous = b
            }
        }
        try values.withUnsafeBufferPointerTyped { b throws(SightlineError) in _ = try writer.write(b, signed: false, to: &out) }
    }

    /// Decodes a section (its checksum already verified) for a segment of `spatialBlockCount`
    /// spatial blocks.
    static func decode(_ reader: inout ByteReader, spatialBlockCount: Int, streams: StreamReader) throws(SightlineError) -> CameraBlockIndex {
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
        guard reader.isAtEnd else { throw reader.corrupt("camera index: \(reader.remaining) trailing bytes") }
        return CameraBlockIndex(cameras: cameras, starts: starts, blocks: blocks)
    }
}
