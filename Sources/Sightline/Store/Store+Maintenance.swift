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
            let rule = cutoff.map { retentionRule(cutoff: $0) }
            // With legal holds the planner may not drop wholly expired partitions unread: it
            // plans as without a cutoff, and the rows it rewrites are kept or expired one by
            // one (retention enforcement reaches the segments it leaves).
            var planning = compaction
            if let rule, !rule.holds.isEmpty { planning.deleteOlderThan = nil }
            let plan = CompactionPlanner.plan(segments.map(CompactionPlanner.Segment.init), options: planning)
            let byName = Dictionary(uniqueKeysWithValues: segments.map { ($0.fileName, $0) })
            let groups = plan.groups.map { g in
                RewriteGroup(inputs: g.inputs.map { byName[$0]! }, time: g.time.map { ($0.lowerBound, $0.upperBound) },
                             splitBy: g.time == nil ? compaction.partitioning : nil)
            }
            let candidates = plan.inputs.map { byName[$0]! }
            var summary = try rewrite(groups, removing: candidates, targetRows: compaction.targetRows,
                                      maximumRowsPerSecond: compaction.maximumRowsPerSecond) { plate, time, lat, lon in
                // Expired rows go, held ones stay (holds are read now: placing one waits for this rewrite).
                rule.map { $0.keeps(plate: plate, time: time, latitudeE7: lat, longitudeE7: lon) } ?? true
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
    ///
    /// Rows under a legal hold are not purged: the purge is refused (`legalHold`, naming the
    /// holds and how many rows they keep) unless `force`, and says so in its audit record.
    public func purge(_ plate: Plate, time: TimeRange = .all, access: AccessContext = .unattributed,
                      force: Bool = false) throws(SightlineError) -> RewriteSummary {
        let query = "purge plate=#\(hex16(hasher.key(plate))) time=\(time.auditText)" + (force ? " force" : "")
        let summary: RewriteSummary
        var forced = ""
        do throws(SightlineError) {
            let holds = state.withLock { $0.holds }
            if !holds.isEmpty {
                var held: [String: Int] = [:]
                for s in try engineSnapshot().run(Query(.history(plate), time: time)).rows {
                    for h in holds where h.covers(plate: s.plate, time: s.time, latitudeE7: s.latitudeE7, longitudeE7: s.longitudeE7) {
                        held["\(h.id) (case \(h.caseNumber))", default: 0] += 1
                    }
                }
                if !held.isEmpty {
                    let list = held.sorted { $0.key < $1.key }.map { "\($0.key): \($0.value) rows" }.joined(separator: ", ")
                    guard force else {
                        let reason = "rows of this plate are under legal hold — \(list); release the holds or force the purge"
                        _ = try? audit(access, "purge", query, rows: 0, plates: 0, outcome: .refused, detail: reason)
                        throw SightlineError.legalHold(reason)
                    }
                    forced = "forced over legal holds: \(list)"
                }
            }
            summary = try purgeRows(plate, time: time)
        } catch {
            if case .legalHold = error { throw error }
            _ = try? audit(access, "purge", query, rows: 0, plates: 0, outcome: .failed, detail: "\(error)")
            throw error
        }
        try audit(access, "purge", query, rows: summary.rowsDeleted, plates: summary.rowsDeleted > 0 ? 1 : 0,
                  detail: ([summary.deletionID.map { "deletion \($0)" }, forced.isEmpty ? nil : forced].compactMap { $0 }).joined(separator: "; "))
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
                                      targetRows: Int.max) { p, t, _, _ in !(p == plate && time.contains(t)) }
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
            let rule = retentionRule(cutoff: cutoff)
            var inputs = state.withLock { $0.segments }.filter { $0.rowCount > 0 && $0.statistics.minTime < cutoff }
            if !rule.holds.isEmpty {
                // A segment whose expired rows are all held would be rewritten unchanged, every run.
                var pending: [SegmentReader] = []
                for segment in inputs where try Self.holdsExpiredRows(segment, rule) { pending.append(segment) }
                inputs = pending
            }
            var summary = try rewrite(inputs.map { RewriteGroup(inputs: [$0], time: nil) }, removing: inputs,
                                      targetRows: Int.max) { p, t, lat, lon in rule.keeps(plate: p, time: t, latitudeE7: lat, longitudeE7: lon) }
            if summary.rowsDeleted > 0 {
                summary.deletionID = try recordDeletion(kind: "retention", summary: summary, details: [("olderThan", String(cutoff))])
                try audit(AccessContext(requester: "sightline", purpose: "retention"), "retention", "retention older-than=\(Timestamp.rfc3339(cutoff))",
                          rows: summary.rowsDeleted, plates: -1, detail: summary.deletionID.map { "deletion \($0)" } ?? "")
            }
            return summary
        }
    }

    /// Whether `segment` holds a row retention would delete (expired and not held).
    static func holdsExpiredRows(_ segment: SegmentReader, _ rule: RetentionRule) throws(SightlineError) -> Bool {
        let decoder = BlockDecoder()
        for b in 0..<segment.blockCount where segment.blockStatistics(b).minTime < rule.cutoff {
            try decoder.decode(segment, block: b, columns: [.plate, .time, .position])
            let c = DecodedColumns(decoder)
            var found = false
            decoder.forEachRow { plate, row in
                if !found && !rule.keeps(plate: plate, time: c.times[row], latitudeE7: c.latitudes[row], longitudeE7: c.longitudes[row]) { found = true }
            }
            if found { return true }
        }
        return false
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
