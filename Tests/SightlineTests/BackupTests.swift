import Foundation
import Testing
@testable import Sightline
@testable import SightlineWorkload

/// Backups as generations: a restore answers as the store did when the generation was taken
/// (rows, rules, holds, alerts), owner-only, the restore audited; segments are shared between
/// generations; a generation taken before a purge yields none of the purged rows afterwards,
/// one taken before a compaction restores whole, and one taken during an ingest restores to a
/// whole-batch prefix of it.
@Suite struct BackupTests {
    static let reader = AccessContext(requester: "tester", purpose: "backup test")

    static func rows(_ store: String, _ options: StoreOptions) throws -> Set<RowKey> {
        Set(EncryptionTests.keys(try ReadOnlyStore(directory: store, options: options).snapshot(access: reader).allSightings()))
    }

    @Test func aRestoredGenerationAnswersAsTheStoreDidAndSharesSegments() throws {
        let root = temporaryDirectory("backup")
        defer { removeTree(root) }
        let seed = testSeed()
        let options = EncryptionTests.options(root, .aes256GCM)
        let (store, rows, _) = try SealedFilesTests.everyKind(root, seed: seed)
        let first = try StoreBackup.take(of: "\(root)/s", into: "\(root)/b")
        let segmentRows = try store.statistics().segmentRows
        #expect(first.number == 1 && first.segments == 2 && first.newSegmentBytes == first.segmentBytes
                && first.rows == segmentRows, "rows \(first.rows)")
        #expect(!first.holdsPlateKeySecret)
        let second = try StoreBackup.take(of: "\(root)/s", into: "\(root)/b")
        #expect(second.number == 2 && second.newSegmentBytes == 0, "unchanged segments were copied again")
        let listed = try StoreBackup.generations(in: "\(root)/b")
        #expect(listed.map(\.number) == [1, 2] && listed[0].newSegmentBytes == first.segmentBytes && listed[1].newSegmentBytes == 0)
        // No key and no plate in the backup; owner-only.
        let plates = Set(rows.map(\.plate.text)).filter { $0.count >= 5 }
        for (path, bytes) in try SealedFilesTests.files(under: "\(root)/b") {
            let text = String(decoding: bytes, as: UTF8.self)
            #expect(!plates.contains { text.contains($0) }, "\(path) holds a plate")
            #expect(!path.hasSuffix(".key") && !path.contains("kek-") && !path.hasSuffix(Store.secretFileName), "\(path): a key in the backup")
            #expect(try PosixFileSystem().permissions(path) == 0o600, "\(path)")
        }
        let holds = store.legalHolds, rules = store.rules, alerts = try store.alerts()
        try store.close()
        let restored = try StoreBackup.restore(from: "\(root)/b", generation: 1, to: "\(root)/r", access: Self.reader)
        #expect(restored.number == 1)
        #expect(try PosixFileSystem().permissions("\(root)/r") == 0o700)
        #expect(Store.verify(directory: "\(root)/r", keyring: options.keyring).isSound)
        #expect(try Self.rows("\(root)/r", options) == Set(EncryptionTests.keys(rows)), "(SIGHTLINE_TEST_SEED=\(seed))")
        let reopened = try Store(directory: "\(root)/r", options: options)
        let alertsAfter = try reopened.alerts()
        #expect(reopened.legalHolds == holds && reopened.rules == rules && alertsAfter == alerts)
        try reopened.close()
        let audit = try AuditLog.records(directory: "\(root)/r", fileSystem: PosixFileSystem())
        #expect(audit.contains { $0.operation == "restore" && $0.access.requester == "tester" && $0.query == "restore generation=1 taken=\(first.takenAt)" },
                "\(audit.suffix(3))")
        // Into a directory that is not empty: refused, nothing touched.
        #expect(throws: SightlineError.self) { try StoreBackup.restore(from: "\(root)/b", to: "\(root)/r") }
        #expect(throws: SightlineError.self) { try StoreBackup.restore(from: "\(root)/b", generation: 7, to: "\(root)/r7") }
    }

    /// A purge after a backup: restoring the earlier generation yields none of the purged
    /// rows (what held them no longer opens); a compaction after a backup: the generation
    /// still restores whole.
    @Test func aPurgeShredsEarlierGenerationsAndACompactionDoesNot() throws {
        let root = temporaryDirectory("backup-shred")
        defer { removeTree(root) }
        let seed = testSeed()
        let options = EncryptionTests.options(root, .aes256GCM)
        let store = try Store(directory: "\(root)/s", options: options)
        let all = try EncryptionTests.fill(store, seed: seed).flatMap(\.sightings)
        try StoreBackup.take(of: "\(root)/s", into: "\(root)/b")
        _ = try store.compact(CompactionOptions(targetRows: 100_000))
        try StoreBackup.restore(from: "\(root)/b", generation: 1, to: "\(root)/compacted")
        #expect(try Self.rows("\(root)/compacted", options) == Set(EncryptionTests.keys(all)))
        let plate = all[0].plate
        #expect(try store.purge(plate, access: Self.reader).rowsDeleted > 0)
        try store.close()
        try StoreBackup.restore(from: "\(root)/b", generation: 1, to: "\(root)/purged")
        let report = Store.verify(directory: "\(root)/purged", keyring: options.keyring)
        #expect(report.problems.contains { $0.message.contains("not in the keyring") }, "\(report)")
        do {
            let read = try Self.rows("\(root)/purged", options)
            #expect(!read.contains { $0.plate == plate }, "an earlier generation yields the purged plate (SIGHTLINE_TEST_SEED=\(seed))")
        } catch {
            #expect("\(error)".contains("not in the keyring"), "\(error)")
        }
    }

    /// Batches appended one after another while generations are taken: each restores to
    /// exactly the first k batches, for some k (never part of a batch, never a gap).
    @Test func aBackupDuringAnIngestRestoresAWholeBatchPrefix() throws {
        let root = temporaryDirectory("backup-ingest")
        defer { removeTree(root) }
        let seed = testSeed()
        var options = EncryptionTests.options(root, .aes256GCM)
        options.bufferRows = 2000  // flushes (and new logs) during the ingest
        let store = try Store(directory: "\(root)/s", options: options)
        let batches = distinctBatches(40, rows: 250, seed: seed)
        let writer = Thread {
            for b in batches { try! store.append(b) }
        }
        writer.start()
        var taken = 0
        while !writer.isFinished || taken < 3 {
            try StoreBackup.take(of: "\(root)/s", into: "\(root)/b")
            taken += 1
            if taken > 200 { break }
        }
        while !writer.isFinished { usleep(1000) }
        try store.close()
        var prefixes: [Int] = []
        for g in try StoreBackup.generations(in: "\(root)/b") {
            let dir = "\(root)/r\(g.number)"
            try StoreBackup.restore(from: "\(root)/b", generation: g.number, to: dir)
            let read = try Self.rows(dir, options)
            let k = batches.indices.first { !read.isSuperset(of: EncryptionTests.keys(batches[$0].sightings)) } ?? batches.count
            let prefix = Set(batches[0..<k].flatMap { EncryptionTests.keys($0.sightings) })
            #expect(read == prefix, "generation \(g.number): not a whole-batch prefix (\(read.count) rows; the first \(k) batches hold \(prefix.count)) (SIGHTLINE_TEST_SEED=\(seed))")
            prefixes.append(k)
        }
        #expect(prefixes == prefixes.sorted(), "later generations hold fewer batches: \(prefixes)")
        #expect(prefixes.last == batches.count || taken > 3)
    }

    @Test func theCLITakesListsAndRestoresGenerations() throws {
        let root = temporaryDirectory("backup-cli")
        defer { removeTree(root) }
        let options = EncryptionTests.options(root, .aes256GCM)
        let store = try Store(directory: "\(root)/s", options: options)
        _ = try EncryptionTests.fill(store, seed: testSeed())
        try store.close()
        let ring = ["--keyring", "\(root)/ring"]
        let (s1, out1) = try CommandLineTests.run(["backup", "\(root)/s", "\(root)/b"] + ring)
        #expect(s1 == 0 && out1.hasPrefix("backup:      generation 1 in \(root)/b"), "\(out1)")
        let (s2, out2) = try CommandLineTests.run(["backup", "\(root)/s", "\(root)/b"] + ring)
        #expect(s2 == 0 && out2.contains("generation 2") && out2.contains("(0 B copied"), "\(out2)")
        let (s3, list) = try CommandLineTests.run(["backup", "--list", "\(root)/b"] + ring)
        let lines = list.split(separator: "\n")
        #expect(s3 == 0 && lines.count == 3 && lines[0].hasPrefix("generation") && lines[1].hasPrefix("1 ") && lines[2].hasPrefix("2 "), "\(list)")
        let (s4, restored) = try CommandLineTests.run(["restore", "\(root)/b", "\(root)/r", "--generation", "1", "--purpose", "disaster recovery"] + ring)
        #expect(s4 == 0 && restored.contains("restored:    generation 1") && restored.contains("verified:    every file opens"), "\(restored)")
        let (s5, _) = try CommandLineTests.run(["restore", "\(root)/b", "\(root)/r"] + ring)
        #expect(s5 != 0)
        let (s6, _) = try CommandLineTests.run(["backup", "\(root)/s"] + ring)
        #expect(s6 != 0)
    }
}

/// A retention run — the store's own, or a compaction that deletes expired rows — destroys
/// the keys of what it deleted too: a copy and a backup taken before it yield no expired row
/// afterwards (what held them no longer opens).
@Suite struct RetentionShreddingTests {
    @Test(arguments: ["enforce", "compact"])
    func earlierCopiesYieldNoRowARetentionRunDeleted(how: String) throws {
        let root = temporaryDirectory("retention-shred")
        defer { removeTree(root) }
        let now = Locked<Int64>(0)
        let day: Int64 = 86_400_000
        let options: StoreOptions = {
            var o = EncryptionTests.options(root, .aes256GCM)
            o.retention = how == "enforce" ? .milliseconds(2 * day) : nil
            o.maintenanceInterval = .seconds(3600)
            o.wallClock = { now.withLock { $0 } }
            return o
        }()
        let store = try MaintenanceTests.fragmentedStore("\(root)/s", days: 4) { o in o = options }
        store.pauseMaintenance()
        let rows = try store.snapshot().allSightings()
        let end = rows.map(\.time).max()!
        try copyStore("\(root)/s", "\(root)/copy")
        try StoreBackup.take(of: "\(root)/s", into: "\(root)/b")
        now.withLock { $0 = end }
        let expired = Set(EncryptionTests.keys(rows.filter { $0.time < end - 2 * day }))
        #expect(!expired.isEmpty)
        if how == "compact" {
            let summary = try store.compact(CompactionOptions(targetRows: 100_000, deleteOlderThan: end - 2 * day))
            #expect(summary.rowsDeleted == expired.count)
        } else {
            let summary = try store.enforceRetention()
            #expect(summary.rowsDeleted == expired.count)
        }
        try store.close()
        try StoreBackup.restore(from: "\(root)/b", to: "\(root)/restored", keyring: options.keyring)
        var reader = options
        reader.retention = nil  // read everything a copy still holds, expired or not
        for copy in ["copy", "restored"] {
            do {
                let read = Set(EncryptionTests.keys(try ReadOnlyStore(directory: "\(root)/\(copy)", options: reader)
                    .snapshot(access: EncryptionTests.reader).allSightings()))
                #expect(read.isDisjoint(with: expired), "\(copy) yields rows the retention run deleted")
            } catch {
                #expect("\(error)".contains("not in the keyring"), "\(copy): \(error)")
            }
        }
    }
}
