/// A batch in segment order: (plate key, plate, time, camera), with each row's plate key.
/// The plate breaks ties between different plates that share a key (a 64-bit collision), so
/// each plate's rows stay contiguous and a history can match the plate exactly.
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

    /// Hashes every plate of `batch` under `hasher` and sorts the rows.
    public init(_ batch: SightingBatch, hasher: PlateHasher) {
        struct SortEntry {
            var key: UInt64
            var plateLow: UInt64
            var plateHigh: UInt32
            var camera: UInt32
            var time: Int64
            var index: Int
        }
        let n = batch.count
        var entries = [SortEntry]()
        entries.reserveCapacity(n)
        batch.plates.withUnsafeBufferPointer { plates in
            for i in 0..<n {
                let p = plates[i]
                entries.append(SortEntry(key: hasher.key(p), plateLow: p.low,
                                         plateHigh: UInt32(p.high) | UInt32(p.count) << 16,
                                         camera: batch.cameras[i], time: batch.times[i], index: i))
            }
        }
        entries.sort { a, b in
            if a.key != b.key { return a.key < b.key }
            if a.plateLow != b.plateLow { return a.plateLow < b.plateLow }
            if a.plateHigh != b.plateHigh { return a.plateHigh < b.plateHigh }
            if a.time != b.time { return a.time < b.time }
            if a.camera != b.camera { return a.camera < b.camera }
            return a.index < b.index
        }
        keys = entries.map(\.key)
        plates = entries.map { batch.plates[$0.index] }
        times = entries.map(\.time)
        latitudes = entries.map { batch.latitudesE7[$0.index] }
        longitudes = entries.map { batch.longitudesE7[$0.index] }
        cameras = entries.map(\.camera)
        confidences = entries.map { batch.confidences[$0.index] }
        regions = entries.map { batch.regionCodes[$0.index] }
        if !batch.images.isEmpty { images = entries.map { batch.images[$0.index] } }
    }
}
