import ArgumentParser
import Foundation
@_spi(Benchmarks) import Sightline
import SightlineCommandLine
import SightlineWorkload

/// Measures ingest through the library: generated ALPR-like batches appended to a store,
/// generation excluded from the append time; reports peak RSS (bounded-memory check).
/// With `--reads-per-second`, a reader thread takes snapshots and runs histories of
/// recently appended plates meanwhile, as a service answering queries while it ingests.
struct IngestBenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ingest-bench",
        abstract: "Append generated sightings to a store through the library; report rows/s and peak RSS."
    )

    @Argument(help: "Store directory (created; should be new).") var store: String
    @Option(help: "Sightings to append.") var rows = 10_000_000
    @Option(help: "Rows per append.") var batchRows = 100_000
    @OptionGroup var storeArguments: StoreArguments
    @Option(help: "Snapshots a second, each running one history of a recently appended plate, while appending (0: none).")
    var readsPerSecond = 0
    @Flag(help: "The reader opens the store read-only, as another service would, instead of using the owner's snapshots.")
    var readOnlyReader = false
    @Option(help: "Write the figures as JSON here.") var json: String?
    @Option(help: "Load this CSV or NDJSON file through the library's pipeline (Store.ingest(path:)), as an embedding program would, instead of generated batches.")
    var file: String?

    func run() throws {
        let options = try storeArguments.storeOptions()
        if let file { return try ingestFile(file, options: options) }
        do {
            let target = try Store(directory: store, options: options)
            let clock = ContinuousClock()
            var appendTime = Duration.zero
            let start = clock.now
            var done = 0, batchNumber: UInt64 = 0
            var progress = TerminalProgress(enabled: isatty(2) != 0)
            let access = AccessContext(requester: "ingest-bench", purpose: "benchmark")
            let readOnly = readOnlyReader ? try ReadOnlyStore(directory: store, options: options) : nil
            let snapshot: @Sendable () throws -> StoreSnapshot = {
                // Unaudited: the engine's cost alone (an audited read adds the audit log's fsync).
                try (readOnly.map { try $0.snapshot(access: access) } ?? target.snapshot(access: access)).unaudited
            }
            let reader = readsPerSecond > 0 ? ConcurrentHistories(snapshot: snapshot, perSecond: readsPerSecond) : nil
            while done < rows {
                // A live feed: one city throughout, each batch a day of reads starting an
                // hour after the previous batch's (so late rows overlap recent segments only).
                let batch = ALPRWorkload.liveFeedBatch(number: batchNumber, rows: min(batchRows, rows - done))
                let t0 = clock.now
                try target.append(batch)
                appendTime += clock.now - t0
                reader?.offer(batch.plates[batch.count / 2])
                done += batch.count
                batchNumber += 1
                progress.update(rows: done, bytes: 0, total: nil)
            }
            let t0 = clock.now
            try target.flush()
            appendTime += clock.now - t0
            let reads = reader?.stop()
            try target.close()
            progress.finish()
            var usage = rusage()
            getrusage(RUSAGE_SELF.rawValue, &usage)
            print("appended \(done) rows in \(target.segmentNames.count) segments")
            print("ingest (append + flush, generation excluded): \(formatRate(done, appendTime))")
            print("overall, with generation: \(formatRate(done, clock.now - start))")
            print("peak RSS: \(formatBytes(Int(usage.ru_maxrss) * 1024))")
            if let reads {
                print(String(format: "concurrent histories: %d, snapshot + query p50 %.2f ms, p99 %.2f ms", reads.count, reads.p50, reads.p99))
            }
            if let json {
                let report: [String: Any] = ["rows": done, "segments": target.segmentNames.count,
                                             "appendRowsPerSecond": Double(done) / seconds(appendTime),
                                             "overallRowsPerSecond": Double(done) / seconds(clock.now - start),
                                             "peakRSSBytes": Int(usage.ru_maxrss) * 1024,
                                             "concurrentHistories": reads?.count ?? 0,
                                             "concurrentHistoryP50Ms": reads?.p50 ?? 0, "concurrentHistoryP99Ms": reads?.p99 ?? 0]
                try JSONSerialization.data(withJSONObject: report, options: [.prettyPrinted, .sortedKeys]).write(to: URL(fileURLWithPath: json))
            }
        } catch {
            throw CommandFailure(error)
        }
    }

    /// `--file`: the file through `Store.ingest(path:)`, flushed and closed; the rate over the
    /// whole call, as `sightline ingest` reports its own.
    private func ingestFile(_ file: String, options: StoreOptions) throws {
        let clock = ContinuousClock()
        let start = clock.now
        do {
            let target = try Store(directory: store, options: options)
            var progress = TerminalProgress(enabled: isatty(2) != 0)
            let summary = try target.ingest(path: file, options: IngestOptions(batchRows: batchRows)) { _ in } progress: {
                progress.update(rows: $0.rowsRead, bytes: $0.bytesRead, total: $0.totalBytes)
            }
            try target.flush()
            try target.close()
            progress.finish()
            let elapsed = clock.now - start
            print("Store.ingest(path:): stored \(summary.stored) rows, skipped \(summary.duplicates), rejected \(summary.rejected), "
                  + "in \(String(format: "%.2f", seconds(elapsed))) s (\(formatRate(summary.rowsRead, elapsed)))")
        } catch {
            throw CommandFailure(error)
        }
    }

}

/// A reader beside the appends: `perSecond` times a second, a snapshot and the history of
/// the latest plate offered, timed together.
private final class ConcurrentHistories: @unchecked Sendable {
    private let lock = NSLock()
    private var plate: Plate?
    private var running = true
    private var latencies: [Double] = []
    private let done = DispatchSemaphore(value: 0)

    init(snapshot: @escaping @Sendable () throws -> StoreSnapshot, perSecond: Int) {
        let pause = 1.0 / Double(perSecond)
        Thread.detachNewThread { [self] in
            let clock = ContinuousClock()
            while true {
                lock.lock(); let go = running, next = plate; lock.unlock()
                guard go else { break }
                if let next, let query = try? Query(.history(next)) {
                    let t0 = clock.now
                    _ = try? snapshot().run(query)
                    let ms = seconds(clock.now - t0) * 1000
                    lock.lock(); latencies.append(ms); lock.unlock()
                }
                Thread.sleep(forTimeInterval: pause)
            }
            done.signal()
        }
    }

    func offer(_ p: Plate) { lock.lock(); plate = p; lock.unlock() }

    /// Stops the reader; how many histories ran and their p50 and p99 in milliseconds.
    func stop() -> (count: Int, p50: Double, p99: Double) {
        lock.lock(); running = false; lock.unlock()
        done.wait()
        let sorted = latencies.sorted()
        guard !sorted.isEmpty else { return (0, 0, 0) }
        return (sorted.count, sorted[sorted.count / 2], sorted[min(sorted.count - 1, sorted.count * 99 / 100)])
    }
}
