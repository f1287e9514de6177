/// The binary form of a `SightingBatch` inside a WAL record.
///
/// `count u32`, then per row: `plateLength u8 | plate | time i64 | lat i32 | lon i32 |
/// camera u32 | confidence u8 | region u32 | imageLength u16 | image`. Decoding validates
/// every field as `Sighting` does, so a record that passed its checksum but holds nonsense
/// (a bug, not a disk error) still cannot put an invalid row in the store.
enum BatchCodec {
    /// Fixed bytes of a row besides the plate and image.
    static let fixedRowBytes = 1 + 8 + 4 + 4 + 4 + 1 + 4 + 2

    static func encode(_ batch: SightingBatch, into out: inout ByteWriter) {
        let n = batch.count
        var imageBytes = 0
        for image in batch.images { imageBytes += image?.utf8.count ?? 0 }
        out.append(littleEndian: UInt32(n))
        out.append(maximum: n * (fixedRowBytes + Plate.maximumLength) + imageBytes) { p in
            let raw = UnsafeMutableRawPointer(p)
            var at = 0
            @inline(__always) func put<T: FixedWidthInteger>(_ v: T) {
                raw.storeBytes(of: v.littleEndian, toByteOffset: at, as: T.self)
                at &+= MemoryLayout<T>.size
            }
            for i in 0..<n {
                let plate = batch.plates[i]
                put(plate.count)
                for k in 0..<Int(plate.count) { p[at + k] = plate[k] }
                at &+= Int(plate.count)
                put(batch.times[i])
                put(batch.latitudesE7[i])
                put(batch.longitudesE7[i])
                put(batch.cameras[i])
                put(batch.confidences[i])
                put(batch.regionCodes[i])
                if !batch.images.isEmpty, let image = batch.images[i] {
                    let bytes = Array(image.utf8)
                    put(UInt16(bytes.count))
                    for (k, b) in bytes.enumerated() { p[at + k] = b }
                    at &+= bytes.count
                } else {
                    put(UInt16(0))
                }
            }
            return at
        }
    }

    /// Decodes and validates a batch; `reader` names the file and offsets in errors.
    ///
    /// Column by column into buffers sized once (a read-only open decodes every logged row
    /// of a live store, millions of them, on the path of a one-shot read): no allocation per
    /// row but an image's string, and every field validated as `Sighting` validates it.
    static func decode(_ reader: inout ByteReader) throws(SightlineError) -> SightingBatch {
        let n = Int(try reader.read(UInt32.self, "batch row count"))
        guard n <= reader.remaining / (fixedRowBytes + 1) else { throw reader.corrupt("batch claims \(n) rows in \(reader.remaining) bytes") }
        var columns = Columns(capacity: n)
        let end = try columns.fill(n, from: reader)
        reader.skip(to: end)
        return columns.batch(n)
    }

    /// A batch's columns while they are decoded: each written once, in place.
    private struct Columns {
        var plates: [Plate], times: [Int64], latitudes: [Int32], longitudes: [Int32]
        var cameras: [UInt32], confidences: [UInt8], regionCodes: [UInt32]
        var images: [String?] = []

        init(capacity n: Int) {
            plates = Array(repeating: Plate(uncheckedLow: 0, high: 0, count: 1), count: n)
            times = Array(repeating: 0, count: n)
            latitudes = Array(repeating: 0, count: n)
            longitudes = Array(repeating: 0, count: n)
            cameras = Array(repeating: 0, count: n)
            confidences = Array(repeating: 0, count: n)
            regionCodes = Array(repeating: 0, count: n)
        }

        /// Decodes `n` rows from `reader`'s position; returns the position after them.
        mutating func fill(_ n: Int, from reader: ByteReader) throws(SightlineError) -> Int {
            var at = reader.position
            let bytes = reader.bytes
            let end = bytes.count
            guard n > 0, let base = bytes.baseAddress else { return at }
            @inline(__always) func load<T: FixedWidthInteger>(_: T.Type, _ offset: Int) -> T {
                T(littleEndian: base.loadUnaligned(fromByteOffset: offset, as: T.self))
            }
            var images: [String?] = []
            try plates.withUnsafeMutableBufferPointer { plates throws(SightlineError) in
            try times.withUnsafeMutableBufferPointer { times throws(SightlineError) in
            try latitudes.withUnsafeMutableBufferPointer { lats throws(SightlineError) in
            try longitudes.withUnsafeMutableBufferPointer { lons throws(SightlineError) in
            try cameras.withUnsafeMutableBufferPointer { cameras throws(SightlineError) in
            try confidences.withUnsafeMutableBufferPointer { confidences throws(SightlineError) in
            try regionCodes.withUnsafeMutableBufferPointer { regions throws(SightlineError) in
                for row in 0..<n {
                    let start = at
                    guard at < end else { throw reader.corrupt("row \(row): truncated", at: start) }
                    let length = Int(load(UInt8.self, at))
                    guard length >= 1 && length <= Plate.maximumLength else { throw reader.corrupt("row \(row): plate length \(length)", at: start) }
                    // The plate, then time, lat, lon, camera, confidence, region, image length.
                    guard end - at >= BatchCodec.fixedRowBytes + length else { throw reader.corrupt("row \(row): truncated", at: start) }
                    var low: UInt64 = 0, high: UInt16 = 0
                    for k in 0..<length {
                        let b = load(UInt8.self, at + 1 + k)
                        guard (b >= 0x41 && b <= 0x5A) || (b >= 0x30 && b <= 0x39) else { throw reader.corrupt("row \(row): plate byte \(b)", at: start) }
                        if k < 8 { low |= UInt64(b) << (8 * UInt64(k)) } else { high |= UInt16(b) << (8 * UInt16(k - 8)) }
                    }
                    at += 1 + length
                    let lat = load(Int32.self, at + 8), lon = load(Int32.self, at + 12), confidence = load(UInt8.self, at + 20)
                    let regionCode = load(UInt32.self, at + 21), imageLength = Int(load(UInt16.self, at + 25))
                    guard Sighting.latitudeRange.contains(lat) else { throw reader.corrupt("row \(row): latitude \(Double(lat) / 1e7) outside -90...90", at: start) }
                    guard Sighting.longitudeRange.contains(lon) else { throw reader.corrupt("row \(row): longitude \(Double(lon) / 1e7) outside -180...180", at: start) }
                    guard confidence <= 100 else { throw reader.corrupt("row \(row): confidence \(confidence) outside 0...100", at: start) }
                    guard regionCode == 0 || Region(code: regionCode) != nil else { throw reader.corrupt("row \(row): region code \(regionCode)", at: start) }
                    plates[row] = Plate(uncheckedLow: low, high: high, count: UInt8(length))
                    times[row] = load(Int64.self, at)
                    lats[row] = lat
                    lons[row] = lon
                    cameras[row] = load(UInt32.self, at + 16)
                    confidences[row] = confidence
                    regions[row] = regionCode
                    at += 27
                    if imageLength > 0 {
                        guard imageLength <= Sighting.maximumImageLength else { throw reader.corrupt("row \(row): image length \(imageLength)", at: start) }
                        guard end - at >= imageLength else { throw reader.corrupt("row \(row): truncated image", at: start) }
                        if images.isEmpty { images = Array(repeating: nil, count: n) }
                        images[row] = String(decoding: UnsafeRawBufferPointer(start: base + at, count: imageLength), as: UTF8.self)
                        at += imageLength
                    }
                }
            } } } } } } }
            self.images = images
            return at
        }

        consuming func batch(_ n: Int) -> SightingBatch {
            SightingBatch(columns: plates, times, latitudes, longitudes, cameras, confidences, regionCodes, images)
        }
    }
}
