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
    /// zigzag(v / scale) length-prefixed: signed deltas clustered around zero.
    case zigZagLengthPrefixed = 4

    /// Whether the stream header carries a frame-of-reference base.
    var hasBase: Bool { self == .forBitPacked || self == .forVarint || self == .forLengthPrefixed }
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

    /// The exact plan for `layout` regardless of size (tests use it to exercise every layout).
    static func forced(_ layout: IntegerLayout, _ values: UnsafeBufferPointer<UInt64>, signed: Bool) -> IntegerStreamPlan {
        switch layout {
        case .forBitPacked, .forVarint, .forLengthPrefixed:
            var minU = UInt64.max, maxU = UInt64.min, minS = Int64.max, maxS = Int64.min
            for v in values {
                minU = Swift.min(minU, v); maxU = Swift.max(maxU, v)
                minS = Swift.min(minS, Int64(bitPattern: v)); maxS = Swift.max(maxS, Int64(bitPattern: v))
            }
            if values.isEmpty { (minU, maxU, minS, maxS) = (0, 0, 0, 0) }
            let base = signed ? UInt64(bitPattern: minS) : minU
            let range = signed ? UInt64(bitPattern: maxS) &- base : maxU &- minU
            let (d10, d100, d1000, dOr) = range > 0 ? divisibility(values, offset: base) : (false, false, false, 1)
            let scale = range == 0 ? 1 : commonScale(divisibleBy10: d10, by100: d100, by1000: d1000, orOfValues: dOr)
            let width = layout == .forBitPacked ? BitPacking.width(of: divide(range, by: scale)) : 0
            return IntegerStreamPlan(layout: layout, base: base, scale: scale, width: width,
                                     payloadBytes: BitPacking.byteCount(count: values.count, width: width))
        case .zigZagVarint, .zigZagLengthPrefixed:
            let (z10, z100, z1000, zOr) = divisibility(values, offset: 0, magnitudes: true)
            return IntegerStreamPlan(layout: layout, base: 0, scale: commonScale(divisibleBy10: z10, by100: z100, by1000: z1000, orOfValues: zOr),
                                     width: 0, payloadBytes: 0)
        }
    }

    /// Calls `body` with (v − base) / scale for every value, the division hoisted out of the loop.
    @inline(__always)
    static func forEachOffset(_ values: UnsafeBufferPointer<UInt64>, base: UInt64, scale: UInt64, _ body: (UInt64) -> Void) {
        switch scale {
        case 1: for v in values { body(v &- base) }  // offsets wrap into 0...range by design
        case 10: for v in values { body((v &- base) / 10) }
        case 100: for v in values { body((v &- base) / 100) }
        case 1000: for v in values { body((v &- base) / 1000) }
        default:
            let shift = UInt64(scale.trailingZeroBitCount)
            for v in values { body((v &- base) >> shift) }
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
        candidates(values, signed: signed, compressed: compressed).best
    }

    /// The best plan by estimate, and the runner-up (when there is one).
    static func candidates(_ values: UnsafeBufferPointer<UInt64>, signed: Bool,
                           compressed: Bool) -> (best: IntegerStreamPlan, runnerUp: IntegerStreamPlan?) {
        var runnerUp: IntegerStreamPlan?
        /// Makes `plan` the best if it is smaller, keeping the displaced one as runner-up.
        func consider(_ plan: IntegerStreamPlan, _ best: inout IntegerStreamPlan) {
            if plan.estimatedBytes < best.estimatedBytes {
                runnerUp = best
                best = plan
            } else if runnerUp == nil || plan.estimatedBytes < runnerUp!.estimatedBytes {
                runnerUp = plan
            }
        }
        let n = values.count
        guard n > 0 else { return (IntegerStreamPlan(layout: .forBitPacked, base: 0, scale: 1, width: 0, payloadBytes: 0), nil) }
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
        // Range, scale and width above come from every value (they must be exact); the other
        // layouts' sizes are estimated from every 4th value of long streams. Only the choice
        // of layout rests on the sample, and every layout is lossless.
        let stride = n > 2048 ? 4 : 1
        if width <= 1 { return (best, nil) }
        if width <= 7 {
            // One byte per value, entropy-coded, can beat bit-packing for skewed small values.
            guard compressed && n >= 256 else { return (best, nil) }
            var counts = [Int](repeating: 0, count: 128)
            var sampled = 0
            counts.withUnsafeMutableBufferPointer { c in
                var i = 0
                while i < n {
                    c[Int(truncatingIfNeeded: divide(values[i] &- base, by: scale))] &+= 1
                    sampled &+= 1
                    i &+= stride
                }
            }
            let estimate = counts.withUnsafeBufferPointer { entropyBytes($0, total: sampled) } * n / sampled
            var bytes = IntegerStreamPlan(layout: .forVarint, base: base, scale: scale, width: 0, payloadBytes: n)
            bytes.estimatedBytes = estimate
            consider(bytes, &best)
            return (best, runnerUp)
        }
        // Pass 3: the varint layouts' exact sizes and the length-prefixed layout's estimate.
        var offsets = LayoutEstimate(compressed: compressed)
        offsets.add(values, stride: stride) { divide($0 &- base, by: scale) }
        let (forVarint, forPrefixed) = offsets.plans(count: n, varint: .forVarint, prefixed: .forLengthPrefixed, base: base, scale: scale)
        consider(forVarint, &best)
        consider(forPrefixed, &best)
        if signed && minS < 0 && maxS > 0 {
            let (z10, z100, z1000, zOr) = Self.divisibility(values, offset: 0, magnitudes: true)
            let zScale = commonScale(divisibleBy10: z10, by100: z100, by1000: z1000, orOfValues: zOr)
            var zigZags = LayoutEstimate(compressed: compressed)
            zigZags.add(values, stride: stride) { IntegerStreamWriter.zigZag($0, scale: zScale) }
            let (zVarint, zPrefixed) = zigZags.plans(count: n, varint: .zigZagVarint, prefixed: .zigZagLengthPrefixed, base: 0, scale: zScale)
            consider(zVarint, &best)
            consider(zPrefixed, &best)
        }
        return (best, runnerUp)
    }
}

/// Writes `value` as LEB128 at `p + at`; returns the offset after it.
@inline(__always)
func putVarint(_ value: UInt64, _ p: UnsafeMutablePointer<UInt8>, _ at: Int) -> Int {
    var v = value
    var i = at
    while v >= 0x80 {
        p[i] = UInt8(truncatingIfNeeded: v) | 0x80
        v >>= 7
        i &+= 1
    }
    p[i] = UInt8(truncatingIfNeeded: v)
    return i &+ 1
}

/// Accumulates, over (a sample of) a stream's transformed values, what the varint and
/// length-prefixed layouts would cost; `plans` scales the sample up to the whole stream.
struct LayoutEstimate {
    let compressed: Bool
    private var sampled = 0
    private var varintBytes = 0
    private var mantissaBits = 0
    private var lengthCounts = [Int](repeating: 0, count: 65)
    private var varints = VarintEstimate()

    init(compressed: Bool) { self.compressed = compressed }

    /// Counts `transform(v)` for every `stride`-th value of `values`, into the histograms through
    /// unsafe pointers (one uniqueness check per stream, not two per value: this loop runs
    /// over every block's every stream).
    @inline(__always)
    mutating func add(_ values: UnsafeBufferPointer<UInt64>, stride: Int, _ transform: (UInt64) -> UInt64) {
        var count = 0, varint = 0, mantissa = 0, large = 0
        let compressed = self.compressed
        lengthCounts.withUnsafeMutableBufferPointer { lengths in
            varints.counts.withUnsafeMutableBufferPointer { small in
                var i = 0
                while i < values.count {
                    let u = transform(values[i])
                    let bytes = varintLength(u)
                    count &+= 1
                    varint &+= bytes
                    if compressed {
                        if u < 128 { small[Int(u)] &+= 1 } else { small[128] &+= 1; large &+= bytes }
                    }
                    let l = BitPacking.width(of: u)  // 0...64: inside the 65 counts
                    lengths[l] &+= 1
                    mantissa &+= l > 1 ? l - 1 : 0
                    i &+= stride
                }
            }
        }
        sampled &+= count
        varintBytes &+= varint
        mantissaBits &+= mantissa
        varints.largeBytes &+= large
    }

    /// The varint-family and length-prefixed-family plans for a stream of `count` values.
    func plans(count n: Int, varint: IntegerLayout, prefixed: IntegerLayout, base: UInt64,
               scale: UInt64) -> (IntegerStreamPlan, IntegerStreamPlan) {
        let raw = varintBytes * n / max(sampled, 1)
        var v = IntegerStreamPlan(layout: varint, base: base, scale: scale, width: 0, payloadBytes: raw)
        v.estimatedBytes = compressed ? min(raw, varints.bytes(total: sampled) * n / max(sampled, 1)) : raw
        let lengths = compressed ? lengthCounts.withUnsafeBufferPointer { entropyBytes($0, total: sampled) } * n / max(sampled, 1) : n
        let p = IntegerStreamPlan(layout: prefixed, base: base, scale: scale, width: 0,
                                  payloadBytes: lengths + (mantissaBits * n / max(sampled, 1) + 7) / 8 + 4)
        return (v, p)
    }
}

/// Estimates the compressed size of a varint stream: values below 128 are one byte each,
/// entropy-coded by their histogram; larger values count in full, as if incompressible.
struct VarintEstimate {
    fileprivate var counts = [Int](repeating: 0, count: 129)
    fileprivate var largeBytes = 0

    func bytes(total n: Int) -> Int {
        counts.withUnsafeBufferPointer { entropyBytes($0, total: n) } + largeBytes
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
    let compression: SegmentCompression
    let compressor: Compressor
    /// Encoded payload before compression; reused.
    private var payload = ByteWriter(capacity: 1 << 16)
    /// Transformed values; reused.
    private var transformed: [UInt64] = []
    /// Mantissa bits of the length-prefixed layout; reused.
    private var mantissas = ByteWriter(capacity: 1 << 16)
    /// The runner-up's encoding on close calls; reused.
    private var trial = ByteWriter(capacity: 1 << 16)
    /// Compressed payloads before they are kept or dropped; reused.
    private var compressed = ByteWriter(capacity: 1 << 16)

    /// Streams smaller than this are never compressed: the codec header would eat the gain.
    static let minimumCompressible = 64

    init(compression: SegmentCompression, compressor: Compressor) {
        self.compression = compression
        self.compressor = compressor
    }

    /// Appends the stream of `values` to `out`; returns the layout it chose. When compression
    /// runs and the runner-up's estimate is within 10 % of the best's, both are encoded and the
    /// smaller kept: estimates of entropy-coded sizes are a few percent off, actual bytes are not.
    @discardableResult
    mutating func write(_ values: UnsafeBufferPointer<UInt64>, signed: Bool, to out: inout ByteWriter) throws(SightlineError) -> IntegerLayout {
        let compressed = compression != .none
        let (best, runnerUp) = IntegerStreamPlan.candidates(values, signed: signed, compressed: compressed)
        let start = out.count
        try emit(values, plan: best, to: &out)
        guard compressed, let runnerUp, runnerUp.estimatedBytes * 10 <= best.estimatedBytes * 11, values.count >= 256 else {
            return best.layout
        }
        var candidate = trial  // moved out of self while `emit` mutates self
        trial = ByteWriter()
        defer { trial = candidate }
        candidate.removeAll()
        try emit(values, plan: runnerUp, to: &candidate)
        guard candidate.count < out.count - start else { return best.layout }
        out.truncate(to: start)
        out.append(contentsOf: candidate.bytes)
        return runnerUp.layout
    }

    /// zigzag(v / scale) of a signed value (wrapping for Int64.min, whose magnitude is 2^63).
    @inline(__always)
    static func zigZag(_ v: UInt64, scale: UInt64) -> UInt64 {
        let s = Int64(bitPattern: v)
        let m = Int64(bitPattern: IntegerStreamPlan.divide(s.magnitude, by: scale))
        return zigZagEncode(s < 0 ? 0 &- m : m)
    }

    /// Appends the stream of `values` in `layout`, whatever its size (for tests).
    mutating func write(_ values: UnsafeBufferPointer<UInt64>, signed: Bool, forcing layout: IntegerLayout,
                        to out: inout ByteWriter) throws(SightlineError) {
        try emit(values, plan: IntegerStreamPlan.forced(layout, values, signed: signed), to: &out)
    }

    /// Appends the stream of `values` laid out by `plan`.
    private mutating func emit(_ values: UnsafeBufferPointer<UInt64>, plan: IntegerStreamPlan, to out: inout ByteWriter) throws(SightlineError) {
        payload.removeAll()
        switch plan.layout {
        case .forBitPacked:
            if plan.width > 0 {
                transformed.removeAll(keepingCapacity: true)
                transformed.append(contentsOf: repeatElement(0, count: values.count))
                transformed.withUnsafeMutableBufferPointer { t in
                    var i = 0
                    IntegerStreamPlan.forEachOffset(values, base: plan.base, scale: plan.scale) { t[i] = $0; i &+= 1 }
                }
                transformed.withUnsafeBufferPointer { t in
                    payload.appendUninitialized(count: plan.payloadBytes) { BitPacking.pack(t, width: plan.width, into: $0) }
                }
            }
        case .forVarint:
            payload.append(maximum: values.count * 10) { p in
                var at = 0
                IntegerStreamPlan.forEachOffset(values, base: plan.base, scale: plan.scale) { at = putVarint($0, p, at) }
                return at
            }
        case .zigZagVarint:
            let scale = plan.scale
            payload.append(maximum: values.count * 10) { p in
                var at = 0
                for v in values { at = putVarint(Self.zigZag(v, scale: scale), p, at) }
                return at
            }
        case .forLengthPrefixed, .zigZagLengthPrefixed:
            // Payload holds the bit lengths; the mantissas go raw after it (they are noise
            // to an entropy coder and would only dilute the lengths' statistics).
            mantissas.removeAll()
            let zigZag = plan.layout == .zigZagLengthPrefixed
            let n = values.count
            payload.append(maximum: n) { lengths in
                var written = 0
                mantissas.append(maximum: n * 8 + 8) { out in
                    var acc: UInt64 = 0
                    var bits = 0
                    var at = 0
                    @inline(__always) func put(_ u: UInt64, _ i: Int) {
                        let l = BitPacking.width(of: u)
                        lengths[i] = UInt8(truncatingIfNeeded: l)
                        guard l > 1 else { return }
                        let m = l - 1
                        let mantissa = u & ((1 << UInt64(m)) &- 1)  // m ≤ 63
                        acc |= mantissa << UInt64(bits)
                        if bits + m >= 64 {
                            UnsafeMutableRawPointer(out + at).storeBytes(of: acc.littleEndian, as: UInt64.self)
                            at += 8
                            acc = bits == 0 ? 0 : mantissa >> UInt64(64 - bits)
                            bits = bits + m - 64
                        } else {
                            bits += m
                        }
                    }
                    if zigZag {
                        for i in 0..<n { put(Self.zigZag(values[i], scale: plan.scale), i) }
                    } else {
                        var i = 0
                        IntegerStreamPlan.forEachOffset(values, base: plan.base, scale: plan.scale) { put($0, i); i &+= 1 }
                    }
                    while bits > 0 {
                        out[at] = UInt8(truncatingIfNeeded: acc)
                        at += 1
                        acc >>= 8
                        bits -= 8
                    }
                    return at
                }
                written = n
                return written
            }
        }
        let prefixed = plan.layout == .forLengthPrefixed || plan.layout == .zigZagLengthPrefixed
        assert(plan.layout != .forBitPacked || payload.count == plan.payloadBytes)
        let tagOffset = out.count
        out.append(plan.layout.rawValue)
        out.appendVarint(UInt64(values.count))
        if plan.layout.hasBase { out.appendVarint(plan.base) }
        out.appendVarint(plan.scale)
        if plan.layout == .forBitPacked { out.append(UInt8(plan.width)) }
        try appendPayload(payload.bytes, tagOffset: tagOffset, to: &out)
        if prefixed {
            out.appendVarint(UInt64(mantissas.count))
            out.append(contentsOf: mantissas.bytes)
        }
    }


    /// Appends `rawLength`, the (possibly compressed) payload, and sets the tag's compression
    /// bits. The compressed form is kept only when it saves at least 1/16 of the bytes.
    private mutating func appendPayload(_ raw: [UInt8], tagOffset: Int, to out: inout ByteWriter) throws(SightlineError) {
        out.appendVarint(UInt64(raw.count))
        if compression != .none && raw.count >= Self.minimumCompressible {
            compressed.removeAll()
            let codec = compression, compressor = compressor
            let stored = try raw.withUnsafeBytesTyped { (r: UnsafeRawBufferPointer) throws(SightlineError) in
                try compressor.compress(r, with: codec, into: &compressed)
            }
            if stored + varintLength(UInt64(stored)) + raw.count / 16 < raw.count {
                out.appendVarint(UInt64(stored))
                out.append(contentsOf: compressed.bytes)
                out.bytes[tagOffset] |= compression.wireID << 3
                return
            }
        }
        out.append(contentsOf: raw)
    }

    /// Appends a byte stream: `tag u8 | rawLength varint | [storedLength varint] | payload`.
    mutating func writeBytes(_ raw: [UInt8], to out: inout ByteWriter) throws(SightlineError) {
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
    private func payload(_ reader: inout ByteReader, compressionID: UInt8, what: @autoclosure () -> String) throws(SightlineError) -> UnsafeRawBufferPointer {
        let rawLength = try reader.readLength("\(what()) length", limit: StreamReader.maximumCount * 10)
        if compressionID == 0 { return try reader.readBytes(rawLength, "\(what()) payload") }
        let at = reader.position
        let storedLength = try reader.readLength("\(what()) stored length", limit: reader.remaining)
        let stored = try reader.readBytes(storedLength, "\(what()) payload")
        bytes.reserve(rawLength)
        let ok = compressor.decompress(stored, wireID: compressionID,
                                       into: UnsafeMutableRawBufferPointer(start: bytes.base, count: rawLength))
        guard ok else { throw reader.corrupt("\(what()) does not decompress to \(rawLength) bytes", at: at) }
        return UnsafeRawBufferPointer(start: bytes.base, count: rawLength)
    }

    /// Decodes an integer stream into `out`, which must end with `expectedCount` values
    /// (nil: any count up to `maximumCount`). Returns the count.
    @discardableResult
    func readIntegers(_ reader: inout ByteReader, expectedCount: Int?, into out: ScratchBuffer<UInt64>,
                      _ what: @autoclosure () -> String) throws(SightlineError) -> Int {
        let start = reader.position
        let tag = try reader.readByte("\(what()) tag")
        guard let layout = IntegerLayout(rawValue: tag & 7), tag >> 5 == 0, (tag >> 3) & 3 != 3 else {
            throw reader.corrupt("\(what()): unknown stream tag \(tag)", at: start)
        }
        let count = try reader.readLength("\(what()) count", limit: StreamReader.maximumCount)
        if let expectedCount, count != expectedCount {
            throw reader.corrupt("\(what()) holds \(count) values, expected \(expectedCount)", at: start)
        }
        let base = layout.hasBase ? try reader.readVarint("\(what()) base") : 0
        let scale = try reader.readVarint("\(what()) scale")
        var width = 0
        if layout == .forBitPacked {
            width = Int(try reader.readByte("\(what()) width"))
            guard width <= 64 else { throw reader.corrupt("\(what()) width \(width) exceeds 64") }
        }
        let data = try payload(&reader, compressionID: (tag >> 3) & 3, what: what())
        out.reserve(count)
        out.count = count
        let dst = out.base
        switch layout {
        case .forLengthPrefixed, .zigZagLengthPrefixed:
            guard data.count == count else { throw reader.corrupt("\(what()): \(data.count) lengths for \(count) values", at: start) }
            let mantissaLength = try reader.readLength("\(what()) mantissa length", limit: reader.remaining)
            let mantissas = try reader.readBytes(mantissaLength, "\(what()) mantissas")
            let ok = layout == .zigZagLengthPrefixed
                ? Self.unpackLengthPrefixed(ZigZagMode.self, lengths: data, mantissas: mantissas, base: 0, scale: scale, into: dst)
                : Self.unpackLengthPrefixed(OffsetMode.self, lengths: data, mantissas: mantissas, base: base, scale: scale, into: dst)
            guard ok else { throw reader.corrupt("\(what()): bit lengths do not match the \(mantissaLength) mantissa bytes", at: start) }
        case .forBitPacked:
            guard data.count == BitPacking.byteCount(count: count, width: width) else {
                throw reader.corrupt("\(what()): \(data.count) packed bytes for \(count) values of \(width) bits", at: start)
            }
            BitPacking.unpack(data, width: width, count: count, base: base, scale: scale, into: dst)
        case .forVarint, .zigZagVarint:
            var pos = 0
            let n = data.count
            for i in 0..<count {
                var result: UInt64 = 0
                var shift: UInt64 = 0
                while true {
                    guard pos < n, shift < 64 else { throw reader.corrupt("\(what()): varint \(i) malformed", at: start) }
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
            guard pos == n else { throw reader.corrupt("\(what()): \(n - pos) bytes left after \(count) varints", at: start) }
        }
        return count
    }

    /// Inverse of the length-prefixed layouts, specialized per `Mode` so the zig-zag choice
    /// folds away. Memory safety does not depend on the data: the fast loop loads 8 bytes
    /// (plus one for wide values) only while 16 remain, the tail loop checks every byte.
    /// Validity is checked once at the end: every length ≤ 64 and the mantissa bits filling
    /// exactly the mantissa bytes.
    @inline(__always)
    static func unpackLengthPrefixed<Mode: LengthPrefixedMode>(_: Mode.Type, lengths: UnsafeRawBufferPointer,
                                                               mantissas: UnsafeRawBufferPointer, base: UInt64, scale: UInt64,
                                                               into dst: UnsafeMutablePointer<UInt64>) -> Bool {
        let count = lengths.count
        let fastLimit = mantissas.count >= 16 ? (mantissas.count - 16) * 8 : -1
        var largest: UInt8 = 0
        var bitPos = 0
        var i = 0
        while i < count && bitPos <= fastLimit {
            let l8 = lengths[i]
            largest = Swift.max(largest, l8)
            let l = Int(l8)
            let m = l > 1 ? l &- 1 : 0
            let byte = bitPos >> 3, shift = UInt64(bitPos & 7)
            var word = mantissas.loadUnaligned(fromByteOffset: byte, as: UInt64.self).littleEndian >> shift
            if shift &+ UInt64(m) > 64 { word |= UInt64(mantissas[byte &+ 8]) << (64 &- shift) }
            let mask: UInt64 = (1 << UInt64(m)) &- 1  // smart shift: all ones for m ≥ 64 (rejected below)
            let lead: UInt64 = l > 0 ? 1 << UInt64(m) : 0  // lengths 0 and 1 are the values 0 and 1
            dst[i] = Mode.value(lead | (word & mask), base: base, scale: scale)
            bitPos &+= m
            i &+= 1
        }
        while i < count {
            let l8 = lengths[i]
            largest = Swift.max(largest, l8)
            let l = Int(l8)
            let m = l > 1 ? l - 1 : 0
            let byte = bitPos >> 3, shift = UInt64(bitPos & 7)
            var low: UInt64 = 0
            var k = 0
            while k < 8 && byte + k < mantissas.count {
                low |= UInt64(mantissas[byte + k]) << UInt64(8 * k)
                k += 1
            }
            var word = low >> shift
            if shift > 0 && byte + 8 < mantissas.count { word |= UInt64(mantissas[byte + 8]) << (64 - shift) }
            let mask: UInt64 = (1 << UInt64(m)) &- 1
            let lead: UInt64 = l > 0 ? 1 << UInt64(m) : 0
            dst[i] = Mode.value(lead | (word & mask), base: base, scale: scale)
            bitPos += m
            i += 1
        }
        return largest <= 64 && (bitPos + 7) / 8 == mantissas.count
    }

    /// Decodes a byte stream. The result is valid until this reader decodes again.
    func readBytes(_ reader: inout ByteReader, _ what: @autoclosure () -> String) throws(SightlineError) -> UnsafeRawBufferPointer {
        let start = reader.position
        let tag = try reader.readByte("\(what()) tag")
        guard tag & ~0b11000 == 0, tag >> 3 != 3 else { throw reader.corrupt("\(what()): unknown stream tag \(tag)", at: start) }
        return try payload(&reader, compressionID: tag >> 3, what: what())
    }
}

/// How a length-prefixed value turns back into the stored value.
protocol LengthPrefixedMode {
    static func value(_ u: UInt64, base: UInt64, scale: UInt64) -> UInt64
}

/// Frame of reference: base + u·scale (wrapping by design).
enum OffsetMode: LengthPrefixedMode {
    @inline(__always)
    static func value(_ u: UInt64, base: UInt64, scale: UInt64) -> UInt64 { base &+ u &* scale }
}

/// Zig-zag: zigzag⁻¹(u)·scale (wrapping by design).
enum ZigZagMode: LengthPrefixedMode {
    @inline(__always)
    static func value(_ u: UInt64, base: UInt64, scale: UInt64) -> UInt64 {
        UInt64(bitPattern: zigZagDecode(u) &* Int64(bitPattern: scale))
    }
}
