/// Encodes the column chunks of one block. Holds reusable scratch so encoding a segment
/// allocates per block only what zstd needs.
struct BlockEncoder {
    var streams: IntegerStreamWriter
    private var a: [UInt64] = []
    private var b: [UInt64] = []
    private var c: [UInt64] = []
    private var textBytes: [UInt8] = []
    private var sample: [UInt64] = []

    init(compression: SegmentCompression, compressor: Compressor) {
        streams = IntegerStreamWriter(compression: compression, compressor: compressor)
    }

    private mutating func write(_ values: [UInt64], signed: Bool, to out: inout ByteWriter) throws(SightlineError) {
        try values.withUnsafeBufferPointerTyped { v throws(SightlineError) in try streams.write(v, signed: signed, to: &out) }
    }

    /// Expected stored bytes of `values` as a stream, for choosing between a column's modes.
    /// Long streams are estimated from every 4th value (scaled up): choosing a mode needs
    /// the shape of the distribution, not its last byte; the stream finally written is
    /// measured in full.
    private mutating func measure(_ values: [UInt64], signed: Bool) -> Int {
        let compressed = streams.compression != .none
        guard values.count > 2048 else {
            return values.withUnsafeBufferPointer { IntegerStreamPlan.measure($0, signed: signed, compressed: compressed).estimatedBytes }
        }
        sample.removeAll(keepingCapacity: true)
        var i = 0
        while i < values.count { sample.append(values[i]); i &+= 4 }
        let estimate = sample.withUnsafeBufferPointer { IntegerStreamPlan.measure($0, signed: signed, compressed: compressed).estimatedBytes }
        return estimate * values.count / sample.count
    }

    // MARK: plate

    /// Runs of equal plates: run lengths, plate lengths, plate text. Keys are not stored:
    /// they are SipHash of the text under the store's secret, recomputed on read.
    mutating func encodePlate(_ rows: SortedBatch, _ range: Range<Int>, into out: inout ByteWriter) throws(SightlineError) {
        a.removeAll(keepingCapacity: true)  // run lengths
        c.removeAll(keepingCapacity: true)  // text lengths
        textBytes.removeAll(keepingCapacity: true)
        var i = range.lowerBound
        while i < range.upperBound {
            let key = rows.keys[i], plate = rows.plates[i]
            var j = i + 1
            while j < range.upperBound && rows.keys[j] == key && rows.plates[j] == plate { j += 1 }
            a.append(UInt64(j - i))
            c.append(UInt64(plate.count))
            for k in 0..<Int(plate.count) { textBytes.append(plate[k]) }
            i = j
        }
        try write(a, signed: false, to: &out)
        try write(c, signed: false, to: &out)
        try streams.writeBytes(textBytes, to: &out)
    }

    // MARK: time

    /// Mode 0: runs of non-decreasing time (run lengths, run starts, in-run deltas);
    /// mode 1: one stream of signed row-to-row deltas. Whichever measures smaller.
    mutating func encodeTime(_ rows: SortedBatch, _ range: Range<Int>, into out: inout ByteWriter) throws(SightlineError) {
        a.removeAll(keepingCapacity: true)  // run lengths
        b.removeAll(keepingCapacity: true)  // run starts
        c.removeAll(keepingCapacity: true)  // in-run deltas
        var runStart = range.lowerBound
        for i in range {
            let t = rows.times[i]
            if i == range.lowerBound || t < rows.times[i - 1] {
                if i > range.lowerBound { a.append(UInt64(i - runStart)) }
                runStart = i
                b.append(UInt64(bitPattern: t))
            } else {
                c.append(UInt64(bitPattern: t &- rows.times[i - 1]))
            }
        }
        if !range.isEmpty { a.append(UInt64(range.upperBound - runStart)) }
        let runsSize = measure(a, signed: false) + measure(b, signed: true) + measure(c, signed: false)
        var deltas: [UInt64] = []
        deltas.reserveCapacity(range.count)
        var previous: Int64 = 0
        for i in range {
            deltas.append(UInt64(bitPattern: rows.times[i] &- previous))  // wraps by design; inverted by &+
            previous = rows.times[i]
        }
        if measure(deltas, signed: true) < runsSize {
            out.append(1)
            try write(deltas, signed: true, to: &out)
        } else {
            out.append(0)
            try write(a, signed: false, to: &out)
            try write(b, signed: true, to: &out)
            try write(c, signed: false, to: &out)
        }
    }

    // MARK: small unsigned columns (camera, confidence, region)

    /// Mode 0: one stream; mode 1: run values and run lengths; mode 2: a dictionary of the
    /// distinct values (at most 256) and an index per value. Whichever measures smaller.
    mutating func encodeUnsigned(_ values: [UInt64], into out: inout ByteWriter) throws(SightlineError) {
        let plain = measure(values, signed: false)
        var best = (mode: UInt8(0), size: plain)
        a.removeAll(keepingCapacity: true)
        b.removeAll(keepingCapacity: true)
        var i = 0
        while i < values.count {
            var j = i + 1
            while j < values.count && values[j] == values[i] { j += 1 }
            a.append(values[i])
            b.append(UInt64(j - i))
            i = j
        }
        if a.count * 2 < values.count {
            let size = measure(a, signed: false) + measure(b, signed: false)
            if size < best.size { best = (1, size) }
        }
        // A dictionary pays when values are few but far apart (region codes, sparse ids);
        // for dense ranges (confidence) the stream's own layouts already do as well.
        var dictionary: [UInt64] = []
        var low = UInt64.max, high = UInt64.min
        for v in values { low = min(low, v); high = max(high, v) }
        if plain > values.count / 4, !values.isEmpty, BitPacking.width(of: high &- low) >= 9, let d = SmallDictionary(values) {
            c.removeAll(keepingCapacity: true)
            for v in values { c.append(UInt64(d.index(of: v))) }
            dictionary = d.values
            let size = measure(dictionary, signed: false) + measure(c, signed: false)
            if size < best.size { best = (2, size) }
        }
        out.append(best.mode)
        switch best.mode {
        case 1:
            try write(a, signed: false, to: &out)
            try write(b, signed: false, to: &out)
        case 2:
            try write(dictionary, signed: false, to: &out)
            try write(c, signed: false, to: &out)
        default:
            try write(values, signed: false, to: &out)
        }
    }

    // MARK: position

    /// Home references (raw, or as deltas: consecutive reads of a trip are neighbouring
    /// cameras, and homes are numbered along a Hilbert curve), then latitude and longitude of
    /// the rows not at home, each with the transform (raw, delta, delta of delta) that
    /// measures smallest.
    mutating func encodePosition(_ rows: SortedBatch, _ range: Range<Int>, homeRefs: [UInt32],
                                 into out: inout ByteWriter) throws(SightlineError) {
        var lat: [Int64] = [], lon: [Int64] = [], refs: [Int64] = []
        refs.reserveCapacity(range.count)
        for i in range {
            refs.append(Int64(homeRefs[i]))
            if homeRefs[i] == 0 {
                lat.append(Int64(rows.latitudes[i]))
                lon.append(Int64(rows.longitudes[i]))
            }
        }
        let (refTransform, refValues) = bestCoordinateTransform(refs, maximumTransform: 1)
        let (latTransform, latValues) = bestCoordinateTransform(lat)
        let (lonTransform, lonValues) = bestCoordinateTransform(lon)
        out.append(latTransform | lonTransform << 2 | refTransform << 4)
        try write(refValues, signed: true, to: &out)
        try write(latValues, signed: true, to: &out)
        try write(lonValues, signed: true, to: &out)
    }

    private mutating func bestCoordinateTransform(_ values: [Int64], maximumTransform: UInt8 = 2) -> (UInt8, [UInt64]) {
        var candidate = values.map { UInt64(bitPattern: $0) }
        var best: (UInt8, [UInt64]) = (0, candidate)
        var bestSize = measure(candidate, signed: true)
        for transform in 1...maximumTransform {
            CoordinateTransform.deltaInPlace(&candidate)
            let size = measure(candidate, signed: true)
            if size < bestSize { best = (transform, candidate); bestSize = size }
        }
        return best
    }

    // MARK: image

    /// Empty when no row has an image; else lengths (0 = absent) and the concatenated bytes.
    mutating func encodeImage(_ rows: SortedBatch, _ range: Range<Int>, into out: inout ByteWriter) throws(SightlineError) {
        guard !rows.images.isEmpty, range.contains(where: { rows.images[$0] != nil }) else { return }
        a.removeAll(keepingCapacity: true)
        textBytes.removeAll(keepingCapacity: true)
        for i in range {
            if let image = rows.images[i] {
                a.append(UInt64(image.utf8.count))
                textBytes.append(contentsOf: image.utf8)
            } else {
                a.append(0)
            }
        }
        try write(a, signed: false, to: &out)
        try streams.writeBytes(textBytes, to: &out)
    }
}

/// Delta transforms of coordinates; wrapping arithmetic by design, inverted exactly.
enum CoordinateTransform {
    /// Replaces each value by its difference from the previous one (the first from 0).
    static func deltaInPlace(_ values: inout [UInt64]) {
        var previous: UInt64 = 0
        for i in values.indices {
            let v = values[i]
            values[i] = v &- previous
            previous = v
        }
    }

    /// Inverts `deltaInPlace` `times` times, in place (prefix sums).
    @inline(__always)
    static func undelta(_ values: UnsafeMutablePointer<UInt64>, count: Int, times: Int) {
        for _ in 0..<times {
            var sum: UInt64 = 0
            for i in 0..<count {
                sum &+= values[i]
                values[i] = sum
            }
        }
    }
}

/// The distinct values of a column when there are at most 256 of them, sorted, with an
/// index lookup through a small open-addressing table (no hashing of Swift `Dictionary`).
struct SmallDictionary {
    private(set) var values: [UInt64] = []
    private var slots = [Int32](repeating: -1, count: 1024)
    private var keys = [UInt64](repeating: 0, count: 1024)

    init?(_ column: [UInt64]) {
        for v in column where slot(of: v) < 0 {
            guard values.count < 256 else { return nil }
            insert(v, index: values.count)
            values.append(v)
        }
        // Renumber in sorted order so the dictionary stream is monotone.
        values.sort()
        slots = [Int32](repeating: -1, count: 1024)
        for (k, v) in values.enumerated() { insert(v, index: k) }
    }

    @inline(__always)
    private func probe(_ v: UInt64) -> Int {
        var h = Int(truncatingIfNeeded: (v &* 0x9E37_79B9_7F4A_7C15) >> 54)  // 10 bits: 1024 slots
        while slots[h] >= 0 && keys[h] != v { h = (h + 1) & 1023 }
        return h
    }

    @inline(__always)
    private func slot(of v: UInt64) -> Int32 { slots[probe(v)] }

    private mutating func insert(_ v: UInt64, index: Int) {
        let h = probe(v)
        keys[h] = v
        slots[h] = Int32(index)
    }

    /// Index of `v`, which must be in the dictionary.
    @inline(__always)
    func index(of v: UInt64) -> Int { Int(slots[probe(v)]) }
}
