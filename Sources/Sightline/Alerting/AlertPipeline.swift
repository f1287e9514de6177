/// The store's alert pipeline as its own part: the standing rules (`RULES`) and their
/// compiled matcher, the alert log (`ALERTS`), the handler, the rows that matched a hotlist,
/// and the log records whose alerts are still being written — under its own lock, apart
/// from the write path's.
///
/// It meets the write path at three documented points (Docs/architecture.md, "Its parts"):
///
/// - **Admission.** The write path calls `admit(_:)` under its own lock, right after it
///   gave a record its log sequence: the pipeline answers with the matcher in force for that
///   record and, when there is one, counts the record as pending until `settle(_:)`.
/// - **Holding back the manifest.** A flush calls `waitUntilSettled(before:)` before its
///   manifest passes a log sequence: no record below it may still have alerts being
///   written, or a crash would lose them with the log.
/// - **Changing rules.** `changeRules(_:atNextSequence:)` installs a new rule set only once
///   no record is pending, and only inside the write path's lock (the caller's closure), so
///   the new set's `effectiveFrom` is exactly the next log sequence: recovery knows which
///   records which rules judged.
///
/// Lock order: the write path's lock may be held while this part's lock is taken (admission,
/// poisoning, rule installation), never the reverse.
final class AlertPipeline: Sendable {
    private struct State {
        var rules: RuleSet
        var matcher: RuleMatcher?
        /// The alert log; nil once closed.
        var log: AlertLogWriter?
        /// Log records whose alerts are being written (count per record).
        var pending: [UInt64: Int] = [:]
        var handler: (@Sendable ([Alert]) -> Void)?
        /// The rows that matched a hotlist (retention keeps them for the policy's hits period).
        var hotlistHits: Set<RowKey> = []
        /// Set when the store was poisoned: waiters stop waiting and throw it.
        var failure: SightlineError?
    }

    private let state: Locked<State>
    /// Serializes rule changes (each rewrites `RULES`).
    private let changes = Locked<Void>(())
    private let directory: String
    private let fileSystem: any FileSystem
    /// Seal `RULES` (nil: the store keeps it in clear).
    private let keys: DataKeys?

    /// Opens the pipeline of the store at `directory`: reads `RULES`, opens `ALERTS` (its
    /// torn tail truncated) and notes the hotlist hits it holds. Returns the logged alerts
    /// too (recovery compares replayed records against them).
    /// `keys` open and seal the rules and the alert log (nil: the store keeps them in clear).
    static func open(directory: String, sync: Bool, keys: DataKeys?, fileSystem: any FileSystem) throws(SightlineError) -> (AlertPipeline, [Alert]) {
        let rules = try RulesFile.read(directory: directory, fileSystem: fileSystem, keys: keys)
        let (log, logged) = try AlertLogWriter.open(directory: directory, sync: sync, keys: keys, fileSystem: fileSystem)
        let matcher = RuleMatcher(rules)
        var initial = State(rules: rules, matcher: matcher.isEmpty ? nil : matcher, log: log)
        Self.noteHotlistHits(logged, into: &initial.hotlistHits)
        return (AlertPipeline(initial, directory: directory, keys: keys, fileSystem: fileSystem), logged)
    }

    private init(_ initial: State, directory: String, keys: DataKeys?, fileSystem: any FileSystem) {
        state = Locked(initial)
        self.directory = directory
        self.keys = keys
        self.fileSystem = fileSystem
    }

    /// The rules in force.
    var rules: RuleSet { state.withLock { $0.rules } }

    /// The matcher in force and the first log sequence its rules judged (nil: no rules).
    var matcherInForce: (matcher: RuleMatcher, effectiveFrom: UInt64)? {
        state.withLock { s in s.matcher.map { ($0, s.rules.effectiveFrom) } }
    }

    /// The rows of logged hotlist alerts.
    var hotlistHits: Set<RowKey> { state.withLock { $0.hotlistHits } }

    /// Sets the handler called with each append's stored alerts (nil removes it).
    func setHandler(_ handler: (@Sendable ([Alert]) -> Void)?) { state.withLock { $0.handler = handler } }

    // MARK: Meeting the write path

    /// Called by the write path under its lock once record `sequence` is enqueued: the
    /// matcher that judges the record (nil: no rules, nothing to settle), the record counted
    /// as pending until `settle(sequence)`.
    func admit(_ sequence: UInt64) -> RuleMatcher? {
        state.withLock { s in
            guard let matcher = s.matcher else { return nil }
            s.pending[sequence, default: 0] += 1
            return matcher
        }
    }

    /// The alerts of an admitted record are written (or there were none): flushes may pass it.
    func settle(_ sequence: UInt64) {
        state.withLock { s in
            s.pending[sequence, default: 1] -= 1
            if s.pending[sequence] == 0 { s.pending[sequence] = nil }
        }
        state.broadcast()
    }

    /// Blocks until no record below `sequence` has alerts being written; throws the failure
    /// that poisoned the store instead (such a record stays pending: it is recovered from
    /// its log at reopen).
    func waitUntilSettled(before sequence: UInt64) throws(SightlineError) {
        try state.withLock(waitingUntil: { s in s.failure != nil || s.pending.keys.allSatisfy { $0 >= sequence } }) {
            (s: inout State) throws(SightlineError) in
            if let failure = s.failure { throw failure }
        }
    }

    /// The store was poisoned: waiters wake and throw `error`.
    func fail(_ error: SightlineError) {
        state.withLock { s in if s.failure == nil { s.failure = error } }
        state.broadcast()
    }

    /// Changes the rules. `atNextSequence` runs the installation inside the write path's
    /// lock, passing the next log sequence (or throwing when the store cannot take a change);
    /// the installation writes `RULES` (atomically) with that sequence as `effectiveFrom`
    /// and puts the new matcher in force — but only when no record is pending, so it retries
    /// after waiting for pending alerts outside both locks. Appends wait only for the write
    /// of the file.
    func changeRules(_ change: (inout RuleSet) -> Void,
                     atNextSequence: (_ install: (UInt64) throws(SightlineError) -> Bool) throws(SightlineError) -> Bool) throws(SightlineError) {
        try changes.withLock { (_: inout Void) throws(SightlineError) in
            var rules = state.withLock { $0.rules }
            change(&rules)
            let compiled = RuleMatcher(rules)  // compiled outside every lock
            let matcher = compiled.isEmpty ? nil : compiled
            var installed = false
            while !installed {
                try state.withLock(waitingUntil: { $0.pending.isEmpty || $0.failure != nil }) { (s: inout State) throws(SightlineError) in
                    if let failure = s.failure { throw failure }
                }
                installed = try atNextSequence { (next: UInt64) throws(SightlineError) -> Bool in
                    // Under the write path's lock: no record can be admitted meanwhile.
                    try state.withLock { (s: inout State) throws(SightlineError) -> Bool in
                        if let failure = s.failure { throw failure }
                        guard s.pending.isEmpty else { return false }  // admitted since the wait: wait again
                        var changed = rules
                        changed.effectiveFrom = next
                        try RulesFile.write(changed, directory: directory, fileSystem: fileSystem, keys: keys)
                        s.rules = changed
                        s.matcher = matcher
                        return true
                    }
                }
            }
        }
    }

    // MARK: The alert log

    /// Appends `alerts` to the alert log (durably), notes the hotlist hits among them, and
    /// returns them as logged (with their sequences).
    func log(_ alerts: [Alert]) throws(SightlineError) -> [Alert] {
        guard !alerts.isEmpty else { return [] }
        guard let log = state.withLock({ $0.log }) else { throw .storeClosed(path: directory) }
        let written = try log.append(alerts)
        state.withLock { Self.noteHotlistHits(written, into: &$0.hotlistHits) }
        return written
    }

    /// Redacts from the alert log the alerts whose rows a deletion removes (`AlertLogWriter.redact`):
    /// the log is rewritten under a new data key, so the deletion's shredding leaves no
    /// earlier copy of it that opens. Returns how many were redacted.
    func redact(keys: DataKeys, _ redacting: (Alert) -> Bool) throws(SightlineError) -> Int {
        guard let log = state.withLock({ $0.log }) else { throw .storeClosed(path: directory) }
        return try log.redact(keys: keys, redacting)
    }

    /// Calls the handler with `alerts` (on this thread), if there are any and a handler is set.
    func deliver(_ alerts: [Alert]) {
        guard !alerts.isEmpty, let handler = state.withLock({ $0.handler }) else { return }
        handler(alerts)
    }

    /// Closes the alert log (the store is closing); later `log` calls throw `storeClosed`.
    func close() {
        state.withLock { s in
            s.log?.close()
            s.log = nil
        }
    }

    /// Adds the rows of `alerts` that matched a hotlist to `hits` (geofence alerts are not hits).
    static func noteHotlistHits(_ alerts: [Alert], into hits: inout Set<RowKey>) {
        for a in alerts where a.match != .geofence {
            hits.insert(RowKey(plate: a.sighting.plate, time: a.sighting.time, camera: a.sighting.camera))
        }
    }
}
