import Crypto
import Dispatch
/// Options for writing segments.
public struct SegmentOptions: Sendable, Hashable {
    /// Rows per block: the unit of decoding and of statistics-based skipping (256...65536).
    /// 8,192 is the default; Docs/format.md gives the measurements behind it.
    public var blockRows: Int
    /// Rows per block of the spatial copy (256...65536): smaller blocks make area queries
    /// read fewer rows beyond their region, at some cost in size.
    public var spatialBlockRows: Int
    /// The compressor applied after each stream's encoding, when it saves space.
    public var compression: SegmentCompression

    /// Options with the defaults: 8,192-row blocks, 4,096-row spatial blocks, zstd level 1.
    public init(blockRows: Int = 8192, spatialBlockRows: Int = 4096, compression: SegmentCompression = .default) {
        self.blockRows = blockRows
        self.spatialBlockRows = spatialBlockRows
        self.compression = compression
    }

    func validated() throws(SightlineError) -> SegmentOptions {
        guard (256...65536).contains(blockRows) else {
            throw .invalidArgument("blockRows must be 256...65536, got \(blockRows)")
        }
        guard (256...65536).contains(spatialBlockRows) else {
            throw .invalidArgument("spatialBlockRows must be 256...65536, got \(spatialBlockRows)")
        }
        return self
    }
}

/// What was written: counts and the bytes each column took.
public struct SegmentSummary: Sendable, Hashable {
    /// Rows written.
    public var rowCount: Int
    /// Blocks written.
    public var blockCount: Int
    /// Total file size in bytes.
    public var fileBytes: Int
    /// Bytes per column, summed over blocks, indexed by `ColumnID.rawValue`.
    public var columnBytes: [Int]
    /// Bytes per column of the spatial copy, indexed by `ColumnID.rawValue`.
    public var spatialColumnBytes: [Int]
    /// Bytes of the spatial copy (its blocks' column chunks).
    public var spatialBytes: Int { spatialColumnBytes.reduce(0, +) }
    /// Bytes of the plate membership filter.
    public var plateFilterBytes: Int
    /// Bytes of the camera-home section.
    public var cameraHomeBytes: Int
    /// Bytes of the plate n-gram index (partial and OCR-equivalent plate search).
    public var plateIndexBytes: Int = 0
    /// Bytes of the camera index (queries filtered by camera).
    public var cameraIndexBytes: Int = 0
    /// Bytes of header, footer and trailer.
    public var metadataBytes: Int
    /// Number of camera homes (fixed-camera positions) in the segment.
    public var cameraHomeCount: Int

    /// File bytes per row.
    public var bytesPerRow: Double { rowCount == 0 ? 0 : Double(fileBytes) / Double(rowCount) }
}

/// Encodes sightings into segment file format v3.
///
/// Rows are sorted by (plate key, plate, time, camera) and cut into blocks; each block's
/// column chunks are encoded, checksummed and handed to `sink` as they are produced, so a
/// large segment streams to disk. Then the same rows again in space-time order (the spatial
/// copy, `SpatialOrder`), the camera homes, a Bloom filter of the plate keys, the plate
/// n-gram index and the camera index.
/// Duplicates are kept: deduplication is the store's job.
@_spi(Benchmarks)
public struct SegmentEncoder: Sendable {
    let options: SegmentOptions
    let hasher: PlateHasher

    /// An encoder with `options` under `hasher`'s key.
    public init(hasher: PlateHasher, options: SegmentOptions = SegmentOptions()) throws(SightlineError) {
        self.options = try options.validated()
        self.hasher = hasher
    }

    /// Encodes `batch`, passing the file's bytes to `sink` in order.
    public func encode(_ batch: SightingBatch,
                       to sink: (UnsafeRawBufferPointer) throws(SightlineError) -> Void) throws(SightlineError) -> SegmentSummary {
        try encode(SortedBatch(batch, hasher: hasher), to: sink)
    }

    /// Encodes `batch` into memory.
    public func encode(_ batch: SightingBatch) throws(SightlineError) -> [UInt8] {
        var bytes: [UInt8] = []
        _ = try encode(batch) { (chunk: UnsafeRawBufferPointer) throws(SightlineError) in bytes.append(contentsOf: chunk) }
        return bytes
    }

    /// Encodes rows already sorted (the store sorts its buffer once, then encodes).
    public func encode(_ rows: SortedBatch,
                       to sink: (UnsafeRawBufferPointer) throws(SightlineError) -> Void) throws(SightlineError) -> SegmentSummary {
        let compressor = Compressor()
        var encoder = BlockEncoder(compression: options.compression, compressor: compressor)
        var out = ByteWriter(capacity: 1 << 20)
        var written: Int64 = 0
        func flush(_ out: inout ByteWriter) throws(SightlineError) {
            try out.bytes.withUnsafeBytesTyped { (raw: UnsafeRawBufferPointer) throws(SightlineError) in try sink(raw) }
            written += Int64(out.count)
            out.removeAll()
        }

        // Header.
        out.append(contentsOf: SegmentFormat.headerMagic)
        out.append(littleEndian: SegmentFormat.version)
        out.append(littleEndian: out.bytes.withUnsafeBytes { CRC32C.checksum($0) })

        let homes = CameraHomes.build(cameras: rows.cameras, latitudes: rows.latitudes, longitudes: rows.longitudes)
        let homeRefs = homes.references(cameras: rows.cameras, latitudes: rows.latitudes, longitudes: rows.longitudes)
        var summary = SegmentSummary(rowCount: rows.count, blockCount: 0, fileBytes: 0,
                                     columnBytes: Array(repeating: 0, count: SegmentFormat.columnCount),
                                     spatialColumnBytes: Array(repeating: 0, count: SegmentFormat.columnCount), plateFilterBytes: 0,
                                     cameraHomeBytes: 0, metadataBytes: 0, cameraHomeCount: homes.count)
        var column = ByteWriter(capacity: 1 << 16)
        var scratch: [UInt64] = []
        /// Encodes `rows` as blocks of `blockRows`; returns their entries and bytes.
        func encodeBlocks(_ rows: SortedBatch, homeRefs: [UInt32], ranges: [Range<Int>], keysSorted: Bool) throws(SightlineError) -> ([BlockEntry], [Int]) {
            var entries: [BlockEntry] = []
            var bytes = Array(repeating: 0, count: SegmentFormat.columnCount)
            for range in ranges {
                let offset = written + Int64(out.count)
                var entry = try Self.encodeBlock(rows, range, homeRefs: homeRefs, keysSorted: keysSorted, encoder: &encoder,
                                                 column: &column, scratch: &scratch, into: &out, columnBytes: &bytes)
                entry.offset = offset
                entries.append(entry)
                if out.count >= 1 << 20 { try flush(&out) }
            }
            return (entries, bytes)
        }
        let mainRanges = stride(from: 0, to: rows.count, by: options.blockRows).map { $0..<min(rows.count, $0 + options.blockRows) }
        // The spatial copy — the same rows in space-time order — is independent of the
        // plate-ordered blocks: on a second core it is ordered and encoded (into memory)
        // while this thread encodes and streams the plate-ordered blocks; then it follows
        // them. (About half a flush's work: a flush takes ~55 % of the time it took alone.)
        let spatialJob = SpatialCopyJob(rows: rows, homeRefs: homeRefs, plateBlocks: mainRanges, options: options)
        let group = DispatchGroup()
        let parallel = Machine.coreCount > 1 && rows.count >= 2 * options.spatialBlockRows
        if parallel {
            DispatchQueue.global(qos: .userInitiated).async(group: group) {
                spatialJob.prepare()
                spatialJob.encodeBlocks()
            }
        } else {
            spatialJob.prepare()
        }
        let encodedMain: ([BlockEntry], [Int])
        do throws(SightlineError) {
            encodedMain = try encodeBlocks(rows, homeRefs: homeRefs, ranges: mainRanges, keysSorted: true)
        } catch {
            spatialJob.cancel()
            group.wait()  // the job reads `rows`: let it finish before they go
            throw error
        }
        let (entries, mainBytes) = encodedMain
        summary.columnBytes = mainBytes
        // Then this thread helps encode the spatial blocks the job has not taken yet.
        spatialJob.encodeBlocks()
        group.wait()
        let spatial = try spatialJob.result()
        let spatialBase = written + Int64(out.count)
        let spatialEntries = spatial.entries.map { e in
            var e = e
            e.offset += spatialBase
            return e
        }
        try flush(&out)
        try spatial.bytes.bytes.withUnsafeBytesTyped { (raw: UnsafeRawBufferPointer) throws(SightlineError) in try sink(raw) }
        written += Int64(spatial.bytes.count)
        summary.spatialColumnBytes = spatial.columnBytes

        // Camera homes section.
        let homesOffset = written + Int64(out.count)
        column.removeAll()
        try homes.encode(&encoder.streams, into: &column)
        let homesCRC = column.bytes.withUnsafeBytes { CRC32C.checksum($0) }
        out.append(contentsOf: column.bytes)
        summary.cameraHomeBytes = column.count
        let homesLength = column.count

        // Plate filter section: a Bloom filter of the distinct plate keys (sorted: runs).
        let filterOffset = written + Int64(out.count)
        var distinct = 0
        for i in 0..<rows.count where i == 0 || rows.keys[i] != rows.keys[i - 1] { distinct += 1 }
        var filter = SplitBlockBloomFilter(expectedKeys: distinct, bitsPerKey: SegmentFormat.plateFilterBitsPerKey)
        for i in 0..<rows.count where i == 0 || rows.keys[i] != rows.keys[i - 1] { filter.insert(hash: PlateFilter.hash(rows.keys[i])) }
        column.removeAll()
        for w in filter.words { column.append(littleEndian: w) }
        let filterCRC = column.bytes.withUnsafeBytes { CRC32C.checksum($0) }
        out.append(contentsOf: column.bytes)
        summary.plateFilterBytes = column.count

        // Plate n-gram index section (directory, then one posting list per bigram; built by
        // the spatial copy's job).
        let plateIndexOffset = written + Int64(out.count)
        let plateIndex = spatial.plateIndex
        out.append(contentsOf: plateIndex.bytes.bytes)
        summary.plateIndexBytes = plateIndex.bytes.count
        if out.count >= 1 << 20 { try flush(&out) }

        // Camera index section (over the spatial blocks).
        let cameraIndexOffset = written + Int64(out.count)
        let cameraIndexCRC = spatial.cameraIndex.bytes.withUnsafeBytes { CRC32C.checksum($0) }
        out.append(contentsOf: spatial.cameraIndex.bytes)
        summary.cameraIndexBytes = spatial.cameraIndex.count

        // Footer and trailer.
        let footerOffset = written + Int64(out.count)
        let footerStart = out.count
        var total = BlockStatistics(rowCount: rows.count, minPlateKey: .max, maxPlateKey: .min,
                                    minTime: .max, maxTime: .min, bounds: .empty)
        for e in entries { total.formUnion(e.statistics) }
        out.append(littleEndian: UInt64(rows.count))
        out.append(littleEndian: UInt32(entries.count))
        out.append(littleEndian: UInt32(options.blockRows))
        Self.appendStatistics(total, to: &out)
        out.append(littleEndian: UInt64(homesOffset))
        out.append(littleEndian: UInt32(homesLength))
        out.append(littleEndian: homesCRC)
        out.append(littleEndian: hasher.secretFingerprint)
        out.append(littleEndian: UInt32(spatialEntries.count))
        out.append(littleEndian: UInt32(options.spatialBlockRows))
        out.append(littleEndian: UInt64(filterOffset))
        out.append(littleEndian: UInt32(summary.plateFilterBytes))
        out.append(littleEndian: filterCRC)
        out.append(littleEndian: UInt64(plateIndexOffset))
        out.append(littleEndian: UInt32(summary.plateIndexBytes))
        out.append(littleEndian: UInt32(plateIndex.directoryLength))
        out.append(littleEndian: plateIndex.directoryCRC)
        out.append(littleEndian: UInt64(cameraIndexOffset))
        out.append(littleEndian: UInt32(summary.cameraIndexBytes))
        out.append(littleEndian: cameraIndexCRC)
        for e in entries + spatialEntries {
            out.append(littleEndian: UInt64(e.offset))
            out.append(littleEndian: UInt32(e.statistics.rowCount))
            Self.appendStatistics(e.statistics, to: &out)
            for k in 0..<SegmentFormat.columnCount {
                out.append(littleEndian: e.columnLengths[k])
                out.append(littleEndian: e.columnChecksums[k])
            }
        }
        let footerLength = out.count - footerStart
        let footerCRC = out.bytes.withUnsafeBytes { CRC32C.checksum(UnsafeRawBufferPointer(rebasing: $0[footerStart...])) }
        out.append(littleEndian: UInt64(footerOffset))
        out.append(littleEndian: UInt32(footerLength))
        out.append(littleEndian: footerCRC)
        out.append(littleEndian: SegmentFormat.trailerMagic)
        try flush(&out)

        summary.blockCount = entries.count
        summary.fileBytes = Int(written)
        summary.metadataBytes = summary.fileBytes - summary.columnBytes.reduce(0, +) - summary.cameraHomeBytes
            - summary.spatialBytes - summary.plateFilterBytes - summary.plateIndexBytes - summary.cameraIndexBytes
        return summary
    }

    /// Rows with their camera-home references, prepared once for per-column benchmarks.
    public struct PreparedRows {
        let rows: SortedBatch
        let homeRefs: [UInt32]

        /// Finds the camera homes of `rows`.
        public init(_ rows: SortedBatch) {
            self.rows = rows
            let homes = CameraHomes.build(cameras: rows.cameras, latitudes: rows.latitudes, longitudes: rows.longitudes)
            homeRefs = homes.references(cameras: rows.cameras, latitudes: rows.latitudes, longitudes: rows.longitudes)
        }
    }

    /// Encodes only column `id` of every block and returns its bytes: the per-column
    /// microbenchmarks' entry point. Not a stable API.
    public func encodeColumn(_ id: ColumnID, of prepared: PreparedRows) throws(SightlineError) -> Int {
        let compressor = Compressor()
        var encoder = BlockEncoder(compression: options.compression, compressor: compressor)
        let rows = prepared.rows, homeRefs = prepared.homeRefs
        var column = ByteWriter(capacity: 1 << 16)
        var scratch: [UInt64] = []
        var total = 0
        var start = 0
        while start < rows.count {
            let range = start..<min(rows.count, start + options.blockRows)
            column.removeAll()
            try Self.encodeChunk(id, rows, range, homeRefs: homeRefs, encoder: &encoder, scratch: &scratch, into: &column)
            total += column.count
            start = range.upperBound
        }
        return total
    }

    /// Encodes column `id` of the rows in `range` (one block's chunk).
    /// Appends one block's column chunks to `out` and adds their sizes to `columnBytes`;
    /// returns its entry (offset 0: the caller places the block).
    static func encodeBlock(_ rows: SortedBatch, _ range: Range<Int>, homeRefs: [UInt32], keysSorted: Bool,
                            encoder: inout BlockEncoder, column: inout ByteWriter, scratch: inout [UInt64],
                            into out: inout ByteWriter, columnBytes: inout [Int]) throws(SightlineError) -> BlockEntry {
        var entry = BlockEntry(offset: 0, statistics: statistics(rows, range, keysSorted: keysSorted), columnLengths: [], columnChecksums: [])
        for id in ColumnID.allCases {
            column.removeAll()
            try encodeChunk(id, rows, range, homeRefs: homeRefs, encoder: &encoder, scratch: &scratch, into: &column)
            entry.columnLengths.append(UInt32(column.count))
            entry.columnChecksums.append(column.bytes.withUnsafeBytes { CRC32C.checksum($0) })
            columnBytes[id.rawValue] += column.count
            out.append(contentsOf: column.bytes)
        }
        return entry
    }

    static func encodeChunk(_ id: ColumnID, _ rows: SortedBatch, _ range: Range<Int>, homeRefs: [UInt32],
                            encoder: inout BlockEncoder, scratch: inout [UInt64], into column: inout ByteWriter) throws(SightlineError) {
        switch id {
        case .plate: try encoder.encodePlate(rows, range, into: &column)
        case .time: try encoder.encodeTime(rows, range, into: &column)
        case .camera:
            scratch.removeAll(keepingCapacity: true)
            for i in range where homeRefs[i] == 0 { scratch.append(UInt64(rows.cameras[i])) }
            try encoder.encodeUnsigned(scratch, into: &column)
        case .position: try encoder.encodePosition(rows, range, homeRefs: homeRefs, into: &column)
        case .confidence:
            scratch.removeAll(keepingCapacity: true)
            for i in range { scratch.append(UInt64(rows.confidences[i])) }
            try encoder.encodeUnsigned(scratch, into: &column)
        case .region:
            if range.contains(where: { rows.regions[$0] != 0 }) {
                scratch.removeAll(keepingCapacity: true)
                for i in range { scratch.append(UInt64(rows.regions[i])) }
                try encoder.encodeUnsigned(scratch, into: &column)
            }
        case .image: try encoder.encodeImage(rows, range, into: &column)
        }
    }

    static func statistics(_ rows: SortedBatch, _ range: Range<Int>, keysSorted: Bool = true) -> BlockStatistics {
        var s = BlockStatistics(rowCount: range.count, minPlateKey: rows.keys[range.lowerBound],
                                maxPlateKey: rows.keys[range.upperBound - 1], minTime: .max, maxTime: .min, bounds: .empty)
        if !keysSorted {
            s.minPlateKey = .max
            s.maxPlateKey = .min
            for i in range {
                s.minPlateKey = min(s.minPlateKey, rows.keys[i])
                s.maxPlateKey = max(s.maxPlateKey, rows.keys[i])
            }
        }
        for i in range {
            s.minTime = min(s.minTime, rows.times[i])
            s.maxTime = max(s.maxTime, rows.times[i])
            s.bounds.include(latitudeE7: rows.latitudes[i], longitudeE7: rows.longitudes[i])
        }
        return s
    }

    /// minKey u64, maxKey u64, minTime i64, maxTime i64, minLat i32, minLon i32, maxLat i32, maxLon i32.
    static func appendStatistics(_ s: BlockStatistics, to out: inout ByteWriter) {
        out.append(littleEndian: s.minPlateKey)
        out.append(littleEndian: s.maxPlateKey)
        out.append(littleEndian: s.minTime)
        out.append(littleEndian: s.maxTime)
        out.append(littleEndian: s.bounds.minLatitudeE7)
        out.append(littleEndian: s.bounds.minLongitudeE7)
        out.append(littleEndian: s.bounds.maxLatitudeE7)
        out.append(littleEndian: s.bounds.maxLongitudeE7)
    }
}

/// Writes segment files durably through a `FileSystem`.
public struct SegmentWriter: Sendable {
    let encoder: SegmentEncoder
    let fileSystem: any FileSystem
    /// When set, the next `write` seals the file (AES-256-GCM, `SealedFile`) with this data
    /// key, named by its id; the store sets a fresh key for every segment.
    var sealing: (id: [UInt8], key: SymmetricKey)?

    /// A writer under `hasher`'s key.
    public init(hasher: PlateHasher, options: SegmentOptions = SegmentOptions(),
                fileSystem: any FileSystem = PosixFileSystem()) throws(SightlineError) {
        encoder = try SegmentEncoder(hasher: hasher, options: options)
        self.fileSystem = fileSystem
    }

    /// Writes `batch` as a new segment at `path`: temporary file, fsync, rename, fsync of the
    /// directory. Either the whole segment is at `path` afterwards or nothing is.
    @discardableResult
    public func write(_ batch: SightingBatch, to path: String) throws(SightlineError) -> SegmentSummary {
        try write(SortedBatch(batch, hasher: encoder.hasher), to: path)
    }

    /// Writes rows already sorted, as `write(_:to:)` does.
    @discardableResult
    func write(_ rows: SortedBatch, to path: String) throws(SightlineError) -> SegmentSummary {
        var summary: SegmentSummary?
        let sealing = self.sealing
        try fileSystem.writeAtomically(path) { (write: (UnsafeRawBufferPointer) throws(SightlineError) -> Void) throws(SightlineError) in
            guard let sealing else {
                summary = try encoder.encode(rows, to: write)
                return
            }
            var sealer = SealedFileWriter(dataKey: sealing.key, keyID: sealing.id)
            summary = try encoder.encode(rows) { (bytes: UnsafeRawBufferPointer) throws(SightlineError) in try sealer.append(bytes, output: write) }
            try sealer.finish(output: write)
            summary!.fileBytes = SealedFileWriter.sealedSize(plaintext: sealer.plaintextBytes)
        }
        return summary!
    }
}

/// The spatial copy of one segment and the segment's two indexes: the copy ordered on a
/// second thread (`prepare`), then the work items taken in turn by every thread that calls
/// `encodeBlocks` — the job's thread, and the writer's once its plate-ordered blocks are
/// done — each with its own encoder: the camera index (over the copy's blocks), the plate
/// n-gram index (over the plate-ordered blocks), then the copy's blocks. `result` joins
/// the blocks in order (offsets relative to the copy's first byte) and hands over both
/// indexes' sections.
final class SpatialCopyJob: @unchecked Sendable {
    private let rows: SortedBatch
    private let homeRefs: [UInt32]
    /// The plate-ordered blocks' row ranges (for the plate n-gram index).
    private let plateBlocks: [Range<Int>]
    private let options: SegmentOptions
    /// Set once by `prepare` (before `prepared` is; read only after waiting for it).
    private var spatialRows: SortedBatch
    private var refs: [UInt32] = []
    private var ranges: [Range<Int>] = []
    private struct Progress {
        var prepared = false
        var next = 0
        var done: [Int: (bytes: [UInt8], entry: BlockEntry, columnBytes: [Int])] = [:]
        var cameraIndex: ByteWriter?
        var plateIndex: PlateIndexSection?
        var failure: SightlineError?
        var cancelled = false
    }
    private let progress = Locked(Progress())

    struct Encoded {
        var entries: [BlockEntry]
        var columnBytes: [Int]
        var bytes: ByteWriter
        var cameraIndex: ByteWriter
        var plateIndex: PlateIndexSection
    }

    /// The plate n-gram index section of the plate-ordered blocks, and its directory's
    /// length and checksum for the footer.
    struct PlateIndexSection {
        var bytes: ByteWriter
        var directoryLength: Int
        var directoryCRC: UInt32
    }

    init(rows: SortedBatch, homeRefs: [UInt32], plateBlocks: [Range<Int>], options: SegmentOptions) {
        self.rows = rows
        self.homeRefs = homeRefs
        self.plateBlocks = plateBlocks
        self.options = options
        spatialRows = rows  // replaced by `prepare`
    }

    /// Orders the rows in space-time and cuts the blocks.
    func prepare() {
        var (order, cells) = rows.spatialPermutation()
        ranges = SpatialOrder.blockRanges(cells: cells, limit: options.spatialBlockRows)
        rows.groupVehiclesWithinBlocks(&order, ranges: ranges)
        spatialRows = SortedBatch(reordering: rows, by: order)
        refs = SortedBatch.gather(homeRefs, order)
        progress.withLock { $0.prepared = true }
        progress.broadcast()
    }

    /// Stops handing out blocks (the writer failed).
    func cancel() { progress.withLock { $0.cancelled = true } }

    /// Encodes blocks until none is left (waits for `prepare` first). The first two work
    /// items handed out are the camera index (built and encoded from the ordered rows) and
    /// the plate n-gram index of the plate-ordered blocks, so they are built while the other
    /// thread still encodes: together ~a quarter of the copy's work on ALPR-like data, and
    /// built after the blocks they kept one core idle.
    func encodeBlocks() {
        progress.withLock(waitingUntil: { $0.prepared || $0.cancelled }) { _ in }
        var encoder = BlockEncoder(compression: options.compression, compressor: Compressor())
        var column = ByteWriter(capacity: 1 << 16)
        var block = ByteWriter(capacity: 1 << 16)
        var scratch: [UInt64] = []
        while true {
            let item: Int? = progress.withLock { p in
                guard !p.cancelled, p.failure == nil, p.next < ranges.count + 2 else { return nil }
                p.next += 1
                return p.next - 1
            }
            guard let item else { return }
            if item < 2 {
                do throws(SightlineError) {
                    var section = ByteWriter(capacity: 1 << 16)
                    if item == 0 {
                        try CameraBlockIndex.build(cameras: spatialRows.cameras, times: spatialRows.times, ranges: ranges)
                            .encode(&encoder.streams, into: &section)
                        progress.withLock { $0.cameraIndex = section }
                    } else {
                        let (length, crc) = try PlateGramIndex.encode(rows, blocks: plateBlocks, writer: &encoder.streams, into: &section)
                        progress.withLock { $0.plateIndex = PlateIndexSection(bytes: section, directoryLength: length, directoryCRC: crc) }
                    }
                } catch {
                    progress.withLock { $0.failure = $0.failure ?? error }
                    return
                }
                continue
            }
            let b = item - 2
            let range = ranges[b]
            do throws(SightlineError) {
                block.removeAll()
                var bytes = Array(repeating: 0, count: SegmentFormat.columnCount)
                let entry = try SegmentEncoder.encodeBlock(spatialRows, range, homeRefs: refs, keysSorted: false, encoder: &encoder,
                                                           column: &column, scratch: &scratch, into: &block, columnBytes: &bytes)
                let encoded = (Array(block.bytes), entry, bytes)
                progress.withLock { $0.done[b] = encoded }
            } catch {
                progress.withLock { $0.failure = $0.failure ?? error }
                return
            }
        }
    }

    /// The copy's blocks in order, once every `encodeBlocks` call has returned.
    func result() throws(SightlineError) -> Encoded {
        let p = progress.withLock { $0 }
        if let failure = p.failure { throw failure }
        var out = ByteWriter(capacity: p.done.values.reduce(0) { $0 + $1.bytes.count })
        var entries: [BlockEntry] = []
        var columnBytes = Array(repeating: 0, count: SegmentFormat.columnCount)
        for b in 0..<ranges.count {
            guard let (bytes, entry, counts) = p.done[b] else { throw .invalidArgument("spatial block \(b) was not encoded") }
            var e = entry
            e.offset = Int64(out.count)
            entries.append(e)
            out.append(contentsOf: bytes)
            for c in 0..<counts.count { columnBytes[c] += counts[c] }
        }
        guard let cameraIndex = p.cameraIndex, let plateIndex = p.plateIndex else {
            throw .invalidArgument("the segment's indexes were not built")
        }
        return Encoded(entries: entries, columnBytes: columnBytes, bytes: out, cameraIndex: cameraIndex, plateIndex: plateIndex)
    }
}
