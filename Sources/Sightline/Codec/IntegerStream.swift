#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// How an integer stream lays out its values. Chosen per stream by measuring all three.
enum IntegerLayout: UInt8 {
    /// (v − base) / scale, bit-packed at the width of the largest.
    case forBitPacked = 0
    /// (v − base) / scale as LEB128 varints: wins when a few values are much larger.
    case forVarint = 1
    /// zigzag(v / scale) as varints: wins for signed values clustered around zero.
    case zigZagVarint = 2
    /// (v − base) / scale as an entropy-coded bit length per value (one byte each, compressed)
    /// plus the bits below the leading 1 (raw): Elias-gamma-like, for values whose magnitudes
    /// vary widely — minutes between two cameras of a trip, days between trips.
    case forLengthPrefixed = 3
}

/// Estimated compressed size, in bytes, of `n` symbols with histogram `counts` under an
/// entropy coder (zstd's Huffman and FSE come close): Σ c·log2(n/c) bits, plus table overhead.
@inline(__always)
func entropyBytes(_ counts: UnsafeBufferPointer<Int>, total n: Int) -> Int {
    guard n > 0 else { return 0 }
    var bits = 0.0
    var symbols = 0
    let ln = log2(Double(n))
    for c in counts where c > 0 {
        bits += Double(c) * (ln - log2(Double(c)))
        symbols += 1
    }
    // Huffman cannot go below 1 bit a symbol unless runs let LZ help; be conservative.
    bits = max(bits, symbols > 1 ? Double(n) * 0.5 : 0)
    return Int(bits / 8) + 8 + symbols
}

/// Statistics of a stream that decide its layout; one or two passes, no allocation.
struct IntegerStreamPlan {
    var layout: IntegerLayout
    var base: UInt64
    var scale: UInt64
    var width: Int
    /// Bytes of the layout before compression (for the length-prefixed layout: an estimate).
    var payloadBytes: Int
    /// Expected bytes after compression; equal to `payloadBytes` unless an estimate applies.
    var estimatedBytes: Int

    init(layout: IntegerLayout, base: UInt64, scale: UInt64, width: Int, payloadBytes: Int) {
        self.layout = layout
        self.base = base
        self.scale = scale
        self.width = width
        self.payloadBytes = payloadBytes
        self.estimatedBytes = payloadBytes
    }

    /// The largest power of ten (up to 1000) or of two dividing every value (0 divides by all).
    @inline(__always)
    static func commonScale(divisibleBy10 d10: Bool, by100 d100: Bool, by1000 d1000: Bool, orOfValues: UInt64) -> UInt64 {
        let pow10: UInt64 = d1000 ? 1000 : d100 ? 100 : d10 ? 10 : 1
        let tz = orOfValues == 0 ? 0 : orOfValues.trailingZeroBitCount
        let pow2: UInt64 = tz >= 63 ? 1 : UInt64(1) << UInt64(tz)
        return Swift.max(pow10, pow2)
    }

    /// Division by the few scales the planner picks, with constant divisors so the compiler
    /// turns them into multiplications.
    @inline(__always)
    static func divide(_ x: UInt64, by scale: UInt64) -> UInt64 {
        switch scale {
        case 1: return x
        case 10: return x / 10
        case 100: return x / 100
        case 1000: return x / 1000
        default: return x >> UInt64(scale.trailingZeroBitCount)  // a power of two
        }
    }

    /// Whether every value − offset (or its magnitude) divides by 10, 100, 1000, and the OR of
    /// them (for powers of two). Checks in chunks of 64 and stops early once the answer is 1.
    @inline(__always)
    static func divisibility(_ values: UnsafeBufferPointer<UInt64>, offset: UInt64,
                             magnitudes: Bool = false) -> (Bool, Bool, Bool, UInt64) {
        var d10 = true, d100 = true, d1000 = true
        var or: UInt64 = 0
        var i = 0
        let n = values.count
        while i < n {
            let end = Swift.min(n, i &+ 64)
            while i < end {
                let v = values[i]
                let d = magnitudes ? Int64(bitPattern: v).magnitude : v &- offset  // wraps into 0...range by design
                or |= d
                d10 = d10 && d % 10 == 0
                d100 = d100 && d % 100 == 0
                d1000 = d1000 && d % 1000 == 0
                i &+= 1
            }
            if !d10 && or & 1 != 0 { return (false, false, false, or) }
        }
        return (d10, d100, d1000, or)
    }

    /// The smallest layout for `values`. `compressed` says whether an entropy coder will run
    /// after the layout (then byte-per-value and length-prefixed layouts are estimated by
    /// entropy rather than raw size).
    static func measure(_ values: UnsafeBufferPointer<UInt64>, signed: Bool, compressed: Bool) -> IntegerStreamPlan {
        let n = values.count
        guard n > 0 else { return IntegerStreamPlan(layout: .forBitPacked, base: 0, scale: 1, width: 0, payloadBytes: 0) }
        // Pass 1: the range.
        var minU = UInt64.max, maxU = UInt64.min
        var minS = Int64.max, maxS = Int64.min
        if signed {
            for v in values {
                let s = Int64(bitPattern: v)
                minS = Swift.min(minS, s); maxS = Swift.max(maxS, s)
            }
        } else {
            for v in values { minU = Swift.min(minU, v); maxU = Swift.max(maxU, v) }
        }
        let base = signed ? UInt64(bitPattern: minS) : minU
        let range = signed ? UInt64(bitPattern: maxS) &- UInt64(bitPattern: minS) : maxU &- minU
        // Pass 2: a common divisor of the offsets from the base; stops as soon as an odd
        // offset not divisible by 10 shows the scale is 1 (the usual case for noisy data).
        let (d10, d100, d1000, dOr) = range > 0 ? Self.divisibility(values, offset: base) : (false, false, false, 1)
        let scale = range == 0 ? 1 : commonScale(divisibleBy10: d10, by100: d100, by1000: d1000, orOfValues: dOr)
        let width = BitPacking.width(of: divide(range, by: scale))
        var best = IntegerStreamPlan(layout: .forBitPacked, base: base, scale: scale, width: width,
                                     payloadBytes: BitPacking.byteCount(count: n, width: width))
        if width <= 1 { return best }
        if width <= 7 {
            // One byte per value, entropy-coded, can beat bit-packing for skewed small values.
            guard compressed && n >= 256 else { return best }
            var counts = [Int](repeating: 0, count: 128)
            counts.withUnsafeMutableBufferPointer { c in
                for v in values { c[Int(truncatingIfNeeded: divide(v &- base, by: scale))] &+= 1 }
            }
            let estimate = counts.withUnsafeBufferPointer { entropyBytes($0, total: n) }
            if estimate * 8 < best.payloadBytes * 7 {  // a clear win only: the estimate is an estimate
                best = IntegerStreamPlan(layout: .forVarint, base: base, scale: scale, width: 0, payloadBytes: n)
                best.estimatedBytes = estimate
            }
            return best
        }
        // Pass 3: the varint layouts' exact sizes and the length-prefixed layout's estimate.
        var forVarint = 0
        var mantissaBits = 0
        var lengthCounts = [Int](repeating: 0, count: 65)
        lengthCounts.withUnsafeMutableBufferPointer { c in
            for v in values {
                let u = divide(v &- base, by: scale)
                forVarint &+= varintLength(u)
                let l = BitPacking.width(of: u)
                c[l] &+= 1
                mantissaBits &+= l > 1 ? l - 1 : 0
            }
        }
        if forVarint < best.payloadBytes {
            best = IntegerStreamPlan(layout: .forVarint, base: base, scale: scale, width: 0, payloadBytes: forVarint)
        }
        let lengthsBytes = compressed ? lengthCounts.withUnsafeBufferPointer { entropyBytes($0, total: n) } : n
        let prefixed = lengthsBytes + (mantissaBits + 7) / 8 + 4
        if prefixed < best.estimatedBytes {
            best = IntegerStreamPlan(layout: .forLengthPrefixed, base: base, scale: scale, width: 0, payloadBytes: prefixed)
        }
        if signed && minS < 0 && maxS > 0 {
            let (z10, z100, z1000, zOr) = Self.divisibility(values, offset: 0, magnitudes: true)
            let zScale = commonScale(divisibleBy10: z10, by100: z100, by1000: z1000, orOfValues: zOr)
            var zz = 0
            for v in values {
                let s = Int64(bitPattern: v)
                let m = Int64(bitPattern: divide(s.magnitude, by: zScale))
                let q = s < 0 ? 0 &- m : m  // wraps for Int64.min, whose magnitude is 2^63
                zz &+= varintLength(zigZagEncode(q))
            }
            if zz < best.estimatedBytes {
                best = IntegerStreamPlan(layout: .zigZagVarint, base: 0, scale: zScale, width: 0, payloadBytes: zz)
            }
        }
        return best
    }
}

/// Writes integer streams: the building block of every column.
///
/// Wire format (see Docs/format.md, "Integer stream"):
/// `tag u8 | count varint | base varint | scale varint | [width u8] | rawLength varint |
/// [storedLength varint] | payload`. The tag's bits 0–1 are the layout, bits 2–3 the
/// compression. Values are recovered as base &+ u &* scale (FOR layouts) or
/// zigzagDecode(u) &* scale (zig-zag layout).
struct IntegerStreamWriter {
    let compression: Compression
    let compressor: Compressor
    /// Encoded payload before compression; reused.
    private var payload = ByteWriter(capacity: 1 << 16)
    /// Transformed values; reused.
    private var transformed: [UInt64] = []
    /// Mantissa bits of the length-prefixed layout; reused.
    private var mantissas = ByteWriter(capacity: 1 << 16)

    /// Streams smaller than this are never compressed: the codec header would eat the gain.
    static let minimumCompressible = 64

    init(compression: Compression, compressor: Compressor) {
        self.compression = compression
        self.compressor = compressor
    }

    /// Appends the stream of `values` to `out`; returns the layout it chose.
    @discardableResult
    mutating func write(_ values: UnsafeBufferPointer<UInt64>, signed: Bool, to out: inout ByteWriter) throws(SightlineError) -> IntegerLayout {
        let plan = IntegerStreamPlan.measure(values, signed: signed, compressed: compression != .none)
        payload.removeAll()
        switch plan.layout {
        case .forBitPacked:
            if plan.width > 0 {
                transformed.removeAll(keepingCapacity: true)
                for v in values { transformed.append(IntegerStreamPlan.divide(v &- plan.base, by: plan.scale)) }
                transformed.withUnsafeBufferPointer { t in
                    payload.appendUninitialized(count: plan.payloadBytes) { BitPacking.pack(t, width: plan.width, into: $0) }
                }
            }
        case .forVarint:
            for v in values { payload.appendVarint(IntegerStreamPlan.divide(v &- plan.base, by: plan.scale)) }
        case .zigZagVarint:
            for v in values {
                let s = Int64(bitPattern: v)
                let m = Int64(bitPattern: IntegerStreamPlan.divide(s.magnitude, by: plan.scale))
                payload.appendVarint(zigZagEncode(s < 0 ? 0 &- m : m))  // wraps for Int64.min
            }
        case .forLengthPrefixed:
            // Payload holds the bit lengths; the mantissas go raw after it (they are noise
            // to an entropy coder and would only dilute the lengths' statistics).
            mantissas.removeAll()
            var acc: UInt64 = 0
            var bits = 0
            for v in values {
                let u = IntegerStreamPlan.divide(v &- plan.base, by: plan.scale)
                let l = BitPacking.width(of: u)
                payload.append(UInt8(l))
                guard l > 1 else { continue }
                let m = l - 1
                let mantissa = u & ((1 << UInt64(m)) &- 1)  // m ≤ 63
                acc |= mantissa << UInt64(bits)
                if bits + m >= 64 {
                    mantissas.append(littleEndian: acc)
                    acc = bits == 0 ? 0 : mantissa >> UInt64(64 - bits)
                    bits = bits + m - 64
                } else {
                    bits += m
                }
            }
            while bits > 0 {
                mantissas.append(UInt8(truncatingIfNeeded: acc))
                acc >>= 8
                bits -= 8
            }
        }
        assert(plan.layout == .forLengthPrefixed || payload.count == plan.payloadBytes)
        let tagOffset = out.count
        out.append(plan.layout.rawValue)
        out.appendVarint(UInt64(values.count))
        if plan.layout != .zigZagVarint { out.appendVarint(plan.base) }
        out.appendVarint(plan.scale)
        if plan.layout == .forBitPacked { out.append(UInt8(plan.width)) }
        try appendPayload(payload.bytes, tagOffset: tagOffset, to: &out)
        if plan.layout == .forLengthPrefixed {
            out.appendVarint(UInt64(mantissas.count))
            out.append(contentsOf: mantissas.bytes)
        }
        return plan.layout
    }

    /// Appends `rawLength`, the (possibly compressed) payload, and sets the tag's compression bits.
    private func appendPayload(_ raw: [UInt8], tagOffset: Int, to out: inout ByteWriter) throws(SightlineError) {
        try IntegerStreamWriter.appendPayload(raw, tagOffset: tagOffset, compression: compression, compressor: compressor, to: &out)
    }

    static func appendPayload(_ raw: [UInt8], tagOffset: Int, compression: Compression, compressor: Compressor,
                              to out: inout ByteWriter) throws(SightlineError) {
        out.appendVarint(UInt64(raw.count))
        if case .none = compression {} else if raw.count >= minimumCompressible {
            let lengthOffset = out.count
            out.appendVarint(0)  // placeholder, rewritten below
            let bodyOffset = out.count
            let stored = try raw.withUnsafeBytesTyped { r throws(SightlineError) in try compressor.compress(r, with: compression, into: &out) }
            // Keep the compressed form only when it saves at least 1/16 of the bytes.
            if stored + varintLength(UInt64(stored)) + raw.count / 16 < raw.count {
                var body = Array(out.bytes[bodyOffset...])
                out.truncate(to: lengthOffset)
                out.appendVarint(UInt64(stored))
                out.append(contentsOf: body)
                body.removeAll()
                out.bytes[tagOffset] |= compression.wireID << 2
                return
            }
            out.truncate(to: lengthOffset)
        }
        out.append(contentsOf: raw)
    }

    /// Appends a byte stream: `tag u8 | rawLength varint | [storedLength varint] | payload`.
    func writeBytes(_ raw: [UInt8], to out: inout ByteWriter) throws(SightlineError) {
        let tagOffset = out.count
        out.append(0)
        try appendPayload(raw, tagOffset: tagOffset, to: &out)
    }
}

/// Reads integer and byte streams, validating every field against the block it belongs to.
struct StreamReader {
    let compressor: Compressor
    /// Decompressed payloads; reused.
    let bytes = ScratchBuffer<UInt8>(capacity: 1 << 16)

    /// Largest value count any stream may declare (guards allocations against corrupt counts).
    static let maximumCount = 1 << 24

    /// Returns the payload of a stream whose header has been read up to the lengths.
    private func payload(_ reader: inout ByteReader, compressionID: UInt8, what: String) throws(SightlineError) -> UnsafeRawBufferPointer {
        let rawLength = try reader.readLength("\(what) length", limit: StreamReader.maximumCount * 10)
        if compressionID == 0 { return try reader.readBytes(rawLength, "\(what) payload") }
        let at = reader.position
        let storedLength = try reader.readLength("\(what) stored length", limit: reader.remaining)
        let stored = try reader.readBytes(storedLength, "\(what) payload")
        bytes.reserve(rawLength)
        let ok = compressor.decompress(stored, wireID: compressionID,
                                       into: UnsafeMutableRawBufferPointer(start: bytes.base, count: rawLength))
        guard ok else { throw reader.corrupt("\(what) does not decompress to \(rawLength) bytes", at: at) }
        return UnsafeRawBufferPointer(start: bytes.base, count: rawLength)
    }

    /// Decodes an integer stream into `out`, which must end with `expectedCount` values
    /// (nil: any count up to `maximumCount`). Returns the count.
    @discardableResult
    func readIntegers(_ reader: inout ByteReader, expectedCount: Int?, into out: ScratchBuffer<UInt64>,
                      _ what: String) throws(SightlineError) -> Int {
        let start = reader.position
        let tag = try reader.readByte("\(what) tag")
        guard let layout = IntegerLayout(rawValue: tag & 3), tag >> 4 == 0, (tag >> 2) & 3 != 3 else {
            throw reader.corrupt("\(what): unknown stream tag \(tag)", at: start)
        }
        let count = try reader.readLength("\(what) count", limit: StreamReader.maximumCount)
        if let expectedCount, count != expectedCount {
            throw reader.corrupt("\(what) holds \(count) values, expected \(expectedCount)", at: start)
        }
        let base = layout == .zigZagVarint ? 0 : try reader.readVarint("\(what) base")
        let scale = try reader.readVarint("\(what) scale")
        var width = 0
        if layout == .forBitPacked {
            width = Int(try reader.readByte("\(what) width"))
            guard width <= 64 else { throw reader.corrupt("\(what) width \(width) exceeds 64") }
        }
        let data = try payload(&reader, compressionID: (tag >> 2) & 3, what: what)
        out.reserve(count)
        out.count = count
        let dst = out.base
        switch layout {
        case .forLengthPrefixed:
            guard data.count == count else { throw reader.corrupt("\(what): \(data.count) lengths for \(count) values", at: start) }
            let mantissaLength = try reader.readLength("\(what) mantissa length", limit: reader.remaining)
            let mantissas = try reader.readBytes(mantissaLength, "\(what) mantissas")
            try Self.unpackLengthPrefixed(lengths: data, mantissas: mantissas, base: base, scale: scale, into: dst) { (message: String) in
                reader.corrupt("\(what): \(message)", at: start)
            }
        case .forBitPacked:
            guard data.count == BitPacking.byteCount(count: count, width: width) else {
                throw reader.corrupt("\(what): \(data.count) packed bytes for \(count) values of \(width) bits", at: start)
            }
            BitPacking.unpack(data, width: width, count: count, base: base, scale: scale, into: dst)
        case .forVarint, .zigZagVarint:
            var pos = 0
            let n = data.count
            for i in 0..<count {
                var result: UInt64 = 0
                var shift: UInt64 = 0
                while true {
                    guard pos < n, shift < 64 else { throw reader.corrupt("\(what): varint \(i) malformed", at: start) }
                    let b = data[pos]
                    pos &+= 1
                    result |= UInt64(b & 0x7F) << shift
                    if b < 0x80 { break }
                    shift &+= 7
                }
                // Codec arithmetic wraps by design: values were produced by the inverse.
                dst[i] = layout == .forVarint ? base &+ result &* scale
                    : UInt64(bitPattern: zigZagDecode(result) &* Int64(bitPattern: scale))
            }
            guard pos == n else { throw reader.corrupt("\(what): \(n - pos) bytes left after \(count) varints", at: start) }
        }
        return count
    }

    /// Inverse of the length-prefixed layout. Every read is bounds-checked against the
    /// mantissa bytes; the fast path loads 8 bytes while at least 16 remain.
    @inline(__always)
    static func unpackLengthPrefixed(lengths: UnsafeRawBufferPointer, mantissas: UnsafeRawBufferPointer, base: UInt64,
                                     scale: UInt64, into dst: UnsafeMutablePointer<UInt64>,
                                     corrupt: (String) -> SightlineError) throws(SightlineError) {
        let totalBits = mantissas.count &* 8
        let fastLimit = mantissas.count >= 16 ? (mantissas.count - 16) * 8 : -1
        var bitPos = 0
        for i in 0..<lengths.count {
            let l = Int(lengths[i])
            var u = UInt64(l)  // lengths 0 and 1 are the values 0 and 1
            if l > 1 {
                guard l <= 64 else { throw corrupt("bit length \(l) at value \(i)") }
                let m = l &- 1
                guard bitPos &+ m <= totalBits else { throw corrupt("mantissas end early at value \(i)") }
                let byte = bitPos >> 3, shift = UInt64(bitPos & 7)
                var word: UInt64
                if bitPos <= fastLimit {
                    word = mantissas.loadUnaligned(fromByteOffset: byte, as: UInt64.self).littleEndian >> shift
                    if shift > 0 { word |= UInt64(mantissas[byte &+ 8]) << (64 &- shift) }
                } else {
                    var low: UInt64 = 0
                    var k = 0
                    while k < 8 && byte &+ k < mantissas.count {
                        low |= UInt64(mantissas[byte &+ k]) << UInt64(8 &* k)
                        k &+= 1
                    }
                    word = low >> shift
                    if shift > 0 && byte &+ 8 < mantissas.count { word |= UInt64(mantissas[byte &+ 8]) << (64 &- shift) }
                }
                u = (1 << UInt64(m)) | (word & ((1 << UInt64(m)) &- 1))
                bitPos &+= m
            }
            dst[i] = base &+ u &* scale  // codec arithmetic wraps by design
        }
        guard (bitPos + 7) / 8 == mantissas.count else { throw corrupt("\(mantissas.count * 8 - bitPos) mantissa bits unused") }
    }

    /// Decodes a byte stream. The result is valid until this reader decodes again.
    func readBytes(_ reader: inout ByteReader, _ what: String) throws(SightlineError) -> UnsafeRawBufferPointer {
        let start = reader.position
        let tag = try reader.readByte("\(what) tag")
        guard tag & ~0b1100 == 0, tag >> 2 != 3 else { throw reader.corrupt("\(what): unknown stream tag \(tag)", at: start) }
        return try payload(&reader, compressionID: tag >> 2, what: what)
    }
}
