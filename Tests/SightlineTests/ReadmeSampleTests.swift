import Foundation
import Logging
import ServiceLifecycle
import Testing
import Sightline
import SightlineService

// The README's code samples, verbatim between the markers (Scripts/check-readme-samples.py
// fails the test run when the README and this file differ), compiled and run here so they
// cannot drift from the API.

/// README sample 2 (a server's page handler and its service group), compiled as written.
// README sample 2 begin
/// One page of an area query for an HTTP handler, read on behalf of the request's `reader`
/// (who, for which agency, why: checked and audited): its rows, in order, and the next page's token.
func areaPage(_ store: AsyncStore, page: String?, for reader: AccessContext) async throws -> (rows: [Sighting], next: String?) {
    let query = try Query(.area(.circle(latitude: 37.7749, longitude: -122.4194, metres: 2_500)))
    let rows = try store.rows(query, after: page.flatMap(QueryPageToken.init),
                              options: CursorOptions(batchRows: 500, deadline: .now + .seconds(2)), access: reader)
    var found: [Sighting] = []
    for try await batch in rows { found += batch }                  // cancelling the task stops it
    return (found, rows.cursor.pageToken?.description)             // stable across appends and compactions
}

/// The store beside the HTTP server: flushes on an interval; on SIGTERM flushes and closes it.
func serve(_ store: AsyncStore, beside http: some Service, logger: Logger) async throws {
    let group = ServiceGroup(services: [StoreService(store: store), http],
                             gracefulShutdownSignals: [.sigterm], logger: logger)
    try await group.run()
}
// README sample 2 end

@Suite struct ReadmeSampleTests {
    /// README sample 1 (the library on its own), run as written; then its answers are checked.
    @Test func theLibrarySampleRunsAndFindsItsRows() throws {
        _ = testKeyring  // the sample's default keyring is the test process's
        // README sample 1 begin
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("sightings-\(UUID())").path
        var options = StoreOptions()
        options.retention = .seconds(90 * 86_400)                    // deleted at the deadline
        options.compaction = CompactionOptions(partitioning: .day)   // background compaction
        let store = try Store(directory: directory, options: options)   // owner-only; its key in the keyring

        let now = StoreOptions.systemTime()                             // epoch milliseconds
        var batch = SightingBatch()
        batch.append(try Sighting(plate: Plate("7abc-123"), time: now - 3_600_000,
                                  latitude: 37.7749, longitude: -122.4194, camera: 42, confidence: 93,
                                  region: Region("CA")))
        try store.append(batch)                                         // durable when it returns

        // A CSV or NDJSON file (or descriptor, or async stream of chunks), the way `sightline ingest` loads it.
        let feed = directory + ".csv"
        try "plate,time,lat,lon,camera,confidence\nXYZ987,\(now),37.7751,-122.4190,7,88\nbad,line\n"
            .write(toFile: feed, atomically: true, encoding: .utf8)
        let loaded = try store.ingest(path: feed, rejected: { print("skipped \($0)") })   // feed.csv:3: …

        let reader = AccessContext(requester: "dispatch-7", agency: "SFPD", purpose: "stolen vehicle report")
        let snapshot = store.snapshot(access: reader)                  // segments + memory, frozen; reads audited
        let history = try snapshot.run(Query(.history(Plate("7ABC123"))))
        let nearby = try snapshot.run(Query(.area(.circle(latitude: 37.7749, longitude: -122.4194, metres: 500)),
                                            time: TimeRange(from: now - 86_400_000, to: now + 1),
                                            filters: QueryFilters(minimumConfidence: 80, limit: 100)))
        print(history.rows.count, nearby.rows.count, loaded.stored)     // 1 2 1
        print(try snapshot.plan(Query(.history(Plate("7ABC123")))).segments.map { $0.chosen?.path })
        try store.close()                                               // releases the LOCK
        // README sample 1 end
        defer { try? FileManager.default.removeItem(atPath: directory); try? FileManager.default.removeItem(atPath: feed) }
        #expect(history.rows.count == 1 && history.rows[0].camera == 42)
        #expect(nearby.rows.count == 2 && loaded.stored == 1 && loaded.rejected == 1)
    }

    /// README sample 2 runs: the handler pages an area through an `AsyncStore`.
    @Test func theServerSampleAnswersAPage() async throws {
        let directory = temporaryDirectory("readme-async")
        defer { removeTree(directory) }
        _ = testKeyring
        let store = try await AsyncStore(directory: directory)
        var batch = SightingBatch()
        for i in 0..<3 {
            batch.append(try Sighting(plate: Plate("PAGE\(i)"), time: StoreOptions.systemTime() - Int64(i), latitude: 37.7749,
                                      longitude: -122.4194, camera: 1, confidence: 90))
        }
        try await store.append(batch)
        let (rows, _) = try await areaPage(store, page: nil, for: AccessContext(requester: "test", purpose: "test"))
        #expect(rows.count == 3)
        try await store.close()
    }
}
