import Testing
@_spi(Benchmarks) @testable import Sightline
@testable import SightlineWorkload

@Suite struct BitPackingTests {
    @Test func roundTripsEveryWidthAndCount() {
        var g = SplitMix64(seed: 11)
        for width in 0...64 {
            for count in [0, 1, 2, 3, 7, 8, 9, 63, 64, 65, 200] {
                let mask: UInt64 = width == 64 ? ~0 : (1 << UInt64(width)) - 1
                let values = (0..<count).map { _ in g.next() & mask }
                var packed = [UInt8](repeating: 0, count: BitPacking.byteCount(count: count, width: width))
                values.withUnsafeBufferPointer { v in packed.withUnsafeMutableBytes { BitPacking.pack(v, width: width, into: $0) } }
                var out = [UInt64](repeating: 0, count: count)
                packed.withUnsafeBytes { p in
                    out.withUnsafeMutableBufferPointer { o in
                        if let base = o.baseAddress { BitPacking.unpack(p, width: width, count: count, base: 0, scale: 1, into: base) }
                    }
                }
                let same = out == values
                #expect(same, "width \(width) count \(count)")
            }
        }
    }
}
