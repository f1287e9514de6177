/// How an integer stream lays out its values. Chosen per stream by measuring all three.
enum IntegerLayout: UInt8 {
    /// (v − base) / scale, bit-packed at the width of the largest.
    case forBitPacked = 0
    /// (v − base) / scale as LEB128 varints: wins when a few values are much larger.
    case forVarint = 1
    /// zigzag(v / scale) as varints: wins for signed values clustered around zero.
    case zigZagVarint = 2
}

/// Statistics of a stream that decide its layout; one or two passes, no allocation.
struct IntegerStreamPlan {
    var layout: IntegerLayout
    var base: UInt64
    var scale: UInt64
    var width: Int
    var payloadBytes: Int

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

    static func measure(_ values: UnsafeBufferPointer<UInt64>, signed: Bool) -> IntegerStreamPlan {
        let n = values.count
        guard n > 0 else { return IntegerStreamPlan(layout: .forBitPacked, base: 0, scale: 1, width: 0, payloadBytes: 0) }
        // Pass 1: range, and divisibility of the magnitudes for the zig-zag layout.
        var minU = UInt64.max, maxU = UInt64.min
        var minS = Int64.max, maxS = Int64.min
        var z10 = true, z100 = true, z1000 = true
        var zOr: UInt64 = 0
        for v in values {
            minU = Swift.min(minU, v); maxU = Swift.max(maxU, v)
            let s = Int64(bitPattern: v)
            minS = Swift.min(minS, s); maxS = Swift.max(maxS, s)
            if signed {
                let m = s.magnitude
                zOr |= m
                z10 = z10 && m % 10 == 0
                z100 = z100 && m % 100 == 0
                z1000 = z1000 && m % 1000 == 0
            }
        }
        let base = signed ? UInt64(bitPattern: minS) : minU
        let range = signed ? UInt64(bitPattern: maxS) &- UInt64(bitPattern: minS) : maxU &- minU
        // Pass 2: divisibility of the offsets from the base.
        var d10 = true, d100 = true, d1000 = true
        var dOr: UInt64 = 0
        if range > 0 {
            for v in values {
                let d = v &- base  // offset from the minimum; wraps into 0...range by design
                dOr |= d
                d10 = d10 && d % 10 == 0
                d100 = d100 && d % 100 == 0
                d1000 = d1000 && d % 1000 == 0
            }
        }
        let scale = range == 0 ? 1 : commonScale(divisibleBy10: d10, by100: d100, by1000: d1000, orOfValues: dOr)
        let width = BitPacking.width(of: divide(range, by: scale))
        var best = IntegerStreamPlan(layout: .forBitPacked, base: base, scale: scale, width: width,
                                     payloadBytes: BitPacking.byteCount(count: n, width: width))
        guard width > 7 else { return best }  // a varint never beats ≤ 7 bits
        // Pass 3: the varint layouts' exact sizes.
        var forVarint = 0
        for v in values { forVarint &+= varintLength(divide(v &- base, by: scale)) }
        if forVarint < best.payloadBytes {
            best = IntegerStreamPlan(layout: .forVarint, base: base, scale: scale, width: 0, payloadBytes: forVarint)
        }
        if signed && minS < 0 && maxS > 0 {
            let zScale = commonScale(divisibleBy10: z10, by100: z100, by1000: z1000, orOfValues: zOr)
            var zz = 0
            for v in values {
                let s = Int64(bitPattern: v)
                let q = s < 0 ? -Int64(bitPattern: divide(s.magnitude, by: zScale)) : Int64(bitPattern: divide(s.magnitude, by: zScale))
                zz &+= varintLength(zigZagEncode(q))
            }
            if zz < best.payloadBytes {
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

    /// Streams smaller than this are never compressed: the codec header would eat the gain.
    static let minimumCompressible = 64

    init(compression: Compression, compressor: Compressor) {
        self.compression = compression
        self.compressor = compressor
    }

    /// Appends the stream of `values` to `out`.
    mutating func write(_ values: UnsafeBufferPointer<UInt64>, signed: Bool, to out: inout ByteWriter) throws(SightlineError) {
        let plan = IntegerStreamPlan.measure(values, signed: signed)
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
                payload.appendVarint(zigZagEncode(s < 0 ? -m : m))
            }
        }
        assert(payload.count == plan.payloadBytes)
        let tagOffset = out.count
        out.append(plan.layout.rawValue)
        out.appendVarint(UInt64(values.count))
        if plan.layout != .zigZagVarint { out.appendVarint(plan.base) }
        out.appendVarint(plan.scale)
        if plan.layout == .forBitPacked { out.append(UInt8(plan.width)) }
        try appendPayload(payload.bytes, tagOffset: tagOffset, to: &out)
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

    /// Decodes a byte stream. The result is valid until this reader decodes again.
    func readBytes(_ reader: inout ByteReader, _ what: String) throws(SightlineError) -> UnsafeRawBufferPointer {
        let start = reader.position
        let tag = try reader.readByte("\(what) tag")
        guard tag & ~0b1100 == 0, tag >> 2 != 3 else { throw reader.corrupt("\(what): unknown stream tag \(tag)", at: start) }
        return try payload(&reader, compressionID: tag >> 2, what: what)
    }
}
