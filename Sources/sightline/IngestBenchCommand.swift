import ArgumentParser
import Foundation
import Sightline
import SightlineWorkload

/// Measures ingest through the library: generated ALPR-like batches appended to a store,
/// generation excluded from the append time; reports peak RSS (bounded-memory check).
struct IngestBenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ingest-bench",
        abstract: "Append generated sightings to a store through the library; report rows/s and peak RSS."
    )

    @Argument(help: "Store directory (created; should be new).") var store: String
    @Option(help: "Sightings to append.") var rows = 10_000_000
    @Option(help: "Rows per append.") var batchRows = 100_000
    @OptionGroup var storeArguments: StoreArguments
    @Option(help: "Write the figures as JSON here.") var json: String?

    func run() throws {
        let options = try storeArguments.storeOptions()
        do {
            let target = try Store(directory: store, options: options)
            let clock = ContinuousClock()
            var appendTime = Duration.zero
            let start = clock.now
            var done = 0, batchNumber: UInt64 = 0
            var progress = Progress(enabled: isatty(2) != 0)
            while done < rows {
                // A live feed: one city throughout, each batch a day of reads starting an
                // hour after the previous batch's (so late rows overlap recent segments only).
                let batch = ALPRWorkload.liveFeedBatch(number: batchNumber, rows: min(batchRows, rows - done))
                let t0 = clock.now
                try target.append(batch)
                appendTime += clock.now - t0
                done += batch.count
                batchNumber += 1
                progress.update(rows: done, bytes: 0, total: nil)
            }
            let t0 = clock.now
            try target.flush()
            appendTime += clock.now - t0
            try target.close()
            progress.finish()
            var usage = rusage()
            getrusage(RUSAGE_SELF.rawValue, &usage)
            print("appended \(done) rows in \(target.segmentNames.count) segments")
            print("ingest (append + flush, generation excluded): \(formatRate(done, appendTime))")
            print("overall, with generation: \(formatRate(done, clock.now - start))")
            print("peak RSS: \(formatBytes(Int(usage.ru_maxrss) * 1024))")
            if let json {
                let report: [String: Any] = ["rows": done, "segments": target.segmentNames.count,
                                             "appendRowsPerSecond": Double(done) / seconds(appendTime),
                                             "overallRowsPerSecond": Double(done) / seconds(clock.now - start),
                                             "peakRSSBytes": Int(usage.ru_maxrss) * 1024]
                try JSONSerialization.data(withJSONObject: report, options: [.prettyPrinted, .sortedKeys]).write(to: URL(fileURLWithPath: json))
            }
        } catch {
            throw CommandFailure(error)
        }
    }
}
