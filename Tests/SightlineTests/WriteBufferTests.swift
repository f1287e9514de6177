import Testing
import Glibc
import Logging
@_spi(Benchmarks) @testable import Sightline
@testable import SightlineWorkload

@Suite struct WriteBufferTests {
    /// Random appends with snapshots between them: every snapshot's chunks are exactly the
    /// rows appended before it, in order, and stay so under later appends and seals; the
    /// chunk count stays logarithmic; `takeAll` returns everything and empties the buffer.
    @Test func snapshotsSeeExactlyTheRowsBeforeThemAndKeepThem() throws {
        var g = SplitMix64(seed: 2026)
        for round in 0..<3 {
            var buffer = WriteBuffer()
            var appended: [Sighting] = []
            var kept: [(chunks: [SightingBatch], rows: [Sighting])] = []
            for step in 0..<150 {
                let rows = randomBatch(&g, rows: Int(g.next() % 300), plates: 20)
                buffer.append(contentsOf: rows)
                appended += rows.sightings
                #expect(buffer.count == appended.count)
                if g.next() % 3 != 0 {
                    let (chunks, indexes) = buffer.chunksForSnapshot()
                    #expect(indexes.count == chunks.count)
                    #expect(zip(chunks, indexes).allSatisfy { ($1 != nil) == ($0.count >= MemoryPlateIndex.minimumRows) })
                    #expect(chunks.flatMap(\.sightings) == appended, "round \(round) step \(step)")
                    // Binary-counter merging: about log2(rows) small chunks, plus one per
                    // `mergeLimit` rows.
                    #expect(chunks.count <= 2 * (Int.bitWidth - appended.count.leadingZeroBitCount) + appended.count / WriteBuffer.mergeLimit + 2)
                    if step % 30 == 0 { kept.append((chunks, appended)) }
                }
            }
            for (chunks, rows) in kept { #expect(chunks.flatMap(\.sightings) == rows) }
            let all = buffer.takeAll().chunks
            #expect(all.flatMap(\.sightings) == appended)
            #expect(WriteBuffer.joined(all).sightings == appended)
            #expect(buffer.isEmpty && buffer.chunksForSnapshot().chunks.isEmpty)
        }
    }

    /// The point of sealing: an append after a snapshot leaves the snapshot's rows where
    /// they are (one shared storage), instead of copying the whole buffer.
    @Test func anAppendAfterASnapshotDoesNotCopyTheSharedRows() throws {
        var g = SplitMix64(seed: 7)
        var buffer = WriteBuffer()
        buffer.append(contentsOf: randomBatch(&g, rows: WriteBuffer.mergeLimit, plates: 50))
        let shared = buffer.chunksForSnapshot().chunks
        buffer.append(contentsOf: randomBatch(&g, rows: 10, plates: 5))
        let later = buffer.chunksForSnapshot().chunks
        let address = { (b: SightingBatch) in b.times.withUnsafeBufferPointer { UInt(bitPattern: $0.baseAddress) } }
        #expect(later.count == 2)
        #expect(address(later[0]) == address(shared[0]))
        #expect(later[0].count == WriteBuffer.mergeLimit && later[1].count == 10)
    }

    /// Through a store: a snapshot after every append (flushes in between), each checked
    /// later — after every other append — against the rows appended before it, whole and
    /// by plate history.
    @Test func storeSnapshotsBetweenAppendsAnswerLikeABruteForceScan() throws {
        let dir = temporaryDirectory("write-buffer")
        defer { removeTree(dir) }
        let store = try Store(directory: dir, options: storeOptions(bufferRows: 3_000, durability: .none))
        let batches = distinctBatches(40, rows: 250, seed: 31)
        var snapshots: [StoreSnapshot] = []
        for b in batches {
            try store.append(b)
            snapshots.append(store.snapshot())
        }
        var before: [Sighting] = []
        for (i, snapshot) in snapshots.enumerated() {
            before += batches[i].sightings
            #expect(sameRows(try snapshot.allSightings(), before), "snapshot \(i)")
            let plate = before[before.count / 2].plate
            let history = try snapshot.run(try Query(.history(plate))).rows
            #expect(sameRows(history, before.filter { $0.plate == plate }), "history in snapshot \(i)")
            #expect(history.map(\.time) == history.map(\.time).sorted())
        }
        #expect(store.segmentNames.count > 1, "the workload should have flushed")
    }

    /// The plate index of a memory batch finds every row of a plate, in row order, and
    /// only candidates (each caller tests the plate in full): against a scan, for plates
    /// present and absent, small and large batches.
    @Test func memoryPlateIndexFindsEveryRowOfAPlateInRowOrder() throws {
        var g = SplitMix64(seed: 99)
        for (rows, plates) in [(MemoryPlateIndex.minimumRows, 3), (20_000, 500), (50_000, 40_000)] {
            let batch = randomBatch(&g, rows: rows, plates: plates)
            let index = MemoryPlateIndex()
            var probes = Array(Set(batch.plates.prefix(200)))
            probes += try ["ZZZZZZZZZZ", "Q", "0000000000"].map { try Plate($0) }
            for plate in probes {
                var found: [Int] = []
                index.forEachCandidate(of: plate, in: batch) { r in if batch.plates[r] == plate { found.append(r) } }
                let expected = batch.plates.indices.filter { batch.plates[$0] == plate }
                let same = found == expected  // (not in the #expect: it would print both lists)
                #expect(same, "\(plate) in \(rows) rows: \(found.count) found, \(expected.count) expected")
                if !same { return }
            }
        }
    }

    /// Histories through a store whose buffered chunks are large enough to be indexed
    /// (a snapshot after every 10,000-row append), and through the frozen rows of a flush,
    /// against a scan of what was appended before each snapshot.
    @Test func historiesOverIndexedBufferedRowsMatchAScan() throws {
        let dir = temporaryDirectory("write-buffer-index")
        defer { removeTree(dir) }
        let store = try Store(directory: dir, options: storeOptions(bufferRows: 45_000, durability: .none))
        var g = SplitMix64(seed: 1234)
        var before: [Sighting] = []
        var seen = Set<RowKey>()
        for step in 0..<9 {
            var batch = SightingBatch()
            for s in randomBatch(&g, rows: 10_000, plates: 300).sightings
            where seen.insert(RowKey(plate: s.plate, time: s.time, camera: s.camera)).inserted { batch.append(s) }
            try store.append(batch)
            before += batch.sightings
            let snapshot = store.snapshot()
            for k in 0..<12 {
                let plate = before[Int(g.next() % UInt64(before.count))].plate
                let history = try snapshot.run(try Query(.history(plate))).rows
                #expect(sameRows(history, before.filter { $0.plate == plate }), "step \(step) probe \(k)")
                #expect(history.map(\.time) == history.map(\.time).sorted())
            }
        }
    }
}
