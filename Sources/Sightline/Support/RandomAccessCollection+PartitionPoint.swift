extension RandomAccessCollection {
    /// The first index whose element is not `isBefore` — a binary search over a collection
    /// partitioned so that every such element comes first (the lower bound of a sorted
    /// array is `partitionPoint { $0 < value }`). O(log n); no allocation.
    @inline(__always)
    func partitionPoint(_ isBefore: (Element) -> Bool) -> Index {
        var low = startIndex
        var remaining = count
        while remaining > 0 {
            let half = remaining / 2
            let middle = index(low, offsetBy: half)
            if isBefore(self[middle]) {
                low = index(after: middle)
                remaining -= half + 1
            } else {
                remaining = half
            }
        }
        return low
    }
}
