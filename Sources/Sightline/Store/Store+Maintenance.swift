import Dispatch

/// Compaction, retention and purge: the public face of the rewrite engine.
extension Store {
    /// Merges small segments and splits segments that span partitions, so that each output
    /// segment holds one partition's rows (up to `targetRows`); with `deleteOlderThan`,
    /// expired rows are deleted as it goes (and a deletion record written). Segments that
    /// are already settled — within one partition and large, or alone in it — are left as
    /// they are. Safe to call while appending and querying. A store made before encryption
    /// existed (no `ENCRYPTION` file) is converted when `StoreOptions.encryption` is
    /// `.aes256GCM` (the default): every segment in clear is rewritten sealed, new logs are
    /// sealed, and `RULES`, `HOLDS` and `ALERTS` are sealed at its next open.
    @discardableResult
    public func compact(_ compaction: CompactionOptions = CompactionOptions()) throws(SightlineError) -> RewriteSummary {
        guard compaction.targetRows >= 1 else { throw .invalidArgument("targetRows must be at least 1") }
        return try onFlushQueue { () throws(SightlineError) -> RewriteSummary in
            // A store made before encryption is converted (unless its options say in clear),
            // and every segment still in clear is rewritten sealed.
            _ = try sealInClearStore()
            let segments = state.withLock { $0.segments }.filter { $0.rowCount > 0 }
            let cutoff = compaction.deleteOlderThan
            let holds = policy.current.holds
            let rule = cutoff.map { RetentionRule(cutoff: $0, holds: holds) }
            // The store's own retention too: rows past their owner's period are not rewritten.
            let policy = retentionRule()
            // With legal holds the planner may not drop wholly expired partitions unread: it
            // plans as without a cutoff, and the rows it rewrites are kept or expired one by
            // one (retention enforcement reaches the segments it leaves).
            var planning = compaction
            if !holds.isEmpty { planning.deleteOlderThan = nil }
            let plan = CompactionPlanner.plan(segments.map(CompactionPlanner.Segment.init), options: planning)
            let byName = Dictionary(uniqueKeysWithValues: segments.map { ($0.fileName, $0) })
            var groups = plan.groups.map { g in
                RewriteGroup(inputs: g.inputs.map { byName[$0]! }, time: g.time.map { ($0.lowerBound, $0.upperBound) },
                             splitBy: g.time == nil ? compaction.partitioning : nil)
            }
            var candidates = plan.inputs.map { byName[$0]! }
            if dataKeys != nil {
                let planned = Set(plan.inputs)
                for segment in segments where segment.keyID == nil && !planned.contains(segment.fileName) {
                    groups.append(RewriteGroup(inputs: [segment], time: nil))
                    candidates.append(segment)
                }
            }
            // A compaction that deletes expired rows is a retention deletion: it shreds (a
            // compaction that deletes nothing destroys no key).
            var summary = try rewrite(groups, removing: candidates, targetRows: compaction.targetRows,
                                      maximumRowsPerSecond: compaction.maximumRowsPerSecond,
                                      deleting: rule != nil || policy != nil) { plate, time, camera, lat, lon in
                // Expired rows go, held ones stay (holds are read now: placing one waits for this rewrite).
                (rule?.keeps(plate: plate, time: time, camera: camera, latitudeE7: lat, longitudeE7: lon) ?? true)
                    && (policy?.keeps(plate: plate, time: time, camera: camera, latitudeE7: lat, longitudeE7: lon) ?? true)
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
    ///
    /// Rows under a legal hold are not purged: the purge is refused (`legalHold`, naming the
    /// holds and how many rows they keep) unless `force`, and says so in its audit record.
    @discardableResult
    public func purge(_ plate: Plate, time: TimeRange = .all, access: AccessContext = .unattributed,
                      force: Bool = false) throws(SightlineError) -> RewriteSummary {
        let query = "purge plate=#\(hex16(hasher.key(plate))) time=\(time.auditText)" + (force ? " force" : "")
        let summary: RewriteSummary
        var forced = ""
        do throws(SightlineError) {
            let holds = policy.current.holds
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
                                      targetRows: Int.max, deleting: true) { p, t, _, _, _ in !(p == plate && time.contains(t)) }
            if summary.rowsDeleted > 0 {
                summary.deletionID = try recordDeletion(kind: "purge", summary: summary,
                                                        details: [("from", time.from.map(String.init) ?? "null"), ("to", time.to.map(String.init) ?? "null")])
            }
            return summary
        }
    }

    /// Deletes rows past their retention period now (what the maintenance timer does, once
    /// per `maintenanceInterval`): flushes buffered rows that have expired, then rewrites the
    /// segments that hold any. The period is each owner's (`retentionPolicy`), else
    /// `StoreOptions.retention`; hotlist hits and held rows are kept as the policy says.
    /// Audited (operation `retention`) when it deletes.
    @discardableResult
    public func enforceRetention() throws(SightlineError) -> RewriteSummary {
        guard let now = retentionRule() else { return RewriteSummary() }
        let bufferExpired = state.withLock { s in
            s.buffer.contains { rows, i in
                rows.times[i] < now.keepsFrom && !now.keeps(plate: rows.plates[i], time: rows.times[i], camera: rows.cameras[i],
                                                            latitudeE7: rows.latitudesE7[i], longitudeE7: rows.longitudesE7[i])
            }
        }
        if bufferExpired { try flush() }
        return try onFlushQueue { () throws(SightlineError) -> RewriteSummary in
            guard let rule = retentionRule() else { return RewriteSummary() }  // holds and hits as of now: placing one waits for this rewrite
            var inputs = state.withLock { $0.segments }.filter { $0.rowCount > 0 && $0.statistics.minTime < rule.keepsFrom }
            if !rule.isOneCutoff {
                // A segment whose older rows are all kept would be rewritten unchanged, every run.
                var pending: [SegmentReader] = []
                for segment in inputs where try Self.holdsExpiredRows(segment, rule) { pending.append(segment) }
                inputs = pending
            }
            var summary = try rewrite(inputs.map { RewriteGroup(inputs: [$0], time: nil) }, removing: inputs, targetRows: Int.max,
                                      deleting: true) { p, t, camera, lat, lon in
                rule.keeps(plate: p, time: t, camera: camera, latitudeE7: lat, longitudeE7: lon)
            }
            if summary.rowsDeleted > 0 {
                summary.deletionID = try recordDeletion(kind: "retention", summary: summary, details: [("olderThan", String(rule.expiresBefore)),
                                                                                                       ("policyFrom", String(rule.keepsFrom))])
                let text = rule.isOneCutoff ? "retention older-than=\(Timestamp.rfc3339(rule.keepsFrom))"
                    : "retention per-owner older-than=\(rule.expiresBefore == .min ? "-" : Timestamp.rfc3339(rule.expiresBefore))..\(Timestamp.rfc3339(rule.keepsFrom))"
                try audit(AccessContext(requester: "sightline", purpose: "retention"), "retention", text,
                          rows: summary.rowsDeleted, plates: -1, detail: summary.deletionID.map { "deletion \($0)" } ?? "")
            }
            return summary
        }
    }

    /// Whether `segment` holds a row retention would delete (expired and not kept).
    static func holdsExpiredRows(_ segment: SegmentReader, _ rule: RetentionRule) throws(SightlineError) -> Bool {
        let decoder = BlockDecoder()
        for b in 0..<segment.blockCount where segment.blockStatistics(b).minTime < rule.keepsFrom {
            try decoder.decode(segment, block: b, columns: [.plate, .time, .position, .camera])
            let c = DecodedColumns(decoder)
            var found = false
            decoder.forEachRow { plate, row in
                if !found && !rule.keeps(plate: plate, time: c.times[row], camera: c.cameras[row], latitudeE7: c.latitudes[row],
                                         longitudeE7: c.longitudes[row]) { found = true }
            }
            if found { return true }
        }
        return false
    }

    /// What retention keeps now (nil: every row).
    func retentionRule() -> RetentionRule? {
        policy.current.retentionRule(now: options.wallClock(), hotlistHits: alerts.hotlistHits)
    }

    /// How long whose rows are kept (`RETENTION`; `StoreOptions.retention` where it names
    /// no period).
    public var retentionPolicy: RetentionPolicy { policy.current.retentionPolicy }

    /// Replaces the retention policy: written durably (`RETENTION`), in force for the next
    /// snapshot here and every process's next snapshot (rows past their period are gone
    /// from answers at once), deleted from disk by the next retention run; the maintenance
    /// timer starts if it was not running. Audited (operation `retention-policy`).
    public func setRetentionPolicy(_ policy: RetentionPolicy, by access: AccessContext = .unattributed) throws(SightlineError) {
        for r in policy.rules { try checkPolicyName(r.owner, "retention owner") }
        try onFlushQueue { () throws(SightlineError) in  // not while a rewrite decides what to keep
            try self.policy.setRetentionPolicy(policy)
        }
        startMaintenance()
        func t(_ d: Duration?) -> String { d.map(RetentionPolicy.text) ?? "-" }
        let text = (["retention default=\(t(policy.defaultPeriod)) hits=\(t(policy.defaultHits))"]
            + policy.rules.map { "\($0.owner)=\(t($0.keep))/\(t($0.hits))" }).joined(separator: " ")
        try audit(access, "retention-policy", text, rows: 0, plates: 0)
    }

    /// Stops background maintenance (compaction and retention) until `resumeMaintenance`.
    public func pauseMaintenance() { maintenance.pause() }
    /// Lets background maintenance run again.
    public func resumeMaintenance() { maintenance.resume() }

    /// Background maintenance runs completed so far (runs skipped while paused not counted).
    var maintenanceRuns: Int { maintenance.runs }

    /// Blocks until `count` background maintenance runs have completed (for tests: an
    /// event to wait for instead of polling).
    func waitForMaintenanceRuns(_ count: Int) { maintenance.waitForRuns(count) }

    /// Starts the maintenance timer if the options ask for retention or compaction, or the
    /// store has a retention policy (and it is not running yet).
    func startMaintenance() {
        guard !maintenance.isRunning, policy.current.retentionShape != nil || options.compaction != nil,
              !state.withLock({ $0.closed }) else { return }
        maintenance.start { [weak self] in self?.maintain() ?? false }
    }

    /// One background run: retention, then compaction. False when the store cannot run one
    /// (closing, or poisoned until reopened): not counted.
    private func maintain() -> Bool {
        guard state.withLock({ $0.log != nil && $0.failure == nil }) else { return false }
        do throws(SightlineError) {
            try enforceRetention()
            if let compaction = options.compaction {
                try compact(compaction)  // keeps what retention keeps (enforced just above)
            }
        } catch .storeClosed {
            return true  // closed while this run was starting: nothing to do
        } catch {
            options.logger.error("background maintenance failed", metadata: ["store": "\(directory)", "error": "\(error)"])
        }
        return true
    }
}
