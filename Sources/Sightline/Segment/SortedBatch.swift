/// A batch in segment order: (plate key, plate, time, camera), with each row's plate key.
/// The plate breaks ties between different plates that share a key (a 64-bit collision), so
/// each plate's rows stay contiguous and a history can match the plate exactly.
@_spi(Benchmarks)
public struct SortedBatch: Sendable {
    var keys: [UInt64] = []
    var plates: [Plate] = []
    var times: [Int64] = []
    var latitudes: [Int32] = []
    var longitudes: [Int32] = []
    var cameras: [UInt32] = []
    var confidences: [UInt8] = []
    var regions: [UInt32] = []
    /// Empty when no row has an image.
    var images: [String?] = []

    /// Number of rows.
    public var count: Int { times.count }

    /// Hashes every plate of `batch` under `hasher` and sorts the rows: a radix sort on the
    /// key, then a comparison sort inside each run of equal keys (one plate's rows, plus any
    /// colliding plate) by plate, time, camera and input position.
    public init(_ batch: SightingBatch, hasher: PlateHasher) {
        let (keys, order) = Self.order(of: batch, hasher: hasher)
        self.init(gathering: batch, keys: keys, order: order)
    }

    /// `batch`'s rows in `order` (from `order(of:hasher:)`, with their sorted `keys`), only
    /// those whose input position is not in `dropped` (nil: all): a flush sorts while its
    /// duplicate check runs, then drops what the check found.
    init(gathering batch: SightingBatch, keys sortedKeys: [UInt64], order: [UInt32], dropping dropped: [Bool]? = nil) {
        var order = order, sortedKeys = sortedKeys
        if let dropped {
            var k = 0
            for (i, index) in order.enumerated() where !dropped[Int(index)] {
                order[k] = index
                sortedKeys[k] = sortedKeys[i]
                k += 1
            }
            order.removeLast(order.count - k)
            sortedKeys.removeLast(sortedKeys.count - k)
        }
        keys = sortedKeys
        plates = Self.gather(batch.plates, order)
        times = Self.gather(batch.times, order)
        latitudes = Self.gather(batch.latitudesE7, order)
        longitudes = Self.gather(batch.longitudesE7, order)
        cameras = Self.gather(batch.cameras, order)
        confidences = Self.gather(batch.confidences, order)
        regions = Self.gather(batch.regionCodes, order)
        if !batch.images.isEmpty { images = order.map { batch.images[Int($0)] } }
    }

    /// The keys of `batch`'s plates, sorted, and the row order that sorts the batch.
    static func order(of batch: SightingBatch, hasher: PlateHasher) -> (keys: [UInt64], order: [UInt32]) {
        let n = batch.count
        var sortedKeys = [UInt64](repeating: 0, count: n)
        var order = [UInt32](repeating: 0, count: n)
        batch.plates.withUnsafeBufferPointer { plates in
            sortedKeys.withUnsafeMutableBufferPointer { keys in
                order.withUnsafeMutableBufferPointer { order in
                    for i in 0..<n {
                        keys[i] = hasher.key(plates[i])
                        order[i] = UInt32(i)
                    }
                    RadixSort.sort(keys: keys, payload: order)
                    batch.times.withUnsafeBufferPointer { times in
                        batch.cameras.withUnsafeBufferPointer { cameras in
                            var i = 0
                            while i < n {
                                var j = i + 1
                                while j < n && keys[j] == keys[i] { j += 1 }
                                if j - i > 1 {
                                    // Rows of one plate (or of plates colliding on the key). Input
                                    // usually arrives in time order, so check before sorting.
                                    let inOrder = { (a: UInt32, b: UInt32) -> Bool in
                                        let pa = plates[Int(a)], pb = plates[Int(b)]
                                        if pa != pb { return pa < pb }
                                        let ta = times[Int(a)], tb = times[Int(b)]
                                        if ta != tb { return ta < tb }
                                        let ca = cameras[Int(a)], cb = cameras[Int(b)]
                                        if ca != cb { return ca < cb }
                                        return a < b
                                    }
                                    var sorted = true
                                    for k in (i + 1)..<j where !inOrder(order[k - 1], order[k]) { sorted = false; break }
                                    if !sorted && j - i <= 64 {
                                        // Short runs (most plates): insertion sort in place, no scratch.
                                        for k in (i + 1)..<j {
                                            let x = order[k]
                                            var m = k
                                            while m > i && inOrder(x, order[m - 1]) { order[m] = order[m - 1]; m -= 1 }
                                            order[m] = x
                                        }
                                    } else if !sorted {
                                        var run = UnsafeMutableBufferPointer(rebasing: order[i..<j])
                                        run.sort(by: inOrder)
                                    }
                                }
                                i = j
                            }
                        }
                    }
                }
            }
        }
        return (sortedKeys, order)
    }

    /// `other`'s rows in the order `order` gives (a permutation of its row numbers).
    init(reordering other: SortedBatch, by order: [UInt32]) {
        keys = Self.gather(other.keys, order)
        plates = Self.gather(other.plates, order)
        times = Self.gather(other.times, order)
        latitudes = Self.gather(other.latitudes, order)
        longitudes = Self.gather(other.longitudes, order)
        cameras = Self.gather(other.cameras, order)
        confidences = Self.gather(other.confidences, order)
        regions = Self.gather(other.regions, order)
        if !other.images.isEmpty { images = order.map { other.images[Int($0)] } }
    }

    static func gather<T: BitwiseCopyable>(_ column: [T], _ order: [UInt32]) -> [T] {
        [T](unsafeUninitializedCapacity: order.count) { out, initialized in
            column.withUnsafeBufferPointer { c in
                for (k, i) in order.enumerated() { out[k] = c[Int(i)] }
            }
            initialized = order.count
        }
    }
}
