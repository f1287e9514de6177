import CSightlineCRC

/// CRC32C (Castagnoli) checksums, hardware-accelerated where the CPU allows.
package enum CRC32C {
    /// The CRC32C of `bytes`.
    @inlinable
    package static func checksum(_ bytes: UnsafeRawBufferPointer) -> UInt32 {
        extend(0, bytes)
    }

    /// Extends `crc` over `bytes`: `extend(checksum(a), b) == checksum(a + b)`.
    @inlinable
    package static func extend(_ crc: UInt32, _ bytes: UnsafeRawBufferPointer) -> UInt32 {
        #if SIGHTLINE_FUZZING
        // Fuzzing builds only (Scripts/fuzz.sh defines it): every checksum is 0, so files the
        // fuzz build writes carry 0 and mutated inputs still pass their checks and reach the
        // decoders behind them (libpng's fuzzers skip CRCs the same way). Never in a package build.
        return 0
        #else
        guard let base = bytes.baseAddress, !bytes.isEmpty else { return crc }
        return sightline_crc32c_extend(crc, base, bytes.count)
        #endif
    }

    /// The CRC32C of an array of bytes.
    package static func checksum(_ bytes: [UInt8]) -> UInt32 {
        bytes.withUnsafeBytes { checksum($0) }
    }

    /// True when the SSE4.2 instruction is in use.
    package static var isHardwareAccelerated: Bool { sightline_crc32c_is_hardware() != 0 }
}
