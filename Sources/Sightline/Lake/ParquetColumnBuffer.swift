/// One column's values of one row group, PLAIN-encoded column at a time (a tight loop per
/// column, no per-value call), with the definition levels of an optional column and the
/// min/max statistics Parquet readers prune row groups by.
struct ParquetColumnBuffer {
    let column: ParquetSchema.Column
    /// PLAIN values (non-null only): little-endian fixed width, or u32 length + bytes.
    private(set) var values: [UInt8] = []
    /// Definition levels of an optional column, one byte per row (1 present, 0 null).
    private(set) var levels: [UInt8] = []
    /// Rows, nulls included.
    private(set) var count = 0
    private(set) var nullCount = 0
    /// xxHash64 of every value, for the chunk's Bloom filter (columns that have one).
    private(set) var hashes: [UInt64] = []
    /// min/max, PLAIN-encoded without a length; nil while every row is null.
    private(set) var statistics: (min: [UInt8], max: [UInt8])? = nil

    init(_ column: ParquetSchema.Column) { self.column = column }

    /// Appends required or present values of a fixed-width column (`Int32`, `Int64`, `Double`).
    mutating func append<T: BinaryInteger & FixedWidthInteger>(integers v: UnsafeBufferPointer<T>) {
        assert(column.physical == (T.bitWidth == 32 ? .int32 : .int64))
        guard !v.isEmpty else { return }
        values.append(contentsOf: UnsafeRawBufferPointer(v))  // little-endian host (x86-64, arm64)
        if column.bloomFilter { for x in v { hashes.append(withUnsafeBytes(of: x.littleEndian) { XXHash64.hash($0) }) } }
        var lo = v[0], hi = v[0]
        for x in v { lo = Swift.min(lo, x); hi = Swift.max(hi, x) }
        mergeStatistics(Self.bytes(lo), Self.bytes(hi)) { Self.integer($0, T.self) < Self.integer($1, T.self) }
        present(v.count)
    }

    mutating func append(doubles v: UnsafeBufferPointer<Double>) {
        assert(column.physical == .double)
        guard !v.isEmpty else { return }
        values.append(contentsOf: UnsafeRawBufferPointer(v))
        var lo = Double.infinity, hi = -Double.infinity
        for x in v { lo = Swift.min(lo, x); hi = Swift.max(hi, x) }  // NaN takes no part (none is written)
        // The format asks for -0.0 as a zero minimum and +0.0 as a zero maximum.
        if lo == 0 { lo = -0.0 }
        if hi == 0 { hi = 0.0 }
        mergeStatistics(Self.bytes(lo.bitPattern), Self.bytes(hi.bitPattern)) {
            Double(bitPattern: Self.integer($0, UInt64.self)) < Double(bitPattern: Self.integer($1, UInt64.self))
        }
        present(v.count)
    }

    /// Appends `count` byte-array values: `write(i, destination)` writes value `i` (at most
    /// `maximumLength` bytes) and returns its length, or nil for a null (optional columns).
    mutating func appendByteArrays(count n: Int, maximumLength: Int, _ write: (Int, UnsafeMutablePointer<UInt8>) -> Int?) {
        assert(column.physical == .byteArray)
        let start = values.count
        values.append(contentsOf: repeatElement(0, count: n * (4 + maximumLength)))
        var minAt = -1, minLength = 0, maxAt = -1, maxLength = 0
        var nulls = 0
        var newLevels: [UInt8] = []
        if column.optional { newLevels.reserveCapacity(n) }
        let optional = column.optional, bloom = column.bloomFilter
        var newHashes: [UInt64] = []
        if bloom { newHashes.reserveCapacity(n) }
        let end = values.withUnsafeMutableBufferPointer { buffer -> Int in
            let base = buffer.baseAddress!
            var at = start
            for i in 0..<n {
                guard let length = write(i, base + at + 4) else {
                    nulls += 1
                    if optional { newLevels.append(0) }
                    continue
                }
                assert(length <= maximumLength)
                if optional { newLevels.append(1) }
                let le = UInt32(length).littleEndian
                withUnsafeBytes(of: le) { for k in 0..<4 { base[at + k] = $0[k] } }
                let value = UnsafeRawBufferPointer(start: base + at + 4, count: length)
                if bloom { newHashes.append(XXHash64.hash(value)) }
                if minAt < 0 || Self.less(value, UnsafeRawBufferPointer(start: base + minAt, count: minLength)) { minAt = at + 4; minLength = length }
                if maxAt < 0 || Self.less(UnsafeRawBufferPointer(start: base + maxAt, count: maxLength), value) { maxAt = at + 4; maxLength = length }
                at += 4 + length
            }
            return at
        }
        precondition(nulls == 0 || optional, "null in required column \(column.name)")
        levels += newLevels
        hashes += newHashes
        if minAt >= 0 {
            let lo = Array(values[minAt..<(minAt + minLength)]), hi = Array(values[maxAt..<(maxAt + maxLength)])
            mergeStatistics(lo, hi) { a, b in a.withUnsafeBytes { ra in b.withUnsafeBytes { Self.less(ra, $0) } } }
        }
        values.removeSubrange(end...)
        count += n
        nullCount += nulls
    }

    private mutating func present(_ n: Int) {
        if column.optional { levels.append(contentsOf: repeatElement(1, count: n)) }
        count += n
    }

    private mutating func mergeStatistics(_ lo: [UInt8], _ hi: [UInt8], _ less: ([UInt8], [UInt8]) -> Bool) {
        guard let s = statistics else { statistics = (lo, hi); return }
        statistics = (less(lo, s.min) ? lo : s.min, less(s.max, hi) ? hi : s.max)
    }

    private static func bytes<T: FixedWidthInteger>(_ v: T) -> [UInt8] { withUnsafeBytes(of: v.littleEndian) { Array($0) } }

    private static func integer<T: FixedWidthInteger>(_ bytes: [UInt8], _: T.Type) -> T {
        bytes.withUnsafeBytes { T(littleEndian: $0.loadUnaligned(as: T.self)) }
    }

    /// Unsigned byte-wise order, a shorter prefix first: the order Parquet's
    /// `TypeDefinedOrder` defines for byte arrays.
    static func less(_ a: UnsafeRawBufferPointer, _ b: UnsafeRawBufferPointer) -> Bool {
        let n = Swift.min(a.count, b.count)
        for i in 0..<n where a[i] != b[i] { return a[i] < b[i] }
        return a.count < b.count
    }
}
