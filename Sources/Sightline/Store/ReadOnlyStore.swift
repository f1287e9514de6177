/// A store opened for reading by a process that does not own it: any number of them may
/// follow one owner (a `Store` in another process, or none at all).
///
/// It never writes, never takes the `LOCK`, and never repairs. Each `snapshot()` catches up
/// with the owner: it reads the manifest (replaced atomically by the owner), opens the
/// segments it names (reusing those already open), and reads the owner's write-ahead logs
/// from the manifest's `persistedSequence` on — only what was appended since the last
/// snapshot, and only whole, checksummed records: a record the owner is still writing is
/// simply the end. So a snapshot holds every appended batch whole or not at all, and the
/// batches it holds are a prefix of those the owner acknowledged.
///
/// Consistency with an owner that flushes, compacts and purges meanwhile: the owner removes
/// a log or a segment only after a durable manifest no longer needs it. A snapshot reads the
/// manifest, then the logs and segments, then the manifest again; if it changed (or a file
/// it named vanished) it starts over. Segments that leave the manifest are closed as soon as
/// no snapshot holds them, so a purge by the owner is visible to the next `snapshot()` and
/// no purged row outlives the snapshots taken before it.
///
/// Not seen: the owner's rows that a flush is writing are in its logs until the manifest
/// names their segment, so they are seen; rows buffered in the owner's memory but not yet
/// in its log do not exist yet for anyone (they are not acknowledged).
public final class ReadOnlyStore: Sendable {
    /// The store's directory.
    public let directory: String
    /// The hasher under the store's plate key secret.
    public let hasher: PlateHasher
    let options: StoreOptions
    /// The store's data keys when it seals its segments.
    private let dataKeys: DataKeys?
    let fileSystem: any FileSystem
    private let state: Locked<State>
    private let metrics: SightlineMetrics
    /// Reads through this store's snapshots are audited in the store's log like the owner's.
    private let auditLog: AuditLogWriter

    private struct State {
        var generation: UInt64?
        var persistedSequence: UInt64 = 0
        /// Open segments by file name, in manifest order.
        var segments: [SegmentReader] = []
        /// Each log's records read so far (first sequence → the log's tail state).
        var logs: [UInt64: LogTail] = [:]
        /// The rows of log records `memoryFrom..<memoryNext` as write-buffer chunks, kept
        /// while the persisted sequence stays: each snapshot adds only the records read
        /// since, seals them, and shares the chunks (and their plate indexes, built by the
        /// first history over them) with every later snapshot. A copy of the records'
        /// rows (the records stay, to rebuild from when the owner flushes).
        var memory = WriteBuffer()
        var memoryFrom = UInt64.max  // nothing buffered yet
        var memoryNext: UInt64 = 0
        /// Rows of the owner's hotlist alerts (read from `ALERTS` up to `alertsRead`, only
        /// while the retention policy keeps hits longer).
        var hotlistHits: Set<RowKey> = []
        var alertsRead: Int64 = 0
    }

    /// What has been read of one log: its valid length and the records in it.
    private struct LogTail {
        var name: String
        var validLength: Int64 = 0
        var records: [LogReader.Record] = []
        var nextSequence: UInt64? { records.last.map { $0.sequence + 1 } }
    }

    /// How many times a snapshot starts over when the owner changes the store under it
    /// before it gives up with the last error (each retry follows a manifest change, so
    /// only an owner rewriting continuously would exhaust it).
    static let maximumAttempts = 100

    /// Opens the store at `directory` for reading.
    /// - Parameters:
    ///   - directory: The store's directory (another process may own it, or none).
    ///   - options: `secret` (checked when given), `retention` (rows older are not returned;
    ///     the owner's own setting is not visible here), `queryParallelism`, `logger`. The
    ///     writing options are ignored.
    ///   - fileSystem: The I/O seam (tests inject failures through it).
    /// - Throws: `invalidArgument` when the directory holds no store, `wrongPlateKeySecret`,
    ///   `corruptFile` for damaged files.
    public init(directory: String, options: StoreOptions = StoreOptions(),
                fileSystem: any FileSystem = PosixFileSystem()) throws(SightlineError) {
        self.directory = directory
        self.options = options
        self.fileSystem = fileSystem
        CameraIndexCache.shared.raiseBudget(to: options.cameraIndexCacheBytes)
        metrics = SightlineMetrics(store: directory, factory: options.metricsFactory)
        auditLog = AuditLogWriter(directory: directory, sync: options.durability != .none, keyring: options.keyring, fileSystem: fileSystem)
        let names: [String]
        do throws(SightlineError) { names = try fileSystem.contentsOfDirectory(directory) } catch {
            if case .io(_, _, let errno) = error, errno == ENOENT || errno == ENOTDIR { throw .invalidArgument("\(directory) holds no store") }
            throw error
        }
        guard names.contains(Store.secretFileName) || names.contains(SecretCheckFile.fileName), names.contains(Manifest.fileName) else {
            throw .invalidArgument("\(directory) holds no store")
        }
        let secret = try Store.openSecret(directory: directory, names: names, secret: options.secret, source: options.secretSource, keyring: options.keyring,
                                          create: false, fileSystem: fileSystem)
        hasher = PlateHasher(secret: secret)
        dataKeys = try Store.dataKeys(directory: directory, keyring: options.keyring, fileSystem: fileSystem)
        state = Locked(State())
        // The manifest is read now (a store that cannot be followed fails here); the logs,
        // the bulk of a live store's catching up, are read by the first snapshot, so that a
        // one-shot reader reads them once (as they are: see `buffer`), not twice.
        _ = try Manifest.read(directory: directory, fileSystem: fileSystem)
    }

    /// A consistent view of the store as the owner has it now (its acknowledged rows
    /// included); later changes by the owner do not change it. Its reads are audited as
    /// `AccessContext.unattributed` (refused when the store requires a purpose).
    public func snapshot() throws(SightlineError) -> StoreSnapshot { try snapshot(access: .unattributed) }

    /// A consistent view read on behalf of `access`: every read through it is checked
    /// against the store's access requirement (re-read now: the owner may change it) and
    /// audited in the store's audit log, durably before its answer returns.
    public func snapshot(access: AccessContext) throws(SightlineError) -> StoreSnapshot {
        let (snapshot, policy) = try view()
        return attributed(snapshot, policy, access)
    }

    /// `snapshot` read on behalf of `access` under `policy`: audited, checked, filtered.
    private func attributed(_ snapshot: StoreSnapshot, _ policy: StorePolicy, _ access: AccessContext) -> StoreSnapshot {
        var snapshot = snapshot
        snapshot.access = access
        snapshot.auditTrail = AuditTrail(log: auditLog, requirement: policy.accessRequirement, hasher: hasher, now: options.wallClock)
        snapshot.visibility = policy.sharingPolicy.visibility(for: access.agency, registry: policy.cameraRegistry)
        return snapshot
    }

    /// A view for one plate's reads, on behalf of `access`: the segments of the manifest now,
    /// and — when the store's owner is alive and listening on its control socket — only the
    /// rows of `plate` the owner holds in memory, which it sends (`Store.memoryRows`), instead
    /// of every row of its write-ahead logs decoded here. A one-shot read of a plate beside a
    /// running ingest then costs its segments' blocks, not the whole unflushed log (1–2 s for
    /// two million logged rows). Without a listening owner (none alive, or one without a
    /// control channel) it is `snapshot(access:)`.
    ///
    /// The view answers the history of `plate` only (its memory holds no other plate's
    /// rows): any other query on it is refused with `invalidArgument`.
    package func snapshot(access: AccessContext, plate: Plate) throws(SightlineError) -> StoreSnapshot {
        try scopedSnapshot(access: access, scope: .plate(plate)) { .memoryRows(plate, generation: $0) }
    }

    /// A view for reads of areas inside `box`, on behalf of `access`: as
    /// `snapshot(access:plate:)`, with the rows inside `box` (edges included) the owner holds
    /// in memory. It answers areas (and searches within an area) whose covering boxes lie
    /// inside `box`, and refuses anything else.
    package func snapshot(access: AccessContext, box: GeoBox) throws(SightlineError) -> StoreSnapshot {
        try scopedSnapshot(access: access, scope: .box(box)) { .memoryArea(box, generation: $0) }
    }

    private func scopedSnapshot(access: AccessContext, scope: StoreSnapshot.MemoryScope,
                                request: (UInt64) -> ControlRequest) throws(SightlineError) -> StoreSnapshot {
        guard StoreControl.hasSocket(directory), let (segments, rows) = try ownerRows(request) else { return try snapshot(access: access) }
        var (snapshot, policy) = try assemble(segments, rows.isEmpty ? [] : [rows], [])
        snapshot.memoryScope = scope
        return attributed(snapshot, policy, access)
    }

    /// The segments of the manifest now and the owner's in-memory rows that `request` (given
    /// the manifest's generation) asks for; nil when the owner does not answer (the caller
    /// reads the logs instead).
    private func ownerRows(_ request: (UInt64) -> ControlRequest) throws(SightlineError) -> ([SegmentReader], SightingBatch)? {
        for _ in 0..<Self.maximumAttempts {
            let manifest = try Manifest.read(directory: directory, fileSystem: fileSystem)
            let segments: [SegmentReader]
            do throws(SightlineError) {
                segments = try state.withLock { (s: inout State) throws(SightlineError) -> [SegmentReader] in
                    if manifest.generation != s.generation { try follow(manifest, &s) }
                    return s.segments
                }
            } catch {
                // A segment removed by a newer manifest (or its key destroyed): read it again.
                if case .io(_, _, let errno) = error, errno == ENOENT { continue }
                if SealedFile.isMissingKey(error) { continue }
                throw error
            }
            guard case .memoryRows(let generation, let rows)? = try? StoreControl.send(request(manifest.generation), to: directory,
                                                                                         timeout: .seconds(30)) else { return nil }
            if let rows, generation == manifest.generation { return (segments, rows) }
            // The owner published another manifest than the one read (or is about to): again.
            usleep(200)
        }
        return nil
    }

    /// The audit trail of reads through this opener, under the requirement `ACCESS` states now.
    func auditTrail() throws(SightlineError) -> AuditTrail {
        AuditTrail(log: auditLog, requirement: try AccessFile.read(directory: directory, fileSystem: fileSystem), hasher: hasher, now: options.wallClock)
    }

    /// The cameras and their owners (as `CAMERAS` says now).
    public var cameraRegistry: CameraRegistry {
        get throws(SightlineError) { try CamerasFile.read(directory: directory, fileSystem: fileSystem) }
    }

    /// Who may read whose rows (as `POLICY` says now).
    public var sharingPolicy: SharingPolicy {
        get throws(SightlineError) { try PolicyFile.read(directory: directory, fileSystem: fileSystem) }
    }

    /// The legal holds of the store at `directory` (as `HOLDS` says now; a sealed file is
    /// opened with the store's data keys in `keyring`).
    public static func legalHolds(directory: String, keyring: Keyring = .standard,
                                  fileSystem: any FileSystem = PosixFileSystem()) throws(SightlineError) -> [LegalHold] {
        try HoldsFile.read(directory: directory, fileSystem: fileSystem,
                           keys: try Store.dataKeys(directory: directory, keyring: keyring, fileSystem: fileSystem))
    }

    /// How long whose rows are kept (as `RETENTION` says now; `options.retention` where it
    /// names no period).
    public var retentionPolicy: RetentionPolicy {
        get throws(SightlineError) { try RetentionFile.read(directory: directory, fileSystem: fileSystem) }
    }

    /// What every read of this store must state (as `ACCESS` says now).
    public var accessRequirement: AccessRequirement {
        get throws(SightlineError) { try AccessFile.read(directory: directory, fileSystem: fileSystem) }
    }

    private func engineSnapshot() throws(SightlineError) -> StoreSnapshot { try view().0 }

    /// The owner's rows now, under the retention the owner's files state now, and the
    /// policy (read with the same loader the owner uses) that retention was resolved with.
    private func view() throws(SightlineError) -> (StoreSnapshot, StorePolicy) {
        let (segments, memory, plateIndexes) = try state.withLock {
            (s: inout State) throws(SightlineError) -> ([SegmentReader], [SightingBatch], [MemoryPlateIndex?]) in
            try catchUp(&s)
        }
        return try assemble(segments, memory, plateIndexes)
    }

    /// A snapshot of these segments and in-memory rows under the policy files as they are
    /// now, and that policy.
    private func assemble(_ segments: [SegmentReader], _ memory: [SightingBatch],
                          _ plateIndexes: [MemoryPlateIndex?]) throws(SightlineError) -> (StoreSnapshot, StorePolicy) {
        // The owner may change any policy file at any time: read them with every snapshot,
        // with the loader the owner uses.
        let policy = try StorePolicy.load(directory: directory, fileSystem: fileSystem, fallbackRetention: options.retention, keys: dataKeys)
        var hits: Set<RowKey> = []
        if policy.retentionShape?.keepsHitsLonger == true { hits = try readHotlistHits() }
        return (StoreSnapshot(segments: segments, memory: memory, memoryPlateIndexes: plateIndexes,
                              retention: policy.retentionRule(now: options.wallClock(), hotlistHits: hits),
                              parallelism: options.queryParallelism,
                              metrics: metrics, investigationLimits: policy.investigationLimits), policy)
    }

    /// The rows of the owner's hotlist alerts: `ALERTS` read on from where the last call
    /// stopped (the owner only appends).
    private func readHotlistHits() throws(SightlineError) -> Set<RowKey> {
        try state.withLock { (s: inout State) throws(SightlineError) -> Set<RowKey> in
            let path = "\(directory)/\(AlertLogFormat.fileName)"
            // A torn tail is the owner writing: it is read whole next time.
            let read = try AlertLogFormat.read(path, from: s.alertsRead, after: 0, fileSystem: fileSystem, dataKey: DataKeys.lookup(dataKeys))
            AlertPipeline.noteHotlistHits(read.alerts, into: &s.hotlistHits)
            s.alertsRead = read.end
            return s.hotlistHits
        }
    }

    /// The store's shape as the latest snapshot sees it (compaction debt judged against
    /// `compaction`, the defaults when nil).
    public func statistics(compaction: CompactionOptions? = nil) throws(SightlineError) -> StoreStatistics {
        let snapshot = try engineSnapshot()
        return try Store.statistics(of: snapshot.segments, memoryRows: snapshot.memory.reduce(0) { $0 + $1.count },
                                    compaction: compaction ?? CompactionOptions(), directory: directory, fileSystem: fileSystem)
    }

    // MARK: catching up

    private func catchUp(_ s: inout State) throws(SightlineError) -> ([SegmentReader], [SightingBatch], [MemoryPlateIndex?]) {
        var lastError: SightlineError?
        for _ in 0..<Self.maximumAttempts {
            var generation: UInt64?
            do throws(SightlineError) {
                let manifest = try Manifest.read(directory: directory, fileSystem: fileSystem)
                generation = manifest.generation
                if manifest.generation != s.generation { try follow(manifest, &s) }
                let memory = try readLogs(from: manifest.persistedSequence, &s)
                // The owner removes files only after a newer manifest: an unchanged one
                // means every file read above was the one it names.
                guard try Manifest.read(directory: directory, fileSystem: fileSystem).generation == manifest.generation else { continue }
                let chunks = Self.buffer(memory, from: manifest.persistedSequence, &s)
                return (s.segments, chunks.chunks, chunks.plateIndexes)
            } catch {
                // A file the manifest named was removed by a newer one — or, in a sealing store,
                // its data key destroyed by a deletion after it: start over.
                if case .io(_, _, let errno) = error, errno == ENOENT {
                    lastError = error
                    continue
                }
                guard SealedFile.isMissingKey(error), let generation,
                      (try? Manifest.read(directory: directory, fileSystem: fileSystem).generation) != generation else { throw error }
                lastError = error
            }
        }
        throw lastError ?? .invalidArgument("\(directory): the owner changed the store \(Self.maximumAttempts) times during one snapshot")
    }

    /// The rows of `batches` (the records from `persisted` on, contiguous) as chunks for a
    /// snapshot: only records past those already buffered are copied in. When the persisted
    /// sequence moved (the owner flushed), or fewer records are there than were buffered (a
    /// new owner recovered the logs), the buffer starts over — and that snapshot gets the
    /// records as they are, uncopied and unindexed: a one-shot reader (the CLI) takes one
    /// snapshot, and copying pays only from a reader's second snapshot on.
    private static func buffer(_ batches: [SightingBatch], from persisted: UInt64, _ s: inout State)
        -> (chunks: [SightingBatch], plateIndexes: [MemoryPlateIndex?]) {
        let available = persisted + UInt64(batches.count)
        if s.memoryFrom != persisted || s.memoryNext < persisted || s.memoryNext > available {
            s.memory = WriteBuffer()
            s.memoryFrom = persisted
            s.memoryNext = persisted
            return (batches, [])
        }
        for batch in batches.dropFirst(Int(s.memoryNext - persisted)) { s.memory.append(contentsOf: batch) }
        s.memoryNext = available
        return s.memory.chunksForSnapshot()
    }

    /// Opens the segments `manifest` names (reusing open ones) and drops the others.
    private func follow(_ manifest: Manifest, _ s: inout State) throws(SightlineError) {
        var open: [String: SegmentReader] = [:]
        for reader in s.segments { open[reader.fileName] = reader }
        var segments: [SegmentReader] = []
        segments.reserveCapacity(manifest.segments.count)
        for entry in manifest.segments {
            if let reader = open[entry.name] {
                segments.append(reader)
            } else {
                segments.append(try Store.openSegment("\(directory)/\(entry.name)", hasher: hasher, fileSystem: fileSystem, keys: dataKeys))
            }
        }
        s.segments = segments  // readers no longer listed close when the last snapshot holding them goes
        s.generation = manifest.generation
        s.persistedSequence = manifest.persistedSequence
    }

    /// The batches of the logs from `persisted` on, contiguous: the owner's acknowledged rows
    /// not yet in a segment. Reads only the bytes appended since the last call.
    private func readLogs(from persisted: UInt64, _ s: inout State) throws(SightlineError) -> [SightingBatch] {
        let logs = try Store.logFiles(in: directory, fileSystem: fileSystem)
        let present = Set(logs.map(\.0))
        for first in s.logs.keys where !present.contains(first) { s.logs[first] = nil }
        var batches: [SightingBatch] = []
        var next = persisted
        for (first, name) in logs {
            var tail = s.logs[first] ?? LogTail(name: name)
            // A log whose records all precede `persisted` is in segments already.
            if let known = tail.nextSequence, known <= persisted, tail.validLength > 0 { s.logs[first] = tail; continue }
            var read: LogReader.Contents?
            while read == nil {
                do throws(SightlineError) {
                    read = try LogReader.read("\(directory)/\(name)", fileSystem: fileSystem, from: tail.validLength,
                                              expecting: tail.nextSequence ?? (tail.validLength == 0 ? nil : first),
                                              dataKey: DataKeys.lookup(dataKeys))
                } catch {
                    // A missing key is never "nothing in it" (the snapshot retries when a
                    // deletion destroyed it meanwhile).
                    guard case .corruptFile = error, !SealedFile.isMissingKey(error) else { throw error }
                    // A log still being created has no complete header yet: nothing in it.
                    if tail.validLength == 0 { break }
                    // Not what was read before: a new owner recreated this (header-only) log
                    // on open. Read it afresh from its start.
                    tail = LogTail(name: name)
                }
            }
            guard let contents = read else { s.logs[first] = nil; break }
            tail.records += contents.records
            tail.validLength = contents.validLength
            s.logs[first] = tail
            for record in tail.records where record.sequence >= next {
                guard record.sequence == next else { return batches }  // a gap: the rest is not ours yet
                batches.append(record.batch)
                next += 1
            }
            if contents.tail != nil { break }  // the owner is writing this record: later logs cannot follow yet
        }
        return batches
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
