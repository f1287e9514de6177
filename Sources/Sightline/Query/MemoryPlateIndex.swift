/// The rows of one immutable in-memory batch (a sealed write-buffer chunk, or the rows being
/// flushed) by plate: built by the first history that reads the batch, and kept for every
/// later snapshot that shares it. Without it a history compares the plate of every buffered
/// row — up to `StoreOptions.bufferRows` (2 M) of them, ~10 ms — where a segment answers in
/// a fraction of a millisecond.
///
/// Plate hashes sorted with their row numbers (a stable radix sort, so one plate's rows stay
/// in row order); a lookup is a binary search. Hash collisions are harmless: callers test
/// each candidate row in full.
final class MemoryPlateIndex: Sendable {
    /// Batches smaller than this are scanned: building would cost more than it saves.
    static let minimumRows = 8_192

    private struct Table: Sendable {
        var hashes: [UInt64]
        var rows: [UInt32]
    }

    private let table = Locked<Table?>(nil)

    init() {}

    /// An index for a batch of `rows` rows, or nil when scanning it is cheaper.
    static func forBatch(ofCount rows: Int) -> MemoryPlateIndex? {
        rows >= minimumRows ? MemoryPlateIndex() : nil
    }

    /// Calls `body` with each row of `batch` whose plate may be `plate`, in row order.
    /// `batch` must be the batch this index was made for, unchanged.
    func forEachCandidate(of plate: Plate, in batch: SightingBatch, _ body: (Int) -> Void) {
        // Built under the lock, so concurrent first readers build it once.
        let table = self.table.withLock { (t: inout Table?) -> Table in
            if let t { return t }
            let built = Self.build(batch)
            t = built
            return built
        }
        assert(table.rows.count == batch.count, "a memory plate index read with another batch")
        let h = Self.hash(plate)
        table.hashes.withUnsafeBufferPointer { hashes in
            var lo = 0, hi = hashes.count
            while lo < hi {
                let mid = (lo &+ hi) >> 1
                if hashes[mid] < h { lo = mid &+ 1 } else { hi = mid }
            }
            table.rows.withUnsafeBufferPointer { rows in
                var k = lo
                while k < hashes.count && hashes[k] == h { body(Int(rows[k])); k &+= 1 }
            }
        }
    }

    private static func build(_ batch: SightingBatch) -> Table {
        let n = batch.count
        var hashes = [UInt64](repeating: 0, count: n)
        var rows = [UInt32](repeating: 0, count: n)
        batch.plates.withUnsafeBufferPointer { plates in
            hashes.withUnsafeMutableBufferPointer { hashes in
                rows.withUnsafeMutableBufferPointer { rows in
                    for i in 0..<n {
                        hashes[i] = hash(plates[i])
                        rows[i] = UInt32(truncatingIfNeeded: i)
                    }
                    RadixSort.sort(keys: hashes, payload: rows)
                }
            }
        }
        return Table(hashes: hashes, rows: rows)
    }

    /// A cheap, well-mixed hash of a plate's packed bytes (not keyed: it never leaves memory).
    @inline(__always)
    static func hash(_ plate: Plate) -> UInt64 {
        // splitmix64's finalizer over the packed text; wrapping arithmetic is the mixing.
        var x = plate.low ^ ((UInt64(plate.high) | UInt64(plate.count) << 16) &* 0x9E37_79B9_7F4A_7C15)
        x = (x ^ (x >> 30)) &* 0xBF58_476D_1CE4_E5B9
        x = (x ^ (x >> 27)) &* 0x94D0_49BB_1331_11EB
        return x ^ (x >> 31)
    }
}
