import Foundation
import Testing
@testable import Sightline
@testable import SightlineWorkload

/// Segments sealed at rest: a new store's segments hold no plate as text and answer exactly
/// what a store in clear answers; a damaged sealed segment is an error naming it, never other
/// rows; a deletion destroys the keys of what it replaced, so an earlier copy of the store
/// yields none of the deleted rows, while a compaction leaves earlier copies whole; a key
/// rotation changes no answer.
@Suite struct EncryptionTests {
    static let reader = AccessContext(requester: "tester", purpose: "encryption test")

    static func options(_ root: String, _ encryption: StoreEncryption) -> StoreOptions {
        var o = storeOptions()
        o.keyring = Keyring(directory: "\(root)/ring")
        o.encryption = encryption
        return o
    }

    /// Four segments of random ALPR-like rows; returns the rows.
    static func fill(_ store: Store, seed: UInt64) throws -> [SightingBatch] {
        let batches = distinctBatches(4, rows: 1500, seed: seed)
        for b in batches {
            try store.append(b)
            try store.flush()
        }
        return batches
    }

    /// Every row of the store at `dir` opened read-only, or the error that stopped it.
    static func rows(of dir: String, _ options: StoreOptions) -> Result<[Sighting], SightlineError> {
        do throws(SightlineError) {
            let store = try ReadOnlyStore(directory: dir, options: options)
            return .success(try store.snapshot(access: reader).allSightings())
        } catch {
            return .failure(error)
        }
    }

    static func keys(_ rows: [Sighting]) -> [RowKey] {
        rows.map { RowKey(plate: $0.plate, time: $0.time, camera: $0.camera) }.sorted { ($0.plate, $0.time, $0.camera) < ($1.plate, $1.time, $1.camera) }
    }

    @Test func sealedSegmentsHoldNoPlateAndAnswerAsInClear() throws {
        let root = temporaryDirectory("encryption")
        defer { removeTree(root) }
        let seed = testSeed()
        let sealed = try Store(directory: "\(root)/sealed", options: Self.options(root, .aes256GCM))
        let clear = try Store(directory: "\(root)/clear", options: Self.options(root, .none))
        let batches = try Self.fill(sealed, seed: seed)
        _ = try Self.fill(clear, seed: seed)
        let fs = PosixFileSystem()
        let plates = Set(batches.flatMap { $0.plates.map(\.text) })
        for name in sealed.segmentNames {
            let bytes = try readFile("\(root)/sealed/\(name)")
            #expect(Array(bytes.prefix(8)) == SealedFile.magic, "\(name) is not sealed")
            let text = String(decoding: bytes, as: UTF8.self)
            let found = plates.filter { $0.count >= 4 && text.contains($0) }
            #expect(found.isEmpty, "\(name) holds plates as text: \(found.prefix(5)) (SIGHTLINE_TEST_SEED=\(seed))")
        }
        for name in clear.segmentNames { #expect(Array(try readFile("\(root)/clear/\(name)").prefix(8)) != SealedFile.magic) }
        #expect(try StoreEncryption.read(directory: "\(root)/sealed", fileSystem: fs) == .aes256GCM)
        #expect(try StoreEncryption.read(directory: "\(root)/clear", fileSystem: fs) == .none)
        // The same answers, query by query.
        var g = SplitMix64(seed: seed)
        for _ in 0..<20 {
            let batch = batches[Int(g.next() % 4)].sightings
            let row = batch[Int(g.next() % UInt64(batch.count))]
            let history = try Query(.history(row.plate))
            #expect(try sealed.snapshot().run(history).rows == clear.snapshot().run(history).rows)
            let area = try Query(.area(.circle(latitude: Double(row.latitudeE7) / 1e7, longitude: Double(row.longitudeE7) / 1e7, metres: 800)))
            #expect(try sealed.snapshot().run(area).rows == clear.snapshot().run(area).rows, "(SIGHTLINE_TEST_SEED=\(seed))")
        }
        #expect(Self.keys(try sealed.snapshot().allSightings()) == Self.keys(try clear.snapshot().allSightings()))
        // Rotation: new key-encryption key, same answers after a reopen.
        try sealed.close()
        let keysBefore = try Keyring(directory: "\(root)/ring").status(ofStoreAt: "\(root)/sealed").dataKeyIDs
        let rotation = try Keyring(directory: "\(root)/ring").rotateKeys(ofStoreAt: "\(root)/sealed")
        #expect(rotation.rewrapped == keysBefore.count && rotation.rewrapped >= 4)  // segments, logs, the alert log
        let reopened = try Store(directory: "\(root)/sealed", options: Self.options(root, .aes256GCM))
        #expect(Self.keys(try reopened.snapshot().allSightings()) == Self.keys(try clear.snapshot().allSightings()))
        #expect(Store.verify(directory: "\(root)/sealed", keyring: Keyring(directory: "\(root)/ring")).isSound)
        try reopened.close()
        try clear.close()
    }

    /// Bytes flipped at random places of a sealed segment: the store refuses to open it or a
    /// read fails, naming the segment — or the rows read are exactly the original ones.
    @Test func aDamagedSealedSegmentIsReportedNeverMisread() throws {
        let root = temporaryDirectory("encryption-damage")
        defer { removeTree(root) }
        let seed = testSeed()
        var g = SplitMix64(seed: seed)
        let store = try Store(directory: "\(root)/s", options: Self.options(root, .aes256GCM))
        let batches = distinctBatches(1, rows: 3000, seed: seed)
        try store.append(batches[0])
        try store.flush()
        let segment = store.segmentNames[0]
        try store.close()
        let want = Self.keys(batches[0].sightings)
        let good = try readFile("\(root)/s/\(segment)")
        for round in 0..<40 {
            let dir = "\(root)/copy"
            removeTree(dir)
            try copyStore("\(root)/s", dir)
            var bytes = good
            bytes[Int(g.next() % UInt64(bytes.count))] ^= UInt8(1 << (g.next() % 8))
            try writeFile("\(dir)/\(segment)", bytes)
            switch Self.rows(of: dir, Self.options(root, .aes256GCM)) {
            case .success(let rows):
                #expect(Self.keys(rows) == want, "round \(round): other rows read (SIGHTLINE_TEST_SEED=\(seed))")
            case .failure(let error):
                #expect(error.path == "\(dir)/\(segment)", "round \(round): \(error)")
            }
        }
    }

    /// A copy taken before a purge (a backup, a snapshot) opened with the keyring as it is
    /// afterwards yields none of the purged rows: the segments the purge replaced no longer
    /// open. A copy taken before a compaction stays whole.
    @Test func aDeletionShredsEarlierCopiesAndACompactionDoesNot() throws {
        let root = temporaryDirectory("encryption-shred")
        defer { removeTree(root) }
        let seed = testSeed()
        let options = Self.options(root, .aes256GCM)
        let store = try Store(directory: "\(root)/s", options: options)
        let batches = try Self.fill(store, seed: seed)
        let all = batches.flatMap(\.sightings)
        try copyStore("\(root)/s", "\(root)/before-compaction")
        let compaction = try store.compact(CompactionOptions(targetRows: 100_000))
        #expect(!compaction.segmentsRemoved.isEmpty, "the compaction replaced nothing: the test would prove nothing")
        // The copy from before the compaction still opens and answers whole.
        let compactedAway = try ReadOnlyStore(directory: "\(root)/before-compaction", options: options)
        #expect(Self.keys(try compactedAway.snapshot(access: Self.reader).allSightings()) == Self.keys(all))
        try copyStore("\(root)/s", "\(root)/before-purge")
        let plate = all[0].plate
        let purged = try store.purge(plate, access: Self.reader)
        #expect(purged.rowsDeleted == all.filter { $0.plate == plate }.count && purged.rowsDeleted > 0)
        #expect(!FileManager.default.fileExists(atPath: "\(root)/s/\(Store.shredPendingFileName)"))
        // The live store: the rest, whole.
        #expect(Self.keys(try store.snapshot().allSightings()) == Self.keys(all.filter { $0.plate != plate }))
        // Both earlier copies: what held the plate no longer opens — an error naming a segment
        // whose key is gone — and nothing of the plate is read.
        for copy in ["before-purge", "before-compaction"] {
            switch Self.rows(of: "\(root)/\(copy)", options) {
            case .success(let rows):
                #expect(!rows.contains { $0.plate == plate }, "\(copy) still yields the purged plate (SIGHTLINE_TEST_SEED=\(seed))")
            case .failure(let error):
                #expect("\(error)".contains("not in the keyring") && error.path?.hasSuffix(".sls") == true, "\(copy): \(error)")
            }
        }
        try store.close()
    }
}
