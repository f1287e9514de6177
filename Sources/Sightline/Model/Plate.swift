/// A normalized licence plate: 1 to 10 characters from A–Z and 0–9.
///
/// Normalization uppercases letters and removes spaces and hyphens, so `"ab-12 3"` and
/// `"AB123"` are the same plate. The characters are stored inline (no heap allocation):
/// bytes 0–7 in `low`, bytes 8–9 in `high`, little-endian, unused bytes zero.
@frozen
public struct Plate: Hashable, Sendable, Comparable, CustomStringConvertible {
    /// The longest plate accepted, in characters.
    public static let maximumLength = 10

    @usableFromInline internal var low: UInt64
    @usableFromInline internal var high: UInt16
    /// Number of characters, 1...10.
    public let count: UInt8

    @inlinable
    internal init(uncheckedLow low: UInt64, high: UInt16, count: UInt8) {
        self.low = low
        self.high = high
        self.count = count
    }

    /// Normalizes and validates `text`.
    /// - Throws: `SightlineError.invalidPlate` when the result is empty, longer than 10
    ///   characters, or contains anything but letters and digits.
    public init(_ text: String) throws(SightlineError) {
        var low: UInt64 = 0
        var high: UInt16 = 0
        var n = 0
        for var byte in text.utf8 {
            if byte == 0x20 || byte == 0x2D { continue }  // space, hyphen
            if byte >= 0x61 && byte <= 0x7A { byte -= 0x20 }  // a-z → A-Z
            guard (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x30 && byte <= 0x39) else {
                throw .invalidPlate(text, reason: "only letters A–Z, digits, spaces and hyphens are allowed")
            }
            guard n < Plate.maximumLength else {
                throw .invalidPlate(text, reason: "longer than \(Plate.maximumLength) characters after normalization")
            }
            if n < 8 { low |= UInt64(byte) << (8 * UInt64(n)) } else { high |= UInt16(byte) << (8 * UInt16(n - 8)) }
            n += 1
        }
        guard n > 0 else { throw .invalidPlate(text, reason: "empty after normalization") }
        self.init(uncheckedLow: low, high: high, count: UInt8(n))
    }

    /// Builds a plate from bytes that are already normalized (A–Z, 0–9, 1...10 of them).
    /// Only debug builds check; use `init(_:)` for anything from outside.
    @inlinable
    package init(uncheckedNormalized bytes: UnsafeRawBufferPointer) {
        assert(bytes.count >= 1 && bytes.count <= Plate.maximumLength)
        var low: UInt64 = 0
        var high: UInt16 = 0
        for i in 0..<bytes.count {
            let b = bytes[i]
            assert((b >= 0x41 && b <= 0x5A) || (b >= 0x30 && b <= 0x39))
            if i < 8 { low |= UInt64(b) << (8 * UInt64(i)) } else { high |= UInt16(b) << (8 * UInt16(i - 8)) }
        }
        self.init(uncheckedLow: low, high: high, count: UInt8(bytes.count))
    }

    /// The character at `index` (0-based) as an ASCII byte.
    @inlinable
    public subscript(index: Int) -> UInt8 {
        precondition(index >= 0 && index < Int(count))
        return index < 8 ? UInt8(truncatingIfNeeded: low >> (8 * UInt64(index)))
            : UInt8(truncatingIfNeeded: high >> (8 * UInt16(index - 8)))
    }

    /// The normalized text.
    public var text: String {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(Int(count))
        for i in 0..<Int(count) { bytes.append(self[i]) }
        return String(decoding: bytes, as: UTF8.self)
    }

    public var description: String { text }

    /// Orders plates by their text (byte-wise), which is also the order of equal-key runs.
    public static func < (a: Plate, b: Plate) -> Bool {
        // Byte-wise order: compare big-endian views of the little-endian storage.
        let al = a.low.byteSwapped, bl = b.low.byteSwapped
        if al != bl { return al < bl }
        let ah = a.high.byteSwapped, bh = b.high.byteSwapped
        if ah != bh { return ah < bh }
        return a.count < b.count
    }
}
