#if canImport(Glibc)
import Glibc
#endif
import Logging
import Sightline
import SightlineTestSupport

/// The soak's writer: owns the store, runs one command a line from standard input and
/// answers "OK" once it has returned (so an answered append is acknowledged, durable).
///
///   B n       append batch n           P PLATE   purge the plate
///   C         compact (day partitions) Q         close the store and exit
///
/// The store flushes every 1,500 rows, compacts and enforces the 10-minute retention on a
/// 1-second maintenance timer, and alerts on its hotlist: kills land in all of these.
enum SoakWriter {
    static let secret = PlateKeySecret(k0: 0x5EED_5EED_5EED_5EED, k1: 0x0123_4567_89AB_CDEF)
    static let access = AccessContext(requester: "soak-writer", agency: "SOAK", purpose: "chaos soak")

    static func options() -> StoreOptions {
        var o = StoreOptions()
        o.secret = secret
        o.bufferRows = 1_500
        o.maintenanceInterval = .seconds(1)
        o.compaction = CompactionOptions(partitioning: .day, targetRows: 400_000)
        o.logger = Logger(label: "soak-writer")
        o.logger.logLevel = .error
        return o
    }

    static func run(directory: String, seed: UInt64, origin: Int64) -> Never {
        do {
            let store = try Store(directory: directory, options: options())
            if store.rules.hotlistCount == 0 {
                try store.addHotlistEntries(SoakWorkload.hotPlates.map { try HotlistEntry(plate: $0.text, list: "soak", reason: "soak") })
            }
            if store.retentionPolicy.defaultPeriod != SoakWorkload.retention {
                try store.setRetentionPolicy(RetentionPolicy(defaultPeriod: SoakWorkload.retention), by: access)
            }
            say("READY")
            while let line = readLine() {
                let f = line.split(separator: " ")
                switch (f.first, f.count) {
                case ("B", 2):
                    guard let n = Int(f[1]) else { fail("bad command \(line)") }
                    _ = try store.append(SightingBatch(SoakWorkload.batch(n, seed: seed, origin: origin)))
                case ("P", 2):
                    _ = try store.purge(try Plate(String(f[1])), access: access, force: true)
                case ("C", 1):
                    _ = try store.compact(CompactionOptions(partitioning: .day, targetRows: 400_000))
                case ("Q", 1):
                    try store.close()
                    say("OK")
                    exit(0)
                default:
                    fail("bad command \(line)")
                }
                say("OK")
            }
            exit(0)
        } catch {
            fail("\(error)")
        }
    }

    /// One line to standard output in one write(2): unbuffered, whole, before anything after it.
    static func say(_ line: String) {
        var bytes = Array((line + "\n").utf8)
        bytes.withUnsafeMutableBytes { _ = write(1, $0.baseAddress, $0.count) }
    }

    static func fail(_ message: String) -> Never {
        say("ERR \(message)")
        exit(1)
    }
}
