/// The spatial copy's row order, computed from the plate-ordered rows.
extension SortedBatch {
    /// The permutation of these rows into space-time order — (cell, whole seconds since the
    /// earliest row), by the same radix sort as the plate order — and each row's cell in
    /// that order.
    func spatialPermutation() -> (order: [UInt32], cells: [UInt64]) {
        let rows = self
        let n = rows.count
        guard n > 0 else { return ([], []) }
        let earliest = rows.times.min()!
        var keys = [UInt64](repeating: 0, count: n)
        var order = [UInt32](repeating: 0, count: n)
        keys.withUnsafeMutableBufferPointer { keys in
            order.withUnsafeMutableBufferPointer { order in
                for i in 0..<n {
                    let seconds = min(UInt64(bitPattern: rows.times[i] &- earliest) / 1000, (1 << 34) - 1)  // t ≥ earliest: no wrap
                    keys[i] = SpatialOrder.cell(latitudeE7: rows.latitudes[i], longitudeE7: rows.longitudes[i]) << 34 | seconds
                    order[i] = UInt32(i)
                }
                RadixSort.sort(keys: keys, payload: order)
                for i in 0..<n { keys[i] >>= 34 }
            }
        }
        return (order, keys)
    }
}
