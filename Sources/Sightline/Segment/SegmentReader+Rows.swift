/// Reading a segment's rows for tools (inspection, export, tests): allocating, simple, and
/// checked. Queries read selectively through the planner instead.
extension SegmentReader {
    /// The rows of plate-ordered block `index` (0..<blockCount), in file order. Allocates.
    public func sightings(inBlock index: Int) throws(SightlineError) -> [Sighting] {
        guard index >= 0 && index < blockCount else { throw .invalidArgument("block \(index) out of range 0..<\(blockCount)") }
        let decoder = BlockDecoder()
        try decoder.decode(self, block: index, columns: .all)
        return try decoder.sightings()
    }

    /// Every row of the segment, in file order (plate key, plate, time, camera). Allocates.
    public func allSightings() throws(SightlineError) -> [Sighting] {
        let decoder = BlockDecoder()
        var result: [Sighting] = []
        result.reserveCapacity(rowCount)
        for b in 0..<blockCount {
            try decoder.decode(self, block: b, columns: .all)
            result += try decoder.sightings()
        }
        return result
    }
}

extension SegmentReader {
    /// Decodes every block of both copies (checking every chunk's checksum and every value)
    /// and checks that the spatial copy holds exactly the plate-ordered rows: same count, same
    /// order-independent sum of row hashes; and that everything the planner prunes by holds
    /// for every row — each block's key, time and position ranges and the segment's, the
    /// plate filter, the plate-ordered blocks' key order — since a rewrite tool that
    /// recomputed the checksums could have left them wrong, and a query trusting them would
    /// then miss rows. Throws `corruptFile` naming the first problem.
    public func verify() throws(SightlineError) {
        let decoder = BlockDecoder()
        for b in 1..<max(1, blockCount) where blocks[b - 1].statistics.maxPlateKey > blocks[b].statistics.minPlateKey {
            throw .corruptFile(path: path, offset: blocks[b].offset, reason: "block \(b)'s plate keys start before block \(b - 1)'s end")
        }
        func digest(_ blocks: Range<Int>) throws(SightlineError) -> (Int, UInt64) {
            var rows = 0
            var sum: UInt64 = 0
            for b in blocks {
                try decoder.decode(self, block: b, columns: .all)
                try decoder.materializePlates()
                let c = DecodedColumns(decoder)
                let stats = self.blocks[b].statistics, whole = statistics
                var problem: String?
                decoder.forEachRow { plate, row in
                    // Wrapping sum of per-row hashes: independent of row order.
                    var h = RowKey.hash(plate: plate, time: c.times[row], camera: c.cameras[row])
                    h ^= UInt64(UInt32(bitPattern: c.latitudes[row])) &* 0x9E37_79B9_7F4A_7C15
                    h ^= UInt64(UInt32(bitPattern: c.longitudes[row])) << 32 | UInt64(c.confidences[row]) << 8
                    h ^= UInt64(c.regions[row]) &* 0xC2B2_AE3D_27D4_EB4F
                    sum &+= h &* 0xBF58_476D_1CE4_E5B9
                    guard problem == nil else { return }
                    let key = hasher.key(plate), t = c.times[row], lat = c.latitudes[row], lon = c.longitudes[row]
                    for (range, name) in [(stats, "block \(b)'s"), (whole, "the segment's")] {
                        if key < range.minPlateKey || key > range.maxPlateKey { problem = "a row's plate key is outside \(name) key range" }
                        else if t < range.minTime || t > range.maxTime { problem = "a row's time is outside \(name) time range" }
                        else if lat < range.bounds.minLatitudeE7 || lat > range.bounds.maxLatitudeE7
                                    || lon < range.bounds.minLongitudeE7 || lon > range.bounds.maxLongitudeE7 {
                            problem = "a row's position is outside \(name) bounds"
                        }
                    }
                    if problem == nil && !mayContain(plateKey: key) { problem = "the plate filter lacks a plate the segment holds" }
                }
                if let problem { throw .corruptFile(path: path, offset: self.blocks[b].offset, reason: "block \(b): \(problem)") }
                rows += decoder.rowCount
            }
            return (rows, sum)
        }
        let main = try digest(0..<blockCount)
        let spatial = try digest(spatialBlocks)
        guard main == spatial else {
            throw .corruptFile(path: path, offset: blocks.isEmpty ? 0 : blocks[spatialBlocks.lowerBound].offset,
                               reason: "the spatial copy does not hold the same rows as the plate-ordered blocks")
        }
        try verifyIndexes(decoder)
    }

    /// Rebuilds the plate n-gram index and the camera index from the rows and compares them
    /// with the file's: an index that lost an entry would make queries miss rows, so a
    /// checksum (which a rewrite tool could have recomputed) is not enough here.
    func verifyIndexes(_ decoder: BlockDecoder) throws(SightlineError) {
        if let index = plateIndex {
            let streams = StreamReader(compressor: Compressor())
            var expected: [UInt16: [Int]] = [:]
            var run = 0
            for b in 0..<blockCount {
                try decoder.decode(self, block: b, columns: .plate, verifyKeys: false)
                let runs = decoder.runLengths.count
                guard index.runStarts[b + 1] - index.runStarts[b] == runs else {
                    throw .corruptFile(path: path, offset: index.offsets.first ?? 0,
                                       reason: "plate index lists \(index.runStarts[b + 1] - index.runStarts[b]) plates for block \(b), which holds \(runs)")
                }
                for r in 0..<runs {
                    PlateGramIndex.forEachGram(of: try decoder.plate(run: r)) { expected[$0, default: []].append(run) }
                    run += 1
                }
            }
            guard Set(expected.keys) == Set(index.grams) else {
                throw .corruptFile(path: path, offset: index.offsets.first ?? 0, reason: "plate index bigrams differ from the plates' bigrams")
            }
            for k in index.grams.indices {
                let stored = try index.runs(ofGram: k, streams: streams, path: path) { (raw, offset) throws(SightlineError) in
                    try self.read(into: raw, at: offset)
                }
                guard stored == expected[index.grams[k]] else {
                    throw .corruptFile(path: path, offset: index.offsets[k], reason: "plate index list \(k) differs from the plates holding its bigram")
                }
            }
        }
        if let index = try cameraIndex() {
            var cameras: [UInt32] = [], times: [Int64] = []
            var ranges: [Range<Int>] = []
            for b in spatialBlocks {
                try decoder.decode(self, block: b, columns: [.time, .camera])
                let start = cameras.count
                cameras.append(contentsOf: decoder.cameras.buffer)
                times.append(contentsOf: decoder.times.buffer)
                ranges.append(start..<cameras.count)
            }
            guard CameraBlockIndex.build(cameras: cameras, times: times, ranges: ranges) == index else {
                throw .corruptFile(path: path, offset: blocks.last.map { $0.offset + $0.byteLength } ?? 0,
                                   reason: "camera index differs from the spatial blocks' cameras")
            }
        }
    }
}
