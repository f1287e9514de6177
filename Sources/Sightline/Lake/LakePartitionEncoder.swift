import Dispatch

/// Turns one day's rows into a GeoParquet 1.1 file: sorted (space-filling curve or plate,
/// then time), cut into row groups, every column with min/max statistics, the `geo`
/// metadata naming the WKB `geometry` column and its `bbox` covering.
struct LakePartitionEncoder {
    let options: LakeExportOptions
    let hasher: PlateHasher

    /// The schema of an export (`--pseudonymous` drops `plate` and `image`).
    static func schema(pseudonymous: Bool) -> ParquetSchema {
        typealias C = ParquetSchema.Column
        var fields: [ParquetSchema.Field] = []
        if !pseudonymous { fields.append(.leaf(C(path: ["plate"], physical: .byteArray, optional: false, logical: .string))) }
        fields += [
            .leaf(C(path: ["plate_key"], physical: .int64, optional: false, logical: .none)),
            .leaf(C(path: ["time"], physical: .int64, optional: false, logical: .timestampMicrosUTC)),
            .leaf(C(path: ["latitude"], physical: .double, optional: false, logical: .none)),
            .leaf(C(path: ["longitude"], physical: .double, optional: false, logical: .none)),
            .leaf(C(path: ["camera"], physical: .int64, optional: false, logical: .none)),
            .leaf(C(path: ["confidence"], physical: .int32, optional: false, logical: .none)),
            .leaf(C(path: ["region"], physical: .byteArray, optional: true, logical: .string)),
        ]
        if !pseudonymous { fields.append(.leaf(C(path: ["image"], physical: .byteArray, optional: true, logical: .string))) }
        fields.append(.leaf(C(path: ["geometry"], physical: .byteArray, optional: false, logical: .none)))
        fields.append(.group(name: "bbox", ["xmin", "ymin", "xmax", "ymax"].map { C(path: ["bbox", $0], physical: .double, optional: false, logical: .none) }))
        return ParquetSchema(fields: fields)
    }

    /// The order rows are written in: indexes into `rows` (which arrive by time, plate,
    /// camera — the area query's order — so a stable sort on the leading key keeps time next).
    func order(_ rows: [Sighting]) -> [UInt32] {
        var index = (0..<UInt32(rows.count)).map { $0 }
        switch options.order {
        case .space:
            var keys = rows.map { SpatialOrder.cell(latitudeE7: $0.latitudeE7, longitudeE7: $0.longitudeE7) }
            keys.withUnsafeMutableBufferPointer { k in index.withUnsafeMutableBufferPointer { RadixSort.sort(keys: k, payload: $0) } }
        case .plate where options.pseudonymous:
            var keys = rows.map { hasher.key($0.plate) }
            keys.withUnsafeMutableBufferPointer { k in index.withUnsafeMutableBufferPointer { RadixSort.sort(keys: k, payload: $0) } }
        case .plate:
            // Byte-wise plate order (Parquet's order for the `plate` column), stable on time.
            index.sort { a, b in
                let pa = rows[Int(a)].plate, pb = rows[Int(b)].plate
                return pa != pb ? pa < pb : a < b
            }
        }
        return index
    }

    /// The file's bytes and its row-group count. `rows` in area-query order. Row groups
    /// are encoded and compressed on `parallelism` threads.
    func encode(_ rows: [Sighting], parallelism: Int = Machine.coreCount) throws(SightlineError) -> (bytes: [UInt8], rowGroups: Int) {
        let schema = Self.schema(pseudonymous: options.pseudonymous)
        let order = order(rows)
        // Gather the columns in file order: the only per-row pass over the rows.
        let n = rows.count
        var plates: [Plate] = [], keys: [Int64] = [], times: [Int64] = [], lats: [Double] = [], lons: [Double] = []
        var cameras: [Int64] = [], confidences: [Int32] = [], regions: [UInt32] = [], images: [String?] = []
        plates.reserveCapacity(n); keys.reserveCapacity(n); times.reserveCapacity(n); lats.reserveCapacity(n); lons.reserveCapacity(n)
        cameras.reserveCapacity(n); confidences.reserveCapacity(n); regions.reserveCapacity(n)
        let withImages = !options.pseudonymous && rows.contains { $0.image != nil }
        if withImages { images.reserveCapacity(n) }
        var west = Double.infinity, south = Double.infinity, east = -Double.infinity, north = -Double.infinity
        for i in order {
            let s = rows[Int(i)]
            let lat = Double(s.latitudeE7) / coordinateScale, lon = Double(s.longitudeE7) / coordinateScale
            west = min(west, lon); east = max(east, lon); south = min(south, lat); north = max(north, lat)
            plates.append(s.plate)
            keys.append(Int64(bitPattern: hasher.key(s.plate)))
            times.append(s.time &* 1000)  // ms → µs (Timestamp.range keeps it in range)
            lats.append(lat)
            lons.append(lon)
            cameras.append(Int64(s.camera))
            confidences.append(Int32(s.confidence))
            regions.append(s.region?.code ?? 0)
            if withImages { images.append(s.image) }
        }
        let columns = Self.Columns(plates: plates, keys: keys, times: times, lats: lats, lons: lons, cameras: cameras,
                                   confidences: confidences, regions: regions, images: withImages ? images : nil)
        let groups = max(1, (n + options.rowGroupRows - 1) / options.rowGroupRows)
        let results = Locked<[Int: Result<[ParquetFileWriter.EncodedChunk], SightlineError>]>([:])
        let workers = max(1, min(groups, parallelism))
        let (options, schemaColumns) = (self.options, schema.columns)
        let work: @Sendable (Int) -> Void = { worker in
            let compressor = Compressor()
            var g = worker
            while g < groups {
                // Even cuts: every group within one row of the others.
                let range = n * g / groups..<(n * (g + 1) / groups)
                let result = Result { () throws(SightlineError) -> [ParquetFileWriter.EncodedChunk] in
                    try Self.encodeGroup(range, columns, schemaColumns, options, compressor)
                }
                results.withLock { $0[g] = result }
                g += workers
            }
        }
        if workers == 1 { work(0) } else { DispatchQueue.concurrentPerform(iterations: workers) { work($0) } }
        var writer = ParquetFileWriter(schema: schema, compression: options.compression)
        let encoded = results.withLock { $0 }
        for g in 0..<groups { writer.append(rowGroup: try encoded[g]!.get()) }
        let bbox = rows.isEmpty ? [0.0, 0, 0, 0] : [west, south, east, north]
        return (writer.finish(keyValueMetadata: [("geo", Self.geoMetadata(bbox: bbox))]), groups)
    }

    /// A partition's columns in file order.
    struct Columns: Sendable {
        var plates: [Plate], keys: [Int64], times: [Int64], lats: [Double], lons: [Double]
        var cameras: [Int64], confidences: [Int32], regions: [UInt32]
        /// nil when no row has an image (the column is all nulls).
        var images: [String?]?
    }

    /// One row group's chunks, each column encoded in one loop.
    static func encodeGroup(_ r: Range<Int>, _ c: Columns, _ schema: [ParquetSchema.Column], _ options: LakeExportOptions,
                            _ compressor: Compressor) throws(SightlineError) -> [ParquetFileWriter.EncodedChunk] {
        var buffers: [ParquetColumnBuffer] = []
        for column in schema {
            var b = ParquetColumnBuffer(column)
            switch column.name {
            case "plate":
                c.plates.withUnsafeBufferPointer { p in
                    b.appendByteArrays(count: r.count, maximumLength: Plate.maximumLength) { i, dst in
                        let plate = p[r.lowerBound + i]
                        withUnsafeBytes(of: (plate.low.littleEndian, plate.high.littleEndian)) { raw in
                            for k in 0..<Int(plate.count) { dst[k] = raw[k] }
                        }
                        return Int(plate.count)
                    }
                }
            case "plate_key": c.keys[r].withUnsafeBufferPointer { b.append(integers: $0) }
            case "time": c.times[r].withUnsafeBufferPointer { b.append(integers: $0) }
            case "latitude", "ymin", "ymax": c.lats[r].withUnsafeBufferPointer { b.append(doubles: $0) }
            case "longitude", "xmin", "xmax": c.lons[r].withUnsafeBufferPointer { b.append(doubles: $0) }
            case "camera": c.cameras[r].withUnsafeBufferPointer { b.append(integers: $0) }
            case "confidence": c.confidences[r].withUnsafeBufferPointer { b.append(integers: $0) }
            case "region":
                c.regions.withUnsafeBufferPointer { p in
                    b.appendByteArrays(count: r.count, maximumLength: 3) { i, dst in
                        var code = p[r.lowerBound + i]
                        guard code != 0 else { return nil }
                        var k = 0
                        while code != 0 { dst[k] = UInt8(truncatingIfNeeded: code); code >>= 8; k += 1 }
                        return k
                    }
                }
            case "image":
                let images = c.images
                let longest = images.map { all in all[r].reduce(0) { max($0, $1?.utf8.count ?? 0) } } ?? 0
                b.appendByteArrays(count: r.count, maximumLength: longest) { i, dst in
                    guard let image = images?[r.lowerBound + i] else { return nil }
                    var k = 0
                    for byte in image.utf8 { dst[k] = byte; k += 1 }
                    return k
                }
            case "geometry":
                c.lats.withUnsafeBufferPointer { lat in
                    c.lons.withUnsafeBufferPointer { lon in
                        b.appendByteArrays(count: r.count, maximumLength: 21) { i, dst in
                            // WKB point: byte order 1 (little-endian), type u32 1, x (longitude), y (latitude).
                            dst[0] = 1; dst[1] = 1; dst[2] = 0; dst[3] = 0; dst[4] = 0
                            let x = lon[r.lowerBound + i].bitPattern.littleEndian, y = lat[r.lowerBound + i].bitPattern.littleEndian
                            UnsafeMutableRawPointer(dst + 5).storeBytes(of: x, as: UInt64.self)
                            UnsafeMutableRawPointer(dst + 13).storeBytes(of: y, as: UInt64.self)
                            return 21
                        }
                    }
                }
            default: preconditionFailure("no encoder for column \(column.name)")
            }
            buffers.append(b)
        }
        var chunks: [ParquetFileWriter.EncodedChunk] = []
        for b in buffers { chunks.append(try ParquetFileWriter.encode(b, compression: options.compression, compressor: compressor)) }
        return chunks
    }

    /// GeoParquet 1.1 file metadata: the WKB point column, its bounding box and the `bbox`
    /// covering struct; no `crs` (OGC:CRS84, longitude/latitude, by the specification).
    static func geoMetadata(bbox: [Double]) -> String {
        let box = bbox.map { "\($0)" }.joined(separator: ",")
        return #"{"version":"1.1.0","primary_column":"geometry","columns":{"geometry":{"encoding":"WKB","geometry_types":["Point"],"#
            + #""bbox":[\#(box)],"covering":{"bbox":{"xmin":["bbox","xmin"],"ymin":["bbox","ymin"],"xmax":["bbox","xmax"],"ymax":["bbox","ymax"]}}}}}"#
    }

    /// A digest of rows in a fixed order: equal rows in equal order give equal digests in
    /// every process (unlike `Hasher`, which is seeded per process).
    static func digest(_ rows: [Sighting]) -> UInt64 {
        var h: UInt64 = 0x9E37_79B9_7F4A_7C15 ^ UInt64(rows.count)
        @inline(__always) func mix(_ v: UInt64) {
            // splitmix64's finalizer over the running state: wrapping arithmetic on purpose.
            var z = (h ^ v) &+ 0x9E37_79B9_7F4A_7C15
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            h = z ^ (z >> 31)
        }
        for s in rows {
            mix(s.plate.low); mix(UInt64(s.plate.high) | UInt64(s.plate.count) << 16)
            mix(UInt64(bitPattern: s.time))
            mix(UInt64(UInt32(bitPattern: s.latitudeE7)) << 32 | UInt64(UInt32(bitPattern: s.longitudeE7)))
            mix(UInt64(s.camera) << 8 | UInt64(s.confidence))
            mix(UInt64(s.region?.code ?? 0))
            if let image = s.image { for b in image.utf8 { mix(UInt64(b)) } } else { mix(.max) }
        }
        return h
    }
}
