/// The set of (plate, time, camera) keys of the buffered rows: open addressing with linear
/// probing over one flat array of 24-byte slots (a probe is one cache miss, not one per
/// field), one hash (a multiply–xor mix, not SipHash: the keys are ours) and one probe
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

    /// The hash of a row key: the same mix the set uses, exposed for row filters.
    @inline(__always)
    static func hash(plate: Plate, time: Int64, camera: UInt32) -> UInt64 {
        hash(plate.low, UInt32(plate.high) | UInt32(plate.count) << 16, time, camera)
    }

    @inline(__always)
    private static func hash(_ low: UInt64, _ rest: UInt32, _ time: Int64, _ camera: UInt32) -> UInt64 {
        // Wrapping multiply–xor mixing (splitmix64's finalizer) of the key's words.
        var h = low &* 0x9E37_79B9_7F4A_7C15 ^ UInt64(rest) << 32 ^ UInt64(camera)
        h ^= UInt64(bitPattern: time) &* 0xC2B2_AE3D_27D4_EB4F
        h = (h ^ (h >> 30)) &* 0xBF58_476D_1CE4_E5B9
        h = (h ^ (h >> 27)) &* 0x94D0_49BB_1331_11EB
        return h ^ (h >> 31)
    }

    /// Inserts the key; false when it was already there.
    @inline(__always)
    mutating func insert(plate: Plate, time: Int64, camera: UInt32) -> Bool {
        if (count + 1) * 2 > mask + 1 { grow() }
        let rest = UInt32(plate.high) | UInt32(plate.count) << 16
        let mask = self.mask
        let inserted = slots.withUnsafeMutableBufferPointer { slots -> Bool in
            var i = Int(truncatingIfNeeded: Self.hash(plate.low, rest, time, camera)) & mask
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

    /// Whether the key is present (no insertion).
    func contains(plate: Plate, time: Int64, camera: UInt32) -> Bool {
        let rest = UInt32(plate.high) | UInt32(plate.count) << 16
        return slots.withUnsafeBufferPointer { slots -> Bool in
            var i = Int(truncatingIfNeeded: Self.hash(plate.low, rest, time, camera)) & mask
            while slots[i].plateRest != 0 {
                let s = slots[i]
                if s.plateRest == rest && s.plateLow == plate.low && s.time == time && s.camera == camera { return true }
                i = (i &+ 1) & mask
            }
            return false
        }
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
