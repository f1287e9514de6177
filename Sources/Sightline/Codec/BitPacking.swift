/// Fixed-width bit-packing, little-endian bit order: value i occupies bits [i·w, (i+1)·w).
enum BitPacking {
    /// Bytes needed for `count` values of `width` bits.
    @inline(__always)
    static func byteCount(count: Int, width: Int) -> Int { (count * width + 7) >> 3 }

    /// Bits needed for `value`.
    @inline(__always)
    static func width(of value: UInt64) -> Int { 64 - value.leadingZeroBitCount }

    /// Packs `values` (each < 2^width) into `out`, which holds exactly `byteCount` bytes.
    static func pack(_ values: UnsafeBufferPointer<UInt64>, width: Int, into out: UnsafeMutableRawBufferPointer) {
        assert(out.count == byteCount(count: values.count, width: width))
        guard width > 0 else { return }
        var acc: UInt64 = 0
        var bits = 0
        var pos = 0
        for v in values {
            assert(width == 64 || v >> UInt64(width) == 0)
            acc |= v << UInt64(bits)  // bits < 64 always
            let total = bits + width
            if total >= 64 {
                out.storeBytes(of: acc.littleEndian, toByteOffset: pos, as: UInt64.self)
                pos += 8
                acc = v >> UInt64(64 - bits)  // smart shift: 0 when bits == 0
                bits = total - 64
            } else {
                bits = total
            }
        }
        var b = 0
        while b < bits {
            out[pos] = UInt8(truncatingIfNeeded: acc >> UInt64(b))
            pos += 1
            b += 8
        }
    }

    /// Unpacks `count` values of `width` bits from `packed` and writes base &+ value &* scale.
    /// `packed` must hold `byteCount(count:width:)` bytes (checked by the caller).
    @inline(__always)
    static func unpack(_ packed: UnsafeRawBufferPointer, width: Int, count: Int, base: UInt64, scale: UInt64,
                       into out: UnsafeMutablePointer<UInt64>) {
        assert(packed.count >= byteCount(count: count, width: width))
        guard width > 0 else {
            out.update(repeating: base, count: count)
            return
        }
        let mask: UInt64 = width == 64 ? ~0 : (1 << UInt64(width)) - 1
        let n = packed.count
        // Values whose 8-byte window (plus one byte for wide values) lies inside the buffer
        // take the fast path; the last few go through `loadTail`.
        let fastEnd = n >= 9 ? Swift.min(count, ((n - 9) * 8) / width + 1) : 0
        var bitPos = 0
        var i = 0
        if width <= 56 {
            while i < fastEnd {
                let word = packed.loadUnaligned(fromByteOffset: bitPos >> 3, as: UInt64.self).littleEndian
                out[i] = base &+ ((word >> UInt64(bitPos & 7)) & mask) &* scale  // codec arithmetic wraps by design
                bitPos &+= width
                i &+= 1
            }
        } else {
            while i < fastEnd {
                let byte = bitPos >> 3, shift = UInt64(bitPos & 7)
                var word = packed.loadUnaligned(fromByteOffset: byte, as: UInt64.self).littleEndian >> shift
                if shift > 0 { word |= UInt64(packed[byte + 8]) << (64 - shift) }
                out[i] = base &+ (word & mask) &* scale
                bitPos &+= width
                i &+= 1
            }
        }
        while i < count {
            let byte = bitPos >> 3, shift = UInt64(bitPos & 7)
            var word = loadTail(packed, byte) >> shift
            if shift > 0 && byte + 8 < n { word |= UInt64(packed[byte + 8]) << (64 - shift) }
            out[i] = base &+ (word & mask) &* scale
            bitPos += width
            i += 1
        }
    }

    @inline(__always)
    private static func loadTail(_ p: UnsafeRawBufferPointer, _ offset: Int) -> UInt64 {
        var w: UInt64 = 0
        var k = 0
        while k < 8 && offset + k < p.count {
            w |= UInt64(p[offset + k]) << UInt64(8 * k)
            k += 1
        }
        return w
    }
}
