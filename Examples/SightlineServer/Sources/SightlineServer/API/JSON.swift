import Sightline

/// The JSON the API writes, built as text (rows are written by the thousand per page).
enum JSON {
    /// A JSON string literal.
    static func string(_ s: String) -> String {
        var r = "\""
        for u in s.unicodeScalars {
            switch u {
            case "\"": r += "\\\""
            case "\\": r += "\\\\"
            case _ where u.value < 0x20: r += "\\u00" + (u.value < 16 ? "0" : "") + String(u.value, radix: 16)
            default: r.unicodeScalars.append(u)
            }
        }
        return r + "\""
    }

    /// A sighting: `{"plate","time","lat","lon","camera","confidence","region","image"}`,
    /// time in epoch ms, region and image null when absent.
    static func row(_ s: Sighting) -> String {
        var out = "{\"plate\":\"\(s.plate)\",\"time\":\(s.time),\"lat\":\(Double(s.latitudeE7) / 1e7),\"lon\":\(Double(s.longitudeE7) / 1e7)"
        out += ",\"camera\":\(s.camera),\"confidence\":\(s.confidence)"
        out += ",\"region\":" + (s.region.map { string("\($0)") } ?? "null")
        out += ",\"image\":" + (s.image.map { string($0) } ?? "null")
        return out + "}"
    }

    /// `{"name": [items…]}` and the other members, as one object line.
    static func object(_ members: [(String, String)]) -> String {
        "{" + members.map { "\(string($0.0)):\($0.1)" }.joined(separator: ",") + "}\n"
    }

    static func array(_ items: [String]) -> String { "[" + items.joined(separator: ",") + "]" }
    static func optional(_ value: Int64?) -> String { value.map(String.init) ?? "null" }
}

extension StringProtocol {
    /// Without leading and trailing spaces.
    var trimmedSpaces: String {
        var s = Substring(self)
        while s.first == " " { s.removeFirst() }
        while s.last == " " { s.removeLast() }
        return String(s)
    }
}
