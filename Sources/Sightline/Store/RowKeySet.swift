/// The set of (plate, time, camera) keys of the buffered rows: open addressing with linear
/// probing over one flat array of 24-byte slots (a probe is one cache miss, not one per
/// field), one hash (`RowKey.hash`) and one probe
/// sequence per insert. Keys are compared in full, so a hash collision can never make a
/// new row look like a duplicate.
struct RowKeySet {
    private struct Slot {
        var plateLow: UInt64
        var time: Int64
        var plateRest: UInt32  // high bytes and count; 0 marks an empty slot (count ≥ 1 otherwise)
        var camera: UInt32
    }

    private var slots: [Slot]
    private(set) var count = 0
    private var mask: Int

    init(capacity: Int = 1024) {
        var size = 1024
        while size < capacity * 2 { size <<= 1 }
        mask = size - 1
        slots = .init(repeating: Slot(plateLow: 0, time: 0, plateRest: 0, camera: 0), count: size)
    }

    /// Inserts the key; false when it was already there.
    @inline(__always)
    mutating func insert(plate: Plate, time: Int64, camera: UInt32) -> Bool {
        insert(hash: RowKey.hash(plate: plate, time: time, camera: camera), plate: plate, time: time, camera: camera)
    }

    /// Inserts the key whose `RowKey.hash` is `hash`; false when it was already there.
    @inline(__always)
    mutating func insert(hash: UInt64, plate: Plate, time: Int64, camera: UInt32) -> Bool {
        // Sized for half full at the buffer's row limit, grown only past three quarters:
        // a buffer overshoots its limit by the batches that arrive while the previous one
        // is flushed, and growing a 2 M-key set (rehashing it, under the store's lock, and
        // doubling a 96 MB table that the frozen set then inherits) stalled every append.
        if (count + 1) * 4 > (mask + 1) * 3 { grow() }
        let rest = RowKey.packedRest(plate)
        let mask = self.mask
        let inserted = slots.withUnsafeMutableBufferPointer { slots -> Bool in
            var i = Int(truncatingIfNeeded: hash) & mask
            while slots[i].plateRest != 0 {
                let s = slots[i]
                if s.plateRest == rest && s.plateLow == plate.low && s.time == time && s.camera == camera { return false }
                i = (i &+ 1) & mask
            }
            slots[i] = Slot(plateLow: plate.low, time: time, plateRest: rest, camera: camera)
            return true
        }
        if inserted { count += 1 }
        return inserted
    }

    /// Whether the key whose `RowKey.hash` is `hash` is present (no insertion).
    @inline(__always)
    func contains(hash: UInt64, plate: Plate, time: Int64, camera: UInt32) -> Bool {
        let rest = RowKey.packedRest(plate)
        return slots.withUnsafeBufferPointer { slots -> Bool in
            var i = Int(truncatingIfNeeded: hash) & mask
            while slots[i].plateRest != 0 {
                let s = slots[i]
                if s.plateRest == rest && s.plateLow == plate.low && s.time == time && s.camera == camera { return true }
                i = (i &+ 1) & mask
            }
            return false
        }
    }

    /// Loads the first slot of each key in `hashes` and folds them into the result, so that
    /// their cache misses overlap (independent loads, no branches) instead of coming one
    /// probe at a time: the table of a 2 M-row buffer is ~100 MB, so nearly every probe
    /// misses. The caller keeps the result alive; the slots are then in cache when the
    /// inserts or lookups of those keys come.
    @inline(__always)
    func touch(_ hashes: UnsafeBufferPointer<UInt64>) -> UInt32 {
        slots.withUnsafeBufferPointer { slots -> UInt32 in
            var folded: UInt32 = 0
            for h in hashes { folded ^= slots[Int(truncatingIfNeeded: h) & mask].plateRest }
            return folded
        }
    }

    /// Whether the key is present (no insertion).
    func contains(plate: Plate, time: Int64, camera: UInt32) -> Bool {
        contains(hash: RowKey.hash(plate: plate, time: time, camera: camera), plate: plate, time: time, camera: camera)
    }

    /// Empties the set, keeping its size.
    mutating func removeAll() {
        if count == 0 { return }
        slots.withUnsafeMutableBufferPointer { slots in
            for i in slots.indices { slots[i].plateRest = 0 }
        }
        count = 0
    }

    private mutating func grow() {
        let old = slots
        self = RowKeySet(capacity: mask + 1)  // doubles: capacity × 2 slots
        for s in old where s.plateRest != 0 {
            _ = insert(plate: Plate(uncheckedLow: s.plateLow, high: UInt16(truncatingIfNeeded: s.plateRest), count: UInt8(truncatingIfNeeded: s.plateRest >> 16)),
                       time: s.time, camera: s.camera)
        }
    }
}
