/// A split-block Bloom filter (the design of Parquet's bloom filters): 256-bit blocks of
/// eight 32-bit words; a key picks one block from the high half of its 64-bit hash and sets
/// one bit in each of the block's eight words from the low half. A lookup touches one cache
/// line. At 10 bits a key the false-positive rate is about 1 %; there are no false negatives.
///
/// The caller supplies well-mixed 64-bit hashes (the filter does not hash again).
struct SplitBlockBloomFilter: Sendable, Equatable {
    /// The filter's words, `8 × blockCount` of them.
    private(set) var words: [UInt32]

    /// Parquet's salts: odd constants that spread one 32-bit value over eight bit positions.
    @usableFromInline static let salts: (UInt32, UInt32, UInt32, UInt32, UInt32, UInt32, UInt32, UInt32) =
        (0x47B6_137B, 0x4497_4D91, 0x8824_AD5B, 0xA2B7_289D, 0x7054_95C7, 0x2DF1_424B, 0x9EFC_4947, 0x5C6B_FB31)

    /// An empty filter sized for `expectedKeys` at `bitsPerKey` (at least one block).
    init(expectedKeys: Int, bitsPerKey: Int = 10) {
        let blocks = max(1, (max(0, expectedKeys) * bitsPerKey + 255) / 256)
        words = [UInt32](repeating: 0, count: blocks * 8)
    }

    /// A filter from stored words (a multiple of 8, at least 8).
    init(uncheckedWords: [UInt32]) {
        assert(!uncheckedWords.isEmpty && uncheckedWords.count % 8 == 0)
        words = uncheckedWords
    }

    var blockCount: Int { words.count / 8 }
    /// Memory the filter holds.
    var byteCount: Int { words.count * 4 }

    @inline(__always)
    private static func block(_ hash: UInt64, blocks: Int) -> Int {
        // Multiply-shift range reduction (no modulo): uniform over 0..<blocks.
        Int(truncatingIfNeeded: ((hash >> 32) &* UInt64(blocks)) >> 32)
    }

    @inline(__always)
    private static func masks(_ hash: UInt64) -> SIMD8<UInt32> {
        let key = SIMD8<UInt32>(repeating: UInt32(truncatingIfNeeded: hash))
        let s = salts
        let salt = SIMD8<UInt32>(s.0, s.1, s.2, s.3, s.4, s.5, s.6, s.7)
        // Wrapping multiply by the salt, top 5 bits pick the bit.
        return SIMD8<UInt32>(repeating: 1) &<< ((key &* salt) &>> 27)
    }

    /// Adds a key by its hash.
    mutating func insert(hash: UInt64) {
        let b = Self.block(hash, blocks: blockCount) &* 8
        let m = Self.masks(hash)
        words.withUnsafeMutableBufferPointer { w in
            for i in 0..<8 { w[b &+ i] |= m[i] }
        }
    }

    /// False only if no key with this hash was inserted.
    func mayContain(hash: UInt64) -> Bool {
        let b = Self.block(hash, blocks: blockCount) &* 8
        let m = Self.masks(hash)
        return words.withUnsafeBufferPointer { w in
            var missing: UInt32 = 0
            for i in 0..<8 { missing |= m[i] & ~w[b &+ i] }
            return missing == 0
        }
    }
}
