import Testing
@_spi(Benchmarks) @testable import Sightline
@testable import SightlineWorkload

@Suite struct CRC32CTests {
    /// RFC 3720 (iSCSI) B.4 test vectors, plus the common "123456789" check value.
    @Test func knownVectors() {
        #expect(CRC32C.checksum(Array("123456789".utf8)) == 0xE306_9283)
        #expect(CRC32C.checksum([UInt8](repeating: 0, count: 32)) == 0x8A91_36AA)
        #expect(CRC32C.checksum([UInt8](repeating: 0xFF, count: 32)) == 0x62A8_AB43)
        #expect(CRC32C.checksum((0..<32).map { UInt8($0) }) == 0x46DD_794E)
        #expect(CRC32C.checksum((0..<32).map { UInt8(31 - $0) }) == 0x113F_DB5C)
        #expect(CRC32C.checksum([]) == 0)
    }

    @Test func extendEqualsWhole() {
        var g = SplitMix64(seed: 9)
        let bytes = (0..<1000).map { _ in UInt8(truncatingIfNeeded: g.next()) }
        for cut in [0, 1, 7, 8, 9, 500, 999, 1000] {
            let a = Array(bytes[..<cut]), b = Array(bytes[cut...])
            let whole = CRC32C.checksum(bytes)
            let joined = b.withUnsafeBytes { CRC32C.extend(CRC32C.checksum(a), $0) }
            #expect(whole == joined)
        }
    }
}
