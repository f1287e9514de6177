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
        // The Bloom filter goes on the column a history filters by: `plate`, or `plate_key` when pseudonymous.
        if !pseudonymous { fields.append(.leaf(C(path: ["plate"], physical: .byteArray, optional: false, logical: .string, bloomFilter: true))) }
        fields += [
            .leaf(C(path: ["plate_key"], physical: .int64, optional: false, logical: .none, bloomFilter: pseudonymous)),
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

    /// The order rows are written in, as indexes into `rows`: a total order, so equal rows
    /// give equal files (and digests) however the store laid them out.
    /// - `space`: the position's Z-order cell, then time, plate, camera.
    /// - `plate`: plate (plate key when pseudonymous), then time, camera.
    func order(_ rows: SightingBatch) -> [UInt32] {
        let n = rows.count
        var index = (0..<UInt32(n)).map { $0 }
        guard n > 1 else { return index }
        let minTime = rows.times.min()!, span = rows.times.max()! &- minTime
        func tieBreak(_ a: UInt32, _ b: UInt32) -> Bool {
            let (i, j) = (Int(a), Int(b))
            if rows.times[i] != rows.times[j] { return rows.times[i] < rows.times[j] }
            if rows.plates[i] != rows.plates[j] { return rows.plates[i] < rows.plates[j] }
            if rows.cameras[i] != rows.cameras[j] { return rows.cameras[i] < rows.cameras[j] }
            if rows.latitudesE7[i] != rows.latitudesE7[j] { return rows.latitudesE7[i] < rows.latitudesE7[j] }
            if rows.longitudesE7[i] != rows.longitudesE7[j] { return rows.longitudesE7[i] < rows.longitudesE7[j] }
            return a < b
        }
        switch options.order {
        case .space where span >= 0 && span < 1 << 34:
            // One radix sort on cell (30 bits) and time within the day (34 bits), then the
            // rare runs of equal cell and millisecond ordered by the rest.
            var keys = (0..<n).map { i in
                SpatialOrder.cell(latitudeE7: rows.latitudesE7[i], longitudeE7: rows.longitudesE7[i]) << 34 | UInt64(rows.times[i] &- minTime)
            }
            keys.withUnsafeMutableBufferPointer { k in index.withUnsafeMutableBufferPointer { RadixSort.sort(keys: k, payload: $0) } }
            var start = 0
            while start < n {
                var end = start + 1
                while end < n && keys[end] == keys[start] { end += 1 }
                if end - start > 1 { index[start..<end].sort(by: tieBreak) }
                start = end
            }
        case .space:
            let cells = (0..<n).map { SpatialOrder.cell(latitudeE7: rows.latitudesE7[$0], longitudeE7: rows.longitudesE7[$0]) }
            index.sort { a, b in cells[Int(a)] != cells[Int(b)] ? cells[Int(a)] < cells[Int(b)] : tieBreak(a, b) }
        case .plate where options.pseudonymous:
            let keys = rows.plates.map { hasher.key($0) }
            index.sort { a, b in keys[Int(a)] != keys[Int(b)] ? keys[Int(a)] < keys[Int(b)] : tieBreak(a, b) }
        case .plate:
            // Byte-wise plate order: Parquet's order for the `plate` column's statistics.
            index.sort { a, b in rows.plates[Int(a)] != rows.plates[Int(b)] ? rows.plates[Int(a)] < rows.plates[Int(b)] : tieBreak(a, b) }
        }
        return index
    }

    /// The rows in file order, as the file's columns, with their bounding box.
    func arrange(_ rows: SightingBatch) -> Columns {
        let order = order(rows)
        let n = rows.count
        var c = Columns(plates: [], keys: [], times: [], lats: [], lons: [], cameras: [], confidences: [], regions: [],
                        images: !options.pseudonymous && !rows.images.isEmpty ? [] : nil, bbox: [0, 0, 0, 0])
        c.plates.reserveCapacity(n); c.keys.reserveCapacity(n); c.times.reserveCapacity(n); c.lats.reserveCapacity(n)
        c.lons.reserveCapacity(n); c.cameras.reserveCapacity(n); c.confidences.reserveCapacity(n); c.regions.reserveCapacity(n)
        var west = Double.infinity, south = Double.infinity, east = -Double.infinity, north = -Double.infinity
        for o in order {
            let i = Int(o)
            let lat = Double(rows.latitudesE7[i]) / coordinateScale, lon = Double(rows.longitudesE7[i]) / coordinateScale
            west = min(west, lon); east = max(east, lon); south = min(south, lat); north = max(north, lat)
            c.plates.append(rows.plates[i])
            c.keys.append(Int64(bitPattern: hasher.key(rows.plates[i])))
            c.times.append(rows.times[i] &* 1000)  // ms → µs (the export keeps to years 0000–9999: no overflow)
            c.lats.append(lat)
            c.lons.append(lon)
            c.cameras.append(Int64(rows.cameras[i]))
            c.confidences.append(Int32(rows.confidences[i]))
            c.regions.append(rows.regionCodes[i])
            if c.images != nil { c.images!.append(rows.images[i]) }
        }
        if n > 0 { c.bbox = [west, south, east, north] }
        return c
    }

    /// Encodes `sightings` (tests, seeds): arranged, then encoded.
    func encode(_ sightings: [Sighting], parallelism: Int = Machine.coreCount) throws(SightlineError) -> (bytes: [UInt8], rowGroups: Int) {
        try encode(arrange(SightingBatch(sightings)), parallelism: parallelism)
    }

    /// The file's bytes and its row-group count. Row groups are encoded and compressed on
    /// `parallelism` threads.
    func encode(_ columns: Columns, parallelism: Int = Machine.coreCount) throws(SightlineError) -> (bytes: [UInt8], rowGroups: Int) {
        let schema = Self.schema(pseudonymous: options.pseudonymous)
        let n = columns.times.count
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
        return (writer.finish(keyValueMetadata: [("geo", Self.geoMetadata(bbox: columns.bbox))]), groups)
    }

    /// A partition's columns in file order.
    struct Columns: Sendable {
        var plates: [Plate], keys: [Int64], times: [Int64], lats: [Double], lons: [Double]
        var cameras: [Int64], confidences: [Int32], regions: [UInt32]
        /// nil when no row has an image (the column is all nulls).
        var images: [String?]?
        /// west, south, east, north (zeros when empty).
        var bbox: [Double]
    }

    /// One row group's chunks, each column encoded in one loop.
    static func encodeGroup(_ r: Range<Int>, _ c: Columns, _ schema: [ParquetSchema.Column], _ options: LakeExportOptions,
                            _ compressor: Compressor) throws(SightlineError) -> [ParquetFileWriter.EncodedChunk] {
        var chunks: [ParquetFileWriter.EncodedChunk] = []
        // `latitude`, `bbox.ymin` and `bbox.ymax` hold the same values (a point's box is the
        // point), as do `longitude`, `xmin` and `xmax`: each is encoded and compressed once
        // and its bytes reused — the same file, a third of the coordinate work.
        var latitudeChunk: ParquetFileWriter.EncodedChunk? = nil, longitudeChunk: ParquetFileWriter.EncodedChunk? = nil
        for column in schema {
            let isLatitude = ["latitude", "ymin", "ymax"].contains(column.name), isLongitude = ["longitude", "xmin", "xmax"].contains(column.name)
            if var same = isLatitude ? latitudeChunk : isLongitude ? longitudeChunk : nil {
                same.column = column
                chunks.append(same)
                continue
            }
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
            let chunk = try ParquetFileWriter.encode(b, compression: options.compression, compressor: compressor)
            if isLatitude { latitudeChunk = chunk }
            if isLongitude { longitudeChunk = chunk }
            chunks.append(chunk)
        }
        return chunks
    }

    /// GeoParquet 1.1 file metadata: the WKB point column, its bounding box and the `bbox`
    /// covering struct; no `crs` (OGC:CRS84, longitude/latitude, by the specification).
    static func geoMetadata(bbox: [Double]) -> String {
        let box = bbox.map { "\($0)" }.joined(separator: ",")
        return #"{"version":"1.1.0","primary_column":"geometry","columns":{"geometry":{"encoding":"WKB","geometry_types":["Point"],"#
            + #""bbox":[\#(box)],"covering":{"bbox":{"xmin":["bbox","xmin"],"ymin":["bbox","ymin"],"xmax":["bbox","xmax"],"ymax":["bbox","ymax"]}}}}}"#
    }

    /// A digest of a partition's rows in file order: equal rows give equal digests in every
    /// process (unlike `Hasher`, which is seeded per process).
    static func digest(_ c: Columns) -> UInt64 {
        var h: UInt64 = 0x9E37_79B9_7F4A_7C15 ^ UInt64(c.times.count)
        @inline(__always) func mix(_ v: UInt64) {
            // splitmix64's finalizer over the running state: wrapping arithmetic on purpose.
            var z = (h ^ v) &+ 0x9E37_79B9_7F4A_7C15
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            h = z ^ (z >> 31)
        }
        for i in 0..<c.times.count {
            let p = c.plates[i]
            mix(p.low); mix(UInt64(p.high) | UInt64(p.count) << 16)
            mix(UInt64(bitPattern: c.times[i]))
            mix(c.lats[i].bitPattern); mix(c.lons[i].bitPattern)
            mix(UInt64(c.cameras[i]) << 8 | UInt64(c.confidences[i]))
            mix(UInt64(c.regions[i]))
            if let image = c.images?[i] { for b in image.utf8 { mix(UInt64(b)) } } else { mix(.max) }
        }
        return h
    }
}
