import ArgumentParser
import Foundation
import Sightline
import SightlineCommandLine

/// A period in milliseconds, in the library's one grammar (`Period`: 45s, 12h, 90d, 18mo, 2y, …).
func parseDuration(_ text: String) throws -> Int64 {
    let period: Duration
    do { period = try Period.parse(text) } catch { throw ValidationError("\(error)") }
    return period.components.seconds * 1000 + period.components.attoseconds / 1_000_000_000_000_000
}

func printSummary(_ s: RewriteSummary, _ elapsed: Duration) {
    print("rewrote \(s.segmentsRemoved.count) segments (\(s.rowsRead) rows, \(formatBytes(s.bytesRead))) into \(s.segmentsWritten.count) (\(s.rowsWritten) rows, \(formatBytes(s.bytesWritten))); deleted \(s.rowsDeleted) rows in \(String(format: "%.2f", seconds(elapsed))) s (\(formatRate(s.rowsRead, elapsed)))")
    if let id = s.deletionID { print("deletion record \(id)") }
}

struct CompactCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "compact",
        abstract: "Merge small segments by time partition; with --retain, delete older rows.",
        discussion: "A store made before encryption at rest (no ENCRYPTION file) is converted: every segment is rewritten sealed, and its rules, holds and alert log are sealed at its next open. A store made with --encryption none stays in clear.")
    @Argument(help: "Store directory.") var store: String
    @Option(help: "Keep this much history (2y, 18mo, 90d, 12h, …); older rows are deleted.") var retain: String?
    @Option(help: "Partition: day or week.") var partition: String = "day"
    @Option(help: "Rows per output segment.") var targetRows = 8_000_000

    func run() throws {
        guard let partitioning = Partitioning(rawValue: partition) else { throw ValidationError("--partition is day or week") }
        var compaction = CompactionOptions(partitioning: partitioning, targetRows: targetRows)
        if let retain { compaction.deleteOlderThan = StoreOptions.systemTime() - (try parseDuration(retain)) }
        let clock = ContinuousClock()
        let start = clock.now
        let summary = try maintain(store) { m throws(SightlineError) in try m.compact(compaction) }
        printSummary(summary, clock.now - start)
    }
}

struct PurgeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "purge",
        abstract: "Physically remove one plate's sightings (in a time range) from every segment.")
    @Argument(help: "Store directory.") var store: String
    @Argument(help: "The plate.") var plate: String
    @Option(help: "From this time, inclusive (epoch ms or RFC 3339).") var from: String?
    @Option(help: "To this time, exclusive.") var to: String?
    @OptionGroup var access: AccessArguments
    @Flag(help: "Purge even rows under a legal hold (refused otherwise; the audit record says so).") var force = false

    func run() throws {
        let plate: Plate
        let time: TimeRange
        do {
            plate = try Plate(self.plate)
            func t(_ s: String?) throws -> Int64? {
                guard let s else { return nil }
                guard let v = Timestamp.milliseconds(s) else { throw ValidationError("\(s): not epoch milliseconds or RFC 3339") }
                return v
            }
            time = try TimeRange(from: try t(from), to: try t(to))
        } catch let e as SightlineError { throw ValidationError("\(e)") }
        let clock = ContinuousClock()
        let start = clock.now
        let context = access.context
        let force = self.force
        let summary = try maintain(store) { m throws(SightlineError) in try m.purge(plate, time: time, by: context, force: force) }
        printSummary(summary, clock.now - start)
    }
}

struct StatsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "stats", abstract: "Segments, partitions, rows, bytes, time range, compaction debt, deletions.")
    @Argument(help: "Store directory.") var store: String

    func run() throws {
        // The owner, when one listens, knows its memory best; otherwise a read-only open
        // (works while an owner without a control channel holds the store).
        print(try maintain(store) { m throws(SightlineError) in try m.statisticsReport() })
    }
}

struct FlushCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "flush",
        abstract: "Write the rows buffered by the store's owner to a segment (through its control socket), or replay and flush an unowned store's log.")
    @Argument(help: "Store directory.") var store: String

    func run() throws {
        try maintain(store) { m throws(SightlineError) in try m.flush() }
        print("flushed")
    }
}

struct VerifyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "verify", abstract: "Check every checksum, the manifest and the logs; exit 1 if the store is not sound.")
    @Argument(help: "Store directory.") var store: String

    func run() throws {
        let report = Store.verify(directory: store, secretSource: environmentSecretSource())
        for n in report.notes { print("note: \(n)") }
        for p in report.problems { print("problem: \(p)") }
        if report.isSound { print("sound") } else { throw ExitCode(1) }
    }
}

struct GuardrailsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "guardrails",
        abstract: "Show or set the limits of investigative queries (search, intersect, convoy): time span and distinct plates.",
        discussion: """
        Without options, prints the current limits. --max-span caps how much time one investigative query may \
        span (of the data held: an open-ended query spans all of it); --max-plates caps the distinct plates it \
        may return. A query beyond either is refused with an error, no rows returned. "off" removes a limit. \
        Off until set. Recommended for a shared deployment: --max-span 31d --max-plates 1000.
        """)
    @Argument(help: "Store directory.") var store: String
    @Option(help: "Most time one investigative query may span (31d, 24h, …) or off.") var maxSpan: String?
    @Option(help: "Most distinct plates one investigative query may return, or off.") var maxPlates: String?

    func run() throws {
        guard maxSpan != nil || maxPlates != nil else {
            let snapshot = try openReadOnly(store).snapshot()
            print("guardrails:  \(snapshot.investigationLimits) (investigative queries)")
            return
        }
        // Unchanged limits are kept: read them first (from the file any opener honours).
        let current = try openReadOnly(store).snapshot().investigationLimits
        var limits = current
        if let maxSpan {
            if maxSpan == "off" { limits.maximumTimeSpan = nil } else {
                let ms = try parseDuration(maxSpan)
                guard ms > 0 else { throw ValidationError("--max-span must be positive (or off)") }
                limits.maximumTimeSpan = .milliseconds(ms)
            }
        }
        if let maxPlates {
            if maxPlates == "off" { limits.maximumPlates = nil } else {
                guard let n = Int(maxPlates), n > 0 else { throw ValidationError("--max-plates \(maxPlates): a positive number or off") }
                limits.maximumPlates = n
            }
        }
        try maintain(store) { m throws(SightlineError) in try m.setInvestigationLimits(limits) }
        print("guardrails:  \(limits) (investigative queries)")
    }
}

/// `sightline keys STORE status|rotate`: the store's key material in its keyring.
struct KeysCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "keys",
        abstract: "The store's keys in its keyring: status (ids and counts, never a key) or rotate (a new key-encryption key; data keys re-wrapped, data not rewritten).",
        discussion: "The keyring is --keyring DIR, SIGHTLINE_KEYRING, or ~/.local/share/sightline/keyring; with --kek-file PATH (SIGHTLINE_KEK_FILE, SIGHTLINE_KEK) the key-encryption key comes from outside it, and rotate moves every data key under it (SIGHTLINE_KEK_PREVIOUS_FILE: the key they are under now). Rotation is safe while the store is open.")
    @Argument(help: "Store directory.") var store: String
    @Argument(help: "status or rotate.") var action: String

    func run() throws {
        let keyring = Keyring.standard
        do {
            switch action {
            case "status":
                print(try keyring.status(ofStoreAt: store).report)
            case "rotate":
                let r = try keyring.rotateKeys(ofStoreAt: store)
                print("rotated: \(r.rewrapped) data keys re-wrapped under \(r.keyEncryptionKey)"
                      + (r.removed.isEmpty ? "" : "; removed \(r.removed.joined(separator: ", "))"))
            default:
                throw ValidationError("keys takes status or rotate, not \(action)")
            }
        } catch let e as ValidationError { throw e } catch { throw CommandFailure(error) }
    }
}
