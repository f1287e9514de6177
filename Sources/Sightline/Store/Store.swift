import Logging

/// A directory of segments, a write-ahead log and a manifest: the durable home of sightings.
///
/// One process owns a store (the `LOCK` file). Appends are logged (and fsynced per the
/// durability mode) before they are acknowledged, buffered in memory, and flushed to an
/// immutable segment when the buffer is full. `snapshot()` gives a consistent view — the
/// live segments plus the buffered rows at that moment — that later writes do not change.
///
/// Crash safety rests on three orderings (Docs/architecture.md, "The store"): a log record
/// is durable before its rows are acknowledged; a segment is durable before the manifest
/// names it; a log is deleted only after a durable manifest says its records are in
/// segments. `open` repairs whatever a crash left: it deletes temporary files and segments
/// the manifest does not name, and replays the log.
///
/// Duplicates: rows equal in (plate, time, camera) to a buffered row are skipped at append;
/// rows equal to one already in a segment are dropped at flush (the stored copy wins).
///
/// Not yet here (the store issue is open): group commit, background flushing, and
/// membership filters to make the flush-time duplicate check cheap at billions of rows.
public final class Store: Sendable {
    /// The store's directory.
    public let directory: String
    /// The hasher under the store's plate key secret.
    public let hasher: PlateHasher
    let options: StoreOptions
    let fileSystem: any FileSystem
    private let lock: Locked<StoreLockBox>
    private let state: Locked<State>

    static let secretFileName = "plate-key.secret"

    /// A key for duplicate detection: rows equal in plate, time and camera are one sighting.
    struct RowKey: Hashable {
        var plate: Plate
        var time: Int64
        var camera: UInt32
    }

    struct State {
        var manifest: Manifest
        var segments: [SegmentReader]
        var buffer = SightingBatch()
        var bufferKeys = RowKeySet()
        var log: LogWriter?
        /// Set when a failure left memory and disk possibly out of step: reopen to continue.
        var failure: SightlineError?
        /// Rows dropped at flush because a segment already held them.
        var duplicatesAtFlush = 0
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
        self.options = options
        self.fileSystem = fileSystem
        guard options.bufferRows >= 1 else { throw .invalidArgument("bufferRows must be at least 1") }
        if options.createIfMissing { try fileSystem.createDirectory(directory) }
        lock = Locked(StoreLockBox(try StoreLock(directory: directory, fileSystem: fileSystem)))

        let names = try fileSystem.contentsOfDirectory(directory)
        // The secret is written before the first manifest: a crash between the two leaves a
        // secret and no manifest, which is still a new (empty) store.
        let secret: PlateKeySecret
        if names.contains(Self.secretFileName) {
            secret = try Self.readSecret("\(directory)/\(Self.secretFileName)", fileSystem: fileSystem)
            if let given = options.secret, given != secret { throw .wrongPlateKeySecret(path: directory) }
        } else {
            guard !names.contains(Manifest.fileName) else {
                throw .corruptFile(path: "\(directory)/\(Self.secretFileName)", offset: 0, reason: "missing: the store's plate keys cannot be recomputed")
            }
            guard options.createIfMissing else { throw .invalidArgument("\(directory) holds no store") }
            secret = options.secret ?? .random()
            let text = Array((secret.hex + "\n").utf8)
            try fileSystem.writeAtomically("\(directory)/\(Self.secretFileName)") { (write: (UnsafeRawBufferPointer) throws(SightlineError) -> Void) throws(SightlineError) in
                try text.withUnsafeBytesTyped { (raw: UnsafeRawBufferPointer) throws(SightlineError) in try write(raw) }
            }
        }
        hasher = PlateHasher(secret: secret)

        var manifest: Manifest
        if names.contains(Manifest.fileName) {
            manifest = try Manifest.read(directory: directory, fileSystem: fileSystem)
        } else {
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
        var segments: [SegmentReader] = []
        for s in manifest.segments {
            segments.append(try SegmentReader(path: "\(directory)/\(s.name)", hasher: hasher, fileSystem: fileSystem))
        }
        state = Locked(State(manifest: manifest, segments: segments))

        // Replay the logs: records at or past `persistedSequence` are not in any segment yet.
        let logs = try Self.logFiles(in: directory, fileSystem: fileSystem)
        var nextSequence = manifest.persistedSequence
        try state.withLock { (s: inout State) throws(SightlineError) in
            for (_, name) in logs {
                let path = "\(directory)/\(name)"
                let contents: LogReader.Contents
                do throws(SightlineError) {
                    contents = try LogReader.read(path, fileSystem: fileSystem)
                } catch {
                    // A log torn while its header was being written held no records yet.
                    if case .corruptFile = error, (try? Self.fileSize(path, fileSystem)) ?? 0 < Int64(LogFormat.headerSize) { continue }
                    throw error
                }
                for record in contents.records where record.sequence >= nextSequence {
                    guard record.sequence == nextSequence else {
                        throw .corruptFile(path: path, offset: 0, reason: "log sequence jumps from \(nextSequence) to \(record.sequence)")
                    }
                    Self.bufferNewRows(record.batch, into: &s)
                    nextSequence = record.sequence + 1
                }
            }
            // Start clean: flush what was replayed (this starts a new log and deletes the
            // old ones), or just start a new log.
            options.logger.debug("opened", metadata: ["store": "\(directory)", "segments": "\(s.segments.count)",
                                                      "rows": "\(s.segments.reduce(0) { $0 + $1.rowCount })"])
            if !s.buffer.isEmpty {
                options.logger.notice("recovered rows from the write-ahead log", metadata: ["store": "\(directory)", "rows": "\(s.buffer.count)"])
                try flushLocked(&s, nextSequence: nextSequence, oldLogs: logs.map(\.1))
            } else {
                try startLog(&s, firstSequence: nextSequence, oldLogs: logs.map(\.1))
            }
        }
    }

    /// Appends sightings. Rows equal in (plate, time, camera) to a buffered row, or to an
    /// earlier row of the same batch, are skipped (the first copy wins). When this returns,
    /// the stored rows are in the log (durable per `options.durability`) and visible to the
    /// next `snapshot()`.
    @discardableResult
    public func append(_ batch: SightingBatch) throws(SightlineError) -> AppendResult {
        try state.withLock { (s: inout State) throws(SightlineError) -> AppendResult in
            if let failure = s.failure { throw failure }
            guard let log = s.log else { throw .invalidArgument("the store is closed") }
            // Keep only rows not already buffered (nor earlier in this batch): one
            // insert-if-absent per row. If the log append then fails the store is poisoned,
            // so keys of rows that were not stored never matter.
            // Copy rows only from the first duplicate on: most batches have none and are
            // taken whole.
            var fresh = batch
            var firstDuplicate: Int?
            for i in 0..<batch.count where !s.bufferKeys.insert(plate: batch.plates[i], time: batch.times[i], camera: batch.cameras[i]) {
                firstDuplicate = i
                break
            }
            if let d = firstDuplicate {
                fresh = SightingBatch(capacity: batch.count)
                for i in 0..<d { fresh.appendRow(i, of: batch) }
                for i in (d + 1)..<batch.count where s.bufferKeys.insert(plate: batch.plates[i], time: batch.times[i], camera: batch.cameras[i]) {
                    fresh.appendRow(i, of: batch)
                }
            }
            let result = AppendResult(stored: fresh.count, duplicates: batch.count - fresh.count)
            guard !fresh.isEmpty else { return result }
            do throws(SightlineError) {
                try log.append(fresh)
            } catch {
                s.failure = error  // the log may hold a partial record: reopen to recover
                options.logger.error("log append failed; reopen the store to recover", metadata: ["store": "\(directory)", "error": "\(error)"])
                throw error
            }
            s.buffer.append(contentsOf: fresh)
            if s.buffer.count >= options.bufferRows {
                try flushLocked(&s, nextSequence: log.nextSequence, oldLogs: [Self.logName(log)])
            }
            return result
        }
    }

    /// Writes the buffered rows to a new segment now.
    public func flush() throws(SightlineError) {
        try state.withLock { (s: inout State) throws(SightlineError) in
            if let failure = s.failure { throw failure }
            guard let log = s.log, !s.buffer.isEmpty else { return }
            try flushLocked(&s, nextSequence: log.nextSequence, oldLogs: [Self.logName(log)])
        }
    }

    /// fsyncs the log and closes it. Buffered rows stay in the log and are flushed on the
    /// next open. Further appends throw.
    public func close() throws(SightlineError) {
        try state.withLock { (s: inout State) throws(SightlineError) in
            if let log = s.log, s.failure == nil { try log.sync() }
            s.log = nil
        }
    }

    /// A consistent view of the store now: later appends and flushes do not change it.
    public func snapshot() -> StoreSnapshot {
        state.withLock { (s: inout State) -> StoreSnapshot in
            StoreSnapshot(segments: s.segments, buffer: s.buffer)
        }
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

    /// Segment, then manifest, then a new log, then the old logs go. On failure the store
    /// refuses further writes until reopened: what is on disk is always recoverable, but
    /// memory may no longer match it.
    private func flushLocked(_ s: inout State, nextSequence: UInt64, oldLogs: [String]) throws(SightlineError) {
        try dropRowsAlreadyStored(&s)
        guard !s.buffer.isEmpty else {
            // Everything was a re-ingest: nothing to write, but the log's records are settled.
            var manifest = s.manifest
            manifest.generation += 1
            manifest.persistedSequence = nextSequence
            do throws(SightlineError) {
                try manifest.write(directory: directory, fileSystem: fileSystem)
                s.manifest = manifest
                s.bufferKeys.removeAll()
            } catch {
                s.failure = error
                throw error
            }
            try startLog(&s, firstSequence: nextSequence, oldLogs: oldLogs)
            return
        }
        var manifest = s.manifest
        let name = Self.segmentName(manifest.nextSegmentNumber)
        let path = "\(directory)/\(name)"
        do throws(SightlineError) {
            let summary = try SegmentWriter(hasher: hasher, options: options.segment, fileSystem: fileSystem).write(s.buffer, to: path)
            let reader = try SegmentReader(path: path, hasher: hasher, fileSystem: fileSystem)
            manifest.generation += 1
            manifest.nextSegmentNumber += 1
            manifest.persistedSequence = nextSequence
            manifest.segments.append(Manifest.Segment(name: name, rowCount: summary.rowCount, fileBytes: summary.fileBytes,
                                                      minTime: reader.statistics.minTime, maxTime: reader.statistics.maxTime))
            try manifest.write(directory: directory, fileSystem: fileSystem)
            // Durable from here on: the rows are in the segment the manifest names.
            s.manifest = manifest
            s.segments.append(reader)
            s.buffer.removeAll()  // keeps its capacity (unless a snapshot still shares it)
            s.bufferKeys.removeAll()
            options.logger.debug("flushed", metadata: ["store": "\(directory)", "segment": "\(name)",
                                                       "rows": "\(summary.rowCount)", "bytes": "\(summary.fileBytes)"])
        } catch {
            s.failure = error
            options.logger.error("flush failed; reopen the store to recover", metadata: ["store": "\(directory)", "error": "\(error)"])
            throw error
        }
        try startLog(&s, firstSequence: nextSequence, oldLogs: oldLogs)
    }

    /// Removes from the buffer rows equal in (plate, time, camera) to rows already in a
    /// segment, so re-ingesting a file stores nothing twice (the stored copy wins). Only
    /// segments whose time range overlaps the buffer's are read — new data costs nothing —
    /// and of those only the plate, time and camera columns. (At billions of rows the index
    /// issue's membership filters should replace this scan of overlapping segments.)
    private func dropRowsAlreadyStored(_ s: inout State) throws(SightlineError) {
        guard !s.buffer.isEmpty else { return }
        let low = s.buffer.times.min()!, high = s.buffer.times.max()!
        var stored = Set<RowKey>()
        let decoder = BlockDecoder()
        for segment in s.segments where segment.rowCount > 0 && segment.statistics.minTime <= high && segment.statistics.maxTime >= low {
            for b in 0..<segment.blockCount {
                let stats = segment.blockStatistics(b)
                guard stats.minTime <= high && stats.maxTime >= low else { continue }
                try decoder.decode(segment, block: b, columns: [.plate, .time, .camera])
                var row = 0
                for r in 0..<decoder.runPlates.count {
                    let plate = decoder.runPlates[r]
                    for _ in 0..<Int(decoder.runLengths[r]) {
                        if s.bufferKeys.contains(plate: plate, time: decoder.times[row], camera: decoder.cameras[row]) {
                            stored.insert(RowKey(plate: plate, time: decoder.times[row], camera: decoder.cameras[row]))
                        }
                        row += 1
                    }
                }
            }
        }
        guard !stored.isEmpty else { return }
        var kept = SightingBatch(capacity: s.buffer.count - stored.count)
        for i in 0..<s.buffer.count
        where !stored.contains(RowKey(plate: s.buffer.plates[i], time: s.buffer.times[i], camera: s.buffer.cameras[i])) {
            kept.append(s.buffer[i])
        }
        s.duplicatesAtFlush += s.buffer.count - kept.count
        s.buffer = kept
    }

    /// Rows dropped at flush because a segment already held them (re-ingested data).
    public var duplicatesDroppedAtFlush: Int {
        state.withLock { (s: inout State) -> Int in s.duplicatesAtFlush }
    }

    /// Creates the log for records from `firstSequence` on, then removes `oldLogs`.
    private func startLog(_ s: inout State, firstSequence: UInt64, oldLogs: [String]) throws(SightlineError) {
        do throws(SightlineError) {
            s.log = nil  // closes the old writer
            let name = Self.logName(firstSequence)
            // A log of this name already exists only when it holds no record at or past
            // `firstSequence` (an empty current log at reopen): nothing to keep.
            if oldLogs.contains(name) { try fileSystem.remove("\(directory)/\(name)") }
            let fresh = try LogWriter.create("\(directory)/\(name)", firstSequence: firstSequence,
                                             durability: options.durability, fileSystem: fileSystem)
            for old in oldLogs where old != name { try fileSystem.remove("\(directory)/\(old)") }
            if !oldLogs.isEmpty { try fileSystem.syncDirectory(directory) }
            s.log = fresh
        } catch {
            s.failure = error
            throw error
        }
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

/// A consistent view of a store: its segments and buffered rows at one moment.
public struct StoreSnapshot: Sendable {
    let segments: [SegmentReader]
    let buffer: SightingBatch

    /// Rows in the view.
    public var rowCount: Int { segments.reduce(buffer.count) { $0 + $1.rowCount } }

    /// Every row: each segment's in file order, then the buffered ones. Allocates; for tests,
    /// tools and small stores — the query planner reads selectively.
    public func allSightings() throws(SightlineError) -> [Sighting] {
        var rows: [Sighting] = []
        for segment in segments { rows += try segment.allSightings() }
        return rows + buffer.sightings
    }
}
