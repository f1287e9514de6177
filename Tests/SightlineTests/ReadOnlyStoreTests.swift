import Testing
import Glibc
@_spi(Benchmarks) @testable import Sightline
@testable import SightlineWorkload
import SightlineTestSupport

/// A multiset of rows as an order-independent fingerprint.
private struct Fingerprint: Hashable, Sendable {
    var count = 0
    var sum: UInt64 = 0

    init(_ rows: [Sighting]) {
        count = rows.count
        for r in rows {
            var h = RowKey.hash(plate: r.plate, time: r.time, camera: r.camera)
            h ^= UInt64(UInt32(bitPattern: r.latitudeE7)) &* 0x9E37_79B9_7F4A_7C15
            sum &+= h &* 0xBF58_476D_1CE4_E5B9  // wrapping: order-independent
        }
    }
}

@Suite struct ReadOnlyStoreTests {
    @Test func readsAStoreTheOwnerHoldsOpenIncludingUnflushedRows() throws {
        let dir = temporaryDirectory("ro-basic")
        defer { removeTree(dir) }
        let batches = distinctBatches(3, rows: 100, seed: 21)
        let owner = try Store(directory: dir, options: storeOptions(bufferRows: 150))
        try owner.append(batches[0])
        try owner.append(batches[1])  // the first flush freezes here; some rows only in logs
        let reader = try ReadOnlyStore(directory: dir, options: storeOptions())
        #expect(keys(try reader.snapshot().allSightings()) == keys(batches[0].sightings + batches[1].sightings))
        try owner.append(batches[2])
        try owner.flush()
        // A later snapshot follows the owner's flushes and sees new rows without reopening.
        #expect(keys(try reader.snapshot().allSightings()) == keys(batches.flatMap(\.sightings)))
        // Queries run on it like on the owner's snapshots.
        let plate = batches[2].plates[0]
        #expect(try reader.snapshot().run(Query(.history(plate))).rows == owner.snapshot().run(Query(.history(plate))).rows)
        #expect(try reader.statistics().segmentRows == owner.statistics().segmentRows)
        // It never took the lock, wrote nothing, and works after the owner is gone.
        try owner.close()
        #expect(keys(try reader.snapshot().allSightings()) == keys(batches.flatMap(\.sightings)))
        #expect(throws: SightlineError.invalidArgument("\(dir)/none holds no store")) { try ReadOnlyStore(directory: "\(dir)/none") }
        var wrong = storeOptions()
        wrong.secret = PlateKeySecret(k0: 1, k1: 2)
        #expect(throws: SightlineError.wrongPlateKeySecret(path: dir)) { try ReadOnlyStore(directory: dir, options: wrong) }
    }

    /// A long-lived reader keeps the owner's logged rows as chunks between snapshots (large
    /// enough to be plate-indexed): across appends, a flush, a purge and a new owner's
    /// recovery, every snapshot's histories and rows equal a scan of what the owner holds.
    @Test func aLiveReadersBufferedRowsFollowTheOwner() throws {
        let dir = temporaryDirectory("ro-buffered")
        defer { removeTree(dir) }
        var g = SplitMix64(seed: 4242)
        var seen = Set<RowKey>()
        func batch() -> SightingBatch {
            var b = SightingBatch()
            for s in randomBatch(&g, rows: 9_000, plates: 200).sightings
            where seen.insert(RowKey(plate: s.plate, time: s.time, camera: s.camera)).inserted { b.append(s) }
            return b
        }
        var expected: [Sighting] = []
        var owner: Store? = try Store(directory: dir, options: storeOptions(bufferRows: 1_000_000, durability: .none))
        let reader = try ReadOnlyStore(directory: dir, options: storeOptions())
        func check(_ what: String) throws {
            let snapshot = try reader.snapshot()
            #expect(sameRows(try snapshot.allSightings(), expected), "\(what): all rows")
            for k in 0..<8 {
                let plate = expected[Int(g.next() % UInt64(expected.count))].plate
                let history = try snapshot.run(try Query(.history(plate))).rows
                #expect(sameRows(history, expected.filter { $0.plate == plate }), "\(what): history \(k)")
            }
        }
        func appendAndCheck(_ what: String) throws {
            let b = batch()
            try owner!.append(b)
            expected += b.sightings
            try check(what)
        }
        for step in 0..<4 { try appendAndCheck("append \(step)") }
        try owner!.flush()
        try check("after a flush")
        for step in 0..<2 { try appendAndCheck("append \(step) after the flush") }
        let purged = expected[expected.count - 1].plate
        try owner!.purge(purged)
        expected.removeAll { $0.plate == purged }
        try check("after a purge")
        try appendAndCheck("append after the purge")
        // A new owner recovers the logs (their rows go to a segment) and appends more.
        try owner!.close()
        owner = nil
        owner = try Store(directory: dir, options: storeOptions(bufferRows: 1_000_000, durability: .none))
        try check("after recovery")
        try appendAndCheck("append after recovery")
        try owner!.close()
    }

    /// Readers race a writer that appends, flushes, compacts and purges: every snapshot
    /// equals the store after some prefix of the writer's operations — whole batches, purges
    /// applied or not — never a mix, and never older than an operation that had returned
    /// before the snapshot was taken (so a purge is visible to the next snapshot).
    @Test func snapshotsRacingAWriterAreAlwaysAPrefixOfWholeOperations() throws {
        let dir = temporaryDirectory("ro-race")
        defer { removeTree(dir) }
        let seed = testSeed()
        var g = SplitMix64(seed: seed)
        let batches = distinctBatches(60, rows: 40, seed: g.next())
        var options = storeOptions(bufferRows: 170)
        options.segment = SegmentOptions(blockRows: 256, spatialBlockRows: 256)
        let owner = try Store(directory: dir, options: options)
        // The state after each operation, as fingerprints; the writer publishes them.
        let states = Locked<[Fingerprint]>([Fingerprint([])])
        let done = Locked(false)
        let snapshotsChecked = Locked(0)
        var operations: [Int] = []  // 0 append, 1 flush, 2 compact, 3 purge
        for _ in 0..<batches.count { operations.append(0); if g.next() % 5 == 0 { operations.append([1, 2, 3][Int(g.next() % 3)]) } }
        let plan = operations
        let errors = runOnThreads(4) { thread in
            if thread == 0 {
                defer { done.withLock { $0 = true } }
                var current: [Sighting] = []
                var next = 0
                for op in plan {
                    switch op {
                    case 0:
                        try owner.append(batches[next])
                        current += batches[next].sightings
                        next += 1
                    case 1: try owner.flush()
                    case 2: try owner.compact(CompactionOptions(partitioning: .day, targetRows: 400))
                    default:
                        guard let victim = current.last?.plate else { continue }
                        try owner.purge(victim)
                        current.removeAll { $0.plate == victim }
                    }
                    states.withLock { $0.append(Fingerprint(current)) }
                }
            } else {
                let reader = try ReadOnlyStore(directory: dir, options: storeOptions())
                var checked = 0
                while !done.withLock({ $0 }) || checked == 0 {
                    // States published before the snapshot bound what it may show; the
                    // operation running during it may show before the writer publishes it.
                    let publishedBefore = states.withLock { $0.count }
                    let rows = try reader.snapshot().allSightings()
                    let got = Fingerprint(rows)
                    let publishedAfter = states.withLock { $0.count }
                    while states.withLock({ $0.count }) <= publishedAfter && !done.withLock({ $0 }) { sched_yield() }
                    let all = states.withLock { $0 }
                    guard let at = all.lastIndex(of: got) else {
                        throw SightlineError.invalidArgument("SIGHTLINE_TEST_SEED=\(seed): a snapshot of \(rows.count) rows matches no prefix of whole operations")
                    }
                    guard at >= publishedBefore - 1 else {
                        throw SightlineError.invalidArgument("SIGHTLINE_TEST_SEED=\(seed): a snapshot showed state \(at), older than state \(publishedBefore - 1) published before it")
                    }
                    checked += 1
                }
                snapshotsChecked.withLock { $0 += checked }
            }
        }
        #expect(errors.isEmpty, "\(errors)")
        #expect(snapshotsChecked.withLock { $0 } >= 3)
        #expect(keys(try ReadOnlyStore(directory: dir, options: storeOptions()).snapshot().allSightings())
                == keys(try owner.snapshot().allSightings()))
    }

    /// A store writer (another process) appends and is SIGKILLed at random moments while
    /// this process reads the store read-only: every snapshot, during the run and after the
    /// kill, holds whole batches n = first, first + 1, … k − 1 and nothing else; and it
    /// always holds every batch acknowledged before it was taken.
    @Test func snapshotsOfAStoreWhoseWriterIsKilledAreWholePrefixes() throws {
        let dir = temporaryDirectory("ro-kill")
        defer { removeTree(dir) }
        let seed = testSeed()
        var g = SplitMix64(seed: seed)
        var options = storeOptions()
        options.secret = CrashWriterEntryPoints.testSecret
        var expected = Set<RowKey>()
        var batchKeys: [UInt64: Set<RowKey>] = [:]
        func keysOf(_ n: UInt64) -> Set<RowKey> {
            if let k = batchKeys[n] { return k }
            let k = Set(CrashWriterEntryPoints.batch(for: n).sightings.map { RowKey(plate: $0.plate, time: $0.time, camera: $0.camera) })
            batchKeys[n] = k
            return k
        }
        var snapshots = 0
        for round in 0..<CrashTests.kills(6) {
            let first = UInt64(round) * 1_000_000
            let child = try ChildProcess(CrashTests.writerPath, ["store", dir, String(first)])
            let deadline = ContinuousClock.now + .milliseconds(40 + Int(g.next() % 200))
            var reader: ReadOnlyStore?
            func check(_ when: String) throws {
                guard let r = reader ?? (try? ReadOnlyStore(directory: dir, options: options)) else { return }  // not created yet
                reader = r
                let got = Set(try r.snapshot().allSightings().map { RowKey(plate: $0.plate, time: $0.time, camera: $0.camera) })
                var prefix = expected
                var n = first
                while prefix.count < got.count, keysOf(n).isSubset(of: got) { prefix.formUnion(keysOf(n)); n += 1 }
                #expect(got == prefix, "round \(round) \(when) (SIGHTLINE_TEST_SEED=\(seed)): not a prefix of whole batches (\(got.count) rows, prefix \(prefix.count), batches \(first)..<\(n))")
                snapshots += 1
            }
            while ContinuousClock.now < deadline { try check("during the run") }
            let (output, _) = child.kill9WithStatus()
            let acknowledged = output.split(separator: "\n").compactMap { $0.hasPrefix("ACK ") ? UInt64($0.dropFirst(4)) : nil }
            try check("after the kill")
            // What a healthy reopen by a new owner holds becomes the base of the next round.
            let owner = try Store(directory: dir, options: options)
            let all = Set(try owner.snapshot().allSightings().map { RowKey(plate: $0.plate, time: $0.time, camera: $0.camera) })
            for n in acknowledged { #expect(keysOf(n).isSubset(of: all), "round \(round): acknowledged batch \(n) missing") }
            try owner.close()
            expected = all
        }
        #expect(snapshots > 10)
    }

    /// Readers (the CLI, another process) SIGKILLed at random moments change nothing: the
    /// store's files are byte for byte the same and the owner goes on.
    @Test func killedReadersLeaveTheStoreUntouched() throws {
        let dir = temporaryDirectory("ro-reader-kill")
        defer { removeTree(dir) }
        let owner = try Store(directory: dir, options: storeOptions(bufferRows: 3000))
        for b in distinctBatches(5, rows: 1000, seed: 81) { try owner.append(b) }  // segments and log rows
        try owner.waitForFlush()  // the background flush of the first 3000 rows is done
        let before = try allBytes(dir).sorted { $0.0 < $1.0 }
        var g = SplitMix64(seed: testSeed())
        for _ in 0..<CrashTests.kills(5) {
            let child = try ChildProcess(CommandLineTests.binary, ["area", dir, "--bbox", "-90,-180,90,180"])
            usleep(UInt32(1000 + g.next() % 30_000))
            _ = child.kill9WithStatus()
        }
        #expect(try allBytes(dir).sorted { $0.0 < $1.0 }.map { $0.0 } == before.map { $0.0 })
        #expect(try allBytes(dir).sorted { $0.0 < $1.0 }.map { $0.1 } == before.map { $0.1 })
        try owner.append(distinctBatches(1, rows: 10, seed: 82)[0])
        try owner.flush()
        try owner.close()
    }
}
