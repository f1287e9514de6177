import Testing
import Glibc
import Foundation
@_spi(Benchmarks) @testable import Sightline
import SightlineTestSupport
@testable import SightlineWorkload

/// Copies a directory's regular files (a store template) into a new directory.
/// Copies a store as `cp -a` would: its files and its directory's mode (an owner-only store
/// stays owner-only in its copy).
func copyStore(_ from: String, _ to: String) throws {
    try FileManager.default.createDirectory(atPath: to, withIntermediateDirectories: true)
    try PosixFileSystem().setPermissions(to, try PosixFileSystem().permissions(from))
    for name in try FileManager.default.contentsOfDirectory(atPath: from) where name != "LOCK" {
        try FileManager.default.copyItem(atPath: "\(from)/\(name)", toPath: "\(to)/\(name)")
    }
}

/// Every byte of every file in `dir`.
func allBytes(_ dir: String) throws -> [(String, [UInt8])] {
    try FileManager.default.contentsOfDirectory(atPath: dir).filter { !$0.hasSuffix(".sock") }.map { name in  // sockets hold no bytes
        (name, [UInt8](try Data(contentsOf: URL(fileURLWithPath: "\(dir)/\(name)"))))
    }
}

func contains(_ haystack: [UInt8], _ needle: [UInt8]) -> Bool {
    guard needle.count <= haystack.count, let first = needle.first else { return false }
    var i = 0
    while i <= haystack.count - needle.count {
        if haystack[i] == first && Array(haystack[i..<(i + needle.count)]) == needle { return true }
        i += 1
    }
    return false
}

@Suite struct MaintenanceTests {
    static let day: Int64 = 86_400_000

    /// Rows over `days` days, appended in many small flushes (late rows included).
    static func fragmentedStore(_ dir: String, days: Int = 4, rows: Int = 6000, compression: SegmentCompression = .default,
                                configure: (inout StoreOptions) -> Void = { _ in }) throws -> Store {
        var options = storeOptions(bufferRows: 500)
        options.segment = SegmentOptions(blockRows: 256, spatialBlockRows: 256, compression: compression)
        configure(&options)
        let store = try Store(directory: dir, options: options)
        var c = ALPRWorkload.Configuration()
        c.days = days
        c.fixedCameras = 40
        let all = ALPRWorkload(c).generate(rows: rows)
        for start in stride(from: 0, to: all.count, by: 400) { try store.append(all.slice(start..<min(all.count, start + 400))) }
        try store.flush()
        return store
    }

    static func options(log: CapturedLog = CapturedLog()) -> StoreOptions {
        var o = storeOptions(bufferRows: 500, log: log)
        o.segment = SegmentOptions(blockRows: 256, spatialBlockRows: 256)
        return o
    }

    @Test func compactionKeepsEveryRowAndSettlesIntoPartitions() throws {
        let dir = temporaryDirectory("compact")
        defer { removeTree(dir) }
        let store = try Self.fragmentedStore(dir)
        let before = store.snapshot()
        let beforeRows = try before.allSightings()
        #expect(store.segmentNames.count >= 5)
        #expect(try store.statistics().compactionDebtSegments > 0)
        let summary = try store.compact(CompactionOptions(partitioning: .day, targetRows: 2500))
        #expect(summary.rowsDeleted == 0 && summary.rowsWritten == summary.rowsRead && !summary.segmentsWritten.isEmpty)
        let after = store.snapshot()
        #expect(keys(try after.allSightings()) == keys(beforeRows))
        // Each output segment holds one day's rows; the debt is paid; doing it again does nothing.
        for s in after.segmentReaders where summary.segmentsWritten.contains(s.fileName) {
            #expect(Partitioning.day.partition(of: s.statistics.minTime) == Partitioning.day.partition(of: s.statistics.maxTime))
            #expect(s.rowCount <= 2500)
        }
        #expect(try store.statistics(compaction: CompactionOptions(partitioning: .day, targetRows: 2500)).compactionDebtSegments == 0)
        #expect(try store.compact(CompactionOptions(partitioning: .day, targetRows: 2500)).segmentsRemoved.isEmpty)
        // The snapshot taken before still reads its (now unlinked) files, unchanged.
        #expect(try before.allSightings() == beforeRows)
        // Queries answer the same before and after.
        var g = SplitMix64(seed: 41)
        for _ in 0..<60 {
            let q = try QueryTests.randomQuery(&g, beforeRows)
            #expect(try after.run(q).rows == before.run(q).rows)
        }
        #expect(Store.verify(directory: dir).problems.isEmpty)
        let files = try FileManager.default.contentsOfDirectory(atPath: dir).filter { $0.hasSuffix(".sls") }
        #expect(Set(files) == Set(store.segmentNames))
    }

    /// Rows at the ends of time (Int64.min, Int64.max, year 1) and segments spanning all of
    /// it: compaction keeps every row, settles them into partitions, and terminates.
    @Test(.timeLimit(.minutes(1)), arguments: Partitioning.allCases)
    func compactionKeepsRowsAtTheEndsOfTime(partitioning: Partitioning) throws {
        let dir = temporaryDirectory("compact-edges")
        defer { removeTree(dir) }
        let store = try Store(directory: dir, options: Self.options())
        var g = SplitMix64(seed: testSeed())
        for batch in distinctBatches(6, rows: 300, seed: g.next()) { try store.append(batch); try store.flush() }
        let before = try store.snapshot().allSightings()
        #expect(before.contains { $0.time == .min } && before.contains { $0.time == .max })
        let options = CompactionOptions(partitioning: partitioning, targetRows: 200)
        try store.compact(options)
        #expect(keys(try store.snapshot().allSightings()) == keys(before))
        for s in store.snapshot().segmentReaders {
            #expect(partitioning.partition(of: s.statistics.minTime) == partitioning.partition(of: s.statistics.maxTime))
        }
        try store.compact(options)
        #expect(keys(try store.snapshot().allSightings()) == keys(before))
        #expect(try store.statistics(compaction: options).compactionDebtSegments == 0)
        // Blocks holding only rows at Int64.max are found by queries with no upper bound
        // (the spatial tree once treated "no bound" as an exclusive Int64.max).
        // Camera filters go through the camera index, whose minute clusters reach both ends.
        let snapshot = store.snapshot()
        let world = Area.box(south: -90, west: -180, north: 90, east: 180)
        let edgeCameras = QueryFilters(cameras: Set(before.filter { $0.time == .min || $0.time == .max }.map(\.camera)))
        for query in [try Query(.area(world)), try Query(.area(world), time: TimeRange(from: .max - 1)),
                      try Query(.area(world), filters: edgeCameras), try Query(.area(world), time: TimeRange(from: .max - 1), filters: edgeCameras),
                      try Query(.area(world), time: TimeRange(to: .min + 1), filters: edgeCameras)] {
            #expect(try snapshot.run(query).rows == bruteForce(snapshot, query))
        }
    }

    @Test func purgeRemovesThePlateFromEveryByteOnDisk() throws {
        let dir = temporaryDirectory("purge")
        defer { removeTree(dir) }
        // Uncompressed and in clear, so plate text stored anywhere would be visible in the raw
        // bytes (a sealed store holds none to begin with: SealedFilesTests).
        let store = try Self.fragmentedStore(dir, compression: .none) { $0.encryption = .none }
        let rows = try store.snapshot().allSightings()
        let counts = Dictionary(rows.map { ($0.plate, 1) }, uniquingKeysWith: +)
        let plate = counts.filter { $0.value >= 3 && $0.key.count >= 6 }.keys.sorted().first!
        try store.append(SightingBatch([try Sighting(plate: plate, time: rows[0].time + 17, latitudeE7: 0, longitudeE7: 0, camera: 9, confidence: 50)]))  // one more in memory
        let text = Array(plate.description.utf8)
        let key = withUnsafeBytes(of: store.hasher.key(plate).littleEndian) { Array($0) }
        #expect(try allBytes(dir).contains { contains($0.1, text) })  // the scan can see it before
        let summary = try store.purge(plate)
        #expect(summary.rowsDeleted == counts[plate]! + 1)
        #expect(summary.deletionID != nil)
        #expect(try store.snapshot().run(Query(.history(plate))).rows.isEmpty)
        #expect(keys(try store.snapshot().allSightings()) == keys(rows.filter { $0.plate != plate }))
        for (name, bytes) in try allBytes(dir) {
            #expect(!contains(bytes, text), "\(name) still holds the plate's text")
            #expect(!contains(bytes, key), "\(name) still holds the plate's key")
        }
        let stats = try store.statistics()
        #expect(stats.deletions[.purge]?.records == 1 && stats.deletions[.purge]?.rows == counts[plate]! + 1)
        #expect(Store.verify(directory: dir).problems.isEmpty)
    }

    @Test(.timeLimit(.minutes(1))) func retentionHidesExpiredRowsAtOnceAndDeletesThemOnTheTimer() throws {
        let dir = temporaryDirectory("retention")
        defer { removeTree(dir) }
        let now = Locked<Int64>(0)
        let store = try Self.fragmentedStore(dir, days: 4, compression: .none) { o in
            o.retention = .milliseconds(2 * MaintenanceTests.day)
            o.maintenanceInterval = .milliseconds(50)
            o.wallClock = { now.withLock { $0 } }
        }
        store.pauseMaintenance()
        let rows = try store.snapshot().allSightings()  // clock at 0: nothing expired yet
        let end = rows.map(\.time).max()!
        now.withLock { $0 = end }  // the newest row's time: the first two days have expired
        let cutoff = end - 2 * Self.day
        let live = rows.filter { $0.time >= cutoff }
        #expect(live.count < rows.count && !live.isEmpty)
        #expect(keys(try store.snapshot().allSightings()) == keys(live))  // hidden at once
        #expect(try store.snapshot().count(Query(.area(.box(south: -90, west: -180, north: 90, east: 180)))).count == live.count)
        // A plate seen only before the cutoff must be gone from disk once the timer runs.
        let livePlates = Set(live.map(\.plate))
        let gone = rows.first { $0.time < cutoff && !livePlates.contains($0.plate) && $0.plate.count >= 6 }!.plate
        let runs = store.maintenanceRuns  // paused: no run completes meanwhile
        store.resumeMaintenance()
        store.waitForMaintenanceRuns(runs + 1)  // one whole run after the clock moved
        #expect(!store.snapshot().segmentReaders.contains { $0.statistics.minTime < cutoff }, "the timer did not delete expired rows")
        for (name, bytes) in try allBytes(dir) { #expect(!contains(bytes, Array(gone.description.utf8)), "\(name) still holds an expired plate") }
        #expect(try store.statistics().deletions[.retention]?.rows == rows.count - live.count)
        #expect(Store.verify(directory: dir).problems.isEmpty)
    }

    /// Every I/O operation of a compaction fails in turn; after each, a healthy reopen
    /// answers exactly as before and verify passes.
    @Test(arguments: [FaultInjectingFileSystem.Fault.error(EIO), .error(ENOSPC)])
    func faultAtEveryOperationOfACompaction(fault: FaultInjectingFileSystem.Fault) throws {
        let template = temporaryDirectory("compact-template")
        defer { removeTree(template) }
        let expected: [RowKey: Int]
        do {
            let store = try Self.fragmentedStore(template, days: 3, rows: 2500)
            expected = keys(try store.snapshot().allSightings())
            try store.close()
        }
        let compaction = CompactionOptions(partitioning: .day, targetRows: 1000)
        // A dry run counts the operations of open and of the compaction.
        let dry = FaultInjectingFileSystem()
        let dryDir = temporaryDirectory("compact-dry")
        try copyStore(template, dryDir)
        let opened: Int
        do {
            let store = try Store(directory: dryDir, options: Self.options(), fileSystem: dry)
            opened = dry.operations.count
            try store.compact(compaction)
        }
        removeTree(dryDir)
        let total = dry.operations.count - opened
        #expect(total > 20)
        var failures = 0, logged = 0
        for n in 0..<total {
            let dir = temporaryDirectory("compact-fault")
            defer { removeTree(dir) }
            try copyStore(template, dir)
            let fs = FaultInjectingFileSystem(failAt: opened + n, fault: fault)
            let log = CapturedLog()
            do {
                let store = try Store(directory: dir, options: Self.options(log: log), fileSystem: fs)
                try store.compact(compaction)
            } catch { failures += 1 }
            // A failed manifest write is logged once, with the remedy; a replaced file that
            // could not be removed is a warning (open removes it).
            let errors = log.messages(.error), warnings = log.messages(.warning)
            logged += errors.count + warnings.count
            #expect(errors.count <= 1 && errors.allSatisfy { $0.hasSuffix("reopen the store to recover") }, "operation \(n): \(errors)")
            #expect(warnings.allSatisfy { $0.contains("could not remove a replaced segment") }, "operation \(n): \(warnings)")
            let reopened = try Store(directory: dir, options: Self.options())
            #expect(keys(try reopened.snapshot().allSightings()) == expected, "operation \(n) (\(fs.operations[opened + n]))")
            let verdict = Store.verify(directory: dir)
            #expect(verdict.problems.isEmpty, "operation \(n): \(verdict.problems)")
        }
        #expect(failures >= total / 2, "only \(failures) of \(total) faults surfaced")
        #expect(logged > 0, "no fault was logged")
    }

    /// SIGKILL at random moments of a compaction, of a purge (which destroys the keys of what
    /// it replaced) and of key rotations (another process): after each, the store and its
    /// keyring open and hold exactly the rows before (or, for a purge that completed, those
    /// minus the plate's), and verify passes.
    @Test(arguments: ["compact", "purge", "rotate"])
    func killsDuringCompactionAndPurge(operation: String) throws {
        let template = temporaryDirectory("kill-template")
        defer { removeTree(template); removeTree(template + "-ring") }
        var options = Self.options()
        options.secret = CrashWriterEntryPoints.testSecret
        // The store's own keyring: each copy below gets a copy of it, for a purge destroys the
        // keys of what it replaced — in every copy that shares the keyring.
        options.keyring = Keyring(directory: template + "-ring")
        /// `template` and its keyring copied to `dir`, `dir-ring`; the options that open the copy.
        func copy(to dir: String) throws -> StoreOptions {
            try copyStore(template, dir)
            try FileManager.default.copyItem(atPath: template + "-ring", toPath: dir + "-ring")
            var o = options
            o.keyring = Keyring(directory: dir + "-ring")
            return o
        }
        let before: [RowKey: Int]
        let plate: Plate
        do {
            let store = try Store(directory: template, options: options)
            var c = ALPRWorkload.Configuration()
            c.days = 3
            c.fixedCameras = 40
            for k in 0..<8 { var cc = c; cc.seed = UInt64(k + 1); try store.append(ALPRWorkload(cc).generate(rows: 800)) }
            try store.flush()
            let rows = try store.snapshot().allSightings()
            before = keys(rows)
            plate = Dictionary(rows.map { ($0.plate, 1) }, uniquingKeysWith: +).max { ($0.value, $0.key) < ($1.value, $1.key) }!.key
            try store.close()
        }
        let afterPurge = before.filter { $0.key.plate != plate }
        let arguments = switch operation {
        case "compact": ["compact", "", "1500"]
        case "rotate": ["rotate", "", "12"]
        default: ["purge", "", plate.description]
        }
        // How long the whole operation takes, to spread the kills over it.
        let dryDir = temporaryDirectory("kill-dry")
        _ = try copy(to: dryDir)
        defer { removeTree(dryDir + "-ring") }
        let clock = ContinuousClock()
        let t0 = clock.now
        var dryArgs = arguments
        dryArgs[1] = dryDir
        let (status, output) = try ChildProcess("/usr/bin/env", ["SIGHTLINE_KEYRING=\(dryDir)-ring", CrashTests.writerPath] + dryArgs).finish()
        let duration = clock.now - t0
        removeTree(dryDir)
        #expect(status == 0 && output.contains("DONE"), "dry run: \(status) \(output)")
        let micros = max(2000, Int(seconds(duration) * 1e6))
        let seed = testSeed()
        var g = SplitMix64(seed: seed)
        var completed = 0
        for round in 0..<CrashTests.kills(20) {
            let dir = temporaryDirectory("kill")
            defer { removeTree(dir); removeTree(dir + "-ring") }
            let options = try copy(to: dir)
            var args = arguments
            args[1] = dir
            let child = try ChildProcess("/usr/bin/env", ["SIGHTLINE_KEYRING=\(dir)-ring", CrashTests.writerPath] + args)
            usleep(UInt32(Int(g.next() % UInt64(micros))))  // deliberate: the kill lands at a random moment
            if child.kill9().contains("DONE") { completed += 1 }  // finished before the kill
            let store = try Store(directory: dir, options: options)
            let got = keys(try store.snapshot().allSightings())
            if operation != "purge" {
                #expect(got == before, "round \(round) (SIGHTLINE_TEST_SEED=\(seed)): rows changed")
            } else {
                #expect(got == before || got == afterPurge, "round \(round) (SIGHTLINE_TEST_SEED=\(seed)): neither before nor after the purge")
            }
            try store.close()
            let verdict = Store.verify(directory: dir, keyring: options.keyring)
            #expect(verdict.isSound, "round \(round) (SIGHTLINE_TEST_SEED=\(seed)): \(verdict.problems)")
        }
        #expect(completed < CrashTests.kills(20), "every kill came after the end: none landed inside the operation")
    }
}
