/// The 128-bit secret under which plates are hashed to plate keys.
///
/// A store creates one with the store and keeps it in its directory; an embedding service
/// may supply its own. Without the secret, a copied plate key cannot be tied to a plate by
/// hashing candidate plates.
public struct PlateKeySecret: Sendable, Hashable {
    /// The two 64-bit halves of the key, as SipHash reads them (little-endian bytes 0–7, 8–15).
    /// Key bytes 0–7, little-endian.
    public let k0: UInt64
    /// Key bytes 8–15, little-endian.
    public let k1: UInt64

    /// A secret from its two halves.
    public init(k0: UInt64, k1: UInt64) {
        self.k0 = k0
        self.k1 = k1
    }

    /// A secret from 16 bytes (read little-endian, as the SipHash reference does).
    public init(bytes: [UInt8]) throws(SightlineError) {
        guard bytes.count == 16 else {
            throw .invalidArgument("a plate key secret is 16 bytes, got \(bytes.count)")
        }
        var a: UInt64 = 0, b: UInt64 = 0
        for i in 0..<8 {
            a |= UInt64(bytes[i]) << (8 * UInt64(i))
            b |= UInt64(bytes[8 + i]) << (8 * UInt64(i))
        }
        self.init(k0: a, k1: b)
    }

    /// A new secret from the system's random source.
    public static func random() -> PlateKeySecret {
        var generator = SystemRandomNumberGenerator()
        return PlateKeySecret(k0: generator.next(), k1: generator.next())
    }

    /// A secret from 32 hexadecimal digits (the 16 bytes in order).
    public init(hex: String) throws(SightlineError) {
        let digits = Array(hex.utf8)
        guard digits.count == 32 else { throw .invalidArgument("a plate key secret is 32 hex digits, got \(digits.count) characters") }
        var bytes: [UInt8] = []
        for i in stride(from: 0, to: 32, by: 2) {
            guard let b = UInt8(String(decoding: digits[i..<(i + 2)], as: UTF8.self), radix: 16) else {
                throw .invalidArgument("a plate key secret is 32 hex digits: \"\(hex)\"")
            }
            bytes.append(b)
        }
        try self.init(bytes: bytes)
    }

    /// The secret as 32 hexadecimal digits.
    public var hex: String {
        bytes.map { b in (b < 16 ? "0" : "") + String(b, radix: 16) }.joined()
    }

    /// The 16 bytes of the secret, little-endian halves.
    public var bytes: [UInt8] {
        (0..<16).map { i in UInt8(truncatingIfNeeded: (i < 8 ? k0 : k1) >> (8 * UInt64(i % 8))) }
    }
}

/// Computes plate keys: SipHash-2-4 of the normalized plate text under a `PlateKeySecret`.
@frozen
public struct PlateHasher: Sendable {
    /// The secret in use.
    public let secret: PlateKeySecret

    /// A hasher under `secret`.
    public init(secret: PlateKeySecret) { self.secret = secret }

    /// The 64-bit plate key of `plate`. Allocation-free; ~20 ns.
    @inlinable
    public func key(_ plate: Plate) -> UInt64 {
        // A plate is at most 10 bytes: one full 8-byte word when count ≥ 8, then the tail
        // word, whose top byte holds the length, exactly as SipHash pads a message.
        var state = SipHash24State(k0: secret.k0, k1: secret.k1)
        let count = UInt64(plate.count)
        if count >= 8 {
            state.compress(plate.low)
            state.compress(UInt64(plate.high) | (count << 56))
        } else {
            state.compress(plate.low | (count << 56))
        }
        return state.finalize()
    }

    /// A fingerprint of the secret stored in every segment footer: SipHash-2-4 of the ASCII
    /// text "sightline plate key check" under the secret. A reader whose secret differs is
    /// told so instead of finding nothing; the fingerprint reveals nothing of the secret.
    public var secretFingerprint: UInt64 {
        Array("sightline plate key check".utf8).withUnsafeBytes { hash($0) }
    }

    /// SipHash-2-4 of arbitrary bytes under the secret (the reference algorithm; used for
    /// checking against the published test vectors and for non-plate keys).
    public func hash(_ bytes: UnsafeRawBufferPointer) -> UInt64 {
        var state = SipHash24State(k0: secret.k0, k1: secret.k1)
        let n = bytes.count
        var i = 0
        while i + 8 <= n {
            state.compress(bytes.loadUnaligned(fromByteOffset: i, as: UInt64.self).littleEndian)
            i += 8
        }
        var tail = UInt64(truncatingIfNeeded: n) << 56
        var shift: UInt64 = 0
        while i < n {
            tail |= UInt64(bytes[i]) << shift
            shift += 8
            i += 1
        }
        state.compress(tail)
        return state.finalize()
    }
}

/// SipHash-2-4 state (Aumasson & Bernstein, 2012). Arithmetic wraps by design: `&+`.
@frozen
@usableFromInline
internal struct SipHash24State {
    @usableFromInline var v0: UInt64
    @usableFromInline var v1: UInt64
    @usableFromInline var v2: UInt64
    @usableFromInline var v3: UInt64

    @inlinable
    init(k0: UInt64, k1: UInt64) {
        v0 = k0 ^ 0x736f6d6570736575
        v1 = k1 ^ 0x646f72616e646f6d
        v2 = k0 ^ 0x6c7967656e657261
        v3 = k1 ^ 0x7465646279746573
    }

    @inlinable @inline(__always)
    mutating func round() {
        v0 = v0 &+ v1; v1 = v1.rotatedLeft(13); v1 ^= v0; v0 = v0.rotatedLeft(32)
        v2 = v2 &+ v3; v3 = v3.rotatedLeft(16); v3 ^= v2
        v0 = v0 &+ v3; v3 = v3.rotatedLeft(21); v3 ^= v0
        v2 = v2 &+ v1; v1 = v1.rotatedLeft(17); v1 ^= v2; v2 = v2.rotatedLeft(32)
    }

    @inlinable @inline(__always)
    mutating func compress(_ m: UInt64) {
        v3 ^= m
        round(); round()
        v0 ^= m
    }

    @inlinable @inline(__always)
    mutating func finalize() -> UInt64 {
        v2 ^= 0xff
        round(); round(); round(); round()
        return v0 ^ v1 ^ v2 ^ v3
    }
}

extension UInt64 {
    @inlinable @inline(__always)
    internal func rotatedLeft(_ n: UInt64) -> UInt64 { (self << n) | (self >> (64 &- n)) }
}
