import Crypto
/// An open segment file: its validated footer, and reads of block bytes by offset.
///
/// Opening checks the header, the trailer, the footer's checksum and that every block and
/// section lies where the footer says, contiguously, inside the file. Blocks are checked
/// against their own checksums when read. Immutable and safe to share between threads.
public final class SegmentReader: Sendable {
    /// The file's path (or a label, for an in-memory segment).
    public let path: String
    /// The last component of `path`.
    public let fileName: String
    /// Total rows.
    public let rowCount: Int
    /// Target rows per block the segment was written with.
    public let blockRowLimit: Int
    /// Statistics over the whole segment.
    public let statistics: BlockStatistics
    /// File size in bytes.
    public let fileSize: Int64
    /// The hasher the segment's plate keys are recomputed with.
    public let hasher: PlateHasher
    /// Entries of the plate-ordered blocks, then of the spatial copy's blocks.
    let blocks: [BlockEntry]
    /// Indices of the spatial copy's blocks in `blocks`.
    let spatialBlocks: Range<Int>
    /// Rows per spatial block the segment was written with.
    let spatialBlockRowLimit: Int
    let homes: CameraHomes
    /// Which plate keys the segment may hold.
    let plateFilter: SplitBlockBloomFilter
    /// The spatial copy's blocks as a tree of bounding boxes.
    let spatialTree: SpatialTree
    /// Bytes per column over the plate-ordered blocks (full-scan estimates in O(1)).
    let mainColumnBytes: [Int]
    /// The plate n-gram index (nil in a v2 segment: searches scan it).
    let plateIndex: PlateGramIndex?
    /// Where the camera index lies (nil in a v2 segment: camera filters scan it); decoded on
    /// first use through `CameraIndexCache` (`cameraIndex()`).
    let cameraIndexLocation: (offset: Int64, length: Int, checksum: UInt32)?
    /// The file's format version (2 or 3).
    public let formatVersion: Int
    /// Bytes of the plate n-gram index and of the camera index (0 in a v2 segment).
    let indexBytes: (plate: Int, camera: Int)
    private let source: Source

    enum Source: Sendable {
        case file(any FileSystem, OpenFile)
        case memory([UInt8])
        /// A sealed file (`SealedFile`): every read opens the chunks it touches.
        case sealed(any FileSystem, OpenFile, SealedFileReader)
    }

    /// The id of the data key that seals this segment (nil: written in clear).
    var keyID: [UInt8]? {
        if case .sealed(_, _, let reader) = source { return reader.header.keyID }
        return nil
    }

    /// Number of (plate-ordered) blocks.
    public var blockCount: Int { spatialBlocks.lowerBound }

    /// False when the segment certainly holds no row of the plate with this key.
    public func mayContain(plateKey: UInt64) -> Bool { plateFilter.mayContain(hash: PlateFilter.hash(plateKey)) }

    /// The spatial blocks (indices into `blocks`) holding rows of `camera`, from the camera
    /// index; nil in a v2 segment, which has none.
    func spatialBlocks(ofCamera camera: UInt32) throws(SightlineError) -> [Int]? {
        try cameraIndex().map { index in index.spatialBlocks(of: camera).map { spatialBlocks.lowerBound + Int($0) } }
    }

    /// True when the segment has a camera index (v3).
    var hasCameraIndex: Bool { cameraIndexLocation != nil }

    /// The camera index, read, checked and decoded on first use and kept in
    /// `CameraIndexCache` (nil in a v2 segment).
    /// - Throws: `corruptFile` when its checksum or contents are wrong.
    func cameraIndex() throws(SightlineError) -> CameraBlockIndex? {
        guard let location = cameraIndexLocation else { return nil }
        return try CameraIndexCache.shared.index(of: self) { () throws(SightlineError) -> CameraBlockIndex in
            var bytes = [UInt8](repeating: 0, count: location.length)
            try Self.read(source, path, into: &bytes, at: location.offset)
            guard bytes.withUnsafeBytes({ CRC32C.checksum($0) }) == location.checksum else {
                throw .corruptFile(path: path, offset: location.offset, reason: "camera index checksum mismatch")
            }
            let spatialUnits = blocks[spatialBlocks].map { CameraBlockIndex.unit($0.statistics.minTime)...CameraBlockIndex.unit($0.statistics.maxTime) }
            return try bytes.withUnsafeBytesTyped { raw throws(SightlineError) in
                var r = ByteReader(raw, fileOffset: location.offset, path: path)
                return try CameraBlockIndex.decode(&r, spatialUnits: spatialUnits, streams: StreamReader(compressor: Compressor()))
            }
        }
    }

    /// The spatial blocks (indices into `blocks`) holding rows of `camera` at a time in one of
    /// `intervals` (sorted, disjoint, inclusive ms), by the camera's own minutes in each block;
    /// nil in a v2 segment.
    func spatialBlocks(ofCamera camera: UInt32, meeting intervals: [ClosedRange<Int64>]) throws(SightlineError) -> [Int]? {
        guard let index = try cameraIndex() else { return nil }
        let base = spatialBlocks.lowerBound
        return index.spatialBlocks(of: camera, meeting: intervals) { CameraBlockIndex.unit(blocks[base + $0].statistics.minTime) }
            .map { base + Int($0) }
    }

    /// Statistics of block `index`.
    public func blockStatistics(_ index: Int) -> BlockStatistics { blocks[index].statistics }

    /// Blocks of the spatial copy (their statistics follow the plate-ordered blocks':
    /// `blockStatistics(blockCount + i)`).
    public var spatialBlockCount: Int { spatialBlocks.count }

    /// Opens the segment at `path`, written under `hasher`'s secret.
    /// - Throws: `wrongPlateKeySecret` when it was written under another secret.
    public convenience init(path: String, hasher: PlateHasher, fileSystem: any FileSystem = PosixFileSystem()) throws(SightlineError) {
        try self.init(path: path, hasher: hasher, fileSystem: fileSystem, dataKey: nil)
    }

    /// Opens the segment at `path`; a sealed one with the data key `dataKey` finds for its id
    /// (nil, or a lookup that finds none: `corruptFile` saying the key is not in the keyring).
    convenience init(path: String, hasher: PlateHasher, fileSystem: any FileSystem,
         dataKey: ((_ id: [UInt8]) throws(SightlineError) -> SymmetricKey?)?) throws(SightlineError) {
        let file = try fileSystem.open(path, mode: .read)
        do {
            let size = try fileSystem.size(file)
            var magic = [UInt8](repeating: 0, count: 8)
            if size >= 8 {
                try magic.withUnsafeMutableBytesTyped { (raw: UnsafeMutableRawBufferPointer) throws(SightlineError) in try fileSystem.readExactly(file, into: raw, at: 0) }
            }
            if magic == SealedFile.magic {
                let sealed = try SealedFileReader(file: file, fileSize: size, fileSystem: fileSystem) { (id: [UInt8]) throws(SightlineError) -> SymmetricKey? in
                    try dataKey?(id)
                }
                try self.init(source: .sealed(fileSystem, file, sealed), path: path, size: sealed.size, diskSize: size, hasher: hasher)
            } else {
                try self.init(source: .file(fileSystem, file), path: path, size: size, diskSize: size, hasher: hasher)
            }
        } catch {
            try? fileSystem.close(file)
            throw error
        }
    }

    /// Opens a segment held in memory (tests, benchmarks, network transfer).
    public convenience init(bytes: [UInt8], hasher: PlateHasher, label: String = "<memory>") throws(SightlineError) {
        try self.init(source: .memory(bytes), path: label, size: Int64(bytes.count), diskSize: Int64(bytes.count), hasher: hasher)
    }

    /// `size`: the segment's bytes (a sealed file's plaintext); `diskSize`: the file's.
    private init(source: Source, path: String, size: Int64, diskSize: Int64, hasher: PlateHasher) throws(SightlineError) {
        self.source = source
        self.hasher = hasher
        self.path = path
        self.fileName = String(path.split(separator: "/").last ?? "")
        self.fileSize = diskSize
        func corrupt(_ offset: Int64, _ reason: String) -> SightlineError { .corruptFile(path: path, offset: offset, reason: reason) }

        let minimum = Int64(SegmentFormat.headerSize + SegmentFormat.trailerSize + SegmentFormat.footerFixedSizeV2)
        guard size >= minimum else { throw corrupt(0, "file is \(size) bytes, shorter than the smallest segment (\(minimum))") }

        var header = [UInt8](repeating: 0, count: SegmentFormat.headerSize)
        try Self.read(source, path, into: &header, at: 0)
        guard Array(header[0..<8]) == SegmentFormat.headerMagic else { throw corrupt(0, "not a Sightline segment (bad magic)") }
        let headerCRC = header.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: 12, as: UInt32.self).littleEndian }
        guard headerCRC == header.withUnsafeBytes({ CRC32C.checksum(UnsafeRawBufferPointer(rebasing: $0[0..<12])) }) else {
            throw corrupt(12, "header checksum mismatch")
        }
        let version = header.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: 8, as: UInt32.self).littleEndian }
        guard SegmentFormat.readableVersions.contains(version) else { throw .unsupportedFormat(path: path, version: Int(version)) }
        formatVersion = Int(version)
        let footerFixedSize = SegmentFormat.footerFixedSize(version: version)

        var trailer = [UInt8](repeating: 0, count: SegmentFormat.trailerSize)
        let trailerOffset = size - Int64(SegmentFormat.trailerSize)
        try Self.read(source, path, into: &trailer, at: trailerOffset)
        let (footerOffset, footerLength, footerCRC, trailerMagic) = try trailer.withUnsafeBytesTyped {
            (raw: UnsafeRawBufferPointer) throws(SightlineError) -> (Int64, Int, UInt32, UInt64) in
            var t = ByteReader(raw, fileOffset: trailerOffset, path: path)
            return (Int64(bitPattern: try t.read(UInt64.self)), Int(try t.read(UInt32.self)), try t.read(UInt32.self), try t.read(UInt64.self))
        }
        guard trailerMagic == SegmentFormat.trailerMagic else {
            throw corrupt(trailerOffset + 16, "bad trailer magic (truncated or not a segment)")
        }
        guard footerLength >= footerFixedSize, footerLength <= SegmentFormat.maximumFooterSize,
              footerOffset >= Int64(SegmentFormat.headerSize), footerOffset + Int64(footerLength) == trailerOffset else {
            throw corrupt(trailerOffset, "footer offset \(footerOffset) and length \(footerLength) do not fit a \(size)-byte file")
        }
        var footer = [UInt8](repeating: 0, count: footerLength)
        try Self.read(source, path, into: &footer, at: footerOffset)
        guard footer.withUnsafeBytes({ CRC32C.checksum($0) }) == footerCRC else {
            throw corrupt(footerOffset, "footer checksum mismatch")
        }

        var spatial = (count: 0, rowLimit: 0, filterOffset: Int64(0), filterLength: 0, filterCRC: UInt32(0))
        // v3: the plate index (offset, length, directory length and checksum) and the camera index.
        var indexes = (plateOffset: Int64(0), plateLength: 0, directoryLength: 0, directoryCRC: UInt32(0),
                       cameraOffset: Int64(0), cameraLength: 0, cameraCRC: UInt32(0))
        let rows = try footer.withUnsafeBytesTyped { raw throws(SightlineError) -> (Int, Int, Int, BlockStatistics, Int64, Int, UInt32, [BlockEntry]) in
            var f = ByteReader(raw, fileOffset: footerOffset, path: path)
            let rowCount = try f.read(UInt64.self)
            let blockCount = Int(try f.read(UInt32.self))
            let blockRowLimit = Int(try f.read(UInt32.self))
            var total = try Self.readStatistics(&f, rowCount: 0)
            let homesOffset = Int64(bitPattern: try f.read(UInt64.self))
            let homesLength = Int(try f.read(UInt32.self))
            let homesCRC = try f.read(UInt32.self)
            guard try f.read(UInt64.self) == hasher.secretFingerprint else { throw .wrongPlateKeySecret(path: path) }
            spatial.count = Int(try f.read(UInt32.self))
            spatial.rowLimit = Int(try f.read(UInt32.self))
            spatial.filterOffset = Int64(bitPattern: try f.read(UInt64.self))
            spatial.filterLength = Int(try f.read(UInt32.self))
            spatial.filterCRC = try f.read(UInt32.self)
            if version >= 3 {
                indexes.plateOffset = Int64(bitPattern: try f.read(UInt64.self))
                indexes.plateLength = Int(try f.read(UInt32.self))
                indexes.directoryLength = Int(try f.read(UInt32.self))
                indexes.directoryCRC = try f.read(UInt32.self)
                indexes.cameraOffset = Int64(bitPattern: try f.read(UInt64.self))
                indexes.cameraLength = Int(try f.read(UInt32.self))
                indexes.cameraCRC = try f.read(UInt32.self)
            }
            guard blockCount <= SegmentFormat.maximumFooterSize / SegmentFormat.blockEntrySize,
                  spatial.count <= SegmentFormat.maximumFooterSize / SegmentFormat.blockEntrySize,
                  f.remaining == (blockCount + spatial.count) * SegmentFormat.blockEntrySize else {
                throw f.corrupt("footer has \(f.remaining) bytes for \(blockCount) + \(spatial.count) block entries")
            }
            guard (256...65536).contains(blockRowLimit) else { throw f.corrupt("block row limit \(blockRowLimit) out of range", at: 12) }
            guard (256...65536).contains(spatial.rowLimit) else { throw f.corrupt("spatial block row limit \(spatial.rowLimit) out of range", at: 92) }
            guard spatial.filterLength >= 32, spatial.filterLength % 32 == 0 else { throw f.corrupt("plate filter length \(spatial.filterLength)", at: 104) }
            var entries: [BlockEntry] = []
            entries.reserveCapacity(blockCount)
            var expectedOffset = Int64(SegmentFormat.headerSize)
            var rowSum: UInt64 = 0, spatialRowSum: UInt64 = 0
            for b in 0..<(blockCount + spatial.count) {
                let isSpatial = b >= blockCount
                let entryStart = f.position
                let offset = Int64(bitPattern: try f.read(UInt64.self))
                let n = Int(try f.read(UInt32.self))
                let stats = try Self.readStatistics(&f, rowCount: n)
                var lengths: [UInt32] = [], crcs: [UInt32] = []
                for _ in 0..<SegmentFormat.columnCount {
                    lengths.append(try f.read(UInt32.self))
                    crcs.append(try f.read(UInt32.self))
                }
                let entry = BlockEntry(offset: offset, statistics: stats, columnLengths: lengths, columnChecksums: crcs)
                guard offset == expectedOffset, n >= 1, n <= (isSpatial ? spatial.rowLimit : blockRowLimit),
                      stats.minPlateKey <= stats.maxPlateKey, stats.minTime <= stats.maxTime else {
                    throw f.corrupt("block \(b) entry is inconsistent (offset \(offset), \(n) rows)", at: entryStart)
                }
                expectedOffset += entry.byteLength
                if isSpatial { spatialRowSum += UInt64(n) } else { rowSum += UInt64(n) }
                entries.append(entry)
            }
            let filterEnd = spatial.filterOffset + Int64(spatial.filterLength)
            guard expectedOffset == homesOffset, homesOffset + Int64(homesLength) == spatial.filterOffset,
                  version == 2 ? filterEnd == footerOffset
                      : filterEnd == indexes.plateOffset && indexes.plateOffset + Int64(indexes.plateLength) == indexes.cameraOffset
                        && indexes.cameraOffset + Int64(indexes.cameraLength) == footerOffset
                        && (4...indexes.plateLength).contains(indexes.directoryLength) else {
                throw f.corrupt("blocks end at \(expectedOffset) but the camera homes span \(homesOffset)+\(homesLength), the plate filter \(spatial.filterOffset)+\(spatial.filterLength), the plate index \(indexes.plateOffset)+\(indexes.plateLength) (directory \(indexes.directoryLength)) and the camera index \(indexes.cameraOffset)+\(indexes.cameraLength) before the footer at \(footerOffset)", at: 32)
            }
            guard rowSum == rowCount, spatialRowSum == rowCount, rowCount <= UInt64(Int.max) else {
                throw f.corrupt("blocks hold \(rowSum) rows and spatial blocks \(spatialRowSum), footer says \(rowCount)", at: 0)
            }
            total.rowCount = Int(rowCount)
            return (Int(rowCount), blockCount, blockRowLimit, total, homesOffset, homesLength, homesCRC, entries)
        }
        rowCount = rows.0
        blockRowLimit = rows.2
        statistics = rows.3
        blocks = rows.7
        spatialBlocks = rows.1..<(rows.1 + spatial.count)
        spatialBlockRowLimit = spatial.rowLimit

        var homeBytes = [UInt8](repeating: 0, count: rows.5)
        try Self.read(source, path, into: &homeBytes, at: rows.4)
        guard homeBytes.withUnsafeBytes({ CRC32C.checksum($0) }) == rows.6 else {
            throw corrupt(rows.4, "camera homes checksum mismatch")
        }
        let streams = StreamReader(compressor: Compressor())
        homes = try homeBytes.withUnsafeBytesTyped { raw throws(SightlineError) in
            var r = ByteReader(raw, fileOffset: rows.4, path: path)
            return try CameraHomes.decode(&r, streams: streams)
        }

        var filterBytes = [UInt8](repeating: 0, count: spatial.filterLength)
        try Self.read(source, path, into: &filterBytes, at: spatial.filterOffset)
        guard filterBytes.withUnsafeBytes({ CRC32C.checksum($0) }) == spatial.filterCRC else {
            throw corrupt(spatial.filterOffset, "plate filter checksum mismatch")
        }
        plateFilter = SplitBlockBloomFilter(uncheckedWords: filterBytes.withUnsafeBytes { raw in
            (0..<(raw.count / 4)).map { UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: $0 * 4, as: UInt32.self)) }
        })
        spatialTree = SpatialTree(blocks.map(\.statistics), range: spatialBlocks)
        indexBytes = (indexes.plateLength, indexes.cameraLength)
        if version >= 3 {
            var directory = [UInt8](repeating: 0, count: indexes.directoryLength)
            try Self.read(source, path, into: &directory, at: indexes.plateOffset)
            guard directory.withUnsafeBytes({ CRC32C.checksum($0) }) == indexes.directoryCRC else {
                throw corrupt(indexes.plateOffset, "plate index directory checksum mismatch")
            }
            let blockRows = (0..<rows.1).map { rows.7[$0].statistics.rowCount }
            plateIndex = try directory.withUnsafeBytesTyped { raw throws(SightlineError) in
                try PlateGramIndex(directory: raw, offset: indexes.plateOffset, sectionLength: indexes.plateLength,
                                   blockRows: blockRows, path: path, streams: streams)
            }
            cameraIndexLocation = (indexes.cameraOffset, indexes.cameraLength, indexes.cameraCRC)
        } else {
            plateIndex = nil
            cameraIndexLocation = nil
        }
        var columnBytes = [Int](repeating: 0, count: SegmentFormat.columnCount)
        for b in 0..<rows.1 { for c in 0..<SegmentFormat.columnCount { columnBytes[c] += Int(blocks[b].columnLengths[c]) } }
        mainColumnBytes = columnBytes
    }

    deinit {
        if cameraIndexLocation != nil { CameraIndexCache.shared.remove(ObjectIdentifier(self)) }
        switch source {
        case .file(let fs, let file): try? fs.close(file)
        case .sealed(let fs, let file, let sealed):
            try? fs.close(file)
            SealedChunkCache.shared.remove(file: sealed.fileID)  // no plaintext outlives the reader
        case .memory: break
        }
    }

    private static func readStatistics(_ f: inout ByteReader, rowCount: Int) throws(SightlineError) -> BlockStatistics {
        BlockStatistics(rowCount: rowCount,
                        minPlateKey: try f.read(UInt64.self), maxPlateKey: try f.read(UInt64.self),
                        minTime: try f.read(Int64.self), maxTime: try f.read(Int64.self),
                        bounds: GeoBox(minLatitudeE7: try f.read(Int32.self), minLongitudeE7: try f.read(Int32.self),
                                       maxLatitudeE7: try f.read(Int32.self), maxLongitudeE7: try f.read(Int32.self)))
    }

    private static func read(_ source: Source, _ path: String, into bytes: inout [UInt8], at offset: Int64) throws(SightlineError) {
        try bytes.withUnsafeMutableBytesTyped { (raw: UnsafeMutableRawBufferPointer) throws(SightlineError) in
            try read(source, path, into: raw, at: offset)
        }
    }

    private static func read(_ source: Source, _ path: String, into raw: UnsafeMutableRawBufferPointer, at offset: Int64) throws(SightlineError) {
        switch source {
        case .file(let fs, let file):
            try fs.readExactly(file, into: raw, at: offset)
        case .sealed(let fs, let file, let sealed):
            try sealed.read(file, into: raw, at: offset, fileSystem: fs)
        case .memory(let bytes):
            guard offset >= 0, offset + Int64(raw.count) <= Int64(bytes.count) else {
                throw .corruptFile(path: path, offset: offset, reason: "range past the end")
            }
            bytes.withUnsafeBytes { raw.copyMemory(from: UnsafeRawBufferPointer(rebasing: $0[Int(offset)..<(Int(offset) + raw.count)])) }
        }
    }

    /// Reads `raw.count` bytes at `offset` (block chunks).
    func read(into raw: UnsafeMutableRawBufferPointer, at offset: Int64) throws(SightlineError) {
        try Self.read(source, path, into: raw, at: offset)
    }
}
