import Testing
import Foundation
import MetricsTestKit
import InMemoryTracing
import Tracing
import ServiceLifecycle
import ServiceLifecycleTestKit
import Logging
@_spi(Benchmarks) @testable import Sightline
@testable import SightlineService
@testable import SightlineWorkload

/// The async API, the lifecycle service and the metrics, as a server embeds them.
@Suite struct EmbeddingTests {
    @Test func theAsyncStoreAppendsQueriesAndStreamsLikeTheBlockingOne() async throws {
        let dir = temporaryDirectory("async")
        defer { removeTree(dir) }
        let store = try await AsyncStore(directory: dir, options: storeOptions(bufferRows: 500))
        let batches = distinctBatches(4, rows: 300, seed: 61)
        // Appends from concurrent tasks: group commit, each acknowledged once durable.
        try await withThrowingTaskGroup(of: AppendResult.self) { group in
            for b in batches { group.addTask { try await store.append(b) } }
            var stored = 0
            for try await r in group { stored += r.stored }
            #expect(stored == batches.reduce(0) { $0 + $1.count })
        }
        try await store.flush()
        let all = batches.flatMap(\.sightings)
        let query = try Query(.area(.box(south: -90, west: -180, north: 90, east: 180)))
        let want = try bruteForce(store.snapshot(), query)
        #expect(want.count == all.count)
        #expect(try await store.run(query).rows == want)
        #expect(try await store.count(query).count == want.count)
        var streamed: [Sighting] = []
        for try await batch in try store.rows(query, options: CursorOptions(batchRows: 97)) { streamed += batch }
        #expect(streamed == want)
        let plate = batches[0].plates[0]
        let summary = try await store.purge(plate)
        #expect(summary.rowsDeleted == all.filter { $0.plate == plate }.count)
        #expect(try await store.statistics().segmentRows == all.count - summary.rowsDeleted)
        try await store.close()
        #expect(throws: SightlineError.storeClosed(path: dir)) { try store.store.flush() }
    }

    /// Cancelling the task that reads the rows stops the cursor between blocks.
    @Test func cancellingTheReadingTaskStopsTheCursor() async throws {
        let dir = temporaryDirectory("async-cancel")
        defer { removeTree(dir) }
        let store = try await AsyncStore(directory: dir, options: storeOptions())
        try await store.append(distinctBatches(1, rows: 2000, seed: 62)[0])
        try await store.flush()
        let rows = try store.rows(try Query(.area(.box(south: -90, west: -180, north: 90, east: 180))), options: CursorOptions(batchRows: 10))
        let task = Task { () async throws -> Int in
            var n = 0
            for try await batch in rows {
                n += batch.count
                if n == 10 { withUnsafeCurrentTask { $0?.cancel() } }
            }
            return n
        }
        await #expect(throws: SightlineError.cancelled) { try await task.value }
        #expect(rows.cursor.rowsReturned == 10)
        try await store.close()
    }

    /// The service flushes on its interval and, on graceful shutdown, flushes and closes
    /// the store (the lock is free afterwards).
    @Test(.timeLimit(.minutes(1))) func theServiceFlushesAndClosesTheStoreOnGracefulShutdown() async throws {
        let dir = temporaryDirectory("service")
        defer { removeTree(dir) }
        let store = try await AsyncStore(directory: dir, options: storeOptions(bufferRows: 1_000_000))
        try await store.append(distinctBatches(1, rows: 100, seed: 63)[0])
        let service = StoreService(store: store, flushInterval: .milliseconds(20))
        try await testGracefulShutdown { trigger in
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { try await service.run() }
                // The interval flush moves the buffered rows into a segment.
                while store.store.segmentNames.isEmpty { try await Task.sleep(for: .milliseconds(5)) }
                try await store.append(distinctBatches(1, rows: 50, seed: 64)[0])
                trigger.triggerGracefulShutdown()
                try await group.waitForAll()
            }
        }
        // Closed, flushed, and the lock released: a new owner opens it with every row in segments.
        #expect(throws: SightlineError.storeClosed(path: dir)) { try store.store.flush() }
        let reopened = try Store(directory: dir, options: storeOptions())
        #expect(try reopened.statistics().segmentRows == 150)
        try reopened.close()
    }

    /// Appends, duplicates, flushes, rewrites, queries and the shape are recorded through the
    /// factory the options name (a service's backend), with the store as a dimension.
    @Test func metricsRecordAppendsFlushesRewritesAndQueries() throws {
        let dir = temporaryDirectory("metrics")
        defer { removeTree(dir) }
        let metrics = TestMetrics()
        var options = storeOptions(bufferRows: 1_000_000)
        options.metricsFactory = metrics
        let store = try Store(directory: dir, options: options)
        let batch = distinctBatches(1, rows: 400, seed: 65)[0]
        try store.append(batch)
        try store.append(batch)  // all duplicates
        try store.flush()
        let d = [("store", dir)]
        #expect(try metrics.expectCounter("sightline_rows_appended_total", d).totalValue == 400)
        #expect(try metrics.expectCounter("sightline_rows_duplicate_total", d).totalValue == 400)
        #expect(try metrics.expectTimer("sightline_flush_duration_seconds", d).values.count == 1)
        #expect(try metrics.expectGauge("sightline_segments", d).lastValue == 1)
        #expect(try metrics.expectGauge("sightline_segment_bytes", d).lastValue == Double(store.statistics().bytes))
        let snapshot = store.snapshot()
        _ = try snapshot.run(Query(.history(batch.plates[0])))
        _ = try snapshot.count(Query(.area(.circle(latitude: 0, longitude: 0, metres: 1000))))
        #expect(try metrics.expectTimer("sightline_query_duration_seconds", d + [("kind", "history")]).values.count == 1)
        #expect(try metrics.expectTimer("sightline_query_duration_seconds", d + [("kind", "area")]).values.count == 1)
        #expect(try metrics.expectCounter("sightline_query_blocks_read_total", d).totalValue > 0)
        try store.purge(batch.plates[0])
        #expect(try metrics.expectTimer("sightline_rewrite_duration_seconds", d).values.count == 1)
        #expect(try metrics.expectCounter("sightline_rows_deleted_total", d).totalValue
                == Int64(batch.sightings.filter { $0.plate == batch.plates[0] }.count))
        try store.close()
    }

    /// Flushes, rewrites and queries run inside spans of the tracer the service bootstrapped
    /// (the only test that bootstraps the process-wide tracer).
    @Test func flushesRewritesAndQueriesAreTraced() throws {
        let tracer = InMemoryTracer()
        InstrumentationSystem.bootstrap(tracer)
        let dir = temporaryDirectory("tracing")
        defer { removeTree(dir) }
        let store = try Store(directory: dir, options: storeOptions())
        let batch = distinctBatches(1, rows: 100, seed: 66)[0]
        try store.append(batch)
        try store.flush()
        _ = try store.snapshot().run(Query(.history(batch.plates[0])))
        try store.purge(batch.plates[0])
        try store.close()
        let names = Set(tracer.finishedSpans.map(\.operationName))
        #expect(names.isSuperset(of: ["sightline.flush", "sightline.query", "sightline.rewrite"]), "\(names)")
        // The tracer is process-wide: other suites' queries run concurrently, so look for this one's.
        #expect(tracer.finishedSpans.contains {
            $0.operationName == "sightline.query" && $0.attributes["sightline.query.kind"]?.toSpanAttribute() == "history"
        })
    }
}
