import CoreMetrics
#if canImport(Glibc)
import Glibc
#endif
import Logging

/// How a store is opened.
public struct StoreOptions: Sendable {
    /// Where the store logs (the embedding service picks the backend with
    /// `LoggingSystem.bootstrap`). Routine events are `debug`, repairs after a crash
    /// `notice`, failures `error`; the library never prints.
    public var logger = Logger(label: "sightline.store")
    /// Rows buffered in memory before they are flushed to a segment. The buffer is the
    /// store's main use of memory: roughly 60 bytes a row, twice (one buffer
    /// is flushed in the background while the next fills).
    public var bufferRows: Int = 2_000_000
    /// Memory for the per-segment row-key filters that find re-ingested rows at flush
    /// (about 1.25 bytes per stored row; the filters of the oldest data are dropped first
    /// and rebuilt from their segment if needed). The default covers ~200 M recent rows.
    public var duplicateFilterBytes: Int = 256 << 20
    /// When the write-ahead log is fsynced (see `Durability`).
    public var durability: Durability = .everyBatch
    /// How segments are written.
    public var segment = SegmentOptions()
    /// The plate key secret for a new store (default: a random one). For an existing store,
    /// if given, it must be the store's own.
    public var secret: PlateKeySecret?
    /// Where the secret comes from when `secret` is nil: the store's entry in `keyring` (the
    /// default), or a file, an environment variable, a callback outside the store, or — an
    /// explicit opt-out — inside it (`.storeDirectory`). A store created with any but the
    /// last keeps only a check of it (`plate-key.check`); opening it without the secret is
    /// `SightlineError.secretRequired` (`keyMissing` for a keyring without its entry).
    /// Stores made before keyrings open as they did, whatever this says.
    public var secretSource = PlateKeySecretSource.keyring
    /// Where the store's key material lives, outside its directory: the per-user keyring
    /// (`Keyring.standard`: `$SIGHTLINE_KEYRING`, else `~/.local/share/sightline/keyring`)
    /// unless given. The keyring knows a store by the id inside it, so a copy of the store at
    /// another path opens with the same keyring.
    public var keyring = Keyring.standard
    /// Create the store when the directory holds none.
    public var createIfMissing = true
    /// Whether a store this open creates seals its segments (AES-256-GCM, a data key per
    /// segment in `keyring`): the default, or `.none` — the explicit opt-out. An existing
    /// store keeps its own setting.
    public var encryption = StoreEncryption.aes256GCM
    /// Who may read a store this open creates: its owner only (directory 0700, files 0600,
    /// whatever the umask; the default) or its group too (0750, 0640, the audit log 0660).
    /// An existing store keeps its directory's setting.
    public var fileAccess = FileAccess.owner
    /// The access requirement a store created by this open starts with (`ACCESS`): every
    /// read states a purpose unless this says otherwise (`.none` is the explicit opt-out).
    /// An existing store keeps its own (`Store.setAccessRequirement`).
    public var newStoreAccess = AccessRequirement.purpose
    /// How long sightings are kept (nil: forever). Older rows stop being returned at once
    /// and are physically deleted by the maintenance timer within `maintenanceInterval`
    /// (plus the time the rewrite takes).
    public var retention: Duration?
    /// Background compaction (nil: only on demand, `Store.compact`).
    public var compaction: CompactionOptions?
    /// How often the maintenance timer checks for expired rows and compaction work (the
    /// bound on how late an expired row is deleted). At least 10 ms.
    public var maintenanceInterval: Duration = .seconds(60)
    /// How many threads one query reads segments with (default: the machine's cores). A
    /// server answering many small queries at once may prefer 1: each query then runs on
    /// the calling thread alone.
    public var queryParallelism: Int = Machine.coreCount
    /// Memory for decoded camera indexes, which camera-filtered queries and convoys read
    /// (decoded on first use, least recently used dropped first; ~1.9 bytes a row decoded).
    /// One cache serves every store in the process, sized by the largest budget any store
    /// opened with asked for.
    public var cameraIndexCacheBytes: Int = CameraIndexCache.defaultBudgetBytes
    /// Where the store's metrics go (swift-metrics); nil: `MetricsSystem.factory`, the
    /// backend the service bootstrapped (a no-op until it does).
    public var metricsFactory: (any MetricsFactory)?
    /// Listen on `control.sock` in the store directory, so `sightline compact|purge|flush|stats`
    /// run by the same user reach this owner while it holds the store (off by default: a
    /// library opens no socket unasked; the CLI's ingest turns it on).
    public var controlChannel = false
    /// Wall-clock time in epoch milliseconds (tests substitute their own).
    public var wallClock: @Sendable () -> Int64 = StoreOptions.systemTime

    /// The system's real-time clock, epoch milliseconds.
    @Sendable public static func systemTime() -> Int64 {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return Int64(ts.tv_sec) * 1000 + Int64(ts.tv_nsec) / 1_000_000
    }

    /// The defaults.
    public init() {}
}

/// What an append did.
public struct AppendResult: Sendable, Hashable {
    /// Rows stored (logged and buffered).
    public var stored: Int
    /// Rows skipped because an equal (plate, time, camera) row was already buffered.
    public var duplicates: Int
    /// Alerts the stored rows raised, as written to the alert log (empty without rules).
    public var alerts: [Alert] = []
}
