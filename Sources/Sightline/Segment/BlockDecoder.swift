/// Decodes blocks of a segment into buffers it owns and reuses: after the first few blocks,
/// decoding allocates nothing (images excepted: they are strings).
///
/// One decoder per thread. The buffers hold the last decoded block until the next `decode`.
@_spi(Benchmarks)
public final class BlockDecoder {
    let streams = StreamReader(compressor: Compressor())
    private let blockBytes = ScratchBuffer<UInt8>(capacity: 1 << 16)
    private let u0 = ScratchBuffer<UInt64>(capacity: 8192)
    private let u1 = ScratchBuffer<UInt64>(capacity: 8192)
    private let u2 = ScratchBuffer<UInt64>(capacity: 8192)
    private let homeRefs = ScratchBuffer<UInt64>(capacity: 8192)

    /// Rows in the last decoded block.
    public private(set) var rowCount = 0
    /// Plate runs of the block: one entry per run of equal plates, in row order.
    package let runKeys = ScratchBuffer<UInt64>()
    /// Rows in each run.
    package let runLengths = ScratchBuffer<UInt32>()
    /// The plate of each run. For the spatial copy's blocks, filled only by
    /// `materializePlates()`; use `plate(run:)` to get single plates.
    package let runPlates = ScratchBuffer<Plate>()
    /// Spatial blocks: each run's plate text (offset into `plateText`, length), kept so a
    /// query builds `Plate`s only for the rows it returns.
    private let runTextOffsets = ScratchBuffer<UInt32>()
    private let runTextLengths = ScratchBuffer<UInt8>()
    private let plateText = ScratchBuffer<UInt8>(capacity: 1 << 15)
    /// True when `runPlates` is not filled yet (a spatial block).
    package private(set) var platesPending = false
    private var plateChunk: (path: String, offset: Int64) = ("", 0)
    /// Per-row columns (when decoded).
    package let times = ScratchBuffer<Int64>(capacity: 8192)
    /// Camera ids.
    package let cameras = ScratchBuffer<UInt32>(capacity: 8192)
    /// Latitudes, 1e-7 degree.
    package let latitudes = ScratchBuffer<Int32>(capacity: 8192)
    /// Longitudes, 1e-7 degree.
    package let longitudes = ScratchBuffer<Int32>(capacity: 8192)
    /// Confidences, 0–100.
    package let confidences = ScratchBuffer<UInt8>(capacity: 8192)
    /// Region codes, 0 where absent.
    package let regions = ScratchBuffer<UInt32>(capacity: 8192)
    /// Image URIs per row; empty when no row of the block has one.
    package private(set) var images: [String?] = []

    /// A decoder.
    public init() {}

    /// Decodes `columns` of block `index` of `segment`, verifying the checksum of every chunk read.
    /// With `verifyKeys` false, plate keys are not recomputed (nor checked) and plates are
    /// built on demand (`plate(run:)`), as for spatial blocks: what a history query wants,
    /// which compares plate text and needs no key.
    public func decode(_ segment: SegmentReader, block index: Int, columns: ColumnSet, verifyKeys: Bool = true) throws(SightlineError) {
        guard index >= 0 && index < segment.blocks.count else {
            throw .invalidArgument("block \(index) out of range 0..<\(segment.blocks.count)")
        }
        let entry = segment.blocks[index]
        var wanted = columns
        if wanted.contains(.camera) { wanted.insert(.position) }  // cameras of fixed rows come from home references
        // File order gives the span to read; decode order puts position before camera, whose
        // fixed-camera ids come from the position chunk's home references. Static tables: no
        // per-block allocation.
        guard let first = ColumnID.allCases.first(where: { wanted.contains($0) }),
              let last = ColumnID.allCases.last(where: { wanted.contains($0) }) else {
            rowCount = entry.statistics.rowCount
            return
        }
        let spanStart = entry.offset(of: first)
        let spanLength = Int(entry.offset(of: last) - spanStart) + Int(entry.columnLengths[last.rawValue])
        blockBytes.reserve(spanLength)
        try segment.read(into: UnsafeMutableRawBufferPointer(start: blockBytes.base, count: spanLength), at: spanStart)
        rowCount = entry.statistics.rowCount
        let span = UnsafeRawBufferPointer(start: blockBytes.base, count: spanLength)

        for id in Self.decodeOrder where wanted.contains(id) {
            let offset = Int(entry.offset(of: id) - spanStart)
            let chunk = UnsafeRawBufferPointer(rebasing: span[offset..<(offset + Int(entry.columnLengths[id.rawValue]))])
            guard CRC32C.checksum(chunk) == entry.columnChecksums[id.rawValue] else {
                throw .corruptFile(path: segment.path, offset: spanStart + Int64(offset),
                                   reason: "block \(index) \(id.name) chunk checksum mismatch")
            }
            var reader = ByteReader(chunk, fileOffset: spanStart + Int64(offset), path: segment.path)
            // Built only if an error needs it: formatting it per chunk would allocate.
            let what = { "block \(index) \(id.name)" }
            switch id {
            case .plate:
                // The spatial copy's plates are in no key order, and its readers need no
                // keys: skip recomputing them (the chunk's checksum still guards it).
                try decodePlate(&reader, hasher: verifyKeys && index < segment.blockCount ? segment.hasher : nil, statistics: entry.statistics, what())
            case .time: try decodeTime(&reader, what())
            case .position: try decodePosition(&reader, homes: segment.homes, decodeCoordinates: columns.contains(.position), what())
            case .camera: try decodeCamera(&reader, homes: segment.homes, what())
            case .confidence:
                try readUnsigned(&reader, count: rowCount, what())
                confidences.reserve(rowCount)
                confidences.count = rowCount
                for i in 0..<rowCount {
                    let v = u0.base[i]
                    guard v <= 100 else { throw reader.corrupt("\(what()): confidence \(v) at row \(i)") }
                    confidences.base[i] = UInt8(truncatingIfNeeded: v)
                }
            case .region:
                regions.reserve(rowCount)
                regions.count = rowCount
                if chunk.isEmpty {
                    regions.base.update(repeating: 0, count: rowCount)
                } else {
                    try readUnsigned(&reader, count: rowCount, what())
                    for i in 0..<rowCount { regions.base[i] = UInt32(truncatingIfNeeded: u0.base[i]) }
                }
            case .image: try decodeImage(&reader, empty: chunk.isEmpty, what())
            }
            guard reader.isAtEnd else { throw reader.corrupt("\(what()): \(reader.remaining) unread bytes") }
        }
    }

    private static let decodeOrder: [ColumnID] = [.plate, .time, .position, .camera, .confidence, .region, .image]

    // MARK: columns

    private func decodePlate(_ reader: inout ByteReader, hasher: PlateHasher?, statistics: BlockStatistics,
                             _ what: @autoclosure () -> String) throws(SightlineError) {
        let runs = try streams.readIntegers(&reader, expectedCount: nil, into: u0, "\(what()) run lengths")
        guard runs >= 1 && runs <= rowCount else { throw reader.corrupt("\(what()): \(runs) runs for \(rowCount) rows") }
        try streams.readIntegers(&reader, expectedCount: runs, into: u2, "\(what()) plate lengths")
        let text = try streams.readBytes(&reader, "\(what()) plate text")
        runKeys.reserve(runs); runLengths.reserve(runs); runPlates.reserve(runs)
        runKeys.count = runs; runLengths.count = runs; runPlates.count = runs
        platesPending = false
        if hasher == nil {
            // The spatial copy: no keys to check; keep the text, build plates on demand.
            plateChunk = (reader.path, reader.fileOffset)
            runTextOffsets.reserve(runs); runTextLengths.reserve(runs); plateText.reserve(text.count)
            if let src = text.baseAddress, !text.isEmpty { UnsafeMutableRawPointer(plateText.base).copyMemory(from: src, byteCount: text.count) }
            let rowCount = self.rowCount
            let lengths = u0.base, plateLengths = u2.base
            let lengthsOut = runLengths.base, offsetsOut = runTextOffsets.base, textLengthsOut = runTextLengths.base
            var rows = 0, textOffset = 0
            for r in 0..<runs {
                let length = lengths[r], plateLength = plateLengths[r]
                guard length >= 1 && length <= UInt64(rowCount - rows), plateLength >= 1 && plateLength <= UInt64(Plate.maximumLength) else {
                    throw reader.corrupt("\(what()): run \(r) length \(length), plate length \(plateLength)")
                }
                rows += Int(length)
                lengthsOut[r] = UInt32(length)
                offsetsOut[r] = UInt32(textOffset)
                textLengthsOut[r] = UInt8(plateLength)
                textOffset += Int(plateLength)
            }
            guard rows == rowCount, textOffset == text.count else {
                throw reader.corrupt("\(what()): runs cover \(rows) of \(rowCount) rows, \(textOffset) of \(text.count) text bytes")
            }
            platesPending = true
            return
        }
        var previousKey = statistics.minPlateKey
        var rows = 0
        var textOffset = 0
        // Buffers and counts in locals: class properties read in the loop would each pay a
        // dynamic exclusivity check.
        let rowCount = self.rowCount
        let lengths = u0.base, plateLengths = u2.base
        let keysOut = runKeys.base, lengthsOut = runLengths.base, platesOut = runPlates.base
        for r in 0..<runs {
            let length = lengths[r]
            guard length >= 1 && length <= UInt64(rowCount - rows) else { throw reader.corrupt("\(what()): run \(r) length \(length)") }
            rows += Int(length)
            let plateLength = Int(truncatingIfNeeded: plateLengths[r])
            guard plateLength >= 1 && plateLength <= Plate.maximumLength && textOffset + plateLength <= text.count else {
                throw reader.corrupt("\(what()): run \(r) plate length \(plateLengths[r])")
            }
            let bytes = UnsafeRawBufferPointer(rebasing: text[textOffset..<(textOffset + plateLength)])
            for b in bytes where !((b >= 0x41 && b <= 0x5A) || (b >= 0x30 && b <= 0x39)) {
                throw reader.corrupt("\(what()): run \(r) plate has byte \(b)")
            }
            textOffset += plateLength
            let plate = Plate(uncheckedNormalized: bytes)
            if let hasher {
                let key = hasher.key(plate)
                // Keys are recomputed, so check them against the order and range they were written in.
                guard key >= previousKey && key <= statistics.maxPlateKey else {
                    throw reader.corrupt("\(what()): run \(r) plate key out of order")
                }
                previousKey = key
                keysOut[r] = key
            } else {
                keysOut[r] = 0
            }
            lengthsOut[r] = UInt32(length)
            platesOut[r] = plate
        }
        guard rows == rowCount, textOffset == text.count else {
            throw reader.corrupt("\(what()): runs cover \(rows) of \(rowCount) rows, \(textOffset) of \(text.count) text bytes")
        }
        guard hasher == nil || (runKeys.base[0] == statistics.minPlateKey && runKeys.base[runs - 1] == statistics.maxPlateKey) else {
            throw reader.corrupt("\(what()): plate keys do not match the block's key range")
        }
    }

    /// The plate of run `r` of the last decoded block (validated here for spatial blocks).
    @inline(__always)
    func plate(run r: Int) throws(SightlineError) -> Plate {
        guard platesPending else { return runPlates.base[r] }
        let bytes = UnsafeRawBufferPointer(start: plateText.base + Int(runTextOffsets.base[r]), count: Int(runTextLengths.base[r]))
        for b in bytes where !((b >= 0x41 && b <= 0x5A) || (b >= 0x30 && b <= 0x39)) {
            throw .corruptFile(path: plateChunk.path, offset: plateChunk.offset, reason: "run \(r) plate has byte \(b)")
        }
        return Plate(uncheckedNormalized: bytes)
    }

    /// Fills `runPlates` for a spatial block (validating every plate).
    package func materializePlates() throws(SightlineError) {
        guard platesPending else { return }
        for r in 0..<runPlates.count { runPlates.base[r] = try plate(run: r) }
        platesPending = false
    }

    private func decodeTime(_ reader: inout ByteReader, _ what: @autoclosure () -> String) throws(SightlineError) {
        let mode = try reader.readByte("\(what()) mode")
        times.reserve(rowCount)
        times.count = rowCount
        let out = times.base
        switch mode {
        case 1:
            try streams.readIntegers(&reader, expectedCount: rowCount, into: u0, "\(what()) deltas")
            var t: UInt64 = 0
            for i in 0..<rowCount {
                t &+= u0.base[i]  // inverse of the wrapping deltas
                out[i] = Int64(bitPattern: t)
            }
        case 0:
            let runs = try streams.readIntegers(&reader, expectedCount: nil, into: u0, "\(what()) run lengths")
            guard runs >= 1 && runs <= rowCount else { throw reader.corrupt("\(what()): \(runs) runs for \(rowCount) rows") }
            try streams.readIntegers(&reader, expectedCount: runs, into: u1, "\(what()) run starts")
            try streams.readIntegers(&reader, expectedCount: rowCount - runs, into: u2, "\(what()) deltas")
            var row = 0, delta = 0
            for r in 0..<runs {
                let length = u0.base[r]
                guard length >= 1 && length <= UInt64(rowCount - row) else { throw reader.corrupt("\(what()): run \(r) length \(length)") }
                var t = u1.base[r]
                out[row] = Int64(bitPattern: t)
                row += 1
                for _ in 1..<Int(length) {
                    t &+= u2.base[delta]
                    delta += 1
                    out[row] = Int64(bitPattern: t)
                    row += 1
                }
            }
            guard row == rowCount else { throw reader.corrupt("\(what()): runs cover \(row) of \(rowCount) rows") }
        default:
            throw reader.corrupt("\(what()): unknown mode \(mode)")
        }
    }

    /// Reads the home references (always) and the coordinates (when asked).
    private func decodePosition(_ reader: inout ByteReader, homes: CameraHomes, decodeCoordinates: Bool,
                                _ what: @autoclosure () -> String) throws(SightlineError) {
        let transforms = try reader.readByte("\(what()) transforms")
        let latTransform = Int(transforms & 3), lonTransform = Int(transforms >> 2 & 3), refTransform = Int(transforms >> 4)
        guard latTransform <= 2 && lonTransform <= 2 && refTransform <= 1 else {
            throw reader.corrupt("\(what()): unknown transforms \(transforms)")
        }
        try streams.readIntegers(&reader, expectedCount: rowCount, into: homeRefs, "\(what()) home references")
        CoordinateTransform.undelta(homeRefs.base, count: rowCount, times: refTransform)
        let homeCount = UInt64(homes.count)
        guard decodeCoordinates else {
            // The caller only needs the references (for cameras): check them, skip the coordinates.
            var largest: UInt64 = 0
            var explicit = 0
            for i in 0..<rowCount {
                let ref = homeRefs.base[i]
                largest = max(largest, ref)
                explicit &+= ref == 0 ? 1 : 0
            }
            guard largest <= homeCount else { throw reader.corrupt("\(what()): home reference \(largest) of \(homeCount)") }
            try streams.readIntegers(&reader, expectedCount: explicit, into: u1, "\(what()) latitudes")
            try streams.readIntegers(&reader, expectedCount: explicit, into: u1, "\(what()) longitudes")
            return
        }
        let explicitLatitudes = try streams.readIntegers(&reader, expectedCount: nil, into: u1, "\(what()) latitudes")
        try streams.readIntegers(&reader, expectedCount: explicitLatitudes, into: u2, "\(what()) longitudes")
        CoordinateTransform.undelta(u1.base, count: explicitLatitudes, times: latTransform)
        CoordinateTransform.undelta(u2.base, count: explicitLatitudes, times: lonTransform)
        latitudes.reserve(rowCount); longitudes.reserve(rowCount)
        latitudes.count = rowCount; longitudes.count = rowCount
        // One pass: gather homes, take explicit coordinates in order. Reads are clamped so
        // they stay in bounds whatever the data says; the checks after the loop reject
        // any block whose references, explicit count or coordinates were out of range.
        let lat = latitudes.base, lon = longitudes.base
        let lastExplicit = max(explicitLatitudes - 1, 0)
        if explicitLatitudes == 0 { u1.reserve(1); u2.reserve(1); u1.base[0] = 0; u2.base[0] = 0 }
        var largest: UInt64 = 0
        var e = 0
        var minLat = Int64.max, maxLat = Int64.min, minLon = Int64.max, maxLon = Int64.min
        homes.latitudes.withUnsafeBufferPointer { homeLat in
            homes.longitudes.withUnsafeBufferPointer { homeLon in
                let homeLast = max(homes.count - 1, 0)
                let hasHomes = homes.count > 0
                for i in 0..<rowCount {
                    let ref = homeRefs.base[i]
                    largest = max(largest, ref)
                    if ref != 0 && hasHomes {
                        // Clamped unsigned: a reference past the homes (rejected below)
                        // must not index before the first one either.
                        let k = Int(min(ref &- 1, UInt64(homeLast)))
                        lat[i] = homeLat[k]
                        lon[i] = homeLon[k]
                    } else {
                        let k = min(e, lastExplicit)
                        let la = Int64(bitPattern: u1.base[k]), lo = Int64(bitPattern: u2.base[k])
                        minLat = min(minLat, la); maxLat = max(maxLat, la)
                        minLon = min(minLon, lo); maxLon = max(maxLon, lo)
                        lat[i] = Int32(truncatingIfNeeded: la)
                        lon[i] = Int32(truncatingIfNeeded: lo)
                        e &+= 1
                    }
                }
            }
        }
        guard largest <= homeCount else { throw reader.corrupt("\(what()): home reference \(largest) of \(homeCount)") }
        guard e == explicitLatitudes else { throw reader.corrupt("\(what()): \(e) rows without a home, \(explicitLatitudes) coordinates") }
        guard e == 0 || (minLat >= -900_000_000 && maxLat <= 900_000_000 && minLon >= -1_800_000_000 && maxLon <= 1_800_000_000) else {
            throw reader.corrupt("\(what()): coordinate out of range")
        }
    }

    private func decodeCamera(_ reader: inout ByteReader, homes: CameraHomes, _ what: @autoclosure () -> String) throws(SightlineError) {
        var explicit = 0
        for i in 0..<rowCount where homeRefs.base[i] == 0 { explicit += 1 }
        try readUnsigned(&reader, count: explicit, what())
        cameras.reserve(rowCount)
        cameras.count = rowCount
        var e = 0
        homes.cameras.withUnsafeBufferPointer { homeCameras in
            for i in 0..<rowCount {
                let ref = Int(truncatingIfNeeded: homeRefs.base[i])
                if ref != 0 {
                    cameras.base[i] = homeCameras[ref &- 1]  // ref ≤ homes.count was checked
                } else {
                    cameras.base[i] = UInt32(truncatingIfNeeded: u0.base[e])
                    e &+= 1
                }
            }
        }
    }

    private func decodeImage(_ reader: inout ByteReader, empty: Bool, _ what: @autoclosure () -> String) throws(SightlineError) {
        images.removeAll(keepingCapacity: true)
        guard !empty else { return }
        try streams.readIntegers(&reader, expectedCount: rowCount, into: u0, "\(what()) lengths")
        let bytes = try streams.readBytes(&reader, "\(what()) bytes")
        var offset = 0
        for i in 0..<rowCount {
            let n = Int(truncatingIfNeeded: u0.base[i])
            guard n >= 0 && n <= Sighting.maximumImageLength && offset + n <= bytes.count else {
                throw reader.corrupt("\(what()): image length \(u0.base[i]) at row \(i)")
            }
            images.append(n == 0 ? nil : String(decoding: UnsafeRawBufferPointer(rebasing: bytes[offset..<(offset + n)]), as: UTF8.self))
            offset += n
        }
        guard offset == bytes.count else { throw reader.corrupt("\(what()): \(bytes.count - offset) image bytes unused") }
    }

    /// Reads an unsigned column (plain or run-length) of `count` values into `u0`.
    private func readUnsigned(_ reader: inout ByteReader, count: Int, _ what: @autoclosure () -> String) throws(SightlineError) {
        let mode = try reader.readByte("\(what()) mode")
        switch mode {
        case 0:
            try streams.readIntegers(&reader, expectedCount: count, into: u0, what())
        case 2:
            let size = try streams.readIntegers(&reader, expectedCount: nil, into: u1, "\(what()) dictionary")
            guard size >= 1 && size <= 256 else { throw reader.corrupt("\(what()): dictionary of \(size) values") }
            try streams.readIntegers(&reader, expectedCount: count, into: u0, "\(what()) indexes")
            for i in 0..<count {
                let k = u0.base[i]
                guard k < UInt64(size) else { throw reader.corrupt("\(what()): index \(k) of \(size)") }
                u0.base[i] = u1.base[Int(k)]
            }
        case 1:
            let runs = try streams.readIntegers(&reader, expectedCount: nil, into: u1, "\(what()) run values")
            try streams.readIntegers(&reader, expectedCount: runs, into: u2, "\(what()) run lengths")
            u0.reserve(count)
            u0.count = count
            var row = 0
            for r in 0..<runs {
                let n = u2.base[r]
                guard n >= 1 && n <= UInt64(count - row) else { throw reader.corrupt("\(what()): run \(r) length \(n)") }
                u0.base.advanced(by: row).update(repeating: u1.base[r], count: Int(n))
                row += Int(n)
            }
            guard row == count else { throw reader.corrupt("\(what()): runs cover \(row) of \(count) values") }
        default:
            throw reader.corrupt("\(what()): unknown mode \(mode)")
        }
    }

    // MARK: rows

    /// The decoded block as sightings (all columns must have been decoded). Allocates;
    /// for tests, tools and small results, not hot loops.
    package func sightings() throws(SightlineError) -> [Sighting] {
        try materializePlates()
        var result: [Sighting] = []
        result.reserveCapacity(rowCount)
        let c = DecodedColumns(self)
        forEachRow { plate, row in
            result.append(Sighting(unchecked: plate, time: c.times[row], latitudeE7: c.latitudes[row], longitudeE7: c.longitudes[row],
                                   camera: c.cameras[row], confidence: c.confidences[row], region: Region(code: c.regions[row]),
                                   image: c.images.isEmpty ? nil : c.images[row]))
        }
        return result
    }
}
