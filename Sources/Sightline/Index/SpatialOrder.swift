/// The space-time order of a segment's spatial copy: rows sorted by a Z-order (geohash bit
/// order: longitude bit first) cell of 15 + 15 bits — about 1.2 km × 0.6 km at the equator —
/// then by time. Rows of one neighbourhood and period are then contiguous, so the spatial
/// blocks' bounding boxes and time ranges are tight and an area query reads only the
/// blocks that can hold its rows.
enum SpatialOrder {
    /// Bits per axis of the cell.
    static let bitsPerAxis = 15

    /// The 30-bit Z-order cell of a position (integer arithmetic: exact and fast).
    @inline(__always)
    static func cell(latitudeE7: Int32, longitudeE7: Int32) -> UInt64 {
        // Quantize [-90, 90] and [-180, 180] onto 2^15 bins each (the top bin is closed).
        let lat = UInt64(Int64(latitudeE7) + 900_000_000) << 15 / 1_800_000_001
        let lon = UInt64(Int64(longitudeE7) + 1_800_000_000) << 15 / 3_600_000_001
        return interleave(lon) << 1 | interleave(lat)
    }

    /// Spreads the low 15 bits of `v` to the even bit positions.
    @inline(__always)
    static func interleave(_ v: UInt64) -> UInt64 {
        var x = v & 0x7FFF
        x = (x | x << 8) & 0x00FF_00FF
        x = (x | x << 4) & 0x0F0F_0F0F
        x = (x | x << 2) & 0x3333_3333
        x = (x | x << 1) & 0x5555_5555
        return x
    }

    /// Low bits of the cell a block may not cross: blocks are cut where the cell's top
    /// 26 bits change, so no block spans more than a ~4.9 km × 2.4 km cell — a block that
    /// followed the Z-curve across a jump would get a box covering much of a city and be
    /// read by every small area query inside it.
    static let blockCellShift = 4
    /// Blocks are cut at such a cell only once they hold this many rows: sparse data (one
    /// row per cell, across a continent) would otherwise make one-row blocks, each with its
    /// own chunk headers and footer entry; a 256-row block that spans a jump costs a query
    /// little to read.
    static let minimumCutRows = 256

    /// The row ranges of spatial blocks: at most `limit` rows, never across a cell of
    /// `blockCellShift` (rows in space-time order, `cells` from `permutation`).
    static func blockRanges(cells: [UInt64], limit: Int) -> [Range<Int>] {
        var ranges: [Range<Int>] = []
        var start = 0
        for i in 0..<cells.count where i > start && (i - start == limit || i - start >= minimumCutRows && cells[i] >> blockCellShift != cells[i - 1] >> blockCellShift) {
            ranges.append(start..<i)
            start = i
        }
        if start < cells.count { ranges.append(start..<cells.count) }
        return ranges
    }
}
