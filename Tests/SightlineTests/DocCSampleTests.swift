import Foundation
import Testing
import Sightline

// The DocC catalog's code samples (Sources/Sightline/Sightline.docc), verbatim between the
// markers and compiled and run here; Scripts/check-readme-samples.py fails the test run when
// an article and this file differ.

/// DocC sample "paging" (EmbeddingInAServer.md): one page of a query for an HTTP handler.
// DocC sample paging begin
/// The rows of one page of `query` after the page token `page` (nil: the first page), read on
/// behalf of `reader` and written with `write`, and the next page's token.
func writePage(of query: Query, in store: AsyncStore, after page: String?, for reader: AccessContext,
               write: ([Sighting]) async throws -> Void) async throws -> String? {
    let rows = try store.rows(query, after: page.flatMap(QueryPageToken.init), options: CursorOptions(batchRows: 500),
                              access: reader)
    for try await batch in rows { try await write(batch) }
    return rows.cursor.pageToken?.description
}
// DocC sample paging end

@Suite struct DocCSampleTests {
    /// The catalog's landing page sample.
    @Test func theLandingPageSampleRuns() throws {
        _ = testKeyring  // the samples' default keyring is the test process's
        // DocC sample landing begin
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("sightings-\(UUID())").path
        let store = try Store(directory: directory)
        var batch = SightingBatch()
        batch.append(try Sighting(plate: Plate("7ABC123"), time: StoreOptions.systemTime(),
                                  latitude: 37.7749, longitude: -122.4194, camera: 42, confidence: 93))
        try store.append(batch)                       // durable when it returns
        let reader = AccessContext(requester: "analyst", purpose: "stolen vehicle 24-118")   // every read states why
        let history = try store.snapshot(access: reader).run(Query(.history(Plate("7ABC123"))))
        try store.close()                             // releases the directory's lock
        // DocC sample landing end
        defer { try? FileManager.default.removeItem(atPath: directory) }
        #expect(history.rows.count == 1)
    }

    /// Getting started: a store with retention and compaction, then an area query.
    @Test func gettingStartedRuns() throws {
        _ = testKeyring
        // DocC sample options begin
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("sightings-\(UUID())").path
        var options = StoreOptions()
        options.retention = .seconds(90 * 86_400)          // rows older than 90 days are deleted
        options.compaction = CompactionOptions(partitioning: .day)
        let store = try Store(directory: directory, options: options)
        // DocC sample options end
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let now = StoreOptions.systemTime()
        var batch = SightingBatch()
        batch.append(try Sighting(plate: Plate("7ABC123"), time: now - 60_000, latitude: 37.7749, longitude: -122.4194, camera: 1, confidence: 90))
        try store.append(batch)
        // DocC sample query begin
        let reader = AccessContext(requester: "analyst", agency: "SFPD", purpose: "burglary 24-7781")
        let snapshot = store.snapshot(access: reader)   // reads are checked and audited
        let week = try TimeRange(from: StoreOptions.systemTime() - 7 * 86_400_000, to: StoreOptions.systemTime())
        let nearby = try snapshot.run(Query(.area(.circle(latitude: 37.7749, longitude: -122.4194, metres: 500)),
                                            time: week, filters: QueryFilters(minimumConfidence: 80, limit: 100)))
        for sighting in nearby.rows { print(sighting.plate, sighting.time) }
        // DocC sample query end
        #expect(nearby.rows.count == 1)
        try store.close()
    }

    /// Embedding in a server: the async store, and a page of rows.
    @Test func theServerSamplesRun() async throws {
        let directory = temporaryDirectory("docc-async")
        defer { removeTree(directory) }
        _ = testKeyring
        // DocC sample async begin
        let store = try await AsyncStore(directory: directory)
        var batch = SightingBatch()
        batch.append(try Sighting(plate: Plate("7ABC123"), time: StoreOptions.systemTime(),
                                  latitude: 37.7749, longitude: -122.4194, camera: 42, confidence: 93))
        try await store.append(batch)                       // durable when it returns
        let reader = AccessContext(requester: "dispatch-7", agency: "SFPD", purpose: "stolen vehicle report")
        let answer = try await store.run(Query(.history(Plate("7ABC123"))), access: reader)
        // DocC sample async end
        #expect(answer.rows.count == 1)
        var written: [Sighting] = []
        let next = try await writePage(of: Query(.history(Plate("7ABC123"))), in: store, after: nil, for: reader) { written += $0 }
        _ = next
        #expect(written.count == 1)
        try await store.close()
    }

    /// Exporting to a lake: a pseudonymous export, then its check.
    @Test func theLakeSampleRuns() throws {
        let root = temporaryDirectory("docc-lake")
        defer { removeTree(root) }
        let owner = try Store(directory: "\(root)/sightings")
        var rows = SightingBatch()
        rows.append(try Sighting(plate: Plate("7ABC123"), time: 1_717_228_800_000, latitude: 37.7749, longitude: -122.4194, camera: 42, confidence: 93))
        try owner.append(rows)
        try owner.flush()
        let storePath = "\(root)/sightings", lakePath = "\(root)/lake"
        // DocC sample lake begin
        let reader = try ReadOnlyStore(directory: storePath)
        let access = AccessContext(requester: "nightly-export", agency: "SFPD", purpose: "analytics lake")
        var options = LakeExportOptions()
        options.pseudonymous = true          // plate_key, no plate or image
        let summary = try reader.exportLake(to: lakePath, options: options, access: access)
        print(summary.partitionsWritten, summary.partitionsRemoved)
        let report = try reader.checkLake(lakePath, access: access)
        assert(report.isInStep)
        // DocC sample lake end
        #expect(summary.partitionsWritten == ["2024-06-01"] && report.isInStep)
        try owner.close()
    }
}
