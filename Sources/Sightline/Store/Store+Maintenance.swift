import Dispatch

/// Compaction, retention and purge: the public face of the rewrite engine.
extension Store {
    /// Merges small segments and splits segments that span partitions, so that each output
    /// segment holds one partition's rows (up to `targetRows`); with `deleteOlderThan`,
    /// expired rows are deleted as it goes (and a deletion record written). Segments that
    /// are already settled — within one partition and large, or alone in it — are left as
    /// they are. Safe to call while appending and querying.
    @discardableResult
    public func compact(_ compaction: CompactionOptions = CompactionOptions()) throws(SightlineError) -> RewriteSummary {
        guard compaction.targetRows >= 1 else { throw .invalidArgument("targetRows must be at least 1") }
        return try onFlushQueue { () throws(SightlineError) -> RewriteSummary in
            let segments = state.withLock { $0.segments }.filter { $0.rowCount > 0 }
            let cutoff = compaction.deleteOlderThan
            let plan = CompactionPlanner.plan(segments.map(CompactionPlanner.Segment.init), options: compaction)
            let byName = Dictionary(uniqueKeysWithValues: segments.map { ($0.fileName, $0) })
            let groups = plan.groups.map { g in
                RewriteGroup(inputs: g.inputs.map { byName[$0]! }, time: g.time.map { ($0.lowerBound, $0.upperBound) },
                             splitBy: g.time == nil ? compaction.partitioning : nil)
            }
            let candidates = plan.inputs.map { byName[$0]! }
            var summary = try rewrite(groups, removing: candidates, targetRows: compaction.targetRows,
                                      maximumRowsPerSecond: compaction.maximumRowsPerSecond) { _, time in
                cutoff.map { time >= $0 } ?? true
            }
            if summary.rowsDeleted > 0 {
                summary.deletionID = try recordDeletion(kind: "retention", summary: summary, details: [("olderThan", String(cutoff ?? 0))])
            }
            options.logger.debug("compacted", metadata: ["store": "\(directory)", "removed": "\(summary.segmentsRemoved.count)",
                                                         "written": "\(summary.segmentsWritten.count)", "rows": "\(summary.rowsWritten)"])
            return summary
        }
    }

    /// Physically removes every sighting of `plate` within `time` from every segment (an
    /// erasure request, a misread, a court order). Buffered rows are flushed first, so the
    /// write-ahead log holds none afterwards. Writes a deletion record naming neither the
    /// plate nor its key; returns its id (`deletionID`) to keep with the request. Audited
    /// (operation `purge`, the plate by its keyed name, the rows deleted) under `access`;
    /// the audit log itself is not rewritten.
    @discardableResult
    public func purge(_ plate: Plate, time: TimeRange = .all, access: AccessContext = .unattributed) throws(SightlineError) -> RewriteSummary {
        let query = "purge plate=#\(hex16(hasher.key(plate))) time=\(time.auditText)"
        let summary: RewriteSummary
        do throws(SightlineError) {
            summary = try purgeRows(plate, time: time)
        } catch {
            _ = try? audit(access, "purge", query, rows: 0, plates: 0, outcome: .failed, detail: "\(error)")
            throw error
        }
        try audit(access, "purge", query, rows: summary.rowsDeleted, plates: summary.rowsDeleted > 0 ? 1 : 0,
                  detail: summary.deletionID.map { "deletion \($0)" } ?? "")
        return summary
    }

    private func purgeRows(_ plate: Plate, time: TimeRange) throws(SightlineError) -> RewriteSummary {
        try flush()
        return try onFlushQueue { () throws(SightlineError) -> RewriteSummary in
            let key = hasher.key(plate)
            let decoder = BlockDecoder()
            var inputs: [SegmentReader] = []
            for segment in state.withLock({ $0.segments }) where segment.rowCount > 0 && segment.mayContain(plateKey: key)
                && time.overlaps(min: segment.statistics.minTime, max: segment.statistics.maxTime) {
                // Confirm on the plate's run (the filter has false positives).
                var found = false
                for b in segment.blocks(holdingPlateKey: key) where !found {
                    try decoder.decode(segment, block: b, columns: [.plate, .time])
                    let times = decoder.times.base
                    decoder.forEachRow { p, row in if p == plate && time.contains(times[row]) { found = true } }
                }
                if found { inputs.append(segment) }
            }
            var summary = try rewrite(inputs.map { RewriteGroup(inputs: [$0], time: nil) }, removing: inputs,
                                      targetRows: Int.max) { p, t in !(p == plate && time.contains(t)) }
            if summary.rowsDeleted > 0 {
                summary.deletionID = try recordDeletion(kind: "purge", summary: summary,
                                                        details: [("from", time.from.map(String.init) ?? "null"), ("to", time.to.map(String.init) ?? "null")])
            }
            return summary
        }
    }

    /// Deletes rows older than the retention period now (what the maintenance timer does):
    /// flushes buffered rows that have expired, then rewrites the segments that hold any.
    @discardableResult
    public func enforceRetention() throws(SightlineError) -> RewriteSummary {
        guard let cutoff = expiredBefore else { return RewriteSummary() }
        let bufferExpired = state.withLock { s in s.buffer.times.contains { $0 < cutoff } }
        if bufferExpired { try flush() }
        return try onFlushQueue { () throws(SightlineError) -> RewriteSummary in
            let inputs = state.withLock { $0.segments }.filter { $0.rowCount > 0 && $0.statistics.minTime < cutoff }
            var summary = try rewrite(inputs.map { RewriteGroup(inputs: [$0], time: nil) }, removing: inputs,
                                      targetRows: Int.max) { _, t in t >= cutoff }
            if summary.rowsDeleted > 0 {
                summary.deletionID = try recordDeletion(kind: "retention", summary: summary, details: [("olderThan", String(cutoff))])
                try audit(AccessContext(requester: "sightline", purpose: "retention"), "retention", "retention older-than=\(Timestamp.rfc3339(cutoff))",
                          rows: summary.rowsDeleted, plates: -1, detail: summary.deletionID.map { "deletion \($0)" } ?? "")
            }
            return summary
        }
    }

    /// The time before which rows are expired now (nil without retention).
    var expiredBefore: Int64? { options.retention.map { options.wallClock() - $0.milliseconds } }

    /// Stops background maintenance (compaction and retention) until `resumeMaintenance`.
    public func pauseMaintenance() { state.withLock { $0.maintenancePaused = true } }
    /// Lets background maintenance run again.
    public func resumeMaintenance() { state.withLock { $0.maintenancePaused = false } }

    /// Background maintenance runs completed so far (runs skipped while paused not counted).
    var maintenanceRuns: Int { state.withLock { $0.maintenanceRuns } }

    /// Blocks until `count` background maintenance runs have completed (for tests: an
    /// event to wait for instead of polling).
    func waitForMaintenanceRuns(_ count: Int) {
        state.withLock(waitingUntil: { $0.maintenanceRuns >= count }) { _ in }
    }

    /// Starts the maintenance timer if the options ask for retention or compaction.
    func startMaintenance() {
        guard options.retention != nil || options.compaction != nil else { return }
        let timer = DispatchSource.makeTimerSource(queue: DispatchQueue.global(qos: .utility))
        let interval = max(0.01, seconds(options.maintenanceInterval))
        timer.schedule(deadline: .now() + interval, repeating: interval)
        timer.setEventHandler { [weak self] in self?.maintain() }
        timer.resume()
        state.withLock { $0.maintenanceTimer = TimerBox(timer) }
    }

    private func maintain() {
        let (paused, open) = state.withLock { ($0.maintenancePaused, $0.log != nil && $0.failure == nil) }
        guard !paused && open else { return }
        defer {
            state.withLock { $0.maintenanceRuns += 1 }
            state.broadcast()
        }
        do throws(SightlineError) {
            try enforceRetention()
            if var compaction = options.compaction {
                compaction.deleteOlderThan = expiredBefore
                try compact(compaction)
            }
        } catch .storeClosed {
            return  // closed while this run was starting: nothing to do
        } catch {
            options.logger.error("background maintenance failed", metadata: ["store": "\(directory)", "error": "\(error)"])
        }
    }
}

/// Owns the maintenance timer; cancels it when the store goes.
final class TimerBox: @unchecked Sendable {
    let timer: any DispatchSourceTimer
    init(_ timer: any DispatchSourceTimer) { self.timer = timer }
    deinit { timer.cancel() }
}
