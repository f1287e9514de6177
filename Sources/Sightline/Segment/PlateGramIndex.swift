/// A segment's index over the text of its distinct plates: for each bigram (two adjacent plate
/// characters, folded by the default OCR classes, with a start mark before the first and an
/// end mark after the last: `^A`, `AB`, …, `Z$`), the sorted list of plate runs whose plate
/// contains it. A plate run is one distinct plate of one plate-ordered block, numbered across
/// the segment in block order, so a run number names the block to read.
///
/// A pattern's literal pieces give bigrams every matching plate must hold; intersecting their
/// lists leaves a few candidate runs and so a few blocks, where the executor tests each run's
/// plate against the pattern exactly (the index only narrows: folding and bigrams admit false
/// candidates, never drop a match). Folding by the OCR classes lets one index serve exact and
/// OCR-equivalent patterns. The keyed plate hash cannot do this: it hides the text by design.
///
/// Layout (Docs/format.md, "Plate n-gram index"): a directory — checksummed as a whole and read
/// when the segment opens — then one posting list per bigram, each with its own checksum,
/// read only by the queries that need it.
struct PlateGramIndex: Sendable {
    /// The folding applied to plate text before taking bigrams.
    static let folding = OCREquivalence.default
    /// Values per integer stream of a posting list (lists longer than this are split).
    static let postingChunk = 1 << 20

    /// `runStarts[b]` = number of the first run of block b; `runStarts[blockCount]` = runs.
    let runStarts: [Int]
    /// Bigram keys (first byte << 8 | second byte), strictly increasing.
    let grams: [UInt16]
    /// Runs in each bigram's list.
    let counts: [Int]
    /// File offset of each bigram's list.
    let offsets: [Int64]
    /// Bytes of each bigram's list.
    let lengths: [Int]
    /// CRC-32C of each bigram's list.
    let checksums: [UInt32]

    /// Total runs indexed.
    var runCount: Int { runStarts.last ?? 0 }

    @inline(__always)
    static func gram(_ a: UInt8, _ b: UInt8) -> UInt16 { UInt16(folding.representative(a)) << 8 | UInt16(folding.representative(b)) }
    /// The marks before a plate's first character and after its last (bytes no plate holds):
    /// anchored patterns (`TQ*25`) then name their first and last characters' positions.
    static let start: UInt8 = 0x01, end: UInt8 = 0x02

    // MARK: writing

    /// Calls `body` with each distinct bigram of `plate` (folded, with the start and end
    /// marks), at most `count + 1` times.
    @inline(__always)
    static func forEachGram(of plate: Plate, _ body: (UInt16) -> Void) {
        let n = Int(plate.count)
        guard n >= 1 else { return }
        var seen: (UInt64, UInt64, UInt64) = (0, 0, 0)  // room for 12 bigrams (plates hold ≤ 10 characters)
        withUnsafeMutableBytes(of: &seen) { raw in
            let seen = raw.bindMemory(to: UInt16.self)
            var distinct = 0
            for i in -1..<n {
                let g = gram(i < 0 ? start : plate[i], i + 1 < n ? plate[i + 1] : end)
                var repeated = false
                for k in 0..<distinct where seen[k] == g { repeated = true; break }
                if repeated { continue }
                seen[distinct] = g
                distinct += 1
                body(g)
            }
        }
    }

    /// Encodes the section for `rows` cut into `blocks` (the plate-ordered block ranges);
    /// returns the directory's length and checksum for the footer. Nothing in it depends on
    /// where the section lands in the file.
    static func encode(_ rows: SortedBatch, blocks: [Range<Int>], writer: inout IntegerStreamWriter,
                       into out: inout ByteWriter) throws(SightlineError) -> (directoryLength: Int, directoryCRC: UInt32) {
        // Runs per block, and how many runs each bigram lists (a counting pass, then a fill:
        // runs are visited in order, so every list comes out sorted).
        var runsPerBlock: [UInt64] = []
        runsPerBlock.reserveCapacity(blocks.count)
        var counts = [Int](repeating: 0, count: 1 << 16)
        var runs = 0
        for range in blocks {
            var n = 0
            for i in range where i == range.lowerBound || rows.plates[i] != rows.plates[i - 1] {
                n += 1
                forEachGram(of: rows.plates[i]) { counts[Int($0)] += 1 }
            }
            runsPerBlock.append(UInt64(n))
            runs += n
        }
        var starts = [Int](repeating: 0, count: (1 << 16) + 1)
        for g in 0..<(1 << 16) { starts[g + 1] = starts[g] + counts[g] }
        var postings = [UInt64](repeating: 0, count: starts[1 << 16])
        var fill = starts
        var run = 0
        for range in blocks {
            for i in range where i == range.lowerBound || rows.plates[i] != rows.plates[i - 1] {
                forEachGram(of: rows.plates[i]) { g in
                    postings[fill[Int(g)]] = UInt64(run)
                    fill[Int(g)] += 1
                }
                run += 1
            }
        }
        // Lists: deltas between consecutive runs (the first is the run itself), in chunks.
        var lists = ByteWriter(capacity: 1 << 16)
        var grams: [UInt64] = [], listCounts: [UInt64] = [], listLengths: [UInt64] = [], listCRCs: [UInt32] = []
        var deltas: [UInt64] = []
        for g in 0..<(1 << 16) where counts[g] > 0 {
            let start = lists.count
            var previous: UInt64 = 0
            var k = starts[g]
            while k < starts[g + 1] {
                let end = min(starts[g + 1], k + postingChunk)
                deltas.removeAll(keepingCapacity: true)
                for p in k..<end {
                    deltas.append(postings[p] &- previous)  // increasing: never wraps
                    previous = postings[p]
                }
                try deltas.withUnsafeBufferPointerTyped { b throws(SightlineError) in _ = try writer.write(b, signed: false, to: &lists) }
                k = end
            }
            grams.append(UInt64(g))
            listCounts.append(UInt64(counts[g]))
            listLengths.append(UInt64(lists.count - start))
            listCRCs.append(lists.bytes.withUnsafeBytes { CRC32C.checksum(UnsafeRawBufferPointer(rebasing: $0[start...])) })
        }
        let directoryStart = out.count
        out.append(littleEndian: UInt32(grams.count))
        for values in [runsPerBlock, grams, listCounts, listLengths] {
            try values.withUnsafeBufferPointerTyped { b throws(SightlineError) in _ = try writer.write(b, signed: false, to: &out) }
        }
        for crc in listCRCs { out.append(littleEndian: crc) }
        let directoryLength = out.count - directoryStart
        let crc = out.bytes.withUnsafeBytes { CRC32C.checksum(UnsafeRawBufferPointer(rebasing: $0[directoryStart...])) }
        out.append(contentsOf: lists.bytes)
        return (directoryLength, crc)
    }

    // MARK: reading

    /// Decodes a directory read from `offset` (its checksum already verified) for a segment
    /// of `blocks` plate-ordered blocks whose row counts are `blockRows`; `sectionLength` is
    /// the whole section's size.
    init(directory raw: UnsafeRawBufferPointer, offset: Int64, sectionLength: Int, blockRows: [Int], path: String,
         streams: StreamReader) throws(SightlineError) {
        var r = ByteReader(raw, fileOffset: offset, path: path)
        let gramCount = Int(try r.read(UInt32.self, "plate index gram count"))
        guard gramCount <= 1 << 16 else { throw r.corrupt("plate index: \(gramCount) bigrams", at: 0) }
        let scratch = ScratchBuffer<UInt64>()
        try streams.readIntegers(&r, expectedCount: blockRows.count, into: scratch, "plate index runs per block")
        var starts = [0]
        starts.reserveCapacity(blockRows.count + 1)
        for b in 0..<blockRows.count {
            let n = Int(truncatingIfNeeded: scratch.base[b])
            guard n >= 1, n <= blockRows[b] else { throw r.corrupt("plate index: block \(b) has \(n) runs for \(blockRows[b]) rows") }
            starts.append(starts[b] + n)
        }
        runStarts = starts
        try streams.readIntegers(&r, expectedCount: gramCount, into: scratch, "plate index bigrams")
        var grams: [UInt16] = []
        grams.reserveCapacity(gramCount)
        for k in 0..<gramCount {
            let g = scratch.base[k]
            guard g < 1 << 16, k == 0 || UInt16(g) > grams[k - 1] else { throw r.corrupt("plate index: bigram \(k) out of order") }
            grams.append(UInt16(g))
        }
        self.grams = grams
        try streams.readIntegers(&r, expectedCount: gramCount, into: scratch, "plate index list counts")
        let runs = starts.last!
        var counts: [Int] = []
        for k in 0..<gramCount {
            let n = Int(truncatingIfNeeded: scratch.base[k])
            guard n >= 1, n <= runs else { throw r.corrupt("plate index: bigram \(k) lists \(n) of \(runs) runs") }
            counts.append(n)
        }
        self.counts = counts
        try streams.readIntegers(&r, expectedCount: gramCount, into: scratch, "plate index list lengths")
        var offsets: [Int64] = [], lengths: [Int] = []
        var next = offset + Int64(raw.count)
        let end = offset + Int64(sectionLength)
        for k in 0..<gramCount {
            let n = scratch.base[k]
            guard n >= 1, n <= UInt64(end - next) else { throw r.corrupt("plate index: list \(k) runs past the section") }
            offsets.append(next)
            lengths.append(Int(n))
            next += Int64(n)
        }
        guard next == end else { throw r.corrupt("plate index: lists end at \(next), the section at \(end)") }
        self.offsets = offsets
        self.lengths = lengths
        var checksums: [UInt32] = []
        for _ in 0..<gramCount { checksums.append(try r.read(UInt32.self, "plate index list checksum")) }
        self.checksums = checksums
        guard r.isAtEnd else { throw r.corrupt("plate index: \(r.remaining) trailing directory bytes") }
    }

    /// The bigram sets a plate matching `pattern` must hold one of: for each two adjacent
    /// known characters, every folded bigram they may read as (one, or the products of the
    /// pattern's OCR classes); a pattern not starting (ending) with `*` or `?` also fixes its
    /// first (last) character's bigram with the start (end) mark. Empty when the pattern
    /// fixes no such pair (`*A?B*`).
    static func requiredGrams(_ pattern: PlatePattern) -> [[UInt16]] {
        let bytes = pattern.bytes
        func alternatives(_ c: UInt8) -> [UInt8] {
            guard let e = pattern.equivalence, c != start, c != end else { return [folding.representative(c)] }
            var members: [UInt8] = []
            for x in Array("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789".utf8) where e.representative(x) == c {
                let f = folding.representative(x)
                if !members.contains(f) { members.append(f) }
            }
            return members
        }
        var sets: [[UInt16]] = []
        var seen = Set<[UInt16]>()
        let marked = [start] + bytes + [end]
        for i in 0..<(marked.count - 1) {
            let a = marked[i], b = marked[i + 1]
            guard a != PlatePattern.one, a != PlatePattern.any, b != PlatePattern.one, b != PlatePattern.any else { continue }
            var set: [UInt16] = []
            for x in alternatives(a) { for y in alternatives(b) { set.append(gram(x, y)) } }
            set = Array(Set(set)).sorted()
            if seen.insert(set).inserted { sets.append(set) }
        }
        return sets
    }

    /// Index of bigram `g`, if listed.
    func position(of g: UInt16) -> Int? {
        let lo = grams.partitionPoint { $0 < g }
        return lo < grams.count && grams[lo] == g ? lo : nil
    }

    /// Runs listed under one of `set`'s bigrams: how many, at most (before reading).
    func estimatedRuns(_ set: [UInt16]) -> Int { set.reduce(0) { $0 + (position(of: $1).map { counts[$0] } ?? 0) } }

    /// The blocks holding a run whose plate may match `pattern`, ascending; nil when the
    /// pattern gives the index nothing to go on (no two adjacent known characters).
    /// Lists are read smallest first and all intersected: a list costs microseconds, a
    /// false candidate block a decode (~100 µs).
    func candidateBlocks(for pattern: PlatePattern, streams: StreamReader, path: String,
                         read: (UnsafeMutableRawBufferPointer, Int64) throws(SightlineError) -> Void) throws(SightlineError) -> [Int]? {
        try candidates(for: pattern, streams: streams, path: path, read: read)?.blocks
    }

    /// The candidate blocks and how many candidate runs (distinct plates per block) they hold.
    func candidates(for pattern: PlatePattern, streams: StreamReader, path: String,
                    read: (UnsafeMutableRawBufferPointer, Int64) throws(SightlineError) -> Void) throws(SightlineError) -> (blocks: [Int], runs: Int)? {
        let sets = Self.requiredGrams(pattern).map { (set: $0, runs: estimatedRuns($0)) }.sorted { $0.runs < $1.runs }
        guard let smallest = sets.first else { return nil }
        if smallest.runs == 0 { return ([], 0) }
        var candidates: [Int]?
        for (set, _) in sets {
            var union: [Int] = []
            for g in set {
                guard let k = position(of: g) else { continue }
                let list = try runs(ofGram: k, streams: streams, path: path, read: read)
                union = union.isEmpty ? list : Self.merged(union, list)
            }
            candidates = candidates.map { Self.intersection($0, union) } ?? union
            if candidates!.isEmpty { break }
        }
        var blocks: [Int] = []
        var b = 0
        for run in candidates! {
            while runStarts[b + 1] <= run { b += 1 }
            if blocks.last != b { blocks.append(b) }
        }
        return (blocks, candidates!.count)
    }

    /// Decodes bigram `k`'s list, checking its checksum and that runs increase and exist.
    func runs(ofGram k: Int, streams: StreamReader, path: String,
              read: (UnsafeMutableRawBufferPointer, Int64) throws(SightlineError) -> Void) throws(SightlineError) -> [Int] {
        var bytes = [UInt8](repeating: 0, count: lengths[k])
        try bytes.withUnsafeMutableBytesTyped { (raw: UnsafeMutableRawBufferPointer) throws(SightlineError) in try read(raw, offsets[k]) }
        return try bytes.withUnsafeBytesTyped { raw throws(SightlineError) -> [Int] in
            guard CRC32C.checksum(raw) == checksums[k] else {
                throw .corruptFile(path: path, offset: offsets[k], reason: "plate index list \(k) checksum mismatch")
            }
            var r = ByteReader(raw, fileOffset: offsets[k], path: path)
            let scratch = ScratchBuffer<UInt64>()
            var result: [Int] = []
            result.reserveCapacity(counts[k])
            var run: UInt64 = 0
            let total = UInt64(runCount)
            while result.count < counts[k] {
                let n = try streams.readIntegers(&r, expectedCount: min(Self.postingChunk, counts[k] - result.count), into: scratch,
                                                 "plate index list \(k)")
                for i in 0..<n {
                    let (next, overflow) = run.addingReportingOverflow(scratch.base[i])
                    guard !overflow, next < total, result.isEmpty || next > run else {
                        throw r.corrupt("plate index list \(k): run \(next) out of order or past \(total)")
                    }
                    run = next
                    result.append(Int(next))
                }
            }
            guard r.isAtEnd else { throw r.corrupt("plate index list \(k): \(r.remaining) trailing bytes") }
            return result
        }
    }

    static func merged(_ a: [Int], _ b: [Int]) -> [Int] {
        var out: [Int] = []
        out.reserveCapacity(a.count + b.count)
        var i = 0, j = 0
        while i < a.count || j < b.count {
            if j == b.count || (i < a.count && a[i] < b[j]) { out.append(a[i]); i += 1 }
            else if i == a.count || b[j] < a[i] { out.append(b[j]); j += 1 }
            else { out.append(a[i]); i += 1; j += 1 }
        }
        return out
    }

    static func intersection(_ a: [Int], _ b: [Int]) -> [Int] {
        var out: [Int] = []
        var i = 0, j = 0
        while i < a.count && j < b.count {
            if a[i] < b[j] { i += 1 } else if b[j] < a[i] { j += 1 } else { out.append(a[i]); i += 1; j += 1 }
        }
        return out
    }
}
