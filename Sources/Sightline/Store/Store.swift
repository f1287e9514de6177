import Dispatch
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Logging

/// A directory of segments, a write-ahead log and a manifest: the durable home of sightings.
///
/// One process owns a store (the `LOCK` file). Appends are logged (and fsynced per the
/// durability mode; concurrent appenders share writes and fsyncs — group commit) before they
/// are acknowledged, and buffered in memory. A full buffer is frozen and flushed to an
/// immutable segment on a background queue while appends continue into a fresh buffer; an
/// append that fills the second buffer while the first is still being written waits for it
/// (backpressure), so memory stays at about two buffers. `snapshot()` gives a consistent
/// view — the live segments plus the frozen and buffered rows at that moment — that later
/// writes do not change.
///
/// Crash safety rests on three orderings (Docs/architecture.md, "The store"): a log record
/// is durable before its rows are acknowledged; a segment is durable before the manifest
/// names it; a log is deleted only after a durable manifest says its records are in
/// segments. `open` repairs whatever a crash left: it deletes temporary files and segments
/// the manifest does not name, and replays the logs.
///
/// Duplicates: rows equal in (plate, time, camera) to a buffered row are skipped at append; rows equal to one already in a segment are dropped at flush (the stored copy
/// wins), found through per-segment Bloom filters of row keys held in memory.
public final class Store: Sendable {
    /// The store's directory.
    public let directory: String
    /// The hasher under the store's plate key secret.
    public let hasher: PlateHasher
    let options: StoreOptions
    let fileSystem: any FileSystem
    /// swift-metrics instruments (no-ops unless the service bootstraps a backend).
    let metrics: SightlineMetrics
    /// The audit log every read through this store's snapshots, and every purge and policy
    /// change, is recorded in.
    let auditLog: AuditLogWriter
    /// The directory's lock; nil once closed (releasing it).
    private let lock: Locked<StoreLockBox?>
    /// The control socket's server, when `options.controlChannel` (stopped by `close()`).
    private let control = Locked<ControlServer?>(nil)
    /// The write path's state (log, buffer, frozen rows and their keys) and the live
    /// segment set with its manifest: one lock, because a snapshot takes all of them in one step.
    let state: Locked<State>
    /// Row-key filters of the live segments for the duplicate check, within a memory budget:
    /// a cache with its own lock (an evicted filter is rebuilt from its segment). Taken
    /// inside the write path's lock when segments change, never the reverse.
    let rowFilters: Locked<RowFilterCache>
    /// Runs flushes one at a time, off the appending threads. Only work on this queue (and
    /// `init`, before the store is shared) changes the manifest.
    let flushQueue = DispatchQueue(label: "sightline.store.flush")
    /// The alert pipeline (rules, matcher, alert log, pending alerts): its own part, with
    /// its own lock (Alerting/AlertPipeline.swift). The write path admits each logged record
    /// to it and a flush waits for it (`waitUntilSettled`) before its manifest passes a record.
    let alerts: AlertPipeline
    /// The store's data keys in its keyring when it seals its segments (nil: in clear).
    /// The data keys when the store seals its files (nil: in clear). Set once more when a
    /// compaction converts a store made before encryption (`sealInClearStore`).
    var dataKeys: DataKeys? { sealing.withLock { $0 } }
    let sealing: Locked<DataKeys?>
    /// The store's policy (access, cameras, sharing, retention, holds, guardrails): its own
    /// part, with its own lock (Policy/PolicyBook.swift).
    let policy: PolicyBook
    /// The background maintenance timer (Maintenance/MaintenanceScheduler.swift).
    let maintenance: MaintenanceScheduler

    static let secretFileName = "plate-key.secret"

    struct State {
        var manifest: Manifest
        var segments: [SegmentReader]
        /// Rows appended since the last freeze (sealed in chunks as snapshots share them),
        /// and their keys.
        var buffer = WriteBuffer()
        var bufferKeys: RowKeySet
        /// Rows handed to the background flush (the buffer's chunks): still visible to
        /// snapshots until their segment is live. An append equal to one of them is dropped
        /// (`frozenKeys`).
        var frozen: [SightingBatch] = []
        var frozenPlateIndexes: [MemoryPlateIndex?] = []
        /// The previous frozen batch's storage, emptied, for the next buffer: reusing it
        /// spares the page faults of fresh memory.
        var spare: SightingBatch?
        var log: LogWriter?
        /// Set when a failure left memory and disk possibly out of step: reopen to continue.
        var failure: SightlineError?
        /// Rows dropped at flush because a segment already held them.
        var duplicatesAtFlush = 0
        /// The frozen rows' keys (the buffer's, moved at freeze): an alert's row equal to a
        /// frozen one is a duplicate.
        var frozenKeys: RowKeySet

        /// A flush job is queued or running (set at freeze, cleared when it has finished,
        /// old log removal included).
        var flushing = false
        /// `close()` has begun: no more appends, flushes or rewrites.
        var closed = false
    }

    /// Keeps the lock file open (and so the lock held) for the store's lifetime.
    final class StoreLockBox: @unchecked Sendable {
        let lock: StoreLock
        init(_ lock: StoreLock) { self.lock = lock }
    }

    /// Opens the store at `directory`, creating it if allowed, and recovers from any crash.
    /// - Throws: `storeLocked` if another process has it open; `wrongPlateKeySecret` if
    ///   `options.secret` is not the store's; `corruptFile` for damaged files.
    public init(directory: String, options: StoreOptions = StoreOptions(),
                fileSystem: any FileSystem = PosixFileSystem()) throws(SightlineError) {
        self.directory = directory
        let (options, fitted) = try MemoryBudget.fit(options, to: MemoryBudget.processLimit())
        if let fitted { options.logger.notice("\(directory): \(fitted)") }
        self.options = options
        self.fileSystem = fileSystem
        metrics = SightlineMetrics(store: directory, factory: options.metricsFactory)
        auditLog = AuditLogWriter(directory: directory, sync: options.durability != .none, keyring: options.keyring, fileSystem: fileSystem)
        guard options.bufferRows >= 1 else { throw .invalidArgument("bufferRows must be at least 1") }
        guard options.queryParallelism >= 1 else { throw .invalidArgument("queryParallelism must be at least 1") }
        CameraIndexCache.shared.raiseBudget(to: options.cameraIndexCacheBytes)
        guard options.maintenanceInterval >= .milliseconds(10) else { throw .invalidArgument("maintenanceInterval must be at least 10 ms") }
        if options.createIfMissing {
            try fileSystem.createDirectory(directory)
            // A new store is private before its first file: owner-only (or group) whatever the umask.
            let present = try fileSystem.contentsOfDirectory(directory)
            if !present.contains(Manifest.fileName) {
                try Self.applyFileAccess(options.fileAccess, directory: directory, names: present, fileSystem: fileSystem)
            }
        }
        lock = Locked(StoreLockBox(try StoreLock(directory: directory, fileSystem: fileSystem)) as StoreLockBox?)

        let names = try fileSystem.contentsOfDirectory(directory)
        // The secret is written before the first manifest: a crash between the two leaves a
        // secret and no manifest, which is still a new (empty) store.
        let secret = try Self.openSecret(directory: directory, names: names, secret: options.secret, source: options.secretSource, keyring: options.keyring,
                                         create: options.createIfMissing, fileSystem: fileSystem)
        hasher = PlateHasher(secret: secret)

        var manifest: Manifest
        if names.contains(Manifest.fileName) {
            manifest = try Manifest.read(directory: directory, fileSystem: fileSystem)
        } else {
            // A new store: its access requirement and encryption setting are in place before
            // it holds anything; a sealing store names its keyring entry (`STORE-ID`) whatever
            // holds its plate-key secret.
            if options.newStoreAccess != .none { try AccessFile.write(options.newStoreAccess, directory: directory, fileSystem: fileSystem) }
            // `none` is written too: an explicit opt-out, which no compaction converts (a store
            // without the file was made before the setting existed).
            if options.encryption == .aes256GCM {
                try Self.startSealing(directory: directory, keyring: options.keyring, fileSystem: fileSystem)
            } else {
                try options.encryption.write(directory: directory, fileSystem: fileSystem)
            }
            manifest = Manifest()
            try manifest.write(directory: directory, fileSystem: fileSystem)
        }

        // Remove what a crash left behind: temporary files, and segments no manifest names.
        let live = Set(manifest.segments.map(\.name))
        for name in try fileSystem.contentsOfDirectory(directory)
        where name.contains(".tmp-") || (name.hasSuffix(".sls") && !live.contains(name)) {
            options.logger.notice("removing a leftover of an interrupted write", metadata: ["store": "\(directory)", "file": "\(name)"])
            try fileSystem.remove("\(directory)/\(name)")
        }
        let dataKeys = try Self.dataKeys(directory: directory, keyring: options.keyring, fileSystem: fileSystem)
        sealing = Locked(dataKeys)
        // A store that seals (a new one, or one a compaction converted) seals the small files
        // still in clear — `RULES`, `HOLDS`, a version-1 `ALERTS` — before anything reads them.
        if let dataKeys { try Self.sealSmallFiles(directory: directory, keys: dataKeys, fileSystem: fileSystem) }
        var segments: [SegmentReader] = []
        for s in manifest.segments {
            segments.append(try Self.openSegment("\(directory)/\(s.name)", hasher: hasher, fileSystem: fileSystem, keys: dataKeys))
        }
        let initial = State(manifest: manifest, segments: segments, bufferKeys: RowKeySet(capacity: options.bufferRows),
                            frozenKeys: RowKeySet(capacity: 16))
        policy = try PolicyBook(directory: directory, fileSystem: fileSystem, fallbackRetention: options.retention, keys: dataKeys)
        maintenance = MaintenanceScheduler(interval: options.maintenanceInterval)
        let (alerts, loggedAlerts) = try AlertPipeline.open(directory: directory, sync: options.durability != .none, keys: dataKeys, fileSystem: fileSystem)
        self.alerts = alerts
        rowFilters = Locked(RowFilterCache(budget: options.duplicateFilterBytes))
        state = Locked(initial)
        let matching = alerts.matcherInForce != nil

        // Replay the logs: records at or past `persistedSequence` are not in any segment yet.
        let logs = try Self.logFiles(in: directory, fileSystem: fileSystem)
        var nextSequence = manifest.persistedSequence
        var replayedRecords: [(sequence: UInt64, rows: SightingBatch)] = []
        try state.withLock { (s: inout State) throws(SightlineError) in
            for (_, name) in logs {
                let path = "\(directory)/\(name)"
                let contents: LogReader.Contents
                do throws(SightlineError) {
                    contents = try LogReader.read(path, fileSystem: fileSystem, dataKey: DataKeys.lookup(dataKeys))
                } catch {
                    // A log torn while its header was being written held no records yet.
                    if case .corruptFile = error, (try? Self.fileSize(path, fileSystem)) ?? 0 < Int64(LogFormat.headerSize) { continue }
                    throw error
                }
                for record in contents.records where record.sequence >= nextSequence {
                    guard record.sequence == nextSequence else {
                        throw .corruptFile(path: path, offset: 0, reason: "log sequence jumps from \(nextSequence) to \(record.sequence)")
                    }
                    let before = s.buffer.count
                    Self.bufferNewRows(record.batch, into: &s)
                    // Nothing is sealed before the store is shared: the tail holds every row.
                    assert(s.buffer.sealed.isEmpty)
                    if matching { replayedRecords.append((record.sequence, s.buffer.tail.slice(before..<s.buffer.count))) }
                    nextSequence = record.sequence + 1
                }
            }
            options.logger.debug("opened", metadata: ["store": "\(directory)", "segments": "\(s.segments.count)",
                                                      "rows": "\(s.segments.reduce(0) { $0 + $1.rowCount })"])
            if !s.buffer.isEmpty {
                options.logger.notice("recovered rows from the write-ahead log", metadata: ["store": "\(directory)", "rows": "\(s.buffer.count)"])
            }
        }
        // Alerts of replayed records that a crash kept out of the alert log (before their
        // rows reach a segment: until then the records are the proof they were appended).
        try recoverAlerts(replayedRecords, logged: loggedAlerts)
        // Start clean: flush what was replayed here, on this thread (the store is not shared
        // yet), then start a new log and delete the old ones.
        let replayed = state.withLock { (s: inout State) -> SightingBatch in
            defer { s.bufferKeys.removeAll() }
            return WriteBuffer.joined(s.buffer.takeAll().chunks)
        }
        if !replayed.isEmpty || manifest.persistedSequence != nextSequence {
            try writeSegmentAndManifest(replayed, persistedSequence: nextSequence)
        }
        try state.withLock { (s: inout State) throws(SightlineError) in
            try startLog(&s, firstSequence: nextSequence, oldLogs: logs.map(\.1))
        }
        // A deletion that a crash interrupted after its manifest: finish destroying its keys.
        if names.contains(Self.shredPendingFileName) { try shredRetiredKeys() }
        startMaintenance()
        if options.controlChannel {
            let logger = options.logger
            let server = try ControlServer(directory: directory, logger: { logger.warning("\($0)") }) {
                [weak self] (request: ControlRequest) throws(SightlineError) -> ControlReply in
                guard let self else { throw .storeClosed(path: directory) }
                return try self.serve(request)
            }
            control.withLock { $0 = server }
        }
    }

    /// Does what a control request asks (the owner's side of `StoreControl.send`).
    func serve(_ request: ControlRequest) throws(SightlineError) -> ControlReply {
        // A one-plate or one-box read (audited by the reader's process) is answered, not logged.
        if case .memoryRows = request {} else if case .memoryArea = request {} else { options.logger.info("control request", metadata: ["store": "\(directory)", "request": "\(ControlWire.encode(request).split(separator: " ").first ?? "")"]) }
        switch request {
        case .memoryRows(let plate, let generation):
            let answer = memoryRows(of: plate, generation: generation)
            return .memoryRows(generation: answer.generation, rows: answer.rows)
        case .memoryArea(let box, let generation):
            let answer = memoryRows(in: box, generation: generation)
            return .memoryRows(generation: answer.generation, rows: answer.rows)
        case .flush: try flush(); return .flushed
        case .compact(let c): return .rewrite(try compact(c))
        case .purge(let plate, let time, let access, let force): return .rewrite(try purge(plate, time: time, access: access, force: force))
        case .placeLegalHold(let hold, let access):
            let placed = try placeLegalHold(hold, by: access)
            return .statistics("placed \(placed.id)")
        case .releaseLegalHold(let id, let access):
            return .statistics("released \(try releaseLegalHold(id, by: access).map(\.id).joined(separator: " "))")
        case .statistics: return .statistics(try statistics().report)
        case .setInvestigationLimits(let limits):
            try setInvestigationLimits(limits)
            return .statistics(try statistics().report)
        case .setCameraRegistry(let registry, let access):
            try setCameraRegistry(registry, by: access)
            return .statistics("cameras: \(registry.cameras.count)")
        case .setSharingPolicy(let policy, let access):
            try setSharingPolicy(policy, by: access)
            return .statistics("policy: \(policy.rules.count) rules")
        case .setRetentionPolicy(let policy, let access):
            try setRetentionPolicy(policy, by: access)
            return .statistics("retention: \(policy.rules.count) rules")
        case .enforceRetention:
            return .rewrite(try enforceRetention())
        case .setAccessRequirement(let requirement, let access):
            try setAccessRequirement(requirement, by: access)
            return .statistics("access: require \(requirement.rawValue)")
        case .addHotlistEntries(let file, let from):
            let entries = try HotlistFile.read(file, fileSystem: fileSystem)
            let historical = try addHotlistEntries(entries, retroactiveFrom: from)
            return .statistics(Self.summary(added: entries.count, historical: historical, from: from))
        case .removeHotlistEntries(let file):
            let removed = try removeHotlistEntries(try HotlistFile.read(file, requireReason: false, fileSystem: fileSystem))
            return .statistics("removed \(removed) hotlist entries")
        case .addGeofence(let g, let from):
            let historical = try addGeofence(g, retroactiveFrom: from)
            return .statistics(Self.summary(added: 1, historical: historical, from: from, what: "geofence"))
        case .removeGeofence(let name):
            return .statistics(try removeGeofence(named: name) ? "removed geofence \(name)" : "no geofence \(name)")
        }
    }

    /// What a rule change reports (the CLI prints it, here or through the control socket).
    static func summary(added: Int, historical: [Alert], from: Int64?, what: String = "hotlist entries") -> String {
        "added \(added) \(what)" + (from == nil ? "" : "; \(historical.count) historical alerts logged"
            + (historical.isEmpty ? "" : " (sequences \(historical.first!.sequence)–\(historical.last!.sequence))"))
    }

    /// Appends sightings. Rows equal in (plate, time, camera) to a stored row — in a
    /// segment, being flushed, or buffered — or to an earlier row of the same batch are
    /// skipped (the first copy wins), before anything is logged: the log, the buffer and
    /// every snapshot, the owner's and read-only openers', hold each row once. When this
    /// returns, the stored rows are in the log (durable per `options.durability`) and
    /// visible to the next `snapshot()`. Safe to call from many threads: their log writes
    /// are grouped.
    @discardableResult
    public func append(_ batch: SightingBatch) throws(SightlineError) -> AppendResult {
        let bufferRows = options.bufferRows
        // Rows the segments hold are found outside the lock (filter probes, and block
        // decodes for the candidates); if the segments change meanwhile (a flush, a
        // compaction, a purge), the check is redone against the new ones.
        var checked = state.withLock { (s: inout State) in s.segments }
        let batchHashes = Self.rowKeyHashes(batch)
        var (candidate, hashes, _) = try dropRowsAlreadyStored(batch, hashes: batchHashes, segments: checked)
        var outcome: (LogWriter?, UInt64, AppendResult, SightingBatch, RuleMatcher?)?
        while outcome == nil {
            // Backpressure: a full buffer waits while the previous one is still being flushed.
            outcome = try state.withLock(waitingUntil: { s in
                s.buffer.count < bufferRows || !s.flushing || s.failure != nil || s.log == nil
            }) { (s: inout State) throws(SightlineError) -> (LogWriter?, UInt64, AppendResult, SightingBatch, RuleMatcher?)? in
                try checkOpen(s)
                if let failure = s.failure { throw failure }
                guard let log = s.log else { throw .storeClosed(path: directory) }
                guard Self.same(s.segments, checked) else { return nil }
                return try appendChecked(candidate, hashes: hashes, of: batch.count, log: log, bufferRows: bufferRows, &s)
            }
            if outcome == nil {
                checked = state.withLock { (s: inout State) in s.segments }
                (candidate, hashes, _) = try dropRowsAlreadyStored(batch, hashes: batchHashes, segments: checked)
            }
        }
        let (log, sequence, result, fresh, matcher) = outcome!
        // Outside the store's lock: other appenders enqueue while this one matches, writes and syncs.
        let pendingAlerts = matcher.map { $0.alerts(of: fresh, logSequence: sequence, now: options.wallClock()) } ?? []
        if let log {
            do throws(SightlineError) {
                try log.commit(through: sequence)
            } catch {
                throw state.withLock { (s: inout State) -> SightlineError in poison(&s, error, "log write failed") }
            }
        }
        var final = result
        if matcher != nil { final.alerts = try finishAlerts(pendingAlerts, logSequence: sequence) }
        metrics.rowsAppended.increment(by: result.stored)
        if result.duplicates > 0 { metrics.duplicates.increment(by: result.duplicates) }
        return final
    }

    /// Whether two segment lists are the same readers.
    private static func same(_ a: [SegmentReader], _ b: [SegmentReader]) -> Bool {
        a.count == b.count && zip(a, b).allSatisfy { $0 === $1 }
    }

    /// The locked part of `append`: `batch` (already without rows the segments hold) less
    /// the buffered and frozen rows, logged and buffered.
    private func appendChecked(_ batch: SightingBatch, hashes: [UInt64], of asked: Int, log: LogWriter, bufferRows: Int,
                               _ s: inout State) throws(SightlineError) -> (LogWriter?, UInt64, AppendResult, SightingBatch, RuleMatcher?) {
        let fresh = Self.newRows(of: batch, hashes: hashes, in: &s)
        let result = AppendResult(stored: fresh.count, duplicates: asked - fresh.count)
        guard !fresh.isEmpty else { return (nil, 0, result, fresh, nil) }
        let sequence: UInt64
        do throws(SightlineError) {
            sequence = try log.enqueue(fresh)
        } catch {
            throw poison(&s, error, "log append failed")
        }
        s.buffer.append(contentsOf: fresh)
        // Matched outside the lock; until its alerts are written no flush passes the record.
        let matcher = alerts.admit(sequence)
        if s.buffer.count >= bufferRows && !s.flushing { try freeze(&s) }
        return (log, sequence, result, fresh, matcher)
    }

    /// Rows of `batch` not already buffered or frozen, nor earlier in the batch; their keys
    /// are added to the buffer's. If the log append then fails the store is poisoned, so
    /// keys of rows that were not stored never matter. `hashes` are the rows' `RowKey.hash`es
    /// (computed outside the lock). Copies rows only when some are duplicates: most batches
    /// have none and are taken whole.
    private static func newRows(of batch: SightingBatch, hashes: [UInt64], in s: inout State) -> SightingBatch {
        precondition(hashes.count == batch.count, "one key hash per row")
        let checkFrozen = s.frozenKeys.count > 0
        var duplicates: [Int] = []
        var folded: UInt32 = 0
        hashes.withUnsafeBufferPointer { hashes in
            // Probes come in groups: the next group's slots are touched (their misses
            // overlap) before this group's keys are inserted.
            let group = 16
            var start = 0
            while start < hashes.count {
                let end = min(start + group, hashes.count)
                let next = UnsafeBufferPointer(rebasing: hashes[end..<min(end + group, hashes.count)])
                folded ^= s.bufferKeys.touch(next)
                if checkFrozen { folded ^= s.frozenKeys.touch(next) }
                for i in start..<end {
                    let plate = batch.plates[i], time = batch.times[i], camera = batch.cameras[i]
                    if checkFrozen && s.frozenKeys.contains(hash: hashes[i], plate: plate, time: time, camera: camera) {
                        duplicates.append(i)
                    } else if !s.bufferKeys.insert(hash: hashes[i], plate: plate, time: time, camera: camera) {
                        duplicates.append(i)
                    }
                }
                start = end
            }
        }
        keepAlive(folded)
        guard !duplicates.isEmpty else { return batch }
        var fresh = SightingBatch(capacity: batch.count - duplicates.count)
        var previous = 0
        for d in duplicates {
            for i in previous..<d { fresh.appendRow(i, of: batch) }
            previous = d + 1
        }
        for i in previous..<batch.count { fresh.appendRow(i, of: batch) }
        return fresh
    }


    /// Writes the buffered rows to a new segment now, and waits until it is live.
    public func flush() throws(SightlineError) {
        try state.withLock(waitingUntil: { !$0.flushing || $0.failure != nil }) { (s: inout State) throws(SightlineError) in
            try checkOpen(s)
            if let failure = s.failure { throw failure }
            if s.log != nil && !s.buffer.isEmpty { try freeze(&s) }
        }
        try waitForFlush()
    }

    /// Closes the store: waits for the flush in flight and for compactions, purges and
    /// retention runs already under way, fsyncs the log, stops background maintenance, and
    /// releases the directory's `LOCK`, so another process (or another `Store` in this one)
    /// can open it at once. Buffered rows stay in the log and are flushed on the next open.
    /// Later appends, flushes and maintenance calls throw `storeClosed`; snapshots taken
    /// before stay readable. Calling it again does nothing. Throws the failure that poisoned
    /// the store, if one did (the lock is released all the same).
    public func close() throws(SightlineError) {
        control.withLock { $0 }?.stop()  // no new control requests; one in progress finishes first
        let outcome = state.withLock(waitingUntil: { !$0.flushing || $0.failure != nil }) { (s: inout State) -> SightlineError? in
            if s.closed { return nil }
            s.closed = true
            defer { s.log = nil; maintenance.stop(); alerts.close(); auditLog.close() }
            if let failure = s.failure { return failure }
            do throws(SightlineError) { try s.log?.sync() } catch { return error }
            return nil
        }
        // No flush can start now (appends throw); let rewrites queued before finish, so
        // nothing of this store writes once the lock is gone.
        flushQueue.sync {}
        lock.withLock { $0 = nil }
        if let outcome { throw outcome }
    }

    /// Throws `storeClosed` once `close()` has begun.
    func checkOpen(_ s: State) throws(SightlineError) {
        if s.closed { throw .storeClosed(path: directory) }
    }

    /// A consistent view of the store now: later appends and flushes do not change it. Its
    /// reads are audited as `AccessContext.unattributed` (and refused when the store requires
    /// a purpose): services pass the reader's context to `snapshot(access:)`.
    public func snapshot() -> StoreSnapshot { snapshot(access: .unattributed) }

    /// A consistent view of the store now, read on behalf of `access`: every read through it
    /// is checked against the store's access requirement and audited.
    public func snapshot(access: AccessContext) -> StoreSnapshot {
        var snapshot = engineSnapshot()
        snapshot.access = access
        let (requirement, visibility) = policy.access(for: access.agency)
        snapshot.auditTrail = AuditTrail(log: auditLog, requirement: requirement, hasher: hasher, now: options.wallClock)
        snapshot.visibility = visibility
        return snapshot
    }

    /// The cameras and their owners (`CAMERAS`).
    public var cameraRegistry: CameraRegistry { policy.current.cameraRegistry }
    /// Who may read whose rows (`POLICY`).
    public var sharingPolicy: SharingPolicy { policy.current.sharingPolicy }

    /// Replaces the camera registry: written durably (`CAMERAS`), in force for later
    /// snapshots here and every process's next snapshot; audited (operation `cameras`).
    public func setCameraRegistry(_ registry: CameraRegistry, by access: AccessContext = .unattributed) throws(SightlineError) {
        for c in registry.cameras.values {
            try checkPolicyName(c.agency, "agency"); try checkPolicyName(c.jurisdiction, "jurisdiction")
            try checkPolicyName(c.kind, "kind"); try checkPolicyName(c.name, "name")
        }
        try policy.setCameraRegistry(registry)
        try audit(access, "cameras", "cameras=\(registry.cameras.count) default-owner=\(registry.defaultOwner.map { "\($0.agency):\($0.jurisdiction)" } ?? "-")",
                  rows: 0, plates: 0)
    }

    /// Replaces the sharing policy: written durably (`POLICY`), enforced in the planner for
    /// later snapshots here and every process's next snapshot; audited (operation `policy`).
    public func setSharingPolicy(_ policy: SharingPolicy, by access: AccessContext = .unattributed) throws(SightlineError) {
        for r in policy.rules { for name in [r.owner] + r.allow + r.deny { try checkPolicyName(name, "policy name") } }
        try self.policy.setSharingPolicy(policy)
        try audit(access, "policy", "default=\(policy.defaultAllows ? "allow" : "deny") rules=\(policy.rules.count)", rows: 0, plates: 0)
    }

    /// A view for the engine's own reads (deduplication, purges, statistics): not audited.
    func engineSnapshot() -> StoreSnapshot {
        let limits = policy.current.investigationLimits
        return state.withLock { (s: inout State) -> StoreSnapshot in
            let buffered = s.buffer.chunksForSnapshot()
            return StoreSnapshot(segments: s.segments, memory: s.frozen + buffered.chunks,
                                 memoryPlateIndexes: s.frozenPlateIndexes + buffered.plateIndexes, retention: retentionRule(),
                                 parallelism: options.queryParallelism, metrics: metrics, investigationLimits: limits)
        }
    }

    /// What every read of this store must state.
    public var accessRequirement: AccessRequirement { policy.current.accessRequirement }

    /// Sets what every read must state: written durably (`ACCESS`, replaced atomically),
    /// honoured by later snapshots here and by every process at its next snapshot; audited
    /// (operation `access-policy`) under `access`.
    public func setAccessRequirement(_ requirement: AccessRequirement, by access: AccessContext = .unattributed) throws(SightlineError) {
        try policy.setAccessRequirement(requirement)
        try audit(access, "access-policy", "require \(requirement.rawValue)", rows: 0, plates: 0)
    }

    /// Appends one record for an operation of the store itself (purge, retention, policy).
    func audit(_ access: AccessContext, _ operation: String, _ query: String, rows: Int, plates: Int,
               outcome: AuditOutcome = .answered, detail: String = "") throws(SightlineError) {
        try AuditTrail(log: auditLog, requirement: .none, hasher: hasher, now: options.wallClock)
            .record(access, operation, query, rows: rows, plates: plates, outcome: outcome, detail: detail)
    }

    /// The guardrails of investigative queries (off until set).
    public var investigationLimits: InvestigationLimits {
        policy.current.investigationLimits
    }

    /// Sets the guardrails of investigative queries: written durably to the store (file
    /// `GUARDRAILS`, replaced atomically), honoured by this store's later snapshots and by
    /// every process that opens the store, read-only ones at their next snapshot.
    /// `InvestigationLimits.off` removes them.
    /// - Throws: `invalidArgument` for a limit that is not positive; I/O errors.
    public func setInvestigationLimits(_ limits: InvestigationLimits, by access: AccessContext = .unattributed) throws(SightlineError) {
        if let span = limits.maximumTimeSpan, span.milliseconds <= 0 { throw .invalidArgument("the maximum time span must be positive") }
        if let plates = limits.maximumPlates, plates <= 0 { throw .invalidArgument("the maximum number of plates must be positive") }
        try policy.setInvestigationLimits(limits)
        try audit(access, "guardrails", "\(limits)", rows: 0, plates: 0)
        options.logger.notice("investigation guardrails set", metadata: ["store": "\(directory)", "limits": "\(limits)"])
    }

    /// Names of the live segment files, in manifest order.
    public var segmentNames: [String] {
        state.withLock { (s: inout State) -> [String] in s.manifest.segments.map(\.name) }
    }

    // MARK: internals

    /// Adds replayed rows to the buffer, skipping any already there.
    private static func bufferNewRows(_ batch: SightingBatch, into s: inout State) {
        for i in 0..<batch.count where s.bufferKeys.insert(plate: batch.plates[i], time: batch.times[i], camera: batch.cameras[i]) {
            s.buffer.appendRow(i, of: batch)
        }
    }

    /// Records a failure that may leave memory and disk out of step; returns it to throw.
    func poison(_ s: inout State, _ error: SightlineError, _ what: String) -> SightlineError {
        if s.failure == nil {
            s.failure = error
            options.logger.error("\(what); reopen the store to recover", metadata: ["store": "\(directory)", "error": "\(error)"])
        }
        alerts.fail(error)  // a flush waiting for pending alerts stops waiting
        state.broadcast()
        return error
    }

    /// Rows dropped at a flush because a segment already held them. Appends drop such rows
    /// before logging them (and report them in `AppendResult.duplicates`), so this counts
    /// only rows replayed from a write-ahead log at open whose equal a segment already held.
    public var duplicatesDroppedAtFlush: Int {
        state.withLock { (s: inout State) -> Int in s.duplicatesAtFlush }
    }

    static func segmentName(_ number: UInt64) -> String { pad(number, 6) + ".sls" }
    static func logName(_ firstSequence: UInt64) -> String { "log-" + pad(firstSequence, 20) + ".log" }
    static func logName(_ log: LogWriter) -> String { String(log.path.split(separator: "/").last ?? "") }

    private static func pad(_ n: UInt64, _ width: Int) -> String {
        let digits = String(n)
        return String(repeating: "0", count: max(0, width - digits.count)) + digits
    }

    /// The directory's logs, by first sequence.
    static func logFiles(in directory: String, fileSystem: any FileSystem) throws(SightlineError) -> [(UInt64, String)] {
        try fileSystem.contentsOfDirectory(directory).compactMap { name -> (UInt64, String)? in
            guard name.hasPrefix("log-"), name.hasSuffix(".log"), let n = UInt64(name.dropFirst(4).dropLast(4)) else { return nil }
            return (n, name)
        }.sorted { $0.0 < $1.0 }
    }

    /// The store's plate-key secret: from `plate-key.secret` in the directory (a store made
    /// before keyrings), or — for a store that keeps only `plate-key.check` — from `secret`,
    /// from its keyring entry (found by `STORE-ID`) when `source` is `.keyring`, or from
    /// `source`, checked against the check file. A new store (no manifest yet; with
    /// `create`) gets one: in the keyring (the default), in the directory when `source` is
    /// `.storeDirectory`, else from `source`; all but the in-directory one leave a check
    /// file. Key material is written before anything names it: keyring entry, then
    /// `STORE-ID`, then the check — a crash between leaves no manifest, so a new store.
    static func openSecret(directory: String, names: [String], secret given: PlateKeySecret?, source: PlateKeySecretSource,
                           keyring: Keyring, create: Bool, fileSystem: any FileSystem) throws(SightlineError) -> PlateKeySecret {
        if names.contains(secretFileName) {
            let secret = try readSecret("\(directory)/\(secretFileName)", fileSystem: fileSystem)
            if let given, given != secret { throw .wrongPlateKeySecret(path: directory) }
            return secret
        }
        if names.contains(SecretCheckFile.fileName) && names.contains(Manifest.fileName) {
            var supplied = given
            if supplied == nil, case .keyring = source {
                // A store made with an outside secret before keyrings has no id: it needs its source.
                guard let id = try StoreIdentity.read(directory: directory, fileSystem: fileSystem) else { throw .secretRequired(path: directory) }
                guard let secret = try keyring.secret(for: id, fileSystem: fileSystem) else {
                    // An entry without a secret: the store keeps its secret elsewhere (a file,
                    // a variable, a provider) and only its data keys here.
                    if (try? fileSystem.permissions(keyring.entry(id))) != nil { throw .secretRequired(path: directory) }
                    throw .keyMissing(store: directory, keyring: keyring.directory, storeID: id.hex)
                }
                supplied = secret
            } else if supplied == nil {
                supplied = try source.resolve(creating: false, fileSystem: fileSystem)
            }
            guard let secret = supplied else { throw .secretRequired(path: directory) }
            let path = "\(directory)/\(SecretCheckFile.fileName)"
            guard let bytes = try fileSystem.contentsIfPresent(path, limit: 4096, "plate-key check file"),
                  try SecretCheckFile.matches(secret, bytes, path: path) else { throw .wrongPlateKeySecret(path: directory) }
            return secret
        }
        guard !names.contains(Manifest.fileName) else {
            throw .corruptFile(path: "\(directory)/\(secretFileName)", offset: 0, reason: "missing: the store's plate keys cannot be recomputed")
        }
        guard create else { throw .invalidArgument("\(directory) holds no store") }
        switch source {
        case .storeDirectory:
            let secret = given ?? .random()
            try fileSystem.replaceAtomically("\(directory)/\(secretFileName)", with: Array((secret.hex + "\n").utf8))
            return secret
        case .keyring:
            try checkOutside(keyring, of: directory)
            let secret = given ?? .random()
            let id = StoreIdentity.random()
            try keyring.create(secret, for: id, fileSystem: fileSystem)
            try id.write(directory: directory, fileSystem: fileSystem)
            try fileSystem.replaceAtomically("\(directory)/\(SecretCheckFile.fileName)", with: SecretCheckFile.encode(secret))
            return secret
        case .file, .environment, .provider:
            var supplied = given
            if supplied == nil { supplied = try source.resolve(creating: true, fileSystem: fileSystem) }
            guard let secret = supplied else { throw .secretRequired(path: directory) }
            try fileSystem.replaceAtomically("\(directory)/\(SecretCheckFile.fileName)", with: SecretCheckFile.encode(secret))
            return secret
        }
    }

    /// Refuses a keyring inside the store it would protect (a key beside its data).
    static func checkOutside(_ keyring: Keyring, of directory: String) throws(SightlineError) {
        func absolute(_ path: String) -> String {
            var parts: [Substring] = []
            var base = path
            if !path.hasPrefix("/") {
                var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
                base = (getcwd(&buffer, buffer.count) != nil ? String(cString: buffer) : "") + "/" + path
            }
            for part in base.split(separator: "/") where part != "." {
                if part == ".." { _ = parts.popLast() } else { parts.append(part) }
            }
            return "/" + parts.joined(separator: "/")
        }
        let store = absolute(directory), ring = absolute(keyring.directory)
        if ring == store || ring.hasPrefix(store + "/") {
            throw .invalidArgument("the keyring \(keyring.directory) is inside the store \(directory): keep it apart from the data it protects")
        }
    }

    static func readSecret(_ path: String, fileSystem: any FileSystem) throws(SightlineError) -> PlateKeySecret {
        let file = try fileSystem.open(path, mode: .read)
        defer { try? fileSystem.close(file) }
        var bytes = [UInt8](repeating: 0, count: 33)
        let n = try bytes.withUnsafeMutableBytesTyped { (raw: UnsafeMutableRawBufferPointer) throws(SightlineError) -> Int in
            try fileSystem.read(file, into: raw, at: 0)
        }
        let text = String(decoding: bytes[0..<min(n, 32)], as: UTF8.self)
        do {
            return try PlateKeySecret(hex: text)
        } catch {
            throw .corruptFile(path: path, offset: 0, reason: "not a plate key secret (32 hex digits)")
        }
    }

    static func fileSize(_ path: String, _ fileSystem: any FileSystem) throws(SightlineError) -> Int64 {
        let file = try fileSystem.open(path, mode: .read)
        defer { try? fileSystem.close(file) }
        return try fileSystem.size(file)
    }
}
