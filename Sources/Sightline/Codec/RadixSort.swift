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
