import Glibc
import Testing
@_spi(Benchmarks) @testable import Sightline
@testable import SightlineWorkload

/// A small tmpfs mounted over a test directory: a real file system that fills up (issue 15).
/// Needs root and a kernel that lets this process mount; elsewhere the tests are skipped.
enum SmallFileSystem {
    /// Whether a tmpfs can be mounted here (probed once).
    static let available: Bool = {
        let dir = temporaryDirectory("tmpfs-probe")
        guard Glibc.mount("tmpfs", dir, "tmpfs", 0, "size=1m") == 0 else { return false }
        umount2(dir, Int32(MNT_DETACH))
        return true
    }()

    static func mount(_ dir: String, megabytes: Int) throws {
        guard Glibc.mount("tmpfs", dir, "tmpfs", 0, "size=\(megabytes)m") == 0 else { throw SightlineError.io(operation: "mount", path: dir, errno: errno) }
    }

    /// Grows (or shrinks) the mounted file system: space freed, as an operator would.
    static func resize(_ dir: String, megabytes: Int) throws {
        guard Glibc.mount("tmpfs", dir, "tmpfs", UInt(MS_REMOUNT), "size=\(megabytes)m") == 0 else { throw SightlineError.io(operation: "remount", path: dir, errno: errno) }
    }

    static func unmount(_ dir: String) { umount2(dir, Int32(MNT_DETACH)) }

    /// Fills the file system with `path` until a write fails; returns the bytes written.
    @discardableResult
    static func fill(_ path: String) -> Int {
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        defer { close(fd) }
        let chunk = [UInt8](repeating: 0xA5, count: 16_384)
        var total = 0
        while true {
            let n = chunk.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
            if n <= 0 { return total }
            total += n
        }
    }
}

/// The store on a file system that fills up: the error is reported and names the cause,
/// every acknowledged row stays, and the store works again once space is freed.
@Suite(.serialized, .enabled(if: SmallFileSystem.available, "needs root and permission to mount a tmpfs"))
struct FullDiskTests {
    static func isNoSpace(_ error: any Error) -> Bool {
        if case SightlineError.io(_, _, let e) = error { return e == ENOSPC }
        return "\(error)".contains("No space left")
    }

    static func ids(_ rows: [Sighting]) -> Set<RowKey> { Set(rows.map { RowKey(plate: $0.plate, time: $0.time, camera: $0.camera) }) }

    @Test func ingestIntoAFullDiskKeepsEveryAcknowledgedRowAndWorksOnceSpaceIsFreed() throws {
        let dir = temporaryDirectory("full-disk-ingest")
        try SmallFileSystem.mount(dir, megabytes: 3)
        defer { SmallFileSystem.unmount(dir) }
        let path = "\(dir)/store"
        let options = storeOptions(bufferRows: 12_000)
        var acknowledged: [Sighting] = []
        var failed: [Sighting] = []
        var failure: (any Error)?
        do {
            let store = try Store(directory: path, options: options)
            for n in 0..<2_000 {
                var c = ALPRWorkload.Configuration()
                c.seed = UInt64(n + 1)
                let batch = ALPRWorkload(c).generate(rows: 1_500)
                do {
                    try store.append(batch)
                    acknowledged += batch.sightings
                } catch {
                    failure = error
                    failed = batch.sightings
                    break
                }
            }
            // Further writes fail the same way while the disk is full; nothing is corrupted by trying.
            var c = ALPRWorkload.Configuration()
            c.seed = 99_999
            #expect(throws: (any Error).self) { try store.append(ALPRWorkload(c).generate(rows: 1_500)) }
            try? store.close()
        }
        let error = try #require(failure, "3 MiB never filled up")
        #expect(Self.isNoSpace(error), "the error names the cause: \(error)")
        #expect(acknowledged.count >= 6_000, "the disk filled after \(acknowledged.count) rows")

        // Space freed: the store opens, holds every acknowledged row once, and takes more.
        try SmallFileSystem.resize(dir, megabytes: 64)
        let store = try Store(directory: path, options: options)
        let stored = try store.snapshot().allSightings()
        let storedIDs = Self.ids(stored)
        #expect(storedIDs.count == stored.count, "a row is stored twice")
        #expect(Self.ids(acknowledged).isSubset(of: storedIDs), "acknowledged rows lost")
        #expect(storedIDs.isSubset(of: Self.ids(acknowledged + failed)), "rows that were never appended")
        var c = ALPRWorkload.Configuration()
        c.seed = 77_777
        let more = ALPRWorkload(c).generate(rows: 5_000)
        try store.append(more)
        try store.flush()
        let after = Self.ids(try store.snapshot().allSightings())
        #expect(after == storedIDs.union(Self.ids(more.sightings)))
        try store.close()
    }

    @Test func compactionIntoAFullDiskFailsCleanlyAndSucceedsOnceSpaceIsFreed() throws {
        let dir = temporaryDirectory("full-disk-compaction")
        try SmallFileSystem.mount(dir, megabytes: 24)
        defer { SmallFileSystem.unmount(dir) }
        let path = "\(dir)/store"
        let store = try Store(directory: path, options: storeOptions(bufferRows: 15_000))
        var all: [Sighting] = []
        for n in 0..<8 {
            var c = ALPRWorkload.Configuration()
            c.seed = UInt64(n + 10)
            c.days = 3  // one or two week partitions: the compaction merges segments
            let batch = ALPRWorkload(c).generate(rows: 15_000)
            try store.append(batch)
            all += batch.sightings
        }
        try store.flush()
        let segmentsBefore = try store.statistics().segments
        #expect(segmentsBefore >= 3)
        let filler = "\(dir)/filler"
        SmallFileSystem.fill(filler)
        #expect(throws: (any Error).self) { _ = try store.compact(CompactionOptions(partitioning: .week, targetRows: 1_000_000)) }
        do {
            _ = try store.compact(CompactionOptions(partitioning: .week, targetRows: 1_000_000))
        } catch {
            #expect(Self.isNoSpace(error), "the error names the cause: \(error)")
        }
        // Space freed (reads are audited, and an audit record needs room too): nothing was
        // lost, nothing half-written is in the view — the old segments still answer.
        unlink(filler)
        #expect(Self.ids(try store.snapshot().allSightings()) == Self.ids(all))
        #expect(try store.statistics().segments == segmentsBefore)
        let summary = try store.compact(CompactionOptions(partitioning: .week, targetRows: 1_000_000))
        #expect(summary.rowsWritten == Self.ids(all).count)
        #expect(try store.statistics().segments <= 2 && segmentsBefore > 2)
        #expect(Self.ids(try store.snapshot().allSightings()) == Self.ids(all))
        try store.close()
        // And from a fresh open: the manifest on disk agrees.
        let reopened = try Store(directory: path, options: storeOptions())
        #expect(Self.ids(try reopened.snapshot().allSightings()) == Self.ids(all))
        try reopened.close()
    }
}
