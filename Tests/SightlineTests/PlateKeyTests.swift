import Testing
@_spi(Benchmarks) @testable import Sightline
@testable import SightlineWorkload

@Suite struct PlateKeyTests {
    /// SipHash-2-4 reference outputs (veorq/SipHash vectors.h, `vectors_sip64`): key 00..0f,
    /// message 00..(len-1), for len 0...15, as little-endian 64-bit values.
    static let referenceVectors: [UInt64] = [
        0x726fdb47dd0e0e31, 0x74f839c593dc67fd, 0x0d6c8009d9a94f5a, 0x85676696d7fb7e2d,
        0xcf2794e0277187b7, 0x18765564cd99a68d, 0xcbc9466e58fee3ce, 0xab0200f58b01d137,
        0x93f5f5799a932462, 0x9e0082df0ba9e4b0, 0x7a5dbbc594ddb9f3, 0xf4b32f46226bada7,
        0x751e8fbc860ee5fb, 0x14ea5627c0843d90, 0xf723ca908e7af2ee, 0xa129ca6149be45e5,
    ]

    @Test func matchesReferenceVectors() {
        for (length, expected) in Self.referenceVectors.enumerated() {
            let message = (0..<length).map { UInt8($0) }
            let h = message.withUnsafeBytes { testHasher.hash($0) }
            #expect(h == expected, "length \(length)")
        }
    }

    @Test func secretBytesAreReadLittleEndian() throws {
        let secret = try PlateKeySecret(bytes: (0..<16).map { UInt8($0) })
        #expect(secret == testSecret)
        #expect(secret.bytes == (0..<16).map { UInt8($0) })
        #expect(throws: SightlineError.self) { try PlateKeySecret(bytes: [1, 2, 3]) }
    }

    @Test func plateKeyEqualsSipHashOfNormalizedText() throws {
        var g = SplitMix64(seed: 3)
        let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789".utf8)
        for length in 1...Plate.maximumLength {
            for _ in 0..<50 {
                let bytes = (0..<length).map { _ in alphabet[Int(g.next() % 36)] }
                let plate = try Plate(String(decoding: bytes, as: UTF8.self))
                #expect(testHasher.key(plate) == bytes.withUnsafeBytes { testHasher.hash($0) })
                #expect(plate.text == String(decoding: bytes, as: UTF8.self))
            }
        }
    }

    @Test func secretHexRoundTrips() throws {
        let s = PlateKeySecret.random()
        #expect(try PlateKeySecret(hex: s.hex) == s)
        #expect(testSecret.hex == "000102030405060708090a0b0c0d0e0f")
        #expect(throws: SightlineError.self) { try PlateKeySecret(hex: "zz") }
        #expect(throws: SightlineError.self) { try PlateKeySecret(hex: String(repeating: "g", count: 32)) }
    }

    @Test func differentSecretsGiveDifferentKeys() throws {
        let plate = try Plate("7ABC123")
        let other = PlateHasher(secret: PlateKeySecret(k0: 1, k1: 2))
        #expect(testHasher.key(plate) != other.key(plate))
    }

    @Test func normalization() throws {
        #expect(try Plate("ab-12 3").text == "AB123")
        #expect(try Plate(" 7 abc-123 ") == Plate("7ABC123"))
        #expect(try Plate("ABCDE12345").count == 10)
    }

    @Test(arguments: ["", "  - ", "ABCDE123456", "AB_12", "ÄBC", "AB\u{0}1", "12.34"])
    func rejectsInvalidPlates(_ text: String) {
        #expect(throws: SightlineError.self) { try Plate(text) }
    }

    @Test func plateOrderIsByteWise() throws {
        let plates = try ["B", "A1", "A", "AB", "A0", "Z9", "0"].map { try Plate($0) }
        #expect(plates.sorted().map(\.text) == ["0", "A", "A0", "A1", "AB", "B", "Z9"])
    }
}

