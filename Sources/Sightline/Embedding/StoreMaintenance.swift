#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Maintenance of a store by a process that may not own it — an administrator's tool, a cron
/// job, a second service. Each request goes to the store's running owner through its control
/// socket when another process holds the store (an ingest, a service started with
/// ``StoreOptions/controlChannel``); otherwise the store is opened here as its owner, the
/// request runs in-process, and the store is closed again. Either way the same engine code does
/// the work, and policy changes are audited under the ``AccessContext`` given.
///
/// ```swift
/// let maintenance = StoreMaintenance(directory: "/data/sightings")
/// let summary = try maintenance.compact(CompactionOptions(deleteOlderThan: cutoff))
/// try maintenance.setRetentionPolicy(try PolicyDocument.read(RetentionPolicy.self, path: "retention.json"), by: me)
/// ```
public struct StoreMaintenance: Sendable {
    /// The store directory.
    public let directory: String
    /// How the store is opened when no owner runs (its secret source, keys, logger).
    public var options: StoreOptions
    /// Whether a missing store is created (rules may be set up before the first ingest).
    public var createIfMissing: Bool
    /// How long to wait for a running owner's reply (a compaction may take minutes).
    public var timeout: Duration
    /// The file system the store (and the hotlist files named) are read through.
    public var fileSystem: any FileSystem

    /// Maintenance of the store at `directory`, opened with `options` when no owner runs.
    public init(directory: String, options: StoreOptions = StoreOptions(), createIfMissing: Bool = false,
                timeout: Duration = .seconds(3600), fileSystem: any FileSystem = PosixFileSystem()) {
        self.fileSystem = fileSystem
        self.directory = directory
        self.options = options
        self.createIfMissing = createIfMissing
        self.timeout = timeout
    }

    /// Writes the owner's buffered rows to a segment (or replays and flushes an unowned store's log).
    public func flush() throws(SightlineError) {
        _ = try perform(.flush) { (s: Store) throws(SightlineError) -> ControlReply in try s.flush(); return .flushed }
    }

    /// Merges small segments by time partition; with a cutoff, deletes older rows (``Store/compact(_:)``).
    public func compact(_ compaction: CompactionOptions = CompactionOptions()) throws(SightlineError) -> RewriteSummary {
        try rewrite(.compact(compaction)) { (s: Store) throws(SightlineError) in try s.compact(compaction) }
    }

    /// Removes one plate's rows in `time` from every segment (``Store/purge(_:time:access:force:)``).
    public func purge(_ plate: Plate, time: TimeRange = .all, by access: AccessContext = .unattributed,
                      force: Bool = false) throws(SightlineError) -> RewriteSummary {
        try rewrite(.purge(plate, time, access: access, force: force)) { (s: Store) throws(SightlineError) in
            try s.purge(plate, time: time, access: access, force: force)
        }
    }

    /// Deletes the rows past their retention period now (``Store/enforceRetention()``).
    public func enforceRetention() throws(SightlineError) -> RewriteSummary {
        try rewrite(.enforceRetention) { (s: Store) throws(SightlineError) in try s.enforceRetention() }
    }

    /// The statistics report (what `sightline stats` prints): the owner's, whose memory it
    /// knows, when one listens; else a read-only open's, which works beside an owner without
    /// a control channel.
    public func statisticsReport() throws(SightlineError) -> String {
        if StoreControl.hasSocket(directory), let reply = try? StoreControl.send(.statistics, to: directory, timeout: timeout),
           case .statistics(let text) = reply {
            return text
        }
        return try ReadOnlyStore(directory: directory, options: options, fileSystem: fileSystem).statistics().report
    }

    /// Sets what every read must state (``Store/setAccessRequirement(_:by:)``).
    public func setAccessRequirement(_ requirement: AccessRequirement, by access: AccessContext = .unattributed) throws(SightlineError) {
        try change(.setAccessRequirement(requirement, access: access)) { (s: Store) throws(SightlineError) in try s.setAccessRequirement(requirement, by: access) }
    }

    /// Replaces the camera registry (``Store/setCameraRegistry(_:by:)``).
    public func setCameraRegistry(_ registry: CameraRegistry, by access: AccessContext = .unattributed) throws(SightlineError) {
        try change(.setCameraRegistry(registry, access: access)) { (s: Store) throws(SightlineError) in try s.setCameraRegistry(registry, by: access) }
    }

    /// Replaces the sharing policy (``Store/setSharingPolicy(_:by:)``).
    public func setSharingPolicy(_ policy: SharingPolicy, by access: AccessContext = .unattributed) throws(SightlineError) {
        try change(.setSharingPolicy(policy, access: access)) { (s: Store) throws(SightlineError) in try s.setSharingPolicy(policy, by: access) }
    }

    /// Replaces the retention policy (``Store/setRetentionPolicy(_:by:)``).
    public func setRetentionPolicy(_ policy: RetentionPolicy, by access: AccessContext = .unattributed) throws(SightlineError) {
        try change(.setRetentionPolicy(policy, access: access)) { (s: Store) throws(SightlineError) in try s.setRetentionPolicy(policy, by: access) }
    }

    /// Replaces the investigative guardrails (``Store/setInvestigationLimits(_:by:)``).
    public func setInvestigationLimits(_ limits: InvestigationLimits) throws(SightlineError) {
        try change(.setInvestigationLimits(limits)) { (s: Store) throws(SightlineError) in try s.setInvestigationLimits(limits) }
    }

    /// Places a legal hold; returns its id (``Store/placeLegalHold(_:by:)``).
    public func placeLegalHold(_ hold: LegalHold, by access: AccessContext = .unattributed) throws(SightlineError) -> String {
        let text = try report(.placeLegalHold(hold, access: access)) { (s: Store) throws(SightlineError) in
            "placed \(try s.placeLegalHold(hold, by: access).id)"
        }
        return String(text.dropFirst("placed ".count))
    }

    /// Releases the hold with this id, or every hold of this case; returns the released ids.
    public func releaseLegalHold(_ idOrCase: String, by access: AccessContext = .unattributed) throws(SightlineError) -> [String] {
        let text = try report(.releaseLegalHold(idOrCase, access: access)) { (s: Store) throws(SightlineError) in
            "released \(try s.releaseLegalHold(idOrCase, by: access).map(\.id).joined(separator: " "))"
        }
        return text.dropFirst("released ".count).split(separator: " ").map(String.init)
    }

    /// Adds the entries of a hotlist CSV file (checked whole first); with `retroactiveFrom`,
    /// also checks the stored history from then and logs its hits as historical alerts.
    /// Returns the summary the owner reports (`added N hotlist entries[; K historical alerts logged]`).
    public func addHotlistEntries(file: String, retroactiveFrom: Int64? = nil,
                                  by access: AccessContext = .unattributed) throws(SightlineError) -> String {
        let entries = try HotlistFile.read(file, fileSystem: fileSystem)
        return try report(.addHotlistEntries(file: absolute(file), retroactiveFrom: retroactiveFrom)) { (s: Store) throws(SightlineError) in
            let historical = try s.addHotlistEntries(entries, retroactiveFrom: retroactiveFrom, access: access)
            return "added \(entries.count) hotlist entries" + (retroactiveFrom == nil ? "" : "; \(historical.count) historical alerts logged")
        }
    }

    /// Removes the entries of a hotlist CSV file (plate, list and optionally mode).
    public func removeHotlistEntries(file: String) throws(SightlineError) -> String {
        let entries = try HotlistFile.read(file, requireReason: false, fileSystem: fileSystem)
        return try report(.removeHotlistEntries(file: absolute(file))) { (s: Store) throws(SightlineError) in
            "removed \(try s.removeHotlistEntries(entries)) hotlist entries"
        }
    }

    /// Adds (or replaces) a geofence; `retroactiveFrom` as for hotlist entries.
    public func addGeofence(_ fence: Geofence, retroactiveFrom: Int64? = nil) throws(SightlineError) -> String {
        try report(.addGeofence(fence, retroactiveFrom: retroactiveFrom)) { (s: Store) throws(SightlineError) in
            let historical = try s.addGeofence(fence, retroactiveFrom: retroactiveFrom)
            return "added geofence \(fence.name)" + (retroactiveFrom == nil ? "" : "; \(historical.count) historical alerts logged")
        }
    }

    /// Removes a geofence by name.
    public func removeGeofence(named name: String) throws(SightlineError) -> String {
        try report(.removeGeofence(name)) { (s: Store) throws(SightlineError) in
            try s.removeGeofence(named: name) ? "removed geofence \(name)" : "no geofence \(name)"
        }
    }

    // MARK: Where a request runs

    private func rewrite(_ request: ControlRequest, _ local: (Store) throws(SightlineError) -> RewriteSummary) throws(SightlineError) -> RewriteSummary {
        let reply = try perform(request) { (s: Store) throws(SightlineError) -> ControlReply in .rewrite(try local(s)) }
        guard case .rewrite(let summary) = reply else { throw .controlFailed(path: directory, reason: "the owner's reply was not a rewrite summary") }
        return summary
    }

    private func change(_ request: ControlRequest, _ local: (Store) throws(SightlineError) -> Void) throws(SightlineError) {
        _ = try perform(request) { (s: Store) throws(SightlineError) -> ControlReply in
            try local(s)
            return .statistics("")
        }
    }

    private func report(_ request: ControlRequest, _ local: (Store) throws(SightlineError) -> String) throws(SightlineError) -> String {
        let reply = try perform(request) { (s: Store) throws(SightlineError) -> ControlReply in .statistics(try local(s)) }
        guard case .statistics(let text) = reply else { throw .controlFailed(path: directory, reason: "the owner's reply was not a report") }
        return text
    }

    /// Runs `request` in-process (`local`, on the store opened here and closed after) or, when
    /// another process owns the store, at that owner.
    func perform(_ request: ControlRequest, local: (Store) throws(SightlineError) -> ControlReply) throws(SightlineError) -> ControlReply {
        var opening = options
        opening.createIfMissing = createIfMissing
        if !createIfMissing, (try? fileSystem.contentsIfPresent("\(directory)/MANIFEST", limit: 1 << 30)) == nil {
            throw .invalidArgument("\(directory) holds no store")
        }
        let store: Store
        do {
            store = try Store(directory: directory, options: opening, fileSystem: fileSystem)
        } catch {
            guard case .storeLocked = error else { throw error }
            return try StoreControl.send(request, to: directory, timeout: timeout)
        }
        do {
            let reply = try local(store)
            try store.close()
            return reply
        } catch {
            try? store.close()
            throw error
        }
    }

    /// Paths in requests are read by the owner, whose working directory may differ.
    private func absolute(_ path: String) -> String {
        if path.hasPrefix("/") { return path }
        var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        guard getcwd(&buffer, buffer.count) != nil else { return path }
        return String(cString: buffer) + "/" + path
    }
}
