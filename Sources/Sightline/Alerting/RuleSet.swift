/// The standing rules of a store: hotlist entries and geofences, and the OCR classes that
/// `equivalent` entries use. A value: `Store` keeps the current one, durably (`RULES`), and
/// matches every appended row against it.
public struct RuleSet: Sendable, Equatable {
    /// Hotlist entries by identity (list, plate text, mode).
    private(set) var entries: [HotlistEntry.Key: HotlistEntry] = [:]
    /// Geofences by name.
    private(set) var geofences: [String: Geofence] = [:]
    /// Characters `equivalent` entries treat as equal.
    public var equivalence: OCREquivalence = .default
    /// The first write-ahead log record appended under this set: recovery recomputes the
    /// alerts of replayed records from here on (earlier ones had theirs written before the
    /// rules changed).
    var effectiveFrom: UInt64 = 0

    /// No rules.
    public init() {}

    /// The hotlist entries, ordered by list, plate, mode.
    public var hotlist: [HotlistEntry] {
        entries.values.sorted { ($0.list, $0.plate, $0.mode.rawValue) < ($1.list, $1.plate, $1.mode.rawValue) }
    }
    /// The geofences, ordered by name.
    public var allGeofences: [Geofence] { geofences.values.sorted { $0.name < $1.name } }
    /// Number of hotlist entries.
    public var hotlistCount: Int { entries.count }

    /// Adds entries; one with the identity of an existing entry replaces it.
    public mutating func add(_ new: [HotlistEntry]) {
        for e in new { entries[e.key] = e }
    }

    /// Removes the entries with these identities (list, plate, mode); returns how many were there.
    @discardableResult
    public mutating func remove(_ old: [HotlistEntry]) -> Int {
        old.reduce(0) { $0 + (entries.removeValue(forKey: $1.key) == nil ? 0 : 1) }
    }

    /// Adds or replaces a geofence.
    public mutating func add(_ geofence: Geofence) { geofences[geofence.name] = geofence }

    /// Removes a geofence; returns whether it was there.
    @discardableResult
    public mutating func removeGeofence(named name: String) -> Bool { geofences.removeValue(forKey: name) != nil }

    /// Entries whose expiry is at or before `now` (they no longer match).
    public func expired(at now: Int64) -> [HotlistEntry] { entries.values.filter { !$0.isLive(at: now) } }
}
