#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Standing rules (hotlists, geofences) checked against every appended row, and the durable
/// alert log they feed.
///
/// Orderings (Docs/architecture.md, "Alerts"): a row's alerts are computed from the rules in
/// force when it was appended, and written (and fsynced) to `ALERTS` after its log record is
/// durable and before `append` returns; a flush does not let the manifest pass a log record
/// whose alerts are still being written, so a crash leaves every durable row either with its
/// alerts in the log or in a replayed log record — and reopening recomputes the alerts of
/// replayed records and appends those missing. A row equal to one already stored raises none.
extension Store {
    // MARK: Rules

    /// The rules in force.
    public var rules: RuleSet { alerts.rules }

    /// Adds hotlist entries (an entry with the list, plate and mode of an existing one
    /// replaces it), durably. With `retroactiveFrom`, the stored history from that time is
    /// checked against the new entries and the hits are appended to the alert log flagged
    /// historical; they are returned.
    @discardableResult
    public func addHotlistEntries(_ entries: [HotlistEntry], retroactiveFrom: Int64? = nil,
                                  access: AccessContext = .unattributed) throws(SightlineError) -> [Alert] {
        try changeRules { $0.add(entries) }
        guard let from = retroactiveFrom else { return [] }
        var partial = RuleSet()
        partial.equivalence = rules.equivalence
        partial.add(entries)
        return try appendHistorical(partial, from: from, access: access)
    }

    /// Removes the hotlist entries with these lists, plates and modes; returns how many were there.
    @discardableResult
    public func removeHotlistEntries(_ entries: [HotlistEntry]) throws(SightlineError) -> Int {
        var removed = 0
        try changeRules { removed = $0.remove(entries) }
        return removed
    }

    /// Adds (or replaces) a geofence, durably; with `retroactiveFrom`, as for hotlist entries.
    @discardableResult
    public func addGeofence(_ geofence: Geofence, retroactiveFrom: Int64? = nil,
                            access: AccessContext = .unattributed) throws(SightlineError) -> [Alert] {
        try changeRules { $0.add(geofence) }
        guard let from = retroactiveFrom else { return [] }
        var partial = RuleSet()
        partial.add(geofence)
        return try appendHistorical(partial, from: from, access: access)
    }

    /// Removes a geofence; returns whether it was there.
    @discardableResult
    public func removeGeofence(named name: String) throws(SightlineError) -> Bool {
        var removed = false
        try changeRules { removed = $0.removeGeofence(named: name) }
        return removed
    }

    /// Sets the OCR classes `equivalent` entries use (default `OCREquivalence.default`).
    public func setOCREquivalence(_ equivalence: OCREquivalence) throws(SightlineError) {
        try changeRules { $0.equivalence = equivalence }
    }

    /// Calls `handler` with the alerts of each append, after they are durable and before the
    /// append returns, on the appending thread (keep it short). One handler; nil removes it.
    public func setAlertHandler(_ handler: (@Sendable ([Alert]) -> Void)?) {
        alerts.setHandler(handler)
    }

    /// Changes the rules: once no append's alerts are being written, the new set is written
    /// (`RULES`, atomically) with the next log record as its `effectiveFrom`, and appends see
    /// it from that record on — so recovery knows which records the current rules judged.
    /// Appends wait for the few milliseconds of the file write (the installation runs under
    /// the write path's lock: `AlertPipeline.changeRules`).
    private func changeRules(_ change: (inout RuleSet) -> Void) throws(SightlineError) {
        try alerts.changeRules(change) { (install: (UInt64) throws(SightlineError) -> Bool) throws(SightlineError) -> Bool in
            try state.withLock { (s: inout State) throws(SightlineError) -> Bool in
                try checkOpen(s)
                if let failure = s.failure { throw failure }
                return try install(s.log?.nextSequence ?? s.manifest.persistedSequence)
            }
        }
    }

    // MARK: The append path

    /// After the append's log record is durable: drops alerts of rows already stored, writes
    /// the rest, calls the handler; then lets flushes pass the record.
    func finishAlerts(_ pending: [Alert], logSequence: UInt64) throws(SightlineError) -> [Alert] {
        do throws(SightlineError) {
            let stored = try writeAlerts(pending)
            alerts.settle(logSequence)
            alerts.deliver(stored)
            metrics.alertsRaised.increment(by: stored.count)
            return stored
        } catch {
            // The record stays pending: no flush passes it, so reopening recomputes its alerts.
            throw state.withLock { (s: inout State) -> SightlineError in poison(&s, error, "alert log write failed") }
        }
    }

    /// Writes alerts whose rows no segment already holds (rows equal to buffered or frozen
    /// ones were dropped at append). The rows' own segment cannot be live yet: the flush
    /// that would write it waits for these alerts.
    private func writeAlerts(_ pending: [Alert]) throws(SightlineError) -> [Alert] {
        guard !pending.isEmpty else { return [] }
        var rows = SightingBatch(capacity: pending.count)
        for a in pending { rows.append(a.sighting) }
        let segments = state.withLock { (s: inout State) in s.segments }
        let (kept, dropped) = try dropRowsAlreadyStored(rows, segments: segments)
        var fresh = pending
        if dropped > 0 {
            var keptKeys = Set<RowKey>()
            for i in 0..<kept.count { keptKeys.insert(RowKey(plate: kept.plates[i], time: kept.times[i], camera: kept.cameras[i])) }
            fresh = pending.filter { keptKeys.contains(RowKey(plate: $0.sighting.plate, time: $0.sighting.time, camera: $0.sighting.camera)) }
        }
        return try alerts.log(fresh)
    }

    // MARK: Recovery and history

    /// At open, after the logs are replayed into `records` (each record's fresh rows): the
    /// alerts those rows raise under the current rules that the log does not hold yet.
    func recoverAlerts(_ records: [(sequence: UInt64, rows: SightingBatch)], logged: [Alert]) throws(SightlineError) {
        guard let (matcher, from) = alerts.matcherInForce else { return }
        // Records before the rules' `effectiveFrom` had their alerts written before the rules changed.
        let records = records.filter { $0.sequence >= from }
        guard !records.isEmpty else { return }
        struct Key: Hashable { let log: UInt64, row: RowKey, rule: String }
        let first = records[0].sequence
        let have = Set(logged.filter { $0.logSequence >= first }.map {
            Key(log: $0.logSequence, row: RowKey(plate: $0.sighting.plate, time: $0.sighting.time, camera: $0.sighting.camera), rule: $0.rule)
        })
        let now = options.wallClock()  // expiry reads the store's clock, like retention and holds
        var missing: [Alert] = []
        for r in records {
            for a in matcher.alerts(of: r.rows, logSequence: r.sequence, now: now)
            where !have.contains(Key(log: r.sequence, row: RowKey(plate: a.sighting.plate, time: a.sighting.time, camera: a.sighting.camera), rule: a.rule)) {
                missing.append(a)
            }
        }
        guard !missing.isEmpty else { return }
        let written = try writeAlerts(missing)
        if !written.isEmpty {
            options.logger.notice("recovered alerts of replayed log records", metadata: ["store": "\(directory)", "alerts": "\(written.count)"])
        }
    }

    /// Checks the stored history from `from` against `rules` and appends the hits as
    /// historical alerts.
    private func appendHistorical(_ rules: RuleSet, from: Int64, access: AccessContext) throws(SightlineError) -> [Alert] {
        let hits = try snapshot(access: access).checkRules(rules, time: TimeRange(uncheckedFrom: from, to: nil))
        return try alerts.log(hits)
    }

    // MARK: Reading alerts

    /// The alert log's alerts with sequence above `after`, in order.
    public func alerts(after: UInt64 = 0) throws(SightlineError) -> [Alert] {
        try AlertLogFormat.read("\(directory)/\(AlertLogFormat.fileName)", from: 0, after: after, fileSystem: fileSystem,
                                dataKey: DataKeys.lookup(dataKeys)).alerts
    }

    /// The alerts above `after`, then each new one as it is logged (polling the log every
    /// `interval`), until the task is cancelled.
    public func alertStream(after: UInt64 = 0, interval: Duration = .milliseconds(2)) -> AlertStream {
        AlertStream(path: "\(directory)/\(AlertLogFormat.fileName)", after: after, interval: interval, keyring: options.keyring, fileSystem: fileSystem)
    }

    /// The last alert sequence `consumer` acknowledged (0 when none).
    public func acknowledgedAlerts(consumer: String) throws(SightlineError) -> UInt64 {
        try AlertConsumerFile.read(directory: directory, consumer: consumer, fileSystem: fileSystem)
    }

    /// Records durably that `consumer` has processed every alert through `sequence`: after a
    /// restart it resumes from `acknowledgedAlerts(consumer:)`, so no acknowledged alert is
    /// delivered to it twice.
    public func acknowledgeAlerts(consumer: String, through sequence: UInt64) throws(SightlineError) {
        try AlertConsumerFile.write(sequence, directory: directory, consumer: consumer, fileSystem: fileSystem)
    }
}

/// Reads a store's alert log incrementally, from any process: each `poll()` returns the
/// alerts logged since the previous one (reading only the new bytes).
public struct AlertTail: Sendable {
    let path: String
    let fileSystem: any FileSystem
    /// Finds the data keys of a sealed alert log (resolved at the first poll).
    private let keyring: Keyring
    private var keys: DataKeys??
    private var offset: Int64 = 0
    /// The last sequence returned (or the one given to start after).
    public private(set) var last: UInt64
    /// Where and on whose behalf polls are audited (nil: an unaudited tail).
    private var audit: (trail: AuditTrail, access: AccessContext)?
    /// The cameras whose alerts the reader may see, asked at each poll (the policy may change
    /// while a tail runs); nil: every alert.
    private var visibility: (@Sendable () -> CameraVisibility?)?

    /// A tail of the log of the store at `directory`, starting after sequence `after`; a
    /// sealed log is opened with the store's data keys in `keyring`. Unaudited: for the
    /// owner's own alert handling; readers on someone's behalf use `init(store:after:access:)`.
    public init(directory: String, after: UInt64 = 0, keyring: Keyring = .standard, fileSystem: any FileSystem = PosixFileSystem()) {
        path = "\(directory)/\(AlertLogFormat.fileName)"
        self.fileSystem = fileSystem
        self.keyring = keyring
        last = after
    }

    /// A tail of `store`'s alert log read on behalf of `access`: alerts are sightings (a
    /// plate, a time, a place), so the store's access requirement is checked now (a refusal
    /// is audited and thrown as `accessRefused`) and every poll that returns alerts appends
    /// one audit record (operation `alerts`, the alerts and distinct plates returned).
    public init(store: ReadOnlyStore, after: UInt64 = 0, access: AccessContext) throws(SightlineError) {
        self.init(directory: store.directory, after: after, keyring: store.options.keyring, fileSystem: store.fileSystem)
        let trail = try store.auditTrail()
        if let reason = trail.requirement.refusal(of: access) {
            try trail.record(access, "alerts", "alerts after=\(after)", rows: 0, plates: 0, outcome: .refused, detail: reason)
            throw .accessRefused(reason)
        }
        audit = (trail, access)
        let visible = try store.sharingPolicy.visibility(for: access.agency, registry: try store.cameraRegistry)
        visibility = { visible }
    }

    /// A tail of the alert log of `store` (the process that writes it) read on behalf of
    /// `access`: as `init(store:after:access:)` for a read-only opener — the access requirement
    /// checked now (a refusal audited and thrown), each poll that returns alerts audited — and
    /// only the alerts the sharing policy lets `access.agency` see (an alert is a sighting: its
    /// camera's owner decides, as for any row), under the policy in force at each poll.
    public init(store: Store, after: UInt64 = 0, access: AccessContext) throws(SightlineError) {
        self.init(directory: store.directory, after: after, keyring: store.options.keyring, fileSystem: store.fileSystem)
        let (requirement, _) = store.policy.access(for: access.agency)
        let trail = AuditTrail(log: store.auditLog, requirement: requirement, hasher: store.hasher, now: store.options.wallClock)
        if let reason = requirement.refusal(of: access) {
            try trail.record(access, "alerts", "alerts after=\(after)", rows: 0, plates: 0, outcome: .refused, detail: reason)
            throw .accessRefused(reason)
        }
        audit = (trail, access)
        let policy = store.policy, agency = access.agency
        visibility = { policy.access(for: agency).1 }
    }

    /// The alerts logged since the last poll (a torn or half-written last record waits for
    /// the next poll). Audited when the tail is (before the alerts are returned).
    public mutating func poll() throws(SightlineError) -> [Alert] {
        if keys == nil { keys = .some(try Store.dataKeys(directory: directoryOf(path), keyring: keyring, fileSystem: fileSystem)) }
        let read = try AlertLogFormat.read(path, from: offset, after: last, fileSystem: fileSystem, dataKey: DataKeys.lookup(keys!))
        var alerts = read.alerts
        if let visible = visibility?() { alerts.removeAll { !visible.allows($0.sighting.camera) } }
        if let audit, !alerts.isEmpty {
            try audit.trail.record(audit.access, "alerts", "alerts after=\(last)", rows: alerts.count,
                                   plates: StoreSnapshot.distinctPlates(alerts.map(\.sighting)), outcome: .answered)
        }
        offset = read.end
        // Past the hidden ones too: they are not the reader's, now or at the next poll.
        if let l = read.alerts.last { last = l.sequence }
        return alerts
    }

    /// The last sequence `consumer` acknowledged in the store at `directory` (0 when none).
    public static func acknowledged(directory: String, consumer: String, fileSystem: any FileSystem = PosixFileSystem()) throws(SightlineError) -> UInt64 {
        try AlertConsumerFile.read(directory: directory, consumer: consumer, fileSystem: fileSystem)
    }

    /// Records durably that `consumer` processed every alert through `sequence` (the
    /// consumer's own file: any process may write it).
    public static func acknowledge(directory: String, consumer: String, through sequence: UInt64,
                                   fileSystem: any FileSystem = PosixFileSystem()) throws(SightlineError) {
        try AlertConsumerFile.write(sequence, directory: directory, consumer: consumer, fileSystem: fileSystem)
    }
}

/// A consumer's acknowledged alert sequence: `ALERTS-ACK-<consumer>`, one line
/// `<sequence> <crc32c hex>`, replaced atomically by the consumer (any process: each
/// consumer owns its file, the store's owner never writes it).
enum AlertConsumerFile {
    static func name(_ consumer: String) throws(SightlineError) -> String {
        guard !consumer.isEmpty, consumer.utf8.allSatisfy({ ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x41 && $0 <= 0x5A) || ($0 >= 0x61 && $0 <= 0x7A) || $0 == 0x2D || $0 == 0x5F }) else {
            throw .invalidArgument("consumer name \"\(consumer)\": letters, digits, - and _")
        }
        return "ALERTS-ACK-\(consumer)"
    }

    static func read(directory: String, consumer: String, fileSystem: any FileSystem) throws(SightlineError) -> UInt64 {
        let path = "\(directory)/\(try name(consumer))"
        guard let bytes = try fileSystem.contentsIfPresent(path, limit: 64, "acknowledgement") else { return 0 }
        let parts = String(decoding: bytes, as: UTF8.self).split(separator: " ")
        guard parts.count == 2, let sequence = UInt64(parts[0]),
              UInt32(parts[1].trimmingCharacters(in: "\n"), radix: 16) == Array(parts[0].utf8).withUnsafeBytes({ CRC32C.checksum($0) }) else {
            throw .corruptFile(path: path, offset: 0, reason: "acknowledgement checksum mismatch")
        }
        return sequence
    }

    static func write(_ sequence: UInt64, directory: String, consumer: String, fileSystem: any FileSystem) throws(SightlineError) {
        let text = String(sequence)
        let line = Array("\(text) \(String(Array(text.utf8).withUnsafeBytes { CRC32C.checksum($0) }, radix: 16))\n".utf8)
        try fileSystem.replaceAtomically("\(directory)/\(try name(consumer))", with: line)
    }
}

/// Alerts from a sequence on, then as they are logged: an `AsyncSequence` that polls the
/// alert log (so it works in any process that can read the store's directory).
public struct AlertStream: AsyncSequence, Sendable {
    /// Alerts, in sequence order.
    public typealias Element = Alert
    let path: String
    let after: UInt64
    let interval: Duration
    let keyring: Keyring
    let fileSystem: any FileSystem

    /// An iterator from the stream's starting sequence.
    public func makeAsyncIterator() -> Iterator {
        Iterator(path: path, last: after, interval: interval, keyring: keyring, fileSystem: fileSystem)
    }

    /// Yields alerts in sequence order; ends (nil) when the task is cancelled, throws when the
    /// log cannot be read.
    public struct Iterator: AsyncIteratorProtocol {
        var tail: AlertTail
        let interval: Duration
        var buffered: [Alert] = []

        init(path: String, last: UInt64, interval: Duration, keyring: Keyring, fileSystem: any FileSystem) {
            tail = AlertTail(directory: directoryOf(path), after: last, keyring: keyring, fileSystem: fileSystem)
            self.interval = interval
        }

        /// The next alert, waiting (polling) until one is logged; nil once cancelled.
        public mutating func next() async throws -> Alert? {
            while buffered.isEmpty {
                if Task.isCancelled { return nil }
                buffered = try tail.poll()
                if buffered.isEmpty {
                    do { try await Task.sleep(for: interval) } catch { return nil }
                }
            }
            return buffered.removeFirst()
        }
    }
}

extension RuleSet {
    /// The rules kept in the store at `directory` (read-only: for listing and checks from any
    /// process; the owner's in-memory set is `Store.rules`); a sealed `RULES` is opened with
    /// the store's data keys in `keyring`.
    public static func stored(in directory: String, keyring: Keyring = .standard,
                              fileSystem: any FileSystem = PosixFileSystem()) throws(SightlineError) -> RuleSet {
        try RulesFile.read(directory: directory, fileSystem: fileSystem,
                           keys: try Store.dataKeys(directory: directory, keyring: keyring, fileSystem: fileSystem))
    }
}
