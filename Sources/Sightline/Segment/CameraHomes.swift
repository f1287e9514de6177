/// The segment-level dictionary of fixed-camera positions: for each camera whose rows in the
/// segment are mostly at one (lat, lon), that position. A row at its camera's home stores a
/// small reference instead of its camera id and coordinates — this is what makes fixed-camera
/// rows cheap. Mobile readers, whose positions vary, get no home.
struct CameraHomes: Equatable {
    var cameras: [UInt32] = []
    var latitudes: [Int32] = []
    var longitudes: [Int32] = []

    var count: Int { cameras.count }

    /// Finds each camera's majority position (Boyer–Moore vote, then an exact count) and keeps
    /// those that hold more than half of the camera's rows and at least 2 of them. Homes are
    /// numbered along a Hilbert curve over their bounding box, so cameras near each other —
    /// consecutive reads of a trip — get nearby numbers.
    static func build(cameras: [UInt32], latitudes: [Int32], longitudes: [Int32]) -> CameraHomes {
        struct Vote { var camera: UInt32; var position: UInt64; var votes: Int; var rows: Int; var matches: Int }
        var table = CameraSlotTable()
        var votes: [Vote] = []
        var slots = [Int32](repeating: 0, count: cameras.count)
        @inline(__always) func pack(_ i: Int) -> UInt64 {
            UInt64(UInt32(bitPattern: latitudes[i])) << 32 | UInt64(UInt32(bitPattern: longitudes[i]))
        }
        for i in cameras.indices {
            let p = pack(i)
            let s = table.slot(for: cameras[i], next: votes.count)
            slots[i] = Int32(s)
            if s == votes.count {
                votes.append(Vote(camera: cameras[i], position: p, votes: 1, rows: 1, matches: 0))
                continue
            }
            if votes[s].votes == 0 { votes[s].position = p; votes[s].votes = 1 }
            else if votes[s].position == p { votes[s].votes += 1 } else { votes[s].votes -= 1 }
            votes[s].rows += 1
        }
        for i in cameras.indices where votes[Int(slots[i])].position == pack(i) { votes[Int(slots[i])].matches += 1 }
        let kept = votes.filter { $0.matches >= 2 && $0.matches * 2 > $0.rows }
        var box = GeoBox.empty
        for v in kept {
            box.include(latitudeE7: Int32(bitPattern: UInt32(truncatingIfNeeded: v.position >> 32)),
                        longitudeE7: Int32(bitPattern: UInt32(truncatingIfNeeded: v.position)))
        }
        let ordered = kept.map { v -> (UInt64, Vote) in
            let lat = Int32(bitPattern: UInt32(truncatingIfNeeded: v.position >> 32))
            let lon = Int32(bitPattern: UInt32(truncatingIfNeeded: v.position))
            return (hilbertIndex(lat, lon, in: box), v)
        }.sorted { ($0.0, $0.1.camera) < ($1.0, $1.1.camera) }
        var homes = CameraHomes()
        for (_, v) in ordered {
            homes.cameras.append(v.camera)
            homes.latitudes.append(Int32(bitPattern: UInt32(truncatingIfNeeded: v.position >> 32)))
            homes.longitudes.append(Int32(bitPattern: UInt32(truncatingIfNeeded: v.position)))
        }
        return homes
    }

    /// Position of a point on a 2^16 × 2^16 Hilbert curve laid over `box`.
    static func hilbertIndex(_ lat: Int32, _ lon: Int32, in box: GeoBox) -> UInt64 {
        func scaled(_ v: Int32, _ lo: Int32, _ hi: Int32) -> UInt32 {
            let span = Int64(hi) - Int64(lo)
            return span <= 0 ? 0 : UInt32((Int64(v) - Int64(lo)) * 65535 / span)
        }
        var x = scaled(lon, box.minLongitudeE7, box.maxLongitudeE7)
        var y = scaled(lat, box.minLatitudeE7, box.maxLatitudeE7)
        var d: UInt64 = 0
        var s: UInt32 = 1 << 15
        while s > 0 {
            let rx: UInt32 = (x & s) > 0 ? 1 : 0
            let ry: UInt32 = (y & s) > 0 ? 1 : 0
            d += UInt64(s) * UInt64(s) * UInt64((3 * rx) ^ ry)
            if ry == 0 {  // rotate the quadrant
                if rx == 1 { x = 65535 &- x; y = 65535 &- y }
                swap(&x, &y)
            }
            s >>= 1
        }
        return d
    }

    /// Home references per row: k+1 when row i is at home k, 0 otherwise.
    func references(cameras: [UInt32], latitudes: [Int32], longitudes: [Int32]) -> [UInt32] {
        var table = CameraSlotTable()
        for (k, c) in self.cameras.enumerated() { _ = table.slot(for: c, next: k) }
        var refs = [UInt32](repeating: 0, count: cameras.count)
        for i in cameras.indices {
            let k = table.slot(for: cameras[i], next: Int.max)
            if k != Int.max, latitudes[i] == self.latitudes[k], longitudes[i] == self.longitudes[k] {
                refs[i] = UInt32(k + 1)
            }
        }
        return refs
    }

    /// Section bytes: three integer streams (cameras, latitudes, longitudes).
    func encode(_ writer: inout IntegerStreamWriter, into out: inout ByteWriter) throws(SightlineError) {
        var values = cameras.map { UInt64($0) }
        try values.withUnsafeBufferPointerTyped { b throws(SightlineError) in try writer.write(b, signed: false, to: &out) }
        values = latitudes.map { UInt64(bitPattern: Int64($0)) }
        try values.withUnsafeBufferPointerTyped { b throws(SightlineError) in try writer.write(b, signed: true, to: &out) }
        values = longitudes.map { UInt64(bitPattern: Int64($0)) }
        try values.withUnsafeBufferPointerTyped { b throws(SightlineError) in try writer.write(b, signed: true, to: &out) }
    }

    static func decode(_ reader: inout ByteReader, streams: StreamReader) throws(SightlineError) -> CameraHomes {
        let scratch = ScratchBuffer<UInt64>()
        var homes = CameraHomes()
        let n = try streams.readIntegers(&reader, expectedCount: nil, into: scratch, "camera homes: cameras")
        homes.cameras = scratch.buffer.map { UInt32(truncatingIfNeeded: $0) }
        try streams.readIntegers(&reader, expectedCount: n, into: scratch, "camera homes: latitudes")
        homes.latitudes = scratch.buffer.map { Int32(truncatingIfNeeded: Int64(bitPattern: $0)) }
        try streams.readIntegers(&reader, expectedCount: n, into: scratch, "camera homes: longitudes")
        homes.longitudes = scratch.buffer.map { Int32(truncatingIfNeeded: Int64(bitPattern: $0)) }
        guard reader.isAtEnd else { throw reader.corrupt("camera homes: \(reader.remaining) trailing bytes") }
        for k in 0..<n where !Sighting.latitudeRange.contains(homes.latitudes[k]) || !Sighting.longitudeRange.contains(homes.longitudes[k]) {
            throw reader.corrupt("camera homes: position \(k) out of range")
        }
        return homes
    }
}

/// Camera id → slot number, by open addressing with linear probing: the per-row lookup of
/// segment encoding, several times cheaper than `Dictionary`'s hashing.
struct CameraSlotTable {
    private var keys: [UInt32]
    private var values: [Int]
    private var used: [Bool]
    private var count = 0
    private var mask: Int

    init() {
        mask = 4095
        keys = .init(repeating: 0, count: 4096)
        values = .init(repeating: 0, count: 4096)
        used = .init(repeating: false, count: 4096)
    }

    /// The slot of `camera`; when absent, records it with `next` (unless `next` is
    /// `Int.max`, a lookup only) and returns `next`.
    @inline(__always)
    mutating func slot(for camera: UInt32, next: Int) -> Int {
        var h = Int(truncatingIfNeeded: (UInt64(camera) &* 0x9E37_79B9_7F4A_7C15) >> 40) & mask
        while used[h] {
            if keys[h] == camera { return values[h] }
            h = (h + 1) & mask
        }
        guard next != Int.max else { return Int.max }
        keys[h] = camera
        values[h] = next
        used[h] = true
        count += 1
        if count * 2 > mask { grow() }
        return next
    }

    private mutating func grow() {
        let old = (keys, values, used)
        mask = mask * 2 + 1
        keys = .init(repeating: 0, count: mask + 1)
        values = .init(repeating: 0, count: mask + 1)
        used = .init(repeating: false, count: mask + 1)
        count = 0
        for i in old.0.indices where old.2[i] { _ = slot(for: old.0[i], next: old.1[i]) }
    }
}
