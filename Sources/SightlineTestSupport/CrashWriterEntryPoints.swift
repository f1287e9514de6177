/// Entry points for the crash tests' child process (`sightline-crash-writer`), which must run
/// the real log and store code in a separate process so it can be killed. Lives outside the
/// `Sightline` product: nothing test-only ships to embedders.
import Logging
import Sightline
import SightlineWorkload

public enum CrashWriterEntryPoints {
    /// The batch appended as record `sequence`: deterministic, so a checker can regenerate it.
    public static func batch(for sequence: UInt64) -> SightingBatch {
        var c = ALPRWorkload.Configuration()
        c.seed = sequence &+ 1
        c.fixedCameras = 20
        c.arterialRoads = 4
        return ALPRWorkload(c).generate(rows: 1 + Int(sequence % 40))
    }

    /// Recovers the log at `path` (creating it when missing), then appends `batch(for:)` of
    /// each next sequence forever, calling `acknowledged` after each append has returned.
    public static func appendForever(path: String, acknowledged: (UInt64) -> Void) throws(SightlineError) -> Never {
        let fs = PosixFileSystem()
        let writer: LogWriter
        // A log shorter than its header was torn while being created, before any append was
        // acknowledged: start it again. Anything else must recover (or fail loudly).
        let existing = try? fs.open(path, mode: .read)
        let size = try existing.map { (f: OpenFile) throws(SightlineError) -> Int64 in
            defer { try? fs.close(f) }
            return try fs.size(f)
        }
        if let size, size >= Int64(LogFormat.headerSize) {
            let contents = try LogReader.read(path, fileSystem: fs)
            let next = (contents.records.last?.sequence).map { $0 + 1 } ?? 0
            writer = try LogWriter.reopen(path, validLength: contents.validLength, nextSequence: next, durability: .everyBatch, fileSystem: fs)
        } else {
            if size != nil { try fs.remove(path) }
            writer = try LogWriter.create(path, firstSequence: 0, durability: .everyBatch, fileSystem: fs)
        }
        while true {
            let sequence = writer.nextSequence
            try writer.append(batch(for: sequence))
            acknowledged(sequence)
        }
    }

    /// Opens the store at `directory` (fixed test secret, 400-row buffer so kills also land
    /// in flushes), then appends `batch(for: n)` for n = first, first + 1, … forever,
    /// calling `acknowledged(n)` after each append has returned. `alerting`: with a geofence
    /// over the whole world (every stored row raises one alert), so kills land in alert
    /// writes too.
    public static func appendToStoreForever(directory: String, first: UInt64, alerting: Bool = false,
                                            acknowledged: (UInt64) -> Void) throws(SightlineError) -> Never {
        var options = quietOptions()
        options.bufferRows = 400
        options.secret = testSecret
        let store = try Store(directory: directory, options: options)
        if alerting && store.rules.allGeofences.isEmpty {
            try store.addGeofence(try Geofence(name: "world", area: .box(south: -90, west: -180, north: 90, east: 180)))
        }
        var n = first
        while true {
            try store.append(batch(for: n))
            acknowledged(n)
            n += 1
        }
    }

    /// Reads the store at `directory` read-only, forever: read n (from `first`) is a history
    /// of one of its plates with purpose "read n" by `requester`, and `acknowledged(n)` is
    /// called after its answer has returned — that is, after its audit record is durable.
    public static func readAuditedForever(directory: String, requester: String, first: UInt64,
                                          acknowledged: (UInt64) -> Void) throws(SightlineError) -> Never {
        var options = quietOptions()
        options.secret = testSecret
        let reader = try ReadOnlyStore(directory: directory, options: options)
        let plates = batch(for: 0).plates
        var n = first
        while true {
            let snapshot = try reader.snapshot(access: AccessContext(requester: requester, agency: "TEST", purpose: "read \(n)"))
            _ = try snapshot.run(try Query(.history(plates[Int(n % UInt64(plates.count))])))
            acknowledged(n)
            n += 1
        }
    }

    /// Opens the store at `directory` and compacts it (day partitions, `targetRows`).
    public static func compactStore(directory: String, targetRows: Int) throws(SightlineError) {
        var options = quietOptions()
        options.secret = testSecret
        options.createIfMissing = false
        let store = try Store(directory: directory, options: options)
        try store.compact(CompactionOptions(partitioning: .day, targetRows: targetRows))
    }

    /// Opens the store at `directory` and purges `plate`.
    public static func purgeStore(directory: String, plate: String) throws(SightlineError) {
        var options = quietOptions()
        options.secret = testSecret
        options.createIfMissing = false
        let store = try Store(directory: directory, options: options)
        try store.purge(try Plate(plate))
    }

    /// Rotates the key-encryption key of the store at `directory` `times` times (in its
    /// keyring, SIGHTLINE_KEYRING): a run long enough for a kill to land inside one.
    public static func rotateKeys(directory: String, times: Int) throws(SightlineError) {
        for _ in 0..<times { _ = try Keyring.standard.rotateKeys(ofStoreAt: directory) }
    }

    /// Store options that log nowhere: the child's standard output carries only its
    /// acknowledgements, and the test judges the store by reopening it.
    static func quietOptions() -> StoreOptions {
        var options = StoreOptions()
        options.logger = Logger(label: "sightline.crash-writer") { _ in SwiftLogNoOpLogHandler() }
        // The crash tests read back everything unattributed: an explicit opt-out of the
        // purpose every new store requires. Keys go to the keyring the test names
        // (SIGHTLINE_KEYRING), as any store's do.
        options.newStoreAccess = .none
        return options
    }

    /// The secret the crash tests' stores use.
    public static let testSecret = PlateKeySecret(k0: 0x5EC2E7, k1: 0xC2A54)

    /// Every record of the log at `path`: (sequence, batch); throws if the header is bad.
    public static func records(path: String) throws(SightlineError) -> [(UInt64, SightingBatch)] {
        try LogReader.read(path, fileSystem: PosixFileSystem()).records.map { ($0.sequence, $0.batch) }
    }
}
