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
    /// order-independent sum of row hashes. Throws `corruptFile` naming the first problem.
    public func verify() throws(SightlineError) {
        let decoder = BlockDecoder()
        func digest(_ blocks: Range<Int>) throws(SightlineError) -> (Int, UInt64) {
            var rows = 0
            var sum: UInt64 = 0
            for b in blocks {
                try decoder.decode(self, block: b, columns: .all)
                try decoder.materializePlates()
                let c = DecodedColumns(decoder)
                decoder.forEachRow { plate, row in
                    // Wrapping sum of per-row hashes: independent of row order.
                    var h = RowKey.hash(plate: plate, time: c.times[row], camera: c.cameras[row])
                    h ^= UInt64(UInt32(bitPattern: c.latitudes[row])) &* 0x9E37_79B9_7F4A_7C15
                    h ^= UInt64(UInt32(bitPattern: c.longitudes[row])) << 32 | UInt64(c.confidences[row]) << 8
                    h ^= UInt64(c.regions[row]) &* 0xC2B2_AE3D_27D4_EB4F
                    sum &+= h &* 0xBF58_476D_1CE4_E5B9
                }
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
    }
}
