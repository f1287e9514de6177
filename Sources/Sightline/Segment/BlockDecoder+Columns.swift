/// Plain-pointer views of a decoder's last block, and the one walk over its plate runs that
/// every reader of whole blocks (duplicate checks, verification, rewrites, purge) uses.

/// The decoded columns of a block as plain pointers: reading a class's buffers row by row
/// would pay a dynamic exclusivity check per access.
struct DecodedColumns {
    let times: UnsafeMutablePointer<Int64>
    let latitudes: UnsafeMutablePointer<Int32>
    let longitudes: UnsafeMutablePointer<Int32>
    let cameras: UnsafeMutablePointer<UInt32>
    let confidences: UnsafeMutablePointer<UInt8>
    let regions: UnsafeMutablePointer<UInt32>
    /// Image URIs per row; empty when the block has none.
    let images: [String?]

    init(_ d: BlockDecoder) {
        times = d.times.base; latitudes = d.latitudes.base; longitudes = d.longitudes.base
        cameras = d.cameras.base; confidences = d.confidences.base; regions = d.regions.base
        images = d.images
    }
}

extension BlockDecoder {
    /// Calls `body(plate, row)` for every row of the last decoded block, in row order. The
    /// plate column must have been decoded, and a spatial block's plates materialized
    /// (`materializePlates`).
    @inline(__always)
    func forEachRow<E: Error>(_ body: (Plate, Int) throws(E) -> Void) throws(E) {
        assert(!platesPending, "forEachRow over a spatial block: call materializePlates() first")
        let runs = runPlates.count
        let runPlates = runPlates.base, runLengths = runLengths.base
        var row = 0
        for r in 0..<runs {
            let plate = runPlates[r]
            for _ in 0..<Int(runLengths[r]) {
                try body(plate, row)
                row &+= 1
            }
        }
    }
}

extension SegmentReader {
    /// The plate-ordered blocks whose key range holds `key`: the only ones that can hold a
    /// plate with that key (blocks are in key order, so they are consecutive; usually one,
    /// two when a run straddles a block boundary). Empty when none can.
    func blocks(holdingPlateKey key: UInt64) -> Range<Int> {
        var low = 0, high = blockCount
        while low < high {
            let mid = (low + high) / 2
            if blocks[mid].statistics.maxPlateKey < key { low = mid + 1 } else { high = mid }
        }
        var end = low
        while end < blockCount && blocks[end].statistics.minPlateKey <= key { end += 1 }
        return low..<end
    }
}
