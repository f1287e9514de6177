import ArgumentParser
import Foundation
import Sightline
import SightlineCommandLine

struct ExportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export",
        abstract: "Export to a GeoParquet lake (day=YYYY-MM-DD/part-0.parquet), incrementally; --check says whether DIR is in step.",
        discussion: """
            Writes GeoParquet 1.1 files that Spark, Trino, DuckDB and Iceberg read: one file per UTC day, zstd pages, \
            row groups of at most --row-group-rows rows with min/max statistics on every column. Run again, it writes \
            only days that are new or changed (a purge, retention or compaction rewrote their store files, or rows \
            expired), replaces each file atomically and removes days with no rows left — so purged plates and expired \
            rows leave the lake too. An audited read: give --purpose (and --agency: the sharing policy decides what \
            the export sees). Exit status of --check: 0 in step, 1 not.

            The lake is written in clear: plates, images, times and positions as plain Parquet that anyone             who can read DIR can read — none of the store's encryption, keys, audit or access rules follow             the files. Give --pseudonymous to write plate_key (a keyed hash) instead of plate and image, and             keep DIR as private as the store.
            """)
    @Argument(help: "Store directory.") var store: String
    @Argument(help: "Export directory (created when missing; must be empty or an earlier export).") var directory: String
    @Option(help: "Only days from this time (RFC 3339 or epoch ms; rounded down to a UTC day).") var from: String?
    @Option(help: "Only days before this time (rounded up to a UTC day).") var to: String?
    @Option(help: "Row order in a file: space (curve of the position, then time) or plate (then time).") var order: String = "space"
    @Flag(help: "Write plate_key without plate and image: movement without identities.") var pseudonymous = false
    @Option(help: "Page compression: zstd, zstd:LEVEL or none.") var compression: String = "zstd:3"
    @Option(help: "Most rows per row group.") var rowGroupRows: Int = 100_000
    @Flag(help: "Only check whether DIR is in step with the store (writes nothing).") var check = false
    @OptionGroup var access: AccessArguments

    func options() throws -> LakeExportOptions {
        var o = LakeExportOptions()
        guard let order = LakeExportOptions.Order(rawValue: order) else { throw ValidationError("--order must be space or plate") }
        o.order = order
        o.pseudonymous = pseudonymous
        o.from = try parseTime(from, "from")
        o.to = try parseTime(to, "to")
        if let f = o.from, let t = o.to, f >= t { throw ValidationError("--from must be before --to") }
        do { o.compression = try SegmentCompression(parsing: compression) } catch { throw ValidationError("--compression: \(error)") }
        if case .lz4 = o.compression { throw ValidationError("--compression must be zstd, zstd:LEVEL or none") }
        guard rowGroupRows >= 1 else { throw ValidationError("--row-group-rows must be at least 1") }
        o.rowGroupRows = rowGroupRows
        return o
    }

    func run() throws {
        var options = try options()
        let opened = try openReadOnly(store)
        if check {
            let report: LakeCheckReport
            do { report = try opened.checkLake(directory, options: options, access: access.context) } catch { throw CommandFailure(error) }
            if let reason = report.settingsDiffer { print("not in step: \(reason)") }
            for p in report.partitions { print("\(p.day)  \(p.state)") }
            for f in report.foreign { print("foreign: \(f)") }
            let stale = report.partitions.filter { !$0.inStep }.count
            if report.isInStep {
                print("in step: \(report.partitions.count) partitions")
            } else {
                print("not in step: \(stale) of \(report.partitions.count) partitions, \(report.foreign.count) foreign")
                throw ExitCode(1)
            }
            return
        }
        let display = ExportProgress(enabled: isatty(2) != 0)
        options.progress = { display.update($0) }
        let started = ContinuousClock.now
        let summary: LakeExportSummary
        do { summary = try opened.exportLake(to: directory, options: options, access: access.context) } catch { throw CommandFailure(error) }
        display.finish()
        let elapsed = max(seconds(ContinuousClock.now - started), 1e-9)
        print("exported \(summary.rowsWritten) rows in \(summary.partitionsWritten.count) partitions (\(formatBytes(Int(summary.bytesWritten))))"
              + " in \(String(format: "%.2f", elapsed)) s, \(String(format: "%.2f", Double(summary.rowsWritten) / elapsed / 1e6)) M rows/s")
        print("unchanged \(summary.partitionsSkipped + summary.partitionsUnchanged.count) partitions"
              + (summary.partitionsUnchanged.isEmpty ? "" : " (\(summary.partitionsUnchanged.count) re-read: sources rewritten, rows equal)")
              + ", removed \(summary.partitionsRemoved.count)" + (summary.foreignRemoved.isEmpty ? "" : ", foreign files removed \(summary.foreignRemoved.count)"))
        if summary.rowsNotExportable > 0 {
            print("not exported: \(summary.rowsNotExportable) rows dated outside years 0000–9999")
        }
        let perRow = summary.rowsInExport > 0 ? Double(summary.bytesInExport) / Double(summary.rowsInExport) : 0
        print("lake: \(summary.rowsInExport) rows, \(formatBytes(Int(summary.bytesInExport))), \(String(format: "%.2f", perRow)) B/sighting")
    }
}

/// Export progress on standard error when it is a terminal: partitions, rows, rate, ETA.
final class ExportProgress: @unchecked Sendable {
    private let enabled: Bool
    private let start = ContinuousClock.now
    private let lock = NSLock()
    private var last = ContinuousClock.now
    private var shown = false

    init(enabled: Bool) { self.enabled = enabled }

    func update(_ p: LakeExportProgress) {
        guard enabled else { return }
        lock.lock(); defer { lock.unlock() }
        guard ContinuousClock.now - last > .milliseconds(200) else { return }
        last = ContinuousClock.now
        let elapsed = max(seconds(last - start), 1e-6)
        var line = "\rpartition \(p.partitionsDone) of \(p.partitionsTotal)  \(p.rowsWritten) rows  \(String(format: "%.2f", Double(p.rowsWritten) / elapsed / 1e6)) M rows/s"
        if p.rowsWritten > 0 && p.rowsTotal > p.rowsWritten {
            line += "  ETA \(String(format: "%.0f", elapsed * Double(p.rowsTotal - p.rowsWritten) / Double(p.rowsWritten))) s"
        }
        FileHandle.standardError.write(Data((line + "   ").utf8))
        shown = true
    }

    func finish() {
        lock.lock(); defer { lock.unlock() }
        if shown { FileHandle.standardError.write(Data("\n".utf8)); shown = false }
    }
}
