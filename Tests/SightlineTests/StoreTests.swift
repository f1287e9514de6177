import Testing
import Glibc
import Logging
import Synchronization
@_spi(Benchmarks) @testable import Sightline
@testable import SightlineWorkload

/// Rows as a multiset keyed by (plate, time, camera) — the store's identity of a sighting.
func keys(_ rows: [Sighting]) -> [RowKey: Int] {
    Dictionary(rows.map { (RowKey(plate: $0.plate, time: $0.time, camera: $0.camera), 1) }, uniquingKeysWith: +)
}

/// Distinct rows (no two equal in plate, time, camera), so "exactly once" is checkable.
func distinctBatches(_ count: Int, rows: Int, seed: UInt64) -> [SightingBatch] {
    var g = SplitMix64(seed: seed)
    var seen = Set<RowKey>()
    return (0..<count).map { _ in
        var b = SightingBatch()
        for s in randomBatch(&g, rows: rows, plates: 40).sightings
        where seen.insert(RowKey(plate: s.plate, time: s.time, camera: s.camera)).inserted { b.append(s) }
        return b
    }
}

@Suite struct StoreTests {
    @Test func appendsAreReadableAtOnceAndAfterReopen() throws {
        let dir = temporaryDirectory("store")
        defer { removeTree(dir) }
        let batches = distinctBatches(5, rows: 300, seed: 1)
        let all = batches.flatMap(\.sightings)
        do {
            let store = try Store(directory: dir, options: storeOptions())
            for b in batches { #expect(try store.append(b).stored == b.count) }
            #expect(sameRows(try store.snapshot().allSightings(), all))  // read-your-writes
            try store.close()
        }
        // Unflushed rows come back from the log, and open flushes them into a segment.
        let store = try Store(directory: dir, options: storeOptions())
        #expect(sameRows(try store.snapshot().allSightings(), all))
        #expect(store.segmentNames == ["000001.sls"])
        let files = try PosixFileSystem().contentsOfDirectory(dir)
        #expect(files.filter { $0.hasSuffix(".log") }.count == 1 && !files.contains { $0.contains(".tmp-") })
    }

    @Test func fullBuffersFlushToSegments() throws {
        let dir = temporaryDirectory("store-flush")
        defer { removeTree(dir) }
        let batches = distinctBatches(10, rows: 250, seed: 2)
        let all = batches.flatMap(\.sightings)
        do {
            let store = try Store(directory: dir, options: storeOptions(bufferRows: 600))
            for b in batches { try store.append(b) }
            #expect(store.snapshot().rowCount == all.count)  // wherever the rows are now
            try store.flush()  // waits for the background flushes; one flush alone makes one segment
            #expect(store.segmentNames.count >= 3)
            let snapshot = store.snapshot()
            #expect(snapshot.rowCount == all.count)
            #expect(sameRows(try snapshot.allSightings(), all))
        }
        let reopened = try Store(directory: dir, options: storeOptions(bufferRows: 600))
        #expect(sameRows(try reopened.snapshot().allSightings(), all))
    }

    @Test func duplicatesInTheBufferAreSkippedAndTheFirstCopyWins() throws {
        let dir = temporaryDirectory("store-dup")
        defer { removeTree(dir) }
        let store = try Store(directory: dir, options: storeOptions())
        let plate = try Plate("DUP1")
        let first = try Sighting(plate: plate, time: 1000, latitudeE7: 1, longitudeE7: 1, camera: 7, confidence: 90)
        var second = first
        second.confidence = 40  // same (plate, time, camera), different read
        #expect(try store.append(SightingBatch([first, first])) == AppendResult(stored: 1, duplicates: 1))
        #expect(try store.append(SightingBatch([second])) == AppendResult(stored: 0, duplicates: 1))
        #expect(try store.snapshot().allSightings() == [first])
    }

    @Test func reingestingFlushedRowsStoresNothingTwice() throws {
        let dir = temporaryDirectory("store-reingest")
        defer { removeTree(dir) }
        let batches = distinctBatches(3, rows: 200, seed: 7)
        let all = batches.flatMap(\.sightings)
        do {
            let store = try Store(directory: dir, options: storeOptions(bufferRows: 250))
            for b in batches { try store.append(b) }
            try store.flush()
            // The same file again: every row is found in the segments before it is logged,
            // and reported as a duplicate to the appender.
            var duplicates = 0
            for b in batches { duplicates += try store.append(b).duplicates }
            try store.flush()
            #expect(duplicates == all.count)
            #expect(store.duplicatesDroppedAtFlush == 0)
            #expect(sameRows(try store.snapshot().allSightings(), all))
        }
        let reopened = try Store(directory: dir, options: storeOptions(bufferRows: 250))
        try reopened.append(SightingBatch(all))  // and once more after a restart
        try reopened.flush()
        #expect(sameRows(try reopened.snapshot().allSightings(), all))
    }

    /// Evicted row filters are rebuilt from their segments: duplicates are still found.
    @Test func reingestingFindsDuplicatesWithoutCachedFilters() throws {
        let dir = temporaryDirectory("store-reingest-evicted")
        defer { removeTree(dir) }
        let batches = distinctBatches(4, rows: 200, seed: 8)
        let all = batches.flatMap(\.sightings)
        var options = storeOptions(bufferRows: 150)
        options.duplicateFilterBytes = 1  // room for one filter: every other one is rebuilt
        let store = try Store(directory: dir, options: options)
        for b in batches { try store.append(b) }
        try store.flush()
        #expect(store.segmentNames.count >= 2)
        var duplicates = 0
        for b in batches.reversed() { duplicates += try store.append(b).duplicates }
        try store.flush()
        #expect(duplicates == all.count)
        #expect(sameRows(try store.snapshot().allSightings(), all))
    }

    /// Concurrent appenders on a slow disk share fsyncs (group commit), and every
    /// acknowledged row is stored exactly once.
    @Test func concurrentAppendersShareLogSyncs() throws {
        let dir = temporaryDirectory("store-group-commit")
        defer { removeTree(dir) }
        let batches = distinctBatches(160, rows: 5, seed: 9)
        do {
            let fs = FaultInjectingFileSystem(syncDelay: 10_000)
            let store = try Store(directory: dir, options: storeOptions(bufferRows: 10_000), fileSystem: fs)
            let syncsBefore = fs.operations.filter { $0 == "fsync" }.count
            // Real threads (the test runner's pool has one per core): 8 appenders at once.
            let errors = runOnThreads(8) { t in
                for i in stride(from: t, to: batches.count, by: 8) { try store.append(batches[i]) }
            }
            #expect(errors.isEmpty, "\(errors)")
            let syncs = fs.operations.filter { $0 == "fsync" }.count - syncsBefore
            #expect(syncs < batches.count / 2, "\(syncs) fsyncs for \(batches.count) appends")
            report("group commit: \(syncs) fsyncs for \(batches.count) appends")
            #expect(syncs >= 1)
            try store.close()
        }
        let reopened = try Store(directory: dir, options: storeOptions())
        let got = keys(try reopened.snapshot().allSightings())
        #expect(got == keys(batches.flatMap(\.sightings)))
    }

    /// Re-ingesting files grouped by plate (runs of a plate: the segment check goes run by
    /// run through the segments' plate filters) and in time order (runs of one row: row by
    /// row), mixed with new rows of old and new plates: exactly the new rows are stored.
    @Test func reingestingGroupedAndInterleavedRowsFindsEveryDuplicate() throws {
        let dir = temporaryDirectory("store-reingest-runs")
        defer { removeTree(dir) }
        var g = SplitMix64(seed: testSeed())
        let old = distinctBatches(4, rows: 400, seed: g.next()).flatMap(\.sightings)
        let store = try Store(directory: dir, options: storeOptions(bufferRows: 500))
        try store.append(SightingBatch(old))
        try store.flush()
        var expected = keys(old)
        for round in 0..<6 {
            // Old rows again, new rows of the same plates (a later time) and of new plates.
            var rows = old.filter { _ in g.next() % 2 == 0 }
            for s in old where g.next() % 4 == 0 {
                var later = s
                let delta = 1 + Int64(g.next() % 1000)
                later.time = s.time > Int64.max - 2_000 ? s.time - delta : s.time + delta  // random times reach the ends
                rows.append(later)
            }
            for s in randomBatch(&g, rows: 100, plates: 20).sightings { rows.append(s) }
            if round % 2 == 0 {
                rows.sort { ($0.plate, $0.time) < ($1.plate, $1.time) }  // grouped by plate
            } else {
                rows.sort { $0.time < $1.time }  // interleaved
            }
            let fresh = Set(rows.map { RowKey(plate: $0.plate, time: $0.time, camera: $0.camera) }).subtracting(expected.keys)
            let result = try store.append(SightingBatch(rows))
            #expect(result.stored == fresh.count, "round \(round) (SIGHTLINE_TEST_SEED=\(testSeed()))")
            #expect(result.duplicates == rows.count - fresh.count)
            for k in fresh { expected[k] = 1 }
            try store.flush()
        }
        #expect(keys(try store.snapshot().allSightings()) == expected)
    }

    /// Flushes trust the check each append made (segments, frozen and buffered rows) and do
    /// not check again: overlapping batches from many threads, with buffers small enough
    /// that flushes run during the appends, must still store each row once, and the
    /// appenders must be told of every duplicate.
    @Test func overlappingAppendsDuringFlushesStoreEachRowOnce() throws {
        let dir = temporaryDirectory("store-overlap-flush")
        defer { removeTree(dir) }
        let distinct = distinctBatches(60, rows: 50, seed: 21)
        let all = distinct.flatMap(\.sightings)
        // Every thread sends every batch, each in its own order: the same rows race each
        // other into the buffer, the frozen rows and the segments.
        let threads = 4
        let reported = Mutex(0)
        do {
            let store = try Store(directory: dir, options: storeOptions(bufferRows: 300))
            let errors = runOnThreads(threads) { t in
                var g = SplitMix64(seed: UInt64(t) &+ 100)
                var order = Array(distinct.indices)
                for i in order.indices.reversed() { order.swapAt(i, Int(g.next() % UInt64(i + 1))) }
                for i in order {
                    let result = try store.append(distinct[i])
                    reported.withLock { $0 += result.duplicates }
                }
            }
            #expect(errors.isEmpty, "\(errors)")
            try store.flush()
            #expect(reported.withLock { $0 } == all.count * (threads - 1))
            #expect(store.duplicatesDroppedAtFlush == 0)
            #expect(try store.snapshot().allSightings().count == all.count)
            #expect(sameRows(try store.snapshot().allSightings(), all))
            try store.close()
        }
        let reopened = try Store(directory: dir, options: storeOptions())
        #expect(sameRows(try reopened.snapshot().allSightings(), all))
    }

    @Test func lateAndOutOfOrderRowsAreAccepted() throws {
        let dir = temporaryDirectory("store-late")
        defer { removeTree(dir) }
        let store = try Store(directory: dir, options: storeOptions(bufferRows: 2))
        let plate = try Plate("LATE1")
        let times: [Int64] = [5_000_000, 1_000, 9_000_000, 2_000]  // a mobile reader uploading hours late
        for (i, t) in times.enumerated() {
            try store.append(SightingBatch([try Sighting(plate: plate, time: t, latitudeE7: 0, longitudeE7: 0, camera: UInt32(i), confidence: 80)]))
        }
        #expect(try store.snapshot().allSightings().map(\.time).sorted() == times.sorted())
    }

    /// `close()` releases the lock at once (the object may live on), is idempotent, and
    /// every later write throws `storeClosed`; a snapshot taken before still reads.
    @Test func closeReleasesTheLockAndRefusesLaterWrites() throws {
        let dir = temporaryDirectory("store-close")
        defer { removeTree(dir) }
        let batch = distinctBatches(1, rows: 30, seed: 4)[0]
        let store = try Store(directory: dir, options: storeOptions())
        try store.append(batch)
        let before = store.snapshot()
        try store.close()
        try store.close()
        let reopened = try Store(directory: dir, options: storeOptions())  // `store` is still alive
        #expect(keys(try reopened.snapshot().allSightings()) == keys(batch.sightings))
        #expect(keys(try before.allSightings()) == keys(batch.sightings))
        let closed = SightlineError.storeClosed(path: dir)
        #expect(throws: closed) { try store.append(batch) }
        #expect(throws: closed) { try store.flush() }
        #expect(throws: closed) { try store.compact() }
        #expect(throws: closed) { try store.purge(batch.plates[0]) }
    }

    /// One query's threads are a setting; the answer does not depend on it.
    @Test func queryParallelismDoesNotChangeAnswers() throws {
        let dir = temporaryDirectory("store-parallel")
        defer { removeTree(dir) }
        var options = storeOptions(bufferRows: 200)
        options.queryParallelism = 1
        let store = try Store(directory: dir, options: options)
        for b in distinctBatches(6, rows: 150, seed: 5) { try store.append(b) }
        try store.flush()
        #expect(store.snapshot().segmentReaders.count >= 3)
        let everywhere = try Query(.area(.box(south: -90, west: -180, north: 90, east: 180)))
        let one = try store.snapshot().run(everywhere).rows
        try store.close()
        var many = storeOptions(bufferRows: 200)
        many.queryParallelism = 4
        #expect(try Store(directory: dir, options: many).snapshot().run(everywhere).rows == one)
        var zero = storeOptions()
        zero.queryParallelism = 0
        #expect(throws: SightlineError.self) { try Store(directory: temporaryDirectory("store-parallel-0"), options: zero) }
    }

    @Test func oneProcessOwnsAStore() throws {
        let dir = temporaryDirectory("store-lock")
        defer { removeTree(dir) }
        var store: Store? = try Store(directory: dir, options: storeOptions())
        #expect(throws: SightlineError.storeLocked(path: "\(dir)/LOCK")) { try Store(directory: dir, options: storeOptions()) }
        _ = store
        store = nil
        _ = try Store(directory: dir, options: storeOptions())
    }

    @Test func theSecretStaysWithTheStore() throws {
        let dir = temporaryDirectory("store-secret")
        defer { removeTree(dir) }
        _ = try Store(directory: dir, options: storeOptions())
        var other = storeOptions()
        other.secret = PlateKeySecret(k0: 1, k1: 1)
        #expect(throws: SightlineError.wrongPlateKeySecret(path: dir)) { try Store(directory: dir, options: other) }
        other.secret = nil
        #expect(try Store(directory: dir, options: other).hasher.secret == testSecret)
    }

    @Test func openRemovesWhatACrashLeftBehind() throws {
        let dir = temporaryDirectory("store-leftovers")
        defer { removeTree(dir) }
        let rows = distinctBatches(1, rows: 100, seed: 3)[0]
        do {
            let store = try Store(directory: dir, options: storeOptions())
            try store.append(rows)
            try store.flush()
        }
        try writeFile("\(dir)/000009.sls", [1, 2, 3])  // a segment no manifest names
        try writeFile("\(dir)/MANIFEST.tmp-1-2", [4, 5])  // an interrupted manifest write
        let store = try Store(directory: dir, options: storeOptions())
        let files = try PosixFileSystem().contentsOfDirectory(dir)
        #expect(!files.contains("000009.sls") && !files.contains("MANIFEST.tmp-1-2"))
        #expect(sameRows(try store.snapshot().allSightings(), rows.sightings))
    }

    @Test func snapshotsDoNotChangeUnderLaterWrites() throws {
        let dir = temporaryDirectory("store-snap")
        defer { removeTree(dir) }
        let store = try Store(directory: dir, options: storeOptions(bufferRows: 500))
        let batches = distinctBatches(6, rows: 200, seed: 4)
        try store.append(batches[0])
        let early = store.snapshot()
        let earlyRows = try early.allSightings()
        for b in batches.dropFirst() { try store.append(b) }  // flushes happen in between
        #expect(try early.allSightings() == earlyRows)
        #expect(store.snapshot().rowCount == batches.reduce(0) { $0 + $1.count })
    }

    @Test func concurrentReadersSeeWholeBatchesOnly() async throws {
        let dir = temporaryDirectory("store-concurrent")
        defer { removeTree(dir) }
        let store = try Store(directory: dir, options: storeOptions(bufferRows: 700, durability: .none))
        let batches = distinctBatches(30, rows: 100, seed: 5)
        let sizes = batches.map(\.count)
        // Every snapshot must hold a prefix of the batches: a sum of the first k sizes.
        let prefixSums = Set(sizes.indices.map { sizes[...$0].reduce(0, +) } + [0])
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                for b in batches { try store.append(b) }
            }
            for _ in 0..<3 {
                group.addTask {
                    for _ in 0..<200 {
                        let snapshot = store.snapshot()
                        #expect(prefixSums.contains(snapshot.rowCount), "a snapshot saw \(snapshot.rowCount) rows")
                        if snapshot.rowCount % 3 == 0 { _ = try snapshot.allSightings() }
                    }
                }
            }
            try await group.waitForAll()
        }
        #expect(sameRows(try store.snapshot().allSightings(), batches.flatMap(\.sightings)))
    }

    /// Fails each I/O operation of a workload (create, append, flush, append, close) in turn,
    /// with each kind of fault; then reopens with a healthy disk. Every acknowledged row is
    /// there exactly once, nothing else but rows of the batch in flight, and nothing crashes.
    @Test(arguments: [FaultInjectingFileSystem.Fault.error(EIO), .error(ENOSPC), .shortWrite])
    func faultAtEveryOperation(fault: FaultInjectingFileSystem.Fault) throws {
        let batches = distinctBatches(4, rows: 150, seed: 6)
        func workload(_ dir: String, _ fs: any FileSystem, log: CapturedLog = CapturedLog(), acknowledged: inout [SightingBatch]) throws {
            let store = try Store(directory: dir, options: storeOptions(bufferRows: 250, log: log), fileSystem: fs)
            // After a failure, close() still waits for a background flush and lets go of the
            // lock; without it the reopen below could race the flush thread's last reference.
            var closed = false
            defer { if !closed { try? store.close() } }
            for b in batches {
                try store.append(b)
                acknowledged.append(b)
            }
            try store.flush()
            closed = true
            try store.close()
        }
        let dry = FaultInjectingFileSystem()
        let dryDir = temporaryDirectory("store-faults-dry")
        var ignored: [SightingBatch] = []
        try workload(dryDir, dry, acknowledged: &ignored)
        removeTree(dryDir)
        let operations = dry.operations.count
        #expect(operations > 40)
        var failures = 0, logged = 0
        for n in 0..<operations {
            let dir = temporaryDirectory("store-faults")
            defer { removeTree(dir) }
            let fs = FaultInjectingFileSystem(failAt: n, fault: fault)
            var acknowledged: [SightingBatch] = []
            let log = CapturedLog()
            do { try workload(dir, fs, log: log, acknowledged: &acknowledged) } catch { failures += 1 }
            // A failure that leaves memory and disk out of step is logged once, with the remedy.
            let errors = log.messages(.error)
            logged += errors.count
            #expect(errors.count <= 1 && errors.allSatisfy { $0.hasSuffix("reopen the store to recover") },
                    "operation \(n) (\(fs.operations[n])): \(errors)")
            // Reopen on a healthy disk.
            let reopened: Store
            do {
                reopened = try Store(directory: dir, options: storeOptions(bufferRows: 250))
            } catch {
                Issue.record("operation \(n) (\(fs.operations[n])): reopen failed: \(error)")
                continue
            }
            let got = keys(try reopened.snapshot().allSightings())
            let want = keys(acknowledged.flatMap(\.sightings))
            let allowed = keys(batches.flatMap(\.sightings))
            for (k, c) in want where got[k] != 1 { Issue.record("operation \(n) (\(fs.operations[n])): \(k.plate) at \(k.time) stored \(got[k] ?? 0)× (\(c) acknowledged)") }
            for (k, c) in got where c != 1 || allowed[k] == nil { Issue.record("operation \(n): unexpected row \(k.plate) at \(k.time) ×\(c)") }
        }
        // Errors must surface (only closes of files being abandoned are not reported); short
        // writes are retried and never fail the workload.
        if case .shortWrite = fault {
            #expect(failures == 0 && logged == 0)
        } else {
            #expect(failures * 10 >= operations * 9, "\(failures) of \(operations) faults surfaced")
            #expect(logged > 0, "no fault was logged")
        }
    }
}

/// Collects log messages for assertions.
@Suite struct StoreLoggingTests {
    @Test func repairsAfterACrashAreLogged() throws {
        let dir = temporaryDirectory("store-log")
        defer { removeTree(dir) }
        do {
            let store = try Store(directory: dir, options: storeOptions())
            try store.append(distinctBatches(1, rows: 50, seed: 9)[0])
        }  // not flushed: the rows are only in the log
        try writeFile("\(dir)/000042.sls", [0])
        let log = CapturedLog()
        var options = storeOptions()
        options.logger = log.logger
        _ = try Store(directory: dir, options: options)
        let notices = log.entries.filter { $0.0 == .notice }.map(\.1)
        #expect(notices.contains { $0.contains("recovered rows") }, "\(log.entries)")
        #expect(notices.contains { $0.contains("leftover") }, "\(log.entries)")
        #expect(log.entries.contains { $0.0 == .debug && $0.1 == "flushed" })
    }
}
