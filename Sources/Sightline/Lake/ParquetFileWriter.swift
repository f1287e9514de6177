/// Writes a Parquet file (format 2.x) in memory: `PAR1`, then per row group one
/// zstd-compressed DATA_PAGE (v1) per column, then the footer — thrift-compact
/// `FileMetaData` with the schema, every column chunk's min/max statistics, key/value
/// metadata (GeoParquet's `geo`) and type-defined column orders — its length and `PAR1`.
/// Docs/format.md, "GeoParquet export", draws the layout.
struct ParquetFileWriter {
    let schema: ParquetSchema
    let compression: SegmentCompression
    private(set) var output = ByteWriter()
    private var rowGroups: [RowGroupMetadata] = []
    private var rowCount: Int64 = 0

    /// Identifies the writer to readers (some parse it to decide which statistics to trust).
    static let createdBy = "sightline version 1 (GeoParquet export)"

    private struct ChunkMetadata {
        var column: ParquetSchema.Column
        var offset: Int64
        var compressedSize: Int64
        var uncompressedSize: Int64
        var values: Int64
        var nulls: Int64
        var statistics: (min: [UInt8], max: [UInt8])?
        /// BloomFilterHeader + bitset, written before the footer; its place once written.
        var bloomFilter: [UInt8]?
        var bloomFilterOffset: Int64 = 0
    }

    private struct RowGroupMetadata {
        var chunks: [ChunkMetadata]
        var rows: Int64
    }

    init(schema: ParquetSchema, compression: SegmentCompression) {
        self.schema = schema
        self.compression = compression
        output.append(contentsOf: Array("PAR1".utf8))
    }

    /// A column chunk encoded and compressed, not yet placed in the file: row groups are
    /// encoded on several threads, then appended in order.
    struct EncodedChunk {
        var bytes: [UInt8]
        var column: ParquetSchema.Column
        var uncompressedSize: Int64
        var values: Int64
        var nulls: Int64
        var statistics: (min: [UInt8], max: [UInt8])?
        var bloomFilter: [UInt8]?
    }

    /// A split-block Bloom filter of `hashes` (xxHash64 of the values) as Parquet stores it:
    /// BloomFilterHeader {numBytes, BLOCK, XXHASH, UNCOMPRESSED} then the bitset, its 32-bit
    /// words little-endian. About 10 bits a distinct value (~1 % false positives), in a
    /// power-of-two size from 32 bytes to 1 MiB (what readers accept).
    static func bloomFilter(_ hashes: [UInt64]) -> [UInt8] {
        let distinct = Set(hashes).count
        var bytes = 32
        while bytes < distinct * 10 / 8 && bytes < 1 << 20 { bytes <<= 1 }
        var filter = SplitBlockBloomFilter(uncheckedWords: [UInt32](repeating: 0, count: bytes / 4))
        for h in hashes { filter.insert(hash: h) }
        var header = ThriftCompactWriter()
        header.beginStructValue()
        header.i32(1, Int32(bytes))
        for id: Int16 in 2...4 {  // algorithm BLOCK, hash XXHASH, compression UNCOMPRESSED: unions of one empty struct
            header.beginStruct(id); header.beginStruct(1); header.endStruct(); header.endStruct()
        }
        header.endStruct()
        var out = header.bytes
        out.reserveCapacity(out.count + bytes)
        for w in filter.words { withUnsafeBytes(of: w.littleEndian) { out.append(contentsOf: $0) } }
        return out
    }

    /// Encodes one column chunk as a single DATA_PAGE (v1): [levels: u32 length +
    /// RLE/bit-packed] values, compressed; `compressor` is the calling thread's.
    static func encode(_ buffer: ParquetColumnBuffer, compression: SegmentCompression, compressor: Compressor) throws(SightlineError) -> EncodedChunk {
        var page = ByteWriter(capacity: buffer.values.count + buffer.levels.count / 8 + 16)
        if buffer.column.optional { appendLevels(buffer.levels, to: &page) }
        page.append(contentsOf: buffer.values)
        let uncompressed = page.count
        var compressed = ByteWriter(capacity: uncompressed / 2 + 64)
        switch compression {
        case .zstd:
            _ = try page.bytes.withUnsafeBytesTyped { (raw: UnsafeRawBufferPointer) throws(SightlineError) -> Int in
                try compressor.compress(raw, with: compression, into: &compressed)
            }
        default:
            compressed = page
        }
        var header = ThriftCompactWriter()
        header.beginStructValue()
        header.i32(1, 0)  // DATA_PAGE
        header.i32(2, Int32(uncompressed))
        header.i32(3, Int32(compressed.count))
        header.beginStruct(5)  // DataPageHeader
        header.i32(1, Int32(buffer.count))
        header.i32(2, 0)  // PLAIN
        header.i32(3, 3)  // definition levels: RLE
        header.i32(4, 3)  // repetition levels: RLE (none here)
        header.endStruct()
        header.endStruct()
        return EncodedChunk(bytes: header.bytes + compressed.bytes, column: buffer.column,
                            uncompressedSize: Int64(header.bytes.count + uncompressed), values: Int64(buffer.count),
                            nulls: Int64(buffer.nullCount), statistics: buffer.statistics,
                            bloomFilter: buffer.column.bloomFilter && !buffer.hashes.isEmpty ? bloomFilter(buffer.hashes) : nil)
    }

    /// Appends a row group: its chunks in schema order, each of the same number of rows.
    mutating func append(rowGroup chunks: [EncodedChunk]) {
        let columns = schema.columns
        precondition(chunks.count == columns.count, "one chunk per column")
        let rows = chunks.first?.values ?? 0
        var placed: [ChunkMetadata] = []
        for chunk in chunks {
            precondition(chunk.values == rows, "column \(chunk.column.name) has \(chunk.values) rows, not \(rows)")
            placed.append(ChunkMetadata(column: chunk.column, offset: Int64(output.count), compressedSize: Int64(chunk.bytes.count),
                                        uncompressedSize: chunk.uncompressedSize, values: chunk.values, nulls: chunk.nulls,
                                        statistics: chunk.statistics, bloomFilter: chunk.bloomFilter))
            output.append(contentsOf: chunk.bytes)
        }
        rowGroups.append(RowGroupMetadata(chunks: placed, rows: rows))
        rowCount += rows
    }

    /// Definition levels (bit width 1) in the RLE/bit-packed hybrid, after their u32 length:
    /// one RLE run when all are equal, else one bit-packed run (LSB first, padded to 8).
    static func appendLevels(_ levels: [UInt8], to out: inout ByteWriter) {
        let lengthAt = out.count
        out.append(littleEndian: UInt32(0))
        if let first = levels.first, !levels.contains(where: { $0 != first }) {
            out.appendVarint(UInt64(levels.count) << 1)
            out.append(first)
        } else if !levels.isEmpty {
            let groups = (levels.count + 7) / 8
            out.appendVarint(UInt64(groups) << 1 | 1)
            for g in 0..<groups {
                var byte: UInt8 = 0
                for bit in 0..<8 where g * 8 + bit < levels.count { byte |= (levels[g * 8 + bit] & 1) << UInt8(bit) }
                out.append(byte)
            }
        }
        out.patch(littleEndian: UInt32(out.count - lengthAt - 4), at: lengthAt)
    }

    /// Writes the footer and returns the whole file.
    mutating func finish(keyValueMetadata: [(String, String)]) -> [UInt8] {
        // Bloom filters after the data, before the footer that points at them.
        for g in rowGroups.indices {
            for c in rowGroups[g].chunks.indices {
                guard let filter = rowGroups[g].chunks[c].bloomFilter else { continue }
                rowGroups[g].chunks[c].bloomFilterOffset = Int64(output.count)
                output.append(contentsOf: filter)
            }
        }
        var w = ThriftCompactWriter()
        w.beginStructValue()
        w.i32(1, 2)  // version
        schema.encode(into: &w)
        w.i64(3, rowCount)
        w.beginList(4, .structure, count: rowGroups.count)
        for (ordinal, group) in rowGroups.enumerated() {
            w.beginStructValue()
            w.beginList(1, .structure, count: group.chunks.count)
            for chunk in group.chunks { Self.encode(chunk, compression: compression, into: &w) }
            w.i64(2, group.chunks.reduce(0) { $0 + $1.uncompressedSize })
            w.i64(3, group.rows)
            w.i64(5, group.chunks.first?.offset ?? 4)
            w.i64(6, group.chunks.reduce(0) { $0 + $1.compressedSize })
            w.i16(7, Int16(truncatingIfNeeded: ordinal))
            w.endStruct()
        }
        w.beginList(5, .structure, count: keyValueMetadata.count)
        for (key, value) in keyValueMetadata {
            w.beginStructValue()
            w.string(1, key)
            w.string(2, value)
            w.endStruct()
        }
        w.string(6, Self.createdBy)
        let leaves = schema.columns.count
        w.beginList(7, .structure, count: leaves)
        for _ in 0..<leaves {
            w.beginStructValue()
            w.beginStruct(1)  // TYPE_ORDER
            w.endStruct()
            w.endStruct()
        }
        w.endStruct()
        output.append(contentsOf: w.bytes)
        output.append(littleEndian: UInt32(w.bytes.count))
        output.append(contentsOf: Array("PAR1".utf8))
        return output.bytes
    }

    private static func encode(_ chunk: ChunkMetadata, compression: SegmentCompression, into w: inout ThriftCompactWriter) {
        w.beginStructValue()  // ColumnChunk
        w.i64(2, chunk.offset)  // file_offset: where the chunk starts
        w.beginStruct(3)  // ColumnMetaData
        w.i32(1, chunk.column.physical.rawValue)
        w.beginList(2, .i32, count: 2)
        w.i32Value(0)  // PLAIN
        w.i32Value(3)  // RLE (levels)
        w.beginList(3, .binary, count: chunk.column.path.count)
        for part in chunk.column.path { w.stringValue(part) }
        if case .zstd = compression { w.i32(4, 6) } else { w.i32(4, 0) }
        w.i64(5, chunk.values)
        w.i64(6, chunk.uncompressedSize)
        w.i64(7, chunk.compressedSize)
        w.i64(9, chunk.offset)  // data_page_offset
        w.beginStruct(12)  // Statistics
        w.i64(3, chunk.nulls)
        if let stats = chunk.statistics {
            w.binary(5, stats.max)
            w.binary(6, stats.min)
        }
        w.endStruct()
        if let filter = chunk.bloomFilter {
            w.i64(14, chunk.bloomFilterOffset)
            w.i32(15, Int32(filter.count))
        }
        w.endStruct()
        w.endStruct()
    }
}
