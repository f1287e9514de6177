/// How an alert's rule matched.
public enum AlertMatch: String, Sendable, Hashable, CaseIterable {
    /// A hotlist entry, plate equal.
    case exact
    /// A hotlist entry, plate equal once OCR-confused characters are folded.
    case equivalent
    /// A hotlist pattern.
    case pattern
    /// A geofence.
    case geofence

    init(_ mode: MatchMode) {
        switch mode {
        case .exact: self = .exact
        case .equivalent: self = .equivalent
        case .pattern: self = .pattern
        }
    }
}

/// A read that matched a standing rule, as kept in the store's alert log.
public struct Alert: Sendable, Hashable {
    /// Position in the alert log: 1, 2, 3… in the order alerts were made durable.
    public var sequence: UInt64
    /// The rule: `hotlist:LIST:MODE:PLATE` or `geofence:NAME`.
    public var rule: String
    /// The hotlist's name, or the geofence's.
    public var list: String
    /// How it matched.
    public var match: AlertMatch
    /// The read.
    public var sighting: Sighting
    /// Found in the stored history when the rule was added (a retroactive check), not as
    /// the read arrived.
    public var historical: Bool
    /// The write-ahead log record that brought the read (0 for historical alerts): recovery
    /// recomputes the alerts of replayed records and adds only those missing.
    var logSequence: UInt64

    /// The NDJSON line the CLI prints (`sequence, rule, list, mode, plate, time` in epoch ms,
    /// `lat, lon, camera, confidence`, and `historical` when true), without the newline.
    public var json: String {
        let s = sighting
        var line = "{\"sequence\":\(sequence),\"rule\":\(Self.quoted(rule)),\"list\":\(Self.quoted(list)),\"mode\":\"\(match.rawValue)\","
        line += "\"plate\":\"\(s.plate.text)\",\"time\":\(s.time),\"lat\":\(formatCoordinate(s.latitudeE7)),\"lon\":\(formatCoordinate(s.longitudeE7)),"
        line += "\"camera\":\(s.camera),\"confidence\":\(s.confidence)"
        return line + (historical ? ",\"historical\":true}" : "}")
    }

    /// A JSON string literal.
    static func quoted(_ text: String) -> String {
        var out = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            default:
                if scalar.value < 0x20 {
                    let hex = String(scalar.value, radix: 16)
                    out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        return out + "\""
    }
}

/// A coordinate in 1e-7 degrees as decimal degrees with seven places (`-122.1495527`).
func formatCoordinate(_ e7: Int32) -> String {
    let m = abs(Int64(e7))
    let fraction = String(m % 10_000_000)
    return "\(e7 < 0 ? "-" : "")\(m / 10_000_000).\(String(repeating: "0", count: 7 - fraction.count))\(fraction)"
}
