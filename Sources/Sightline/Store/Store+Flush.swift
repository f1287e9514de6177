import Dispatch
import Tracing

/// Flushing: freezing the buffer, writing its segment on the flush queue, swapping the
/// manifest, rotating logs.
extension Store {
    /// Hands the buffer to a background flush and starts a new log for what follows. The
    /// old log is synced first, so the new log's records always follow a complete old log
    /// (recovery replays them in sequence order). Called under the state lock, with no
    /// flush in flight.
    func freeze(_ s: inout State) throws(SightlineError) {
        assert(!s.flushing && !s.buffer.isEmpty)
        guard let old = s.log else { return }
        let oldName = Self.logName(old)
        do throws(SightlineError) {
            try old.sync()
            let next = old.nextSequence
            s.log = try createLog("\(directory)/\(Self.logName(next))", firstSequence: next)
            (s.frozen, s.frozenPlateIndexes) = s.buffer.takeAll(nextTail: s.spare ?? SightingBatch(capacity: min(options.bufferRows, 1 << 16)))
            s.flushing = true
            s.spare = nil
            // The frozen rows' keys move with them: an append equal to a frozen row is a
            // duplicate (no second copy in snapshots, no second alert).
            swap(&s.frozenKeys, &s.bufferKeys)
            s.bufferKeys.removeAll()
            flushQueue.async { self.flushInBackground(persistedSequence: next, oldLog: oldName) }
        } catch {
            throw poison(&s, error, "starting a flush failed")
        }
    }

    /// The flush queue's work: segment, manifest, then the frozen rows leave memory and the
    /// old log goes. A failure poisons the store; the rows stay recoverable from the logs.
    private func flushInBackground(persistedSequence: UInt64, oldLog: String) {
        let span = startSpan("sightline.flush")
        let started = ContinuousClock.now
        // Joined here, off the lock: snapshots taken meanwhile keep the chunks.
        var rows = WriteBuffer.joined(state.withLock { (s: inout State) in s.frozen })
        span.attributes["sightline.rows"] = rows.count
        do throws(SightlineError) {
            // The manifest may not pass a record whose alerts are still being written (a
            // crash would then lose them with the log).
            try alerts.waitUntilSettled(before: persistedSequence)
            // The segment goes live and the frozen rows leave memory in one step, so no
            // snapshot sees them twice or misses them.
            try writeSegmentAndManifest(rows, persistedSequence: persistedSequence, checkedAtAppend: true) { (s: inout State) in
                s.frozen = []
                s.frozenPlateIndexes = []
                if s.frozenKeys.count > 0 { s.frozenKeys.removeAll() }
            }
            state.withLock { (s: inout State) in
                rows.removeAll()  // in place unless a snapshot still holds the rows
                s.spare = rows
            }
            try fileSystem.remove("\(directory)/\(oldLog)")
            try fileSystem.syncDirectory(directory)
        } catch {
            span.recordError(error)
            state.withLock { (s: inout State) in _ = poison(&s, error, "flush failed") }
        }
        // Recorded before waiters wake: a caller of flush() sees its flush measured.
        metrics.flushes.recordNanoseconds((ContinuousClock.now - started).nanoseconds)
        span.end()
        state.withLock { (s: inout State) in s.flushing = false }
        state.broadcast()
    }

    /// Waits until no flush is in flight; throws the failure that poisoned the store.
    func waitForFlush() throws(SightlineError) {
        try state.withLock(waitingUntil: { !$0.flushing || $0.failure != nil }) { (s: inout State) throws(SightlineError) in
            if let failure = s.failure { throw failure }
        }
    }

    /// Drops rows already stored, writes the rest as a new segment (if any), and makes a
    /// durable manifest name it with `persistedSequence`; then the segment is live. Runs
    /// without the state lock, one at a time (the flush queue, or `init`).
    ///
    /// `checkedAtAppend`: every row was checked against the segments when it was appended
    /// (and against the buffered and frozen rows under the lock that buffered it), so no
    /// segment can hold it — segments added since then hold rows that were buffered or
    /// frozen at that check, and compactions and purges only rewrite stored rows. Such rows
    /// skip the second check (a hash and a filter probe per row and segment). Rows replayed
    /// from a log at open were never checked against the segments and pass `false`.
    func writeSegmentAndManifest(_ rows: SightingBatch, persistedSequence: UInt64, checkedAtAppend: Bool = false,
                                 andThen install: (inout State) -> Void = { _ in }) throws(SightlineError) {
        let (segments, current) = state.withLock { (s: inout State) in (s.segments, s.manifest) }
        // The rows are sorted (on a second core) while the duplicate check (if any) probes
        // the segments' row filters here and the new segment's is built; then the rows the
        // check found, and rows expired on arrival
        // (retention, unless held), are left out of the sorted rows.
        let sorting = SortJob(rows, hasher: hasher)
        let group = DispatchGroup()
        if Machine.coreCount > 1 && rows.count >= 1 << 16 {
            DispatchQueue.global(qos: .userInitiated).async(group: group) { sorting.run() }
        } else {
            sorting.run()
        }
        let found: ([Bool], Int)?
        do throws(SightlineError) { found = checkedAtAppend ? nil : try rowsAlreadyStored(rows, segments: segments) } catch {
            group.wait()
            throw error
        }
        var dropMask = found?.0
        let dropped = found?.1 ?? 0
        if let rule = retentionRule(), rows.times.contains(where: { $0 < rule.keepsFrom }) {
            var mask = dropMask ?? [Bool](repeating: false, count: rows.count)
            for i in 0..<rows.count where !mask[i] && !rule.keeps(plate: rows.plates[i], time: rows.times[i], camera: rows.cameras[i],
                                                                   latitudeE7: rows.latitudesE7[i], longitudeE7: rows.longitudesE7[i]) {
                mask[i] = true
            }
            dropMask = mask
        }
        // The kept rows' row filter, while the sort runs (the order of its keys is immaterial).
        let keptFilter = Self.rowFilter(of: rows, skipping: dropMask)
        group.wait()
        let kept = SortedBatch(gathering: rows, keys: sorting.keys, order: sorting.order, dropping: dropMask)
        var manifest = current
        manifest.generation += 1
        manifest.persistedSequence = persistedSequence
        var added: (SegmentReader, SplitBlockBloomFilter)?
        if kept.count > 0 {
            let name = Self.segmentName(manifest.nextSegmentNumber)
            let path = "\(directory)/\(name)"
            let summary = try segmentWriter().write(kept, to: path)
            let reader = try Self.openSegment(path, hasher: hasher, fileSystem: fileSystem, keys: dataKeys)
            manifest.nextSegmentNumber += 1
            manifest.segments.append(Manifest.Segment(name: name, rowCount: summary.rowCount, fileBytes: summary.fileBytes,
                                                      minTime: reader.statistics.minTime, maxTime: reader.statistics.maxTime))
            added = (reader, keptFilter)
            options.logger.debug("flushed", metadata: ["store": "\(directory)", "segment": "\(name)",
                                                       "rows": "\(summary.rowCount)", "bytes": "\(summary.fileBytes)"])
        }
        try manifest.write(directory: directory, fileSystem: fileSystem)
        // Durable from here on: the rows are in the segment the manifest names.
        state.withLock { (s: inout State) in
            s.manifest = manifest
            s.duplicatesAtFlush += dropped
            if let (reader, filter) = added {
                s.segments.append(reader)
                rowFilters.withLock { $0.insert(filter, for: reader) }
            }
            install(&s)
            recordShape(s)
        }
    }

    /// Creates the log for records from `firstSequence` on, then removes `oldLogs`.
    func startLog(_ s: inout State, firstSequence: UInt64, oldLogs: [String]) throws(SightlineError) {
        do throws(SightlineError) {
            s.log = nil  // closes the old writer
            let name = Self.logName(firstSequence)
            // A log of this name already exists only when it holds no record at or past
            // `firstSequence` (an empty current log at reopen): nothing to keep.
            if oldLogs.contains(name) { try fileSystem.remove("\(directory)/\(name)") }
            let fresh = try createLog("\(directory)/\(name)", firstSequence: firstSequence)
            for old in oldLogs where old != name { try fileSystem.remove("\(directory)/\(old)") }
            if !oldLogs.isEmpty { try fileSystem.syncDirectory(directory) }
            s.log = fresh
        } catch {
            throw poison(&s, error, "starting a log failed")
        }
    }
}

extension Store {
    /// Updates the segment gauges after a manifest change (under the state lock).
    func recordShape(_ s: State) {
        metrics.segments.record(s.manifest.segments.count)
        metrics.segmentBytes.record(s.manifest.segments.reduce(0) { $0 + $1.fileBytes })
    }
}

/// Sorting a flush's rows (`SortedBatch.order(of:hasher:)`) on another thread; read its
/// result only after the dispatch group that ran `run` is left.
final class SortJob: @unchecked Sendable {
    private let rows: SightingBatch
    private let hasher: PlateHasher
    private(set) var keys: [UInt64] = []
    private(set) var order: [UInt32] = []

    init(_ rows: SightingBatch, hasher: PlateHasher) {
        self.rows = rows
        self.hasher = hasher
    }

    func run() { (keys, order) = SortedBatch.order(of: rows, hasher: hasher) }
}
