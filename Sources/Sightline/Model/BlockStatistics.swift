/// A summary of some rows — a block's, a segment's: count, plate-key range, time range and
/// bounding box. Segment footers store one per block; the planner and the spatial index
/// skip with them.
public struct BlockStatistics: Sendable, Hashable {
    /// Rows in the block.
    public var rowCount: Int
    /// Smallest plate key.
    public var minPlateKey: UInt64
    /// Largest plate key.
    public var maxPlateKey: UInt64
    /// Earliest time, epoch milliseconds.
    public var minTime: Int64
    /// Latest time, epoch milliseconds.
    public var maxTime: Int64
    /// Bounding box of the positions.
    public var bounds: GeoBox
}

extension BlockStatistics {
    package mutating func formUnion(_ other: BlockStatistics) {
        minPlateKey = Swift.min(minPlateKey, other.minPlateKey)
        maxPlateKey = Swift.max(maxPlateKey, other.maxPlateKey)
        minTime = Swift.min(minTime, other.minTime)
        maxTime = Swift.max(maxTime, other.maxTime)
        bounds.formUnion(other.bounds)
    }
}
