/// The set of (plate, time, camera) keys of the buffered rows: open addressing with linear
/// probing over flat arrays, one hash (a multiply–xor mix, not SipHash: the keys are ours)
/// and one probe sequence per insert. Keys are compared in full, so a hash collision can
/// never make a new row look like a duplicate.
struct RowKeySet {
    private var plateLow: [UInt64]
    private var plateRest: [UInt32]  // high bytes and count; 0 marks an empty slot (count ≥ 1 otherwise)
    private var times: [Int64]
    private var cameras: [UInt32]
    private(set) var count = 0
    private var mask: Int

    init(capacity: Int = 1024) {
        var size = 1024
        while size < capacity * 2 { size <<= 1 }
        mask = size - 1
        plateLow = .init(repeating: 0, count: size)
        plateRest = .init(repeating: 0, count: size)
        times = .init(repeating: 0, count: size)
        cameras = .init(repeating: 0, count: size)
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
        var i = Int(truncatingIfNeeded: Self.hash(plate.low, rest, time, camera)) & mask
        while plateRest[i] != 0 {
            if plateRest[i] == rest && plateLow[i] == plate.low && times[i] == time && cameras[i] == camera { return false }
            i = (i &+ 1) & mask
        }
        plateLow[i] = plate.low
        plateRest[i] = rest
        times[i] = time
        cameras[i] = camera
        count += 1
        return true
    }

    mutating func removeAll() {
        if count == 0 { return }
        for i in plateRest.indices { plateRest[i] = 0 }
        count = 0
    }

    private mutating func grow() {
        let old = (plateLow, plateRest, times, cameras)
        self = RowKeySet(capacity: (mask + 1))  // doubles: capacity × 2 slots
        for i in old.1.indices where old.1[i] != 0 {
            _ = insert(plate: Plate(uncheckedLow: old.0[i], high: UInt16(truncatingIfNeeded: old.1[i]), count: UInt8(truncatingIfNeeded: old.1[i] >> 16)),
                       time: old.2[i], camera: old.3[i])
        }
    }

    /// Whether the key is present (no insertion).
    func contains(plate: Plate, time: Int64, camera: UInt32) -> Bool {
        let rest = UInt32(plate.high) | UInt32(plate.count) << 16
        var i = Int(truncatingIfNeeded: Self.hash(plate.low, rest, time, camera)) & mask
        while plateRest[i] != 0 {
            if plateRest[i] == rest && plateLow[i] == plate.low && times[i] == time && cameras[i] == camera { return true }
            i = (i &+ 1) & mask
        }
        return false
    }
}
