import Foundation
import Testing
@testable import Sightline
@testable import SightlineWorkload

/// Every file of a store that seals at rest — segments, write-ahead logs, the alert log,
/// rules, holds — holds no plate as text; a flipped bit or a tampered record in each sealed
/// kind is reported, never read as other rows; a deletion shreds the keys of logs already
/// flushed, so an earlier copy yields none of the rows it deleted, while a compaction keeps
/// them; and what is still live (rules, holds, alerts, the current log) still opens after a
/// deletion.
@Suite struct SealedFilesTests {
    static let reader = AccessContext(requester: "tester", purpose: "sealed files test")

    /// A store that went through every kind of sealed file: two flushed segments, rows
    /// left in the write-ahead log, hotlist entries (rules) that raise alerts, a legal hold.
    /// Returns the store, every row and the hotlisted plates.
    static func everyKind(_ root: String, seed: UInt64) throws -> (Store, [Sighting], [Plate]) {
        let store = try Store(directory: "\(root)/s", options: EncryptionTests.options(root, .aes256GCM))
        let batches = distinctBatches(3, rows: 1200, seed: seed)
        let listed = [batches[0][3].plate, batches[2][5].plate]
        try store.addHotlistEntries(try listed.map { try HotlistEntry(plate: $0.text, list: "stolen", reason: "sealed test") })
        _ = try store.placeLegalHold(LegalHold(caseNumber: "C-7", plate: batches[1][9].plate), by: reader)
        for b in batches[0..<2] {
            try store.append(b)
            try store.flush()
        }
        try store.append(batches[2])  // stays in the write-ahead log
        return (store, batches.flatMap(\.sightings), listed)
    }

    /// Every regular file under `directory`, recursively (path, bytes).
    static func files(under directory: String) throws -> [(String, [UInt8])] {
        var out: [(String, [UInt8])] = []
        let e = FileManager.default.enumerator(atPath: directory)
        while let name = e?.nextObject() as? String {
            var isDirectory: ObjCBool = false
            let path = "\(directory)/\(name)"
            guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), !isDirectory.boolValue else { continue }
            out.append((path, try readFile(path)))
        }
        return out
    }

    @Test func noFileOfTheStoreOrItsKeyringHoldsAPlate() throws {
        let root = temporaryDirectory("sealed-no-plate")
        defer { removeTree(root) }
        let seed = testSeed()
        let (store, rows, listed) = try Self.everyKind(root, seed: seed)
        defer { try? store.close() }
        #expect(try store.alerts().count >= 2, "no alert was raised: the alert log would prove nothing")
        _ = try store.snapshot(access: Self.reader).run(try Query(.history(rows[0].plate)))  // an audited read
        let plates = Set(rows.map(\.plate.text) + listed.map(\.text)).filter { $0.count >= 5 }
        let files = try Self.files(under: "\(root)/s") + Self.files(under: "\(root)/ring")
        let names = Set(files.map { String($0.0.split(separator: "/").last!) })
        for kind in ["ALERTS", "RULES", "HOLDS", "AUDIT"] { #expect(names.contains(kind), "no \(kind) to scan") }
        #expect(names.contains { $0.hasPrefix("log-") } && names.contains { $0.hasSuffix(".sls") })
        for (path, bytes) in files {
            // Every plate, as bytes, anywhere in the file.
            let text = String(decoding: bytes, as: UTF8.self)
            let found = plates.filter { text.contains($0) }
            #expect(found.isEmpty, "\(path) holds plates: \(found.prefix(5)) (SIGHTLINE_TEST_SEED=\(seed))")
        }
        for kind in ["RULES", "HOLDS"] { #expect(SealedFile.isSealed(try readFile("\(root)/s/\(kind)")), "\(kind) is not sealed") }
    }

    /// A bit flipped in every sealed kind: opening the copy fails naming the file, or — for
    /// a write-ahead log, whose damaged record reads as a torn tail — `verify` reports it and
    /// the rows read are original ones only. A record tampered with its checksum fixed up
    /// fails to open (the cipher's tag, not the checksum, catches it).
    @Test func aDamagedOrTamperedSealedFileIsReportedNeverMisread() throws {
        let root = temporaryDirectory("sealed-damage")
        defer { removeTree(root) }
        let seed = testSeed()
        var g = SplitMix64(seed: seed)
        let (store, rows, _) = try Self.everyKind(root, seed: seed)
        let log = try #require(try FileManager.default.contentsOfDirectory(atPath: "\(root)/s").first { $0.hasPrefix("log-") && $0.hasSuffix(".log") })
        // Closing flushes the log; keep a copy of the live files with the log unflushed.
        try copyStore("\(root)/s", "\(root)/live")
        let alerts = try store.alerts()
        try store.close()
        let options = EncryptionTests.options(root, .aes256GCM)
        let original = Set(EncryptionTests.keys(rows))
        for kind in [log, "ALERTS", "RULES", "HOLDS"] {
            let good = try readFile("\(root)/live/\(kind)")
            let headerSize = kind == log || kind == "ALERTS" ? 48 : SealedFile.headerSize
            for round in 0..<6 {
                let dir = "\(root)/copy"
                removeTree(dir)
                try copyStore("\(root)/live", dir)
                var bytes = good
                bytes[headerSize + Int(g.next() % UInt64(bytes.count - headerSize))] ^= UInt8(1 << (g.next() % 8))
                try writeFile("\(dir)/\(kind)", bytes)
                let report = Store.verify(directory: dir, keyring: options.keyring)
                do throws(SightlineError) {
                    let opened = try Store(directory: dir, options: options)
                    defer { try? opened.close() }
                    let read = Set(EncryptionTests.keys(try opened.snapshot().allSightings()))
                    #expect(read.isSubset(of: original), "\(kind) round \(round): rows that were never stored (SIGHTLINE_TEST_SEED=\(seed))")
                    // Only the logs read a damaged record as a torn tail (the last one, for the alert log).
                    #expect(kind == log || kind == "ALERTS", "\(kind) round \(round): a damaged \(kind) opened")
                    #expect(!report.isSound || report.notes.contains { $0.message.contains("torn tail") },
                            "\(kind) round \(round): verify saw nothing: \(report)")
                    let alertsRead = try opened.alerts()
                    #expect(Array(alerts.prefix(alertsRead.count)) == alertsRead, "\(kind) round \(round): alerts that were never logged")
                } catch {
                    #expect(error.path == "\(dir)/\(kind)", "\(kind) round \(round): \(error)")
                }
            }
        }
        // Tampering that keeps the checksums right: a ciphertext byte of the log's first
        // record and of the alert log's first record changed, the CRC recomputed.
        for kind in [log, "ALERTS"] {
            let dir = "\(root)/tampered"
            removeTree(dir)
            try copyStore("\(root)/live", dir)
            var bytes = try readFile("\(dir)/\(kind)")
            let record = 48, length = Int(bytes[record]) | Int(bytes[record + 1]) << 8 | Int(bytes[record + 2]) << 16
            bytes[record + 16 + 12 + Int(g.next() % UInt64(length - 28))] ^= 0x01
            let crc = bytes.withUnsafeBytes { CRC32C.checksum(UnsafeRawBufferPointer(rebasing: $0[(record + 8)..<(record + 16 + length)])) }
            withUnsafeBytes(of: crc.littleEndian) { for i in 0..<4 { bytes[record + 4 + i] = $0[i] } }
            try writeFile("\(dir)/\(kind)", bytes)
            #expect(throws: SightlineError.self, "\(kind): a tampered record opened") { _ = try Store(directory: dir, options: options) }
            do { _ = try Store(directory: dir, options: options) } catch {
                #expect(error.path == "\(dir)/\(kind)" && "\(error)".contains("fails authentication"), "\(kind): \(error)")
            }
        }
    }

    /// A copy taken while rows were only in the write-ahead log: after a purge of one of
    /// their plates, the copy's log no longer opens (its key went with the deletion), and
    /// nothing of the plate is read from it; a copy taken before a compaction stays whole.
    /// The live store still opens its rules, holds and alerts after the purge.
    @Test func aPurgeShredsTheLogsOfEarlierCopiesAndLeavesTheLiveFilesOpen() throws {
        let root = temporaryDirectory("sealed-shred")
        defer { removeTree(root) }
        let seed = testSeed()
        let options = EncryptionTests.options(root, .aes256GCM)
        let (store, rows, _) = try Self.everyKind(root, seed: seed)
        let holds = store.legalHolds, rules = store.rules, alerts = try store.alerts()
        try copyStore("\(root)/s", "\(root)/before-compaction")
        _ = try store.compact(CompactionOptions(targetRows: 100_000))
        #expect(Set(EncryptionTests.keys(try ReadOnlyStore(directory: "\(root)/before-compaction", options: options)
            .snapshot(access: Self.reader).allSightings())) == Set(EncryptionTests.keys(rows)))
        try store.append(distinctBatches(1, rows: 300, seed: seed &+ 1)[0])  // rows in the log again
        try copyStore("\(root)/s", "\(root)/before-purge")
        let inLog = try LogReader.read("\(root)/s/\(try #require(try FileManager.default.contentsOfDirectory(atPath: "\(root)/s").first { $0.hasPrefix("log-") }))",
                                       fileSystem: PosixFileSystem(), dataKey: try Store.dataKeyLookup(directory: "\(root)/s", keyring: options.keyring))
        let plate = try #require(inLog.records.first?.batch[0].plate)
        let purged = try store.purge(plate, access: Self.reader)
        #expect(purged.rowsDeleted > 0)
        for copy in ["before-purge", "before-compaction"] {
            do throws(SightlineError) {
                let opened = try Store(directory: "\(root)/\(copy)", options: options)
                defer { try? opened.close() }
                #expect(!(try opened.snapshot().allSightings()).contains { $0.plate == plate }, "\(copy) still yields the purged plate (SIGHTLINE_TEST_SEED=\(seed))")
            } catch {
                #expect("\(error)".contains("not in the keyring"), "\(copy): \(error)")
            }
        }
        try store.close()
        let reopened = try Store(directory: "\(root)/s", options: options)
        defer { try? reopened.close() }
        let alertsAfter = try reopened.alerts()
        #expect(reopened.legalHolds == holds && reopened.rules == rules && alertsAfter == alerts)
        #expect(try ReadOnlyStore.legalHolds(directory: "\(root)/s", keyring: options.keyring) == holds)
        #expect(try RuleSet.stored(in: "\(root)/s", keyring: options.keyring) == rules)
        #expect(!(try reopened.snapshot().allSightings()).contains { $0.plate == plate })
    }
}

/// A purge of a hotlisted plate redacts its alerts: the alert log is rewritten under a new
/// key (the others kept, with their sequences and offsets), so an earlier copy's alert log no
/// longer opens, and a tail reading on from before the purge sees exactly the later alerts.
@Suite struct AlertRedactionTests {
    @Test func aPurgeRedactsThePlatesAlertsAndShredsTheOldAlertLog() throws {
        let root = temporaryDirectory("alert-redaction")
        defer { removeTree(root) }
        let seed = testSeed()
        let options = EncryptionTests.options(root, .aes256GCM)
        let (store, _, listed) = try SealedFilesTests.everyKind(root, seed: seed)
        defer { try? store.close() }
        let before = try store.alerts()
        let gone = listed[0]
        #expect(before.contains { $0.sighting.plate == gone } && before.contains { $0.sighting.plate != gone })
        var tail = AlertTail(directory: "\(root)/s", keyring: options.keyring)
        #expect(try tail.poll().count == before.count)
        try copyStore("\(root)/s", "\(root)/before-purge")
        let summary = try store.purge(gone, access: SealedFilesTests.reader, force: true)
        #expect(summary.rowsDeleted > 0)
        let after = try store.alerts()
        #expect(after == before.filter { $0.sighting.plate != gone }, "(SIGHTLINE_TEST_SEED=\(seed))")
        // The earlier copy's alert log was under the key the purge destroyed.
        do {
            _ = try AlertLogFormat.read("\(root)/before-purge/ALERTS", from: 0, after: 0, fileSystem: PosixFileSystem(),
                                        dataKey: try Store.dataKeyLookup(directory: "\(root)/before-purge", keyring: options.keyring))
            Issue.record("the earlier copy's alert log still opens")
        } catch {
            #expect("\(error)".contains("not in the keyring"), "\(error)")
        }
        // New alerts after the purge: the tail, reading on from its old offset, sees exactly them.
        let again = distinctBatches(1, rows: 40, seed: seed &+ 5)[0]
        var hit = again[0]
        hit.plate = listed[1]
        try store.append(SightingBatch([hit]))
        let newer = try store.alerts(after: before.last!.sequence)
        #expect(newer.count == 1 && newer[0].sighting.plate == listed[1])
        #expect(try tail.poll() == newer)
        try store.close()
        let reopened = try Store(directory: "\(root)/s", options: options)
        defer { try? reopened.close() }
        #expect(try reopened.alerts() == after + newer)
        #expect(Store.verify(directory: "\(root)/s", keyring: options.keyring).isSound)
    }
}

/// A store made before encryption existed (no `ENCRYPTION` file) opens and answers as before,
/// in clear, until a compaction converts it: then every segment is rewritten sealed, and at
/// the next open its rules, holds and alert log are sealed too — every answer unchanged.
@Suite struct SealingOldStoresTests {
    @Test func aCompactionSealsAStoreMadeBeforeEncryption() throws {
        let root = temporaryDirectory("seal-old")
        defer { removeTree(root) }
        let seed = testSeed()
        var old = EncryptionTests.options(root, .none)
        old.secretSource = .storeDirectory  // as stores were made before keyrings
        let dir = "\(root)/s"
        let batches = distinctBatches(3, rows: 900, seed: seed)
        do {
            let store = try Store(directory: dir, options: old)
            try store.addHotlistEntries([try HotlistEntry(plate: batches[0][2].plate.text, list: "stolen", reason: "old store")])
            _ = try store.placeLegalHold(LegalHold(caseNumber: "C-9", plate: batches[1][4].plate), by: SealedFilesTests.reader)
            for b in batches {
                try store.append(b)
                try store.flush()
            }
            try store.close()
        }
        try PosixFileSystem().remove("\(dir)/\(StoreEncryption.fileName)")  // made before the setting existed
        // Opened with today's defaults: in clear, as before, until a compaction.
        var options = EncryptionTests.options(root, .aes256GCM)
        options.secretSource = .storeDirectory
        let store = try Store(directory: dir, options: options)
        let rows = Set(EncryptionTests.keys(try store.snapshot().allSightings()))
        let holds = store.legalHolds, rules = store.rules, alerts = try store.alerts()
        #expect(!alerts.isEmpty)
        let rulesInClear = !SealedFile.isSealed(try readFile("\(dir)/RULES"))
        #expect(store.dataKeys == nil && rulesInClear)
        _ = try store.compact(CompactionOptions(targetRows: 100_000))
        #expect(try StoreEncryption.read(directory: dir, fileSystem: PosixFileSystem()) == .aes256GCM)
        for name in store.segmentNames { #expect(SealedFile.isSealed(try readFile("\(dir)/\(name)")), "\(name) still in clear") }
        #expect(Set(EncryptionTests.keys(try store.snapshot().allSightings())) == rows)
        try store.append(distinctBatches(1, rows: 50, seed: seed &+ 9)[0])  // into a log created sealed
        try store.close()
        let reopened = try Store(directory: dir, options: options)
        defer { try? reopened.close() }
        let alertsAfter = try reopened.alerts()
        #expect(reopened.legalHolds == holds && reopened.rules == rules && alertsAfter == alerts)
        #expect(rows.isSubset(of: Set(EncryptionTests.keys(try reopened.snapshot().allSightings()))))
        let plates = Set(batches.flatMap { $0.plates.map(\.text) }).filter { $0.count >= 5 }
        for (path, bytes) in try SealedFilesTests.files(under: dir) {
            let text = String(decoding: bytes, as: UTF8.self)
            #expect(!plates.contains { text.contains($0) }, "\(path) holds a plate after the conversion (SIGHTLINE_TEST_SEED=\(seed))")
        }
        #expect(Store.verify(directory: dir, secretSource: .storeDirectory, keyring: options.keyring).isSound)
        // A store made `--encryption none` is an explicit opt-out: compactions leave it in clear.
        let clear = try Store(directory: "\(root)/clear", options: EncryptionTests.options(root, .none))
        for b in batches {
            try clear.append(b)
            try clear.flush()
        }
        try clear.close()
        let reopenedClear = try Store(directory: "\(root)/clear", options: options)
        _ = try reopenedClear.compact(CompactionOptions(targetRows: 100_000))
        #expect(try StoreEncryption.read(directory: "\(root)/clear", fileSystem: PosixFileSystem()) == StoreEncryption.none)
        for name in reopenedClear.segmentNames { #expect(!SealedFile.isSealed(try readFile("\(root)/clear/\(name)"))) }
        try reopenedClear.close()
    }
}
