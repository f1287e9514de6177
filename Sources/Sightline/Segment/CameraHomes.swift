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
    /// those that hold more than half of the camera's rows and at least 2 of them.
    static func build(cameras: [UInt32], latitudes: [Int32], longitudes: [Int32]) -> CameraHomes {
        struct Vote { var position: UInt64; var votes: Int; var rows: Int; var matches: Int }
        var slots: [UInt32: Int] = [:]
        var votes: [Vote] = []
        @inline(__always) func pack(_ i: Int) -> UInt64 {
            UInt64(UInt32(bitPattern: latitudes[i])) << 32 | UInt64(UInt32(bitPattern: longitudes[i]))
        }
        for i in cameras.indices {
            let p = pack(i)
            if let s = slots[cameras[i]] {
                if votes[s].votes == 0 { votes[s].position = p; votes[s].votes = 1 }
                else if votes[s].position == p { votes[s].votes += 1 } else { votes[s].votes -= 1 }
                votes[s].rows += 1
            } else {
                slots[cameras[i]] = votes.count
                votes.append(Vote(position: p, votes: 1, rows: 1, matches: 0))
            }
        }
        for i in cameras.indices {
            let s = slots[cameras[i]]!
            if votes[s].position == pack(i) { votes[s].matches += 1 }
        }
        var homes = CameraHomes()
        for (camera, s) in slots.sorted(by: { $0.key < $1.key }) {
            let v = votes[s]
            guard v.matches >= 2 && v.matches * 2 > v.rows else { continue }
            homes.cameras.append(camera)
            homes.latitudes.append(Int32(bitPattern: UInt32(truncatingIfNeeded: v.position >> 32)))
            homes.longitudes.append(Int32(bitPattern: UInt32(truncatingIfNeeded: v.position)))
        }
        return homes
    }

    /// Home references per row: k+1 when row i is at home k, 0 otherwise.
    func references(cameras: [UInt32], latitudes: [Int32], longitudes: [Int32]) -> [UInt32] {
        var index: [UInt32: UInt32] = [:]
        for (k, c) in self.cameras.enumerated() { index[c] = UInt32(k) }
        var refs = [UInt32](repeating: 0, count: cameras.count)
        for i in cameras.indices {
            if let k = index[cameras[i]], latitudes[i] == self.latitudes[Int(k)], longitudes[i] == self.longitudes[Int(k)] {
                refs[i] = k + 1
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
