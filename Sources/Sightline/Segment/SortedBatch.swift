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

/// LSD radix sort of 64-bit keys carrying a 32-bit payload: six passes of 11 bits, all six
/// histograms counted in one read of the keys. Stable, O(n), no comparisons.
enum RadixSort {
    static func sort(keys: UnsafeMutableBufferPointer<UInt64>, payload: UnsafeMutableBufferPointer<UInt32>) {
        let n = keys.count
        guard n > 1 else { return }
        if n < 256 {
            // Few rows: an insertion sort beats six passes over 2048 buckets.
            for i in 1..<n {
                let k = keys[i], p = payload[i]
                var j = i
                while j > 0 && keys[j - 1] > k { keys[j] = keys[j - 1]; payload[j] = payload[j - 1]; j -= 1 }
                keys[j] = k; payload[j] = p
            }
            return
        }
        let passes = 6, radix = 2048
        let counts = UnsafeMutablePointer<Int>.allocate(capacity: passes * radix)
        defer { counts.deallocate() }
        counts.initialize(repeating: 0, count: passes * radix)
        for k in keys {
            for p in 0..<passes { counts[p * radix + Int((k >> UInt64(11 * p)) & 2047)] &+= 1 }
        }
        let keyTemp = UnsafeMutableBufferPointer<UInt64>.allocate(capacity: n)
        let payloadTemp = UnsafeMutableBufferPointer<UInt32>.allocate(capacity: n)
        defer { keyTemp.deallocate(); payloadTemp.deallocate() }
        var srcK = keys, srcP = payload, dstK = keyTemp, dstP = payloadTemp
        for p in 0..<passes {
            let c = counts + p * radix
            // A digit shared by every key moves nothing: skip the pass.
            if c[Int((srcK[0] >> UInt64(11 * p)) & 2047)] == n { continue }
            var sum = 0
            for d in 0..<radix { let t = c[d]; c[d] = sum; sum &+= t }
            let shift = UInt64(11 * p)
            for i in 0..<n {
                let k = srcK[i]
                let d = Int((k >> shift) & 2047)
                let at = c[d]
                c[d] = at &+ 1
                dstK[at] = k
                dstP[at] = srcP[i]
            }
            swap(&srcK, &dstK)
            swap(&srcP, &dstP)
        }
        if srcK.baseAddress != keys.baseAddress {
            keys.baseAddress!.update(from: srcK.baseAddress!, count: n)
            payload.baseAddress!.update(from: srcP.baseAddress!, count: n)
        }
    }
}
