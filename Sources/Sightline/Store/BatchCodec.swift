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
    static func decode(_ reader: inout ByteReader) throws(SightlineError) -> SightingBatch {
        let n = Int(try reader.read(UInt32.self, "batch row count"))
        guard n <= reader.remaining / (fixedRowBytes + 1) else { throw reader.corrupt("batch claims \(n) rows in \(reader.remaining) bytes") }
        var batch = SightingBatch(capacity: n)
        for row in 0..<n {
            let start = reader.position
            let plateLength = Int(try reader.readByte("plate length"))
            guard plateLength >= 1 && plateLength <= Plate.maximumLength else { throw reader.corrupt("row \(row): plate length \(plateLength)", at: start) }
            let plateBytes = try reader.readBytes(plateLength, "plate")
            for b in plateBytes where !((b >= 0x41 && b <= 0x5A) || (b >= 0x30 && b <= 0x39)) {
                throw reader.corrupt("row \(row): plate byte \(b)", at: start)
            }
            let plate = Plate(uncheckedNormalized: plateBytes)
            let time = try reader.read(Int64.self)
            let lat = try reader.read(Int32.self)
            let lon = try reader.read(Int32.self)
            let camera = try reader.read(UInt32.self)
            let confidence = try reader.readByte()
            let regionCode = try reader.read(UInt32.self)
            let imageLength = Int(try reader.read(UInt16.self))
            var image: String?
            if imageLength > 0 {
                guard imageLength <= Sighting.maximumImageLength else { throw reader.corrupt("row \(row): image length \(imageLength)", at: start) }
                image = String(decoding: try reader.readBytes(imageLength, "image"), as: UTF8.self)
            }
            let region: Region? = regionCode == 0 ? nil : Region(code: regionCode)
            guard regionCode == 0 || region != nil else { throw reader.corrupt("row \(row): region code \(regionCode)", at: start) }
            do {
                try batch.append(plate: plate, time: time, latitudeE7: lat, longitudeE7: lon, camera: camera,
                                 confidence: confidence, region: region, image: image)
            } catch {
                throw reader.corrupt("row \(row): \(error)", at: start)
            }
        }
        return batch
    }
}
