import CZstd

/// Reads back the Parquet files `ParquetFileWriter` writes (PLAIN values, RLE/bit-packed
/// definition levels, zstd or uncompressed v1 data pages): the footer for `export --check`,
/// every value for the round-trip tests. Not a general Parquet reader — it refuses, with a
/// `corruptFile` error naming the offset, anything it does not understand.
struct ParquetFileReader {
    /// A column's values as read.
    enum Values: Equatable {
        case int32([Int32?])
        case int64([Int64?])
        case double([Double?])
        case byteArray([[UInt8]?])
    }

    /// What the footer says about one column chunk.
    struct Chunk {
        var path: [String]
        var physical: Int32
        var codec: Int32
        var values: Int64
        var nulls: Int64?
        var dataPageOffset: Int64
        var compressedSize: Int64
        var min: [UInt8]?
        var max: [UInt8]?
        var bloomFilterOffset: Int64?
        var bloomFilterLength: Int64?
    }

    /// Bounds of one page (see `values(of:)`).
    static let maximumPageValues: Int64 = 1 << 24
    static let maximumPageBytes: Int64 = 256 << 20

    let path: String
    let bytes: [UInt8]
    /// The decoded `FileMetaData`.
    let metadata: ThriftValue
    /// Rows per row group.
    let rowGroupRows: [Int64]
    /// Column chunks per row group.
    let rowGroups: [[Chunk]]
    /// Key/value metadata (GeoParquet's `geo`).
    let keyValueMetadata: [String: String]
    /// Leaf columns: path and whether optional.
    let leaves: [(path: [String], optional: Bool)]

    var rowCount: Int64 { metadata[3]?.integer ?? 0 }

    init(bytes: [UInt8], path: String) throws(SightlineError) {
        self.path = path
        self.bytes = bytes
        func corrupt(_ offset: Int, _ reason: String) -> SightlineError { .corruptFile(path: path, offset: Int64(offset), reason: reason) }
        guard bytes.count >= 12, bytes.starts(with: Array("PAR1".utf8)), bytes.suffix(4).elementsEqual(Array("PAR1".utf8)) else {
            throw corrupt(0, "not a Parquet file (no PAR1 at both ends)")
        }
        let n = bytes.count
        let footerLength = Int(UInt32(bytes[n - 8]) | UInt32(bytes[n - 7]) << 8 | UInt32(bytes[n - 6]) << 16 | UInt32(bytes[n - 5]) << 24)
        guard footerLength <= n - 12 else { throw corrupt(n - 8, "footer length \(footerLength) larger than the file") }
        let footerStart = n - 8 - footerLength
        var reader = ThriftCompactReader(bytes, at: footerStart, path: path)
        let meta = try reader.readStruct()
        guard reader.position == n - 8 else { throw corrupt(reader.position, "footer ends before its stated length") }
        metadata = meta
        // Leaves from the depth-first schema.
        guard let elements = meta[2]?.list, let root = elements.first else { throw corrupt(footerStart, "no schema") }
        var leaves: [(path: [String], optional: Bool)] = []
        var index = 1
        func walk(_ children: Int64, prefix: [String]) throws(SightlineError) {
            guard children >= 0 else { throw corrupt(footerStart, "negative child count") }
            for _ in 0..<children {
                guard index < elements.count, let name = elements[index][4]?.string else { throw corrupt(footerStart, "schema ends early") }
                let e = elements[index]
                index += 1
                if let kids = e[5]?.integer, kids > 0 {
                    try walk(kids, prefix: prefix + [name])
                } else {
                    leaves.append((prefix + [name], e[3]?.integer == 1))
                }
            }
        }
        try walk(root[5]?.integer ?? 0, prefix: [])
        self.leaves = leaves
        var groups: [[Chunk]] = [], groupRows: [Int64] = []
        for g in meta[4]?.list ?? [] {
            var chunks: [Chunk] = []
            for c in g[1]?.list ?? [] {
                guard let m = c[3] else { throw corrupt(footerStart, "column chunk without metadata") }
                chunks.append(Chunk(path: (m[3]?.list ?? []).compactMap(\.string), physical: (m[1]?.integer).flatMap { Int32(exactly: $0) } ?? -1,
                                    codec: (m[4]?.integer).flatMap { Int32(exactly: $0) } ?? -1, values: m[5]?.integer ?? 0, nulls: m[12]?[3]?.integer,
                                    dataPageOffset: m[9]?.integer ?? -1, compressedSize: m[7]?.integer ?? -1,
                                    min: m[12]?[6]?.binary, max: m[12]?[5]?.binary,
                                    bloomFilterOffset: m[14]?.integer, bloomFilterLength: m[15]?.integer))
            }
            guard chunks.count == leaves.count else { throw corrupt(footerStart, "row group with \(chunks.count) chunks for \(leaves.count) columns") }
            for (chunk, leaf) in zip(chunks, leaves) where chunk.path != leaf.path {
                throw corrupt(footerStart, "column chunk \(chunk.path.joined(separator: ".")) where the schema has \(leaf.path.joined(separator: "."))")
            }
            groups.append(chunks)
            groupRows.append(g[3]?.integer ?? 0)
        }
        rowGroups = groups
        rowGroupRows = groupRows
        var kv: [String: String] = [:]
        for e in meta[5]?.list ?? [] { if let k = e[1]?.string { kv[k] = e[2]?.string ?? "" } }
        keyValueMetadata = kv
    }

    /// Whether row group `group`'s Bloom filter on `columnPath` may hold a value whose
    /// xxHash64 is `hash`; nil when the chunk has no filter.
    func bloomFilterMayContain(group: Int, columnPath: [String], hash: UInt64) throws(SightlineError) -> Bool? {
        guard group < rowGroups.count, let chunk = rowGroups[group].first(where: { $0.path == columnPath }),
              let offset = chunk.bloomFilterOffset else { return nil }
        func corrupt(_ reason: String) -> SightlineError { .corruptFile(path: path, offset: offset, reason: reason) }
        guard offset >= 4, offset < Int64(bytes.count) else { throw corrupt("Bloom filter offset outside the file") }
        var header = ThriftCompactReader(bytes, at: Int(offset), path: path)
        let h = try header.readStruct()
        guard let size = h[1]?.integer, size >= 32, size % 32 == 0, size <= Int64(bytes.count - header.position),
              h[2]?[1] != nil, h[3]?[1] != nil, h[4]?[1] != nil else { throw corrupt("unsupported Bloom filter header") }
        var words: [UInt32] = []
        words.reserveCapacity(Int(size) / 4)
        for i in stride(from: header.position, to: header.position + Int(size), by: 4) {
            words.append(UInt32(bytes[i]) | UInt32(bytes[i + 1]) << 8 | UInt32(bytes[i + 2]) << 16 | UInt32(bytes[i + 3]) << 24)
        }
        return SplitBlockBloomFilter(uncheckedWords: words).mayContain(hash: hash)
    }

    /// Every value of the column at `path`, all row groups in order (nil for nulls).
    func values(of columnPath: [String]) throws(SightlineError) -> Values {
        guard let leaf = leaves.firstIndex(where: { $0.path == columnPath }) else {
            throw .invalidArgument("no column \(columnPath.joined(separator: ".")) in \(path)")
        }
        let optional = leaves[leaf].optional
        var i32: [Int32?] = [], i64: [Int64?] = [], f64: [Double?] = [], bin: [[UInt8]?] = []
        let physical = rowGroups.first?[leaf].physical ?? 2
        let decompressor = Compressor()
        for (g, group) in rowGroups.enumerated() {
            let chunk = group[leaf]
            func corrupt(_ offset: Int, _ reason: String) -> SightlineError { .corruptFile(path: path, offset: Int64(offset), reason: reason) }
            let start = Int(chunk.dataPageOffset)
            guard start >= 4, start < bytes.count else { throw corrupt(start, "data page offset outside the file") }
            var header = ThriftCompactReader(bytes, at: start, path: path)
            let page = try header.readStruct()
            guard page[1]?.integer == 0, let uncompressed = page[2]?.integer, let compressed = page[3]?.integer,
                  let count = page[5]?[1]?.integer, uncompressed >= 0, compressed >= 0, count >= 0,
                  compressed <= Int64(bytes.count - header.position) else {
                throw corrupt(start, "unsupported or damaged page header")
            }
            // Bounds before allocating: Sightline writes at most 150 k rows of at most 1,028
            // bytes a page; a page claiming more is damage, not a reason to allocate gigabytes.
            guard count <= Self.maximumPageValues, uncompressed <= Self.maximumPageBytes else {
                throw corrupt(start, "page of \(count) values and \(uncompressed) bytes: more than an export writes")
            }
            // One page a chunk (what the writer writes): its values are the chunk's and the row group's.
            guard count == chunk.values, count == rowGroupRows[g] else {
                throw corrupt(start, "page of \(count) values in a chunk of \(chunk.values), a row group of \(rowGroupRows[g]) rows")
            }
            let body = header.position
            if chunk.codec == 6 {
                let declared = bytes.withUnsafeBytes { ZSTD_getFrameContentSize($0.baseAddress! + body, Int(compressed)) }
                guard declared == UInt64(uncompressed) else { throw corrupt(body, "zstd frame of \(declared) bytes where the page header says \(uncompressed)") }
            } else if compressed != uncompressed {
                throw corrupt(body, "uncompressed page of \(compressed) bytes where the header says \(uncompressed)")
            }
            var data = [UInt8](repeating: 0, count: Int(uncompressed))
            let ok = bytes.withUnsafeBytes { all in
                data.withUnsafeMutableBytes { out in
                    decompressor.decompress(UnsafeRawBufferPointer(rebasing: all[body..<(body + Int(compressed))]),
                                            wireID: chunk.codec == 6 ? 2 : 0, into: out)
                }
            }
            guard ok, chunk.codec == 6 || chunk.codec == 0 else { throw corrupt(body, "page does not decompress") }
            try data.withUnsafeBytesTyped { (raw: UnsafeRawBufferPointer) throws(SightlineError) in
                var r = ByteReader(raw, fileOffset: Int64(body), path: path)
                var present = [Bool](repeating: true, count: Int(count))
                if optional { present = try Self.readLevels(&r, count: Int(count)) }
                for p in present {
                    guard p else {
                        switch physical { case 1: i32.append(nil); case 2: i64.append(nil); case 5: f64.append(nil); default: bin.append(nil) }
                        continue
                    }
                    switch physical {
                    case 1: i32.append(try r.read(Int32.self, "int32"))
                    case 2: i64.append(try r.read(Int64.self, "int64"))
                    case 5: f64.append(Double(bitPattern: try r.read(UInt64.self, "double")))
                    case 6:
                        let n = Int(try r.read(UInt32.self, "length"))
                        bin.append(Array(try r.readBytes(n, "byte array")))
                    default: throw corrupt(start, "unsupported physical type \(physical)")
                    }
                }
            }
        }
        switch physical {
        case 1: return .int32(i32)
        case 2: return .int64(i64)
        case 5: return .double(f64)
        default: return .byteArray(bin)
        }
    }

    /// Bit-width-1 definition levels after their u32 length.
    private static func readLevels(_ r: inout ByteReader, count: Int) throws(SightlineError) -> [Bool] {
        let length = Int(try r.read(UInt32.self, "levels length"))
        var levels = Array(try r.readBytes(length, "levels"))[...]
        var out: [Bool] = []
        out.reserveCapacity(count)
        while out.count < count {
            var header: UInt64 = 0, shift: UInt64 = 0
            while true {
                guard let b = levels.popFirst(), shift < 64 else { throw r.corrupt("levels end early") }
                header |= UInt64(b & 0x7F) << shift
                if b < 0x80 { break }
                shift += 7
            }
            if header & 1 == 0 {
                guard let v = levels.popFirst() else { throw r.corrupt("RLE run without its value") }
                let n = min(Int(header >> 1), count - out.count)
                out.append(contentsOf: repeatElement(v == 1, count: n))
            } else {
                let groups = Int(header >> 1)
                guard groups <= levels.count else { throw r.corrupt("bit-packed run past the levels") }
                for _ in 0..<groups {
                    let byte = levels.popFirst()!
                    for bit in 0..<8 where out.count < count { out.append(byte >> UInt8(bit) & 1 == 1) }
                }
            }
        }
        return out
    }
}
