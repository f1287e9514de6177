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
                    let chunks = buffer.chunksForSnapshot()
                    #expect(chunks.flatMap(\.sightings) == appended, "round \(round) step \(step)")
                    // Binary-counter merging: about log2(rows) small chunks, plus one per
                    // `mergeLimit` rows.
                    #expect(chunks.count <= 2 * (Int.bitWidth - appended.count.leadingZeroBitCount) + appended.count / WriteBuffer.mergeLimit + 2)
                    if step % 30 == 0 { kept.append((chunks, appended)) }
                }
            }
            for (chunks, rows) in kept { #expect(chunks.flatMap(\.sightings) == rows) }
            let all = buffer.takeAll()
            #expect(all.flatMap(\.sightings) == appended)
            #expect(WriteBuffer.joined(all).sightings == appended)
            #expect(buffer.isEmpty && buffer.chunksForSnapshot().isEmpty)
        }
    }

    /// The point of sealing: an append after a snapshot leaves the snapshot's rows where
    /// they are (one shared storage), instead of copying the whole buffer.
    @Test func anAppendAfterASnapshotDoesNotCopyTheSharedRows() throws {
        var g = SplitMix64(seed: 7)
        var buffer = WriteBuffer()
        buffer.append(contentsOf: randomBatch(&g, rows: WriteBuffer.mergeLimit, plates: 50))
        let shared = buffer.chunksForSnapshot()
        buffer.append(contentsOf: randomBatch(&g, rows: 10, plates: 5))
        let later = buffer.chunksForSnapshot()
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
}
