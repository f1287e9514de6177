import Testing
@_spi(Benchmarks) @testable import Sightline
@testable import SightlineWorkload

@Suite struct IntegerStreamTests {
    /// Distributions chosen so that every layout gets picked.
    static func distributions(_ g: inout SplitMix64, count n: Int) -> [(String, [UInt64], Bool)] {
        [
            ("constant", Array(repeating: 42, count: n), false),
            ("empty", [], false),
            ("small", (0..<n).map { _ in g.next() % 100 }, false),
            ("skewed small", (0..<n).map { _ in g.next() % 16 == 0 ? g.next() % 100 : 3 }, false),
            ("mixed magnitudes", (0..<n).map { _ in g.next() % 3 == 0 ? g.next() % (1 << 40) : g.next() % 1000 }, false),
            ("few large", (0..<n).map { i in i % 97 == 0 ? g.next() % (1 << 50) : g.next() % 100 }, false),
            ("signed around zero", (0..<n).map { _ in UInt64(bitPattern: Int64(g.next() % 2001) - 1000) }, true),
            ("signed mostly tiny", (0..<n).map { i in UInt64(bitPattern: i % 50 == 0 ? Int64(bitPattern: g.next()) >> 20 : Int64(g.next() % 5) - 2) }, true),
            ("multiples of 1000", (0..<n).map { _ in (g.next() % 100_000) * 1000 + 7_000_000 }, false),
            ("multiples of 10 signed", (0..<n).map { _ in UInt64(bitPattern: (Int64(g.next() % 20_001) - 10_000) * 10) }, true),
            ("powers of two", (0..<n).map { _ in (g.next() % 1000) << 12 }, false),
            ("full 64-bit", (0..<n).map { _ in g.next() }, false),
            ("full signed", (0..<n).map { _ in g.next() }, true),
            ("extremes", (0..<n).map { i in [UInt64.min, UInt64.max, UInt64(bitPattern: Int64.min), UInt64(bitPattern: Int64.max)][i % 4] }, true),
            ("extremes unsigned", (0..<n).map { i in [UInt64.min, UInt64.max, 1, UInt64.max - 1][i % 4] }, false),
        ]
    }

    @Test(arguments: [SegmentCompression.none, .lz4, .zstd(level: 3)], [1, 5, 300, 5000])
    func roundTrips(compression: SegmentCompression, count: Int) throws {
        var g = SplitMix64(seed: UInt64(count))
        let compressor = Compressor()
        var writer = IntegerStreamWriter(compression: compression, compressor: compressor)
        let reader = StreamReader(compressor: compressor)
        for (name, values, signed) in Self.distributions(&g, count: count) {
            // The planner's choice, then every layout forced.
            let forced: [IntegerLayout?] = [nil, .forBitPacked, .forVarint, .zigZagVarint, .forLengthPrefixed, .zigZagLengthPrefixed]
            for layout in forced {
                var out = ByteWriter()
                try values.withUnsafeBufferPointer { v throws(SightlineError) in
                    if let layout { try writer.write(v, signed: signed, forcing: layout, to: &out) } else { try writer.write(v, signed: signed, to: &out) }
                }
                let decoded = ScratchBuffer<UInt64>()
                try out.bytes.withUnsafeBytes { raw in
                    var r = ByteReader(raw, fileOffset: 0, path: "test")
                    try reader.readIntegers(&r, expectedCount: values.count, into: decoded, name)
                    #expect(r.isAtEnd, "\(name)")
                }
                let same = Array(decoded.buffer) == values
                #expect(same, "\(name), \(compression), \(count) values, layout \(String(describing: layout))")
            }
        }
    }

    @Test func plannerPicksEachLayoutForItsShapeOfData() throws {
        var g = SplitMix64(seed: 4)
        var writer = IntegerStreamWriter(compression: .default, compressor: Compressor())
        var layouts = Set<IntegerLayout>()
        for (_, values, signed) in Self.distributions(&g, count: 5000) {
            var out = ByteWriter()
            layouts.insert(try values.withUnsafeBufferPointer { v throws(SightlineError) in try writer.write(v, signed: signed, to: &out) })
        }
        #expect(layouts.count >= 4, "layouts chosen: \(layouts)")
    }

    @Test func byteStreamsRoundTrip() throws {
        let compressor = Compressor()
        for compression in [SegmentCompression.none, .lz4, .zstd(level: 3)] {
            var writer = IntegerStreamWriter(compression: compression, compressor: compressor)
            for bytes in [[], [1, 2, 3], Array(repeating: UInt8(7), count: 5000), (0..<3000).map { UInt8(truncatingIfNeeded: $0 &* 31) }] as [[UInt8]] {
                var out = ByteWriter()
                try writer.writeBytes(bytes, to: &out)
                // The result points into the reader's scratch: keep the reader alive while reading it.
                let streams = StreamReader(compressor: compressor)
                let back = try out.bytes.withUnsafeBytes { raw in
                    var r = ByteReader(raw, fileOffset: 0, path: "test")
                    return Array(try streams.readBytes(&r, "bytes"))
                }
                let same = back == bytes
                #expect(same, "\(bytes.count) bytes with \(compression)")
            }
        }
    }

    @Test func wrongCountIsCorruption() throws {
        var writer = IntegerStreamWriter(compression: .none, compressor: Compressor())
        var out = ByteWriter()
        try [UInt64](repeating: 5, count: 10).withUnsafeBufferPointerTyped { v throws(SightlineError) in try writer.write(v, signed: false, to: &out) }
        out.bytes.withUnsafeBytes { raw in
            var r = ByteReader(raw, fileOffset: 100, path: "f")
            #expect(throws: SightlineError.corruptFile(path: "f", offset: 100, reason: "x holds 10 values, expected 11")) {
                try StreamReader(compressor: Compressor()).readIntegers(&r, expectedCount: 11, into: ScratchBuffer<UInt64>(), "x")
            }
        }
    }

    @Test func varintAndZigZag() {
        for v: UInt64 in [0, 1, 127, 128, 16383, 16384, UInt64.max] {
            var w = ByteWriter()
            w.appendVarint(v)
            #expect(w.count == varintLength(v))
            w.bytes.withUnsafeBytes { raw in
                var r = ByteReader(raw, fileOffset: 0, path: "t")
                #expect((try? r.readVarint()) == v)
            }
        }
        for v: Int64 in [0, -1, 1, Int64.min, Int64.max, -123456] { #expect(zigZagDecode(zigZagEncode(v)) == v) }
        #expect(zigZagEncode(-1) == 1 && zigZagEncode(1) == 2)
    }
}
