import ArgumentParser
import Foundation
import Sightline
import SightlineCommandLine
import SightlineWorkload

/// The hotlist benchmarks of Docs/benchmarks.md ("Hotlists and alerts"): matching cost per
/// row as entries and patterns grow, alert latency while ingesting, retroactive checks.
struct AlertBenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "alert-bench",
        abstract: "Measure hotlist matching, alert latency under ingest, and retroactive checks.",
        subcommands: [AlertBenchMatchCommand.self, AlertBenchLatencyCommand.self, AlertBenchRetroactiveCommand.self]
    )
}

/// Generated hotlists: entries half exact, half OCR-equivalent; a share of them (and of the
/// patterns) taken from plates the feed holds, so a realistic few reads alert.
enum BenchHotlist {
    static func randomPlate(_ g: inout SplitMix64) -> String {
        let alphabet = Array("ABCDEFGHJKLMNPRSTUVWXYZ0123456789".utf8)
        return String(decoding: (0..<7).map { _ in alphabet[Int(g.next() % UInt64(alphabet.count))] }, as: UTF8.self)
    }

    /// A partial plate as investigators write one: two unknown characters, or a known start
    /// or end.
    static func pattern(of plate: String, _ g: inout SplitMix64) -> String {
        var c = Array(plate)
        switch g.next() % 4 {
        case 0:
            c[Int(g.next() % UInt64(c.count))] = "?"
            c[Int(g.next() % UInt64(c.count))] = "?"
            return String(c)
        case 1: return String(c.prefix(4)) + "*"
        case 2: return "*" + String(c.suffix(4))
        default: return String(c.prefix(3)) + "*" + String(c.suffix(2))
        }
    }

    static func rules(entries: Int, patterns: Int, feedPlates: [String], listedShare: Double, seed: UInt64) throws -> RuleSet {
        var g = SplitMix64(seed: seed)
        var list: [HotlistEntry] = []
        list.reserveCapacity(entries + patterns)
        func plate() -> String {
            !feedPlates.isEmpty && Double(g.next() % 1_000_000) / 1_000_000 < listedShare
                ? feedPlates[Int(g.next() % UInt64(feedPlates.count))] : randomPlate(&g)
        }
        for k in 0..<entries {
            list.append(try HotlistEntry(plate: plate(), list: k % 3 == 0 ? "stolen" : "warrants", mode: k % 2 == 0 ? .exact : .equivalent))
        }
        for _ in 0..<patterns {
            list.append(try HotlistEntry(plate: pattern(of: plate(), &g), list: "partial", mode: .pattern))
        }
        var rules = RuleSet()
        rules.add(list)
        return rules
    }

    /// Every `every`-th distinct plate of `batch` (a vehicle seen often is listed no more
    /// often than one seen once).
    static func plates(of batch: SightingBatch, every: Int) -> [String] {
        var distinct = Set<Plate>()
        var out: [String] = []
        for p in batch.plates where distinct.insert(p).inserted {
            if distinct.count % max(1, every) == 0 { out.append(p.text) }
        }
        return out
    }

    static func percentile(_ sorted: [Double], _ q: Double) -> Double {
        sorted.isEmpty ? 0 : sorted[min(sorted.count - 1, max(0, Int((Double(sorted.count) * q).rounded(.up)) - 1))]
    }

    static func writeJSON(_ report: [String: Any], to path: String?) throws {
        guard let path else { return }
        try JSONSerialization.data(withJSONObject: report, options: [.prettyPrinted, .sortedKeys]).write(to: URL(fileURLWithPath: path))
    }
}

struct AlertBenchMatchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "match",
        abstract: "Matching cost per row for a grid of hotlist sizes and pattern counts (no store)."
    )

    @Option(help: "Rows matched per configuration.") var rows = 4_000_000
    @Option(parsing: .upToNextOption, help: "Hotlist entry counts (exact + equivalent).") var entries: [Int] = [0, 10_000, 100_000, 1_000_000]
    @Option(parsing: .upToNextOption, help: "Pattern counts.") var patterns: [Int] = [0, 1_000, 10_000]
    @Option(help: "Share of entries and patterns drawn from plates the rows hold.") var listedShare = 0.001
    @Option(help: "Write the figures as JSON here.") var json: String?

    func run() throws {
        let feed = ALPRWorkload.liveFeedBatch(number: 0, rows: rows)
        let feedPlates = BenchHotlist.plates(of: feed, every: 1)
        let clock = ContinuousClock()
        var results: [[String: Any]] = []
        print("entries    patterns   compile s   ns/row    matches/M rows")
        for e in entries {
            for p in patterns {
                let rules = try BenchHotlist.rules(entries: e, patterns: p, feedPlates: feedPlates, listedShare: listedShare, seed: 7)
                let t0 = clock.now
                let compiled = CompiledRuleSet(rules)
                let compile = seconds(clock.now - t0)
                // Best of three passes: the figure is the matcher's, not the VM's neighbours'.
                var best = Double.infinity, matches = 0
                for _ in 0..<3 {
                    let t = clock.now
                    matches = compiled.matchCount(in: feed, now: 0)
                    best = min(best, seconds(clock.now - t))
                }
                let nsPerRow = best * 1e9 / Double(feed.count)
                let perMillion = Double(matches) * 1e6 / Double(feed.count)
                print(String(format: "%-10d %-10d %9.2f %9.1f %12.0f", e, p, compile, nsPerRow, perMillion))
                results.append(["entries": e, "patterns": p, "compileSeconds": compile, "nsPerRow": nsPerRow,
                                "matchesPerMillionRows": perMillion, "rows": feed.count])
            }
        }
        try BenchHotlist.writeJSON(["match": results], to: json)
    }
}

struct AlertBenchLatencyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "latency",
        abstract: "Ingest into a new store with a hotlist; measure from each append's return to its alerts being read by a tail."
    )

    @Argument(help: "Store directory (created; should be new).") var store: String
    @Option(help: "Sightings to append.") var rows = 20_000_000
    @Option(help: "Rows per append.") var batchRows = 20_000
    @Option(help: "Hotlist entries (exact + equivalent).") var entries = 1_000_000
    @Option(help: "Pattern entries.") var patterns = 10_000
    @Option(help: "Share of entries drawn from plates the feed holds.") var listedShare = 0.001
    @Option(help: "The tail's poll interval, in microseconds.") var pollMicroseconds = 1000
    @Option(help: "The tail thread's nice value (negative: ahead of the ingest's threads; needs the privilege).") var tailNice = 0
    @Option(help: "Pace the feed at this many rows per second (0: as fast as the store takes it).") var rate = 0
    @OptionGroup var storeArguments: StoreArguments
    @Option(help: "Write the figures as JSON here.") var json: String?

    func run() throws {
        // The feed is generated first: the rate measured is the store's, not the generator's.
        var batches: [SightingBatch] = []
        var done = 0
        while done < rows {
            let b = ALPRWorkload.liveFeedBatch(number: UInt64(batches.count), rows: min(batchRows, rows - done))
            batches.append(b)
            done += b.count
        }
        var feedPlates: [String] = []
        for b in batches { feedPlates += BenchHotlist.plates(of: b, every: 3) }
        let rules = try BenchHotlist.rules(entries: entries, patterns: patterns, feedPlates: feedPlates, listedShare: listedShare, seed: 11)

        let clock = ContinuousClock()
        let target = try Store(directory: store, options: try storeArguments.storeOptions())
        let t0 = clock.now
        try target.addHotlistEntries(rules.hotlist)
        print("hotlist: \(entries) entries + \(patterns) patterns added in \(String(format: "%.2f", seconds(clock.now - t0))) s")

        // The tail reads the log file as another process would, and notes when each
        // sequence first became readable.
        let seen = SeenTimes()
        let stop = Flag()
        let directory = store, interval = pollMicroseconds, nice = tailNice
        let tail = Thread {
            // Linux: PRIO_PROCESS with 0 sets the calling thread.
            if nice != 0 && setpriority(__priority_which_t(PRIO_PROCESS.rawValue), 0, Int32(nice)) != 0 { perror("setpriority") }
            var t = AlertTail(directory: directory)
            while true {
                let finishing = stop.isSet
                if let alerts = try? t.poll(), let last = alerts.last {
                    seen.record(through: last.sequence, at: ContinuousClock.now)
                }
                if finishing { break }
                usleep(UInt32(interval))
            }
        }
        tail.start()

        var returned: [(last: UInt64, first: UInt64, at: ContinuousClock.Instant)] = []
        var appendTime = Duration.zero, alerts = 0
        var progress = TerminalProgress(enabled: isatty(2) != 0)
        let start = clock.now
        done = 0
        for b in batches {
            if rate > 0 {
                // A camera network's feed arrives at its own pace: batch k is due at k × batch / rate.
                let due = start + .seconds(Double(done) / Double(rate))
                if clock.now < due { Thread.sleep(forTimeInterval: seconds(due - clock.now)) }
            }
            let a0 = clock.now
            let result = try target.append(b)
            let back = clock.now
            appendTime += back - a0
            if let first = result.alerts.first, let last = result.alerts.last {
                returned.append((last.sequence, first.sequence, back))
                alerts += result.alerts.count
            }
            done += b.count
            progress.update(rows: done, bytes: 0, total: rows)
        }
        let wall = clock.now - start
        progress.finish()
        usleep(20_000)
        stop.set()
        while !tail.isFinished { usleep(1000) }
        try target.flush()
        try target.close()

        // An alert readable before its append returned counts as 0.
        var latencies: [Double] = []
        var early = 0, missing = 0
        for r in returned {
            guard let at = seen.firstTime(covering: r.last) else { missing += 1; continue }
            let ms = seconds(at - r.at) * 1000
            if ms <= 0 { early += 1 }
            latencies.append(max(0, ms))
        }
        latencies.sort()
        let rate = Double(done) / seconds(wall)
        print("ingested \(done) rows in \(batches.count) appends: \(String(format: "%.2f", rate / 1e6)) M rows/s wall, \(alerts) alerts in \(returned.count) appends")
        print(String(format: "alert readable by a tail (nice %d) after append returned (per append, poll every %d µs): p50 %.3f ms, p99 %.3f ms, max %.3f ms; %d appends' alerts readable before return; %d never seen",
                     tailNice, pollMicroseconds, BenchHotlist.percentile(latencies, 0.5), BenchHotlist.percentile(latencies, 0.99), latencies.last ?? 0, early, missing))
        try BenchHotlist.writeJSON(["rows": done, "appends": batches.count, "alerts": alerts, "appendsWithAlerts": returned.count,
                                    "rowsPerSecondWall": rate, "rowsPerSecondAppend": Double(done) / seconds(appendTime),
                                    "latencyP50Ms": BenchHotlist.percentile(latencies, 0.5), "latencyP99Ms": BenchHotlist.percentile(latencies, 0.99),
                                    "latencyMaxMs": latencies.last ?? 0, "readableBeforeReturn": early, "neverSeen": missing,
                                    "entries": entries, "patterns": patterns, "pollMicroseconds": pollMicroseconds, "tailNice": tailNice, "pacedRowsPerSecond": rate], to: json)
    }

    /// Sequence → the first time the tail had read through it (sequences only grow).
    final class SeenTimes: @unchecked Sendable {
        private let lock = NSLock()
        private var marks: [(through: UInt64, at: ContinuousClock.Instant)] = []
        func record(through sequence: UInt64, at time: ContinuousClock.Instant) {
            lock.lock(); marks.append((sequence, time)); lock.unlock()
        }
        func firstTime(covering sequence: UInt64) -> ContinuousClock.Instant? {
            lock.lock(); defer { lock.unlock() }
            var (lo, hi) = (0, marks.count)
            while lo < hi { let mid = (lo + hi) / 2; if marks[mid].through < sequence { lo = mid + 1 } else { hi = mid } }
            let k = lo
            return k < marks.count ? marks[k].at : nil
        }
    }

    final class Flag: @unchecked Sendable {
        private let lock = NSLock()
        private var value = false
        var isSet: Bool { lock.lock(); defer { lock.unlock() }; return value }
        func set() { lock.lock(); value = true; lock.unlock() }
    }
}

struct AlertBenchRetroactiveCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "retroactive",
        abstract: "Check a hotlist against a store made by `ingest-bench` (read-only), timing the whole check."
    )

    @Argument(help: "Store directory, made by `sightline ingest-bench`.") var store: String
    @Option(help: "Hotlist plates.") var plates = 10_000
    @Option(help: "Share of them drawn from the store's own feed (the rest are absent).") var listedShare = 0.5
    @Option(help: "exact or equivalent.") var mode = "exact"
    @Option(help: "The rows per append the store was made with (to regenerate its plates).") var batchRows = 100_000
    @Option(help: "Write the figures as JSON here.") var json: String?

    func run() throws {
        guard let mode = MatchMode(rawValue: mode), mode != .pattern else { throw ValidationError("--mode must be exact or equivalent") }
        let reader = try ReadOnlyStore(directory: store, options: cliStoreOptions())
        let snapshot = try reader.snapshot(access: AccessContext(requester: "alert-bench", purpose: "benchmark"))
        let batchesInStore = max(1, snapshot.rowCount / batchRows)
        // Plates of the store's own feed: a few from each of some random batches.
        var g = SplitMix64(seed: 23)
        var feedPlates: [String] = []
        let wanted = Int(Double(plates) * listedShare)
        while feedPlates.count < wanted {
            let batch = ALPRWorkload.liveFeedBatch(number: g.next() % UInt64(batchesInStore), rows: batchRows)
            feedPlates += BenchHotlist.plates(of: batch, every: batch.count / 100).prefix(wanted - feedPlates.count)
        }
        var list: [HotlistEntry] = []
        for k in 0..<plates {
            let plate = k < feedPlates.count ? feedPlates[k] : BenchHotlist.randomPlate(&g)
            list.append(try HotlistEntry(plate: plate, list: "retro", mode: mode))
        }
        var rules = RuleSet()
        rules.add(list)
        let clock = ContinuousClock()
        let t0 = clock.now
        let hits = try snapshot.checkRules(rules)
        let elapsed = seconds(clock.now - t0)
        let plateHits = Set(hits.map(\.sighting.plate)).count
        print("checked \(plates) \(mode.rawValue) plates against \(snapshot.rowCount) rows: \(String(format: "%.2f", elapsed)) s, \(hits.count) historical hits on \(plateHits) plates")
        try BenchHotlist.writeJSON(["plates": plates, "mode": mode.rawValue, "rows": snapshot.rowCount, "seconds": elapsed,
                                    "hits": hits.count, "platesHit": plateHits], to: json)
    }
}
