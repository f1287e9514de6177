/// How a hotlist entry's plate is compared with a read.
public enum MatchMode: String, Sendable, Hashable, CaseIterable {
    /// The read's normalized plate equals the entry's.
    case exact
    /// Equal once characters a reader confuses are folded (`RuleSet.equivalence`).
    case equivalent
    /// The entry is a `PlatePattern`: `?` one character, `*` any run.
    case pattern
}

/// One plate on one list: stolen vehicle, warrant, AMBER alert, an agency's own list.
///
/// An entry is identified by its list, its plate text and its mode: adding one with the
/// same three replaces the reason, expiry and priority.
public struct HotlistEntry: Sendable, Hashable {
    /// The normalized plate (exact, equivalent) or pattern text (pattern).
    public let plate: String
    /// The list's name, e.g. `stolen`.
    public let list: String
    /// Why the plate is listed (free text).
    public var reason: String
    /// Epoch milliseconds from which the entry no longer matches; nil for never.
    public var expires: Int64?
    /// Optional priority, carried into alerts' consumers (higher is more urgent).
    public var priority: Int?
    /// How the plate is compared.
    public let mode: MatchMode

    /// An entry; the plate is normalized (pattern: validated as a `PlatePattern`).
    /// - Throws: `invalidPlate` for a bad plate, `invalidArgument` for a bad pattern or an
    ///   empty list name.
    public init(plate: String, list: String, reason: String = "", expires: Int64? = nil, priority: Int? = nil,
                mode: MatchMode = .exact) throws(SightlineError) {
        let list = list.trimmingWhitespaceAndControl()
        guard !list.isEmpty else { throw .invalidArgument("hotlist entry for \(plate): empty list name") }
        switch mode {
        case .exact, .equivalent: self.plate = try Plate(plate).text
        case .pattern: self.plate = try PlatePattern(plate).text
        }
        self.list = list
        self.reason = reason.trimmingWhitespaceAndControl()
        self.expires = expires
        self.priority = priority
        self.mode = mode
    }

    /// The rule id alerts carry: `hotlist:LIST:MODE:PLATE`.
    public var ruleID: String { "hotlist:\(list):\(mode.rawValue):\(plate)" }

    /// Whether the entry still matches at epoch millisecond `now`.
    @inline(__always) func isLive(at now: Int64) -> Bool { expires.map { now < $0 } ?? true }

    /// The identity: list, plate text and mode.
    struct Key: Hashable, Sendable { let list: String, plate: String, mode: MatchMode }
    var key: Key { Key(list: list, plate: plate, mode: mode) }
}

/// An area watched for every read: optionally only some cameras', optionally only at some
/// hours of the day.
public struct Geofence: Sendable, Hashable {
    /// Its name (unique in the store).
    public let name: String
    /// The area.
    public let area: Area
    /// Only reads of these cameras; nil for any.
    public let cameras: Set<UInt32>?
    /// Only reads at these UTC hours; nil for any.
    public let hours: HourWindow?

    /// A geofence; the area is validated.
    public init(name: String, area: Area, cameras: Set<UInt32>? = nil, hours: HourWindow? = nil) throws(SightlineError) {
        let name = name.trimmingWhitespaceAndControl()
        guard !name.isEmpty, !name.contains(" ") else { throw .invalidArgument("geofence name \"\(name)\": non-empty, no spaces") }
        self.name = name
        self.area = try area.validated()
        self.cameras = cameras
        self.hours = hours
    }

    /// The area as the rules file writes it: `box:S,W,N,E`, `circle:LAT,LON,METRES` or
    /// `polygon:LAT LON;…`.
    public var areaText: String { RulesFile.areaText(area) }

    /// The rule id alerts carry: `geofence:NAME`.
    public var ruleID: String { "geofence:\(name)" }

    @inline(__always)
    func matches(time: Int64, latitudeE7: Int32, longitudeE7: Int32, camera: UInt32) -> Bool {
        if let cameras, !cameras.contains(camera) { return false }
        if let hours, !hours.contains(time) { return false }
        return area.contains(latitudeE7: latitudeE7, longitudeE7: longitudeE7)
    }
}

extension String {
    /// Without leading and trailing spaces, tabs and line breaks, and with any control
    /// character inside (tab, newline) replaced by a space: rule fields are single-line.
    func trimmingWhitespaceAndControl() -> String {
        let cleaned = String(unicodeScalars.map { $0.value < 0x20 || $0.value == 0x7F ? " " : Character($0) })
        var s = Substring(cleaned)
        while s.first == " " { s = s.dropFirst() }
        while s.last == " " { s = s.dropLast() }
        return String(s)
    }
}
