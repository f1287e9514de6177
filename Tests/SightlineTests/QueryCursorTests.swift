import Testing
import Dispatch
@_spi(Benchmarks) @testable import Sightline
@testable import SightlineWorkload

/// Streaming cursors against the brute-force definition: the same rows in the same order,
/// whatever the batch size, however the answer is split into pages.
@Suite struct QueryCursorTests {
    /// Every row of a cursor, batch by batch.
    static func drain(_ cursor: QueryCursor, batches: inout Int) throws -> [Sighting] {
        var rows: [Sighting] = []
        while let batch = try cursor.next() {
            #expect(!batch.isEmpty)
            rows += batch
            batches += 1
        }
        #expect(try cursor.next() == nil)  // stays finished
        return rows
    }

    @Test func cursorsReturnTheBruteForceAnswerInOrderForAnyBatchSize() throws {
        let dir = temporaryDirectory("cursor-diff")
        defer { removeTree(dir) }
        let seed = testSeed()
        let (store, rows) = try QueryTests.randomStore(dir, seed: seed)
        let snapshot = store.snapshot()
        var g = SplitMix64(seed: seed &+ 1)
        var nonEmpty = 0
        for trial in 0..<300 {
            let query = try QueryTests.randomQuery(&g, rows)
            let want = try bruteForce(snapshot, query)
            let batchRows = [1, 7, 64, 4096][Int(g.next() % 4)]
            let cursor = try snapshot.cursor(query, options: CursorOptions(batchRows: batchRows))
            var batches = 0
            let got = try Self.drain(cursor, batches: &batches)
            #expect(got == want, "trial \(trial) (SIGHTLINE_TEST_SEED=\(seed)): \(query)")
            #expect(batches == (want.count + batchRows - 1) / batchRows || batchRows > want.count && batches == (want.isEmpty ? 0 : 1),
                    "trial \(trial): \(batches) batches of \(batchRows) for \(want.count) rows")
            #expect(cursor.rowsReturned == want.count)
            if !want.isEmpty { nonEmpty += 1 }
        }
        #expect(nonEmpty > 60)
    }

    /// Pages resumed from tokens — on the same snapshot, or on a later one after a compaction
    /// or after more rows arrived — concatenate to the whole answer, with no row repeated or
    /// skipped.
    @Test func pagesResumedFromTokensConcatenateToTheAnswer() throws {
        let dir = temporaryDirectory("cursor-pages")
        defer { removeTree(dir) }
        let seed = testSeed()
        let (store, rows) = try QueryTests.randomStore(dir, seed: seed)
        var g = SplitMix64(seed: seed &+ 2)
        for trial in 0..<120 {
            var query = try QueryTests.randomQuery(&g, rows)
            query.filters.limit = nil
            let pageSize = 1 + Int(g.next() % 40)
            var got: [Sighting] = []
            var token: QueryPageToken?
            var pages = 0
            repeat {
                // Each page a fresh cursor, resumed from the token's text (as a client would).
                let parsed = try token.map { t throws -> QueryPageToken in try #require(QueryPageToken(t.description)) }
                #expect(parsed == token)
                let cursor = try store.snapshot().cursor(query, after: parsed, options: CursorOptions(batchRows: pageSize))
                guard let page = try cursor.next() else { break }
                got += page
                token = cursor.pageToken
                pages += 1
                // The store is rewritten between pages: tokens are positions, not offsets.
                if pages == 2 && trial % 3 == 0 { try store.compact(CompactionOptions(partitioning: .day, targetRows: 50 + trial)) }
            } while pages < 10_000
            #expect(got == (try bruteForce(store.snapshot(), query)), "trial \(trial) (SIGHTLINE_TEST_SEED=\(seed)): \(query)")
        }
        // Rows added between pages after the token's place are included; earlier ones are not repeated.
        let query = try Query(.area(.box(south: -90, west: -180, north: 90, east: 180)))
        let first = try store.snapshot().cursor(query, options: CursorOptions(batchRows: 100))
        let page1 = try #require(try first.next())
        let late = Sighting(unchecked: try Plate("ZZLATE1"), time: .max - 5, latitudeE7: 0, longitudeE7: 0, camera: 9,
                            confidence: 90, region: nil, image: nil)
        try store.append(SightingBatch([late]))
        var rest: [Sighting] = []
        let second = try store.snapshot().cursor(query, after: first.pageToken)
        while let b = try second.next() { rest += b }
        #expect(page1 + rest == (try bruteForce(store.snapshot(), query)))
        #expect(rest.contains(late))
    }

    @Test func tokensOfAnotherQueryOrMalformedAreRefused() throws {
        let dir = temporaryDirectory("cursor-token")
        defer { removeTree(dir) }
        let (store, rows) = try QueryTests.randomStore(dir, seed: 5)
        let snapshot = store.snapshot()
        let a = try Query(.history(rows[0].plate))
        let b = try Query(.history(rows[1].plate == rows[0].plate ? try Plate("OTHER1") : rows[1].plate))
        let cursor = try snapshot.cursor(a, options: CursorOptions(batchRows: 1))
        _ = try cursor.next()
        let token = try #require(cursor.pageToken)
        #expect(throws: SightlineError.invalidPageToken("it belongs to another query")) { try snapshot.cursor(b, after: token) }
        // The limit is not part of the query's identity: a client may change its page size.
        var limited = a
        limited.filters.limit = 3
        _ = try snapshot.cursor(limited, after: token)
        for bad in ["", "v2.1.2.3.ABC", "v1.zz.2.3.ABC", "v1.1.x.3.ABC", "v1.1.2.3.a-b", "v1.1.2.3"] {
            #expect(QueryPageToken(bad) == nil, "\(bad)")
        }
        #expect(throws: SightlineError.invalidArgument("batchRows must be at least 1, got 0")) {
            try snapshot.cursor(a, options: CursorOptions(batchRows: 0))
        }
    }

    @Test func deadlinesAndCancellationStopACursorBetweenBlocks() throws {
        let dir = temporaryDirectory("cursor-stop")
        defer { removeTree(dir) }
        let (store, _) = try QueryTests.randomStore(dir, seed: 6)
        let everywhere = try Query(.area(.box(south: -90, west: -180, north: 90, east: 180)))
        let expired = try store.snapshot().cursor(everywhere, options: CursorOptions(batchRows: 10, deadline: .now - .seconds(1)))
        #expect(throws: SightlineError.deadlineExceeded) { try expired.next() }
        let cursor = try store.snapshot().cursor(everywhere, options: CursorOptions(batchRows: 10))
        #expect(try cursor.next()?.count == 10)
        cursor.cancel()
        #expect(throws: SightlineError.cancelled) { while try cursor.next() != nil {} }
    }

    /// The buffer holds the matches of blocks that overlap the answer's current point, not
    /// the answer: on a store of day segments, about one day's rows.
    @Test func aCursorBuffersAboutOnePartitionNotTheAnswer() throws {
        let dir = temporaryDirectory("cursor-memory")
        defer { removeTree(dir) }
        var options = storeOptions(bufferRows: 100_000)
        options.segment = SegmentOptions(blockRows: 512, spatialBlockRows: 512)
        let store = try Store(directory: dir, options: options)
        var c = ALPRWorkload.Configuration()
        c.days = 20
        let all = ALPRWorkload(c).generate(rows: 40_000)
        try store.append(all)
        try store.flush()
        try store.compact(CompactionOptions(partitioning: .day, targetRows: 100_000))
        let query = try Query(.area(.box(south: -90, west: -180, north: 90, east: 180)))
        let cursor = try store.snapshot().cursor(query, options: CursorOptions(batchRows: 500))
        var batches = 0
        let rows = try Self.drain(cursor, batches: &batches)
        #expect(rows.count == all.count)
        let perDay = all.count / c.days
        #expect(cursor.peakBufferedRows < 3 * perDay, "peak \(cursor.peakBufferedRows) rows buffered; a day holds \(perDay)")
        #expect(try cursor.statistics.blocksRead == store.snapshot().plan(query).estimatedBlocks)  // each block decoded once
    }
}
