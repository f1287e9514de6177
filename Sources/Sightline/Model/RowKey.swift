/// The identity of a sighting: rows equal in plate, time and camera are one sighting (a
/// re-ingested row is a duplicate of the stored one). The store's duplicate checks, the row
/// filters of segments and segment verification all hash it the same way, here.
struct RowKey: Hashable {
    var plate: Plate
    var time: Int64
    var camera: UInt32

    /// The hash of a row key: a multiply–xor mix (splitmix64's finalizer) of its words, not
    /// SipHash — the keys are ours, and it runs once per ingested row. Arithmetic wraps by design.
    @inline(__always)
    static func hash(plate: Plate, time: Int64, camera: UInt32) -> UInt64 {
        hash(plate.low, packedRest(plate), time, camera)
    }

    /// The plate's high bytes and length in one word (never 0: a plate has ≥ 1 character).
    @inline(__always)
    static func packedRest(_ plate: Plate) -> UInt32 { UInt32(plate.high) | UInt32(plate.count) << 16 }

    @inline(__always)
    static func hash(_ low: UInt64, _ rest: UInt32, _ time: Int64, _ camera: UInt32) -> UInt64 {
        var h = low &* 0x9E37_79B9_7F4A_7C15 ^ UInt64(rest) << 32 ^ UInt64(camera)
        h ^= UInt64(bitPattern: time) &* 0xC2B2_AE3D_27D4_EB4F
        h = (h ^ (h >> 30)) &* 0xBF58_476D_1CE4_E5B9
        h = (h ^ (h >> 27)) &* 0x94D0_49BB_1331_11EB
        return h ^ (h >> 31)
    }
}
