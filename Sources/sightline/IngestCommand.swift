import ArgumentParser
import Foundation
import Sightline
import SightlineCommandLine

extension SightingParser.Format: ExpressibleByArgument {}

/// Loads CSV or NDJSON sightings into a store (created when missing).
struct IngestCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ingest",
        abstract: "Load CSV or NDJSON sightings into a store (created when missing).",
        discussion: """
        CSV needs a header naming plate,time,lat,lon,camera,confidence (and optionally region,image) \
        in any order; NDJSON has one object per line with the same keys. Times are epoch \
        milliseconds or RFC 3339. Bad rows are reported as FILE:LINE: reason and skipped; \
        --strict stores nothing from a file with a bad row.
        """
    )

    @Argument(help: "The store directory.") var store: String
    @Argument(help: "Input files; - or none for standard input.") var files: [String] = []
    @Option(help: "csv or ndjson (default: by extension, .ndjson/.jsonl/.json, or the first byte).") var format: SightingParser.Format?
    @Option(help: "Write every rejected row here, as FILE:LINE: reason<TAB>line.") var rejects: String?
    @Flag(help: "Stop at the first bad row of a file and store nothing from it.") var strict = false
    @Option(help: "Rows per append.") var batchRows = 100_000
    @Option(help: "Also write the alerts this ingest raises here, as NDJSON (sequence, rule, list, mode, plate, time in epoch ms, lat, lon, camera, confidence).")
    var alerts: String?
    @OptionGroup var storeArguments: StoreArguments

    func run() throws {
        var options = try storeArguments.storeOptions()
        options.controlChannel = true  // `sightline compact|purge|flush|stats` reach this ingest
        guard batchRows >= 1 else { throw ValidationError("--batch-rows must be at least 1") }
        // Inputs first: a missing or unreadable file must not leave a new, empty store behind.
        for name in files where name != "-" {
            guard access(name, R_OK) == 0 else { throw CommandFailure(SightlineError.io(operation: "open", path: name, errno: errno)) }
        }
        let target: Store
        do { target = try Store(directory: store, options: options) } catch { throw CommandFailure(error) }

        var rejectsOut: UnsafeMutablePointer<FILE>?
        if let rejects {
            guard let f = fopen(rejects, "w") else { throw CommandFailure(SightlineError.io(operation: "open", path: rejects, errno: errno)) }
            rejectsOut = f
        }
        defer { if let rejectsOut { fclose(rejectsOut) } }

        var alertsOut: AlertFile?
        if let alerts {
            guard let f = fopen(alerts, "w") else { throw CommandFailure(SightlineError.io(operation: "open", path: alerts, errno: errno)) }
            alertsOut = AlertFile(f)
            target.setAlertHandler { [alertsOut] in alertsOut!.write($0) }
        }
        defer { alertsOut?.close() }

        var totals = IngestSummary()
        let start = ContinuousClock.now
        var progress = TerminalProgress(enabled: isatty(2) != 0)
        var failed: String?
        let ingestOptions = IngestOptions(format: format, batchRows: batchRows, strict: strict)
        for name in files.isEmpty ? ["-"] : files {
            var shown = 0
            let before = totals
            do {
                let summary = try ingest(name, into: target, options: ingestOptions, rejected: { rejected in
                    if shown < 5 {
                        progress.clear()
                        FileHandle.standardError.write(Data("rejected \(rejected)\n".utf8))
                        shown += 1
                    }
                    if let rejectsOut { fputs("\(rejected)\t\(rejected.text)\n", rejectsOut) }
                }, progress: { p in
                    progress.update(rows: before.rowsRead + p.rowsRead, bytes: before.bytesRead + p.bytesRead,
                                    total: p.totalBytes.map { before.bytesRead + $0 })
                })
                totals.add(summary)
            } catch {
                totals.add(error.summary)
                if case .strict(let row) = error.reason {
                    failed = "\(row) (--strict: nothing stored from \(name))"
                    break
                }
                progress.finish()
                switch error.reason {
                case .store(let cause), .header(let cause): throw CommandFailure(cause)  // as before the pipeline moved
                default: throw CommandFailure(error)
                }
            }
        }
        do {
            try target.flush()
            try target.close()
        } catch { throw CommandFailure(error) }
        progress.finish()
        let elapsed = seconds(ContinuousClock.now - start)
        let duplicates = totals.duplicates + target.duplicatesDroppedAtFlush
        print("stored \(totals.stored - target.duplicatesDroppedAtFlush) rows, skipped \(duplicates) duplicates, rejected \(totals.rejected) rows, "
              + "in \(String(format: "%.2f", elapsed)) s (\(formatRate(totals.rowsRead, ContinuousClock.now - start)) read)")
        if let alertsOut { print("raised \(alertsOut.count) alerts (written to \(alerts!))") }
        if let failed { throw CommandFailure(StrictFailure(description: failed)) }
    }

    /// One input through the library's ingest pipeline (`-` is standard input).
    private func ingest(_ name: String, into store: Store, options: IngestOptions, rejected: (RejectedRow) -> Void,
                        progress: (IngestProgress) -> Void) throws(IngestError) -> IngestSummary {
        if name == "-" {
            return try store.ingest(fileDescriptor: 0, source: name, options: options, rejected: rejected, progress: progress)
        }
        return try store.ingest(path: name, options: options, rejected: rejected, progress: progress)
    }

    /// The `--alerts` file, written by the store's alert handler (on appending threads).
    final class AlertFile: @unchecked Sendable {
        private let lock = NSLock()
        private var file: UnsafeMutablePointer<FILE>?
        private(set) var count = 0
        init(_ file: UnsafeMutablePointer<FILE>) { self.file = file }
        func write(_ alerts: [Alert]) {
            lock.lock(); defer { lock.unlock() }
            guard let file else { return }
            for a in alerts { fputs(a.json + "\n", file) }
            fflush(file)
            count += alerts.count
        }
        func close() {
            lock.lock(); defer { lock.unlock() }
            if let file { fclose(file) }
            file = nil
        }
    }

    struct StrictFailure: Error, CustomStringConvertible { let description: String }
}

extension IngestSummary {
    /// Adds another source's counts (the CLI's totals over its files).
    mutating func add(_ other: IngestSummary) {
        rowsRead += other.rowsRead
        stored += other.stored
        duplicates += other.duplicates
        rejected += other.rejected
        bytesRead += other.bytesRead
    }
}
