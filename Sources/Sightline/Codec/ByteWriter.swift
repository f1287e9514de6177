/// An append-only little-endian byte buffer. Reused across blocks to avoid allocation.
@usableFromInline
internal struct ByteWriter {
    @usableFromInline internal var bytes: [UInt8]

    init(capacity: Int = 0) {
        bytes = []
        bytes.reserveCapacity(capacity)
    }

    var count: Int { bytes.count }

    mutating func removeAll() { bytes.removeAll(keepingCapacity: true) }

    mutating func append(_ byte: UInt8) { bytes.append(byte) }

    mutating func append<T: FixedWidthInteger>(littleEndian value: T) {
        withUnsafeBytes(of: value.littleEndian) { bytes.append(contentsOf: $0) }
    }

    mutating func append(contentsOf raw: UnsafeRawBufferPointer) { bytes.append(contentsOf: raw) }

    mutating func append(contentsOf other: [UInt8]) { bytes.append(contentsOf: other) }

    /// LEB128: 7 bits a byte, low first; 1 to 10 bytes.
    mutating func appendVarint(_ value: UInt64) {
        var v = value
        while v >= 0x80 {
            bytes.append(UInt8(truncatingIfNeeded: v) | 0x80)
            v >>= 7
        }
        bytes.append(UInt8(v))
    }

    /// Grows by `count` bytes and lets `body` fill them; returns what `body` returns.
    mutating func appendUninitialized<R>(count: Int, _ body: (UnsafeMutableRawBufferPointer) -> R) -> R {
        let start = bytes.count
        bytes.append(contentsOf: repeatElement(0, count: count))
        return bytes.withUnsafeMutableBytes { body(UnsafeMutableRawBufferPointer(rebasing: $0[start..<(start + count)])) }
    }

    /// Lets `body` write up to `maximum` bytes at the end through a raw pointer and keeps the
    /// number it returns: the fast way to append many small values (no per-byte append).
    mutating func append(maximum: Int, _ body: (UnsafeMutablePointer<UInt8>) -> Int) {
        let start = bytes.count
        bytes.append(contentsOf: repeatElement(0, count: maximum))
        let written = bytes.withUnsafeMutableBufferPointer { body($0.baseAddress! + start) }
        assert(written <= maximum)
        bytes.removeSubrange((start + written)...)
    }

    /// Drops bytes past `count` (for undoing a candidate encoding).
    mutating func truncate(to count: Int) { bytes.removeSubrange(count...) }

    /// Overwrites a little-endian value at `offset` (for back-patched lengths).
    mutating func patch<T: FixedWidthInteger>(littleEndian value: T, at offset: Int) {
        withUnsafeBytes(of: value.littleEndian) { raw in
            for i in 0..<raw.count { bytes[offset + i] = raw[i] }
        }
    }
}

/// Number of bytes `appendVarint` writes for `value`.
@inlinable @inline(__always)
internal func varintLength(_ value: UInt64) -> Int {
    // 1 + floor((bit width - 1) / 7), with 0 taking one byte.
    let bits = 64 - (value | 1).leadingZeroBitCount
    return (bits + 6) / 7
}

/// Zig-zag maps signed to unsigned so small magnitudes stay small: 0,-1,1,-2 → 0,1,2,3.
@inlinable @inline(__always)
internal func zigZagEncode(_ v: Int64) -> UInt64 { UInt64(bitPattern: (v << 1) ^ (v >> 63)) }

@inlinable @inline(__always)
internal func zigZagDecode(_ u: UInt64) -> Int64 { Int64(bitPattern: u >> 1) ^ -Int64(bitPattern: u & 1) }
