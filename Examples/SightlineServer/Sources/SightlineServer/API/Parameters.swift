import Hummingbird
import Sightline

/// A request's query and path parameters, parsed into the engine's types; a bad one is a
/// 400 naming it.
struct Parameters {
    let query: [(String, String)]
    let path: [String: String]

    init(_ request: Request, _ context: some RequestContext) {
        query = request.uri.queryParameters.map { (String($0.key), String($0.value)) }
        var path: [String: String] = [:]
        for (key, value) in context.parameters { path[String(key)] = Self.percentDecoded(String(value)) }
        self.path = path
    }

    subscript(_ name: String) -> String? { query.last { $0.0 == name }?.1 }
    func all(_ name: String) -> [String] { query.filter { $0.0 == name }.map(\.1) }

    func pathValue(_ name: String) throws(APIError) -> String {
        guard let v = path[name], !v.isEmpty else { throw .badParameter(name, "missing") }
        return v
    }

    func plate(_ name: String = "plate") throws(APIError) -> Plate {
        let text = try pathValue(name)
        do { return try Plate(text) } catch { throw .badParameter(name, "\(error)") }
    }

    func time(_ name: String) throws(APIError) -> Int64? {
        guard let text = self[name] else { return nil }
        guard let t = Timestamp.milliseconds(text) else { throw .badParameter(name, "\(text): not epoch milliseconds or RFC 3339") }
        return t
    }

    func timeRange() throws(APIError) -> TimeRange {
        let from = try time("from"), to = try time("to")
        do { return try TimeRange(from: from, to: to) } catch { throw .badParameter("from", "\(error)") }
    }

    func int(_ name: String, default value: Int? = nil, _ range: ClosedRange<Int>) throws(APIError) -> Int? {
        guard let text = self[name] else { return value }
        guard let n = Int(text), range.contains(n) else { throw .badParameter(name, "\(text): an integer in \(range.lowerBound)…\(range.upperBound)") }
        return n
    }

    func flag(_ name: String) throws(APIError) -> Bool {
        switch self[name] {
        case nil, "false", "0": return false
        case "true", "1", "": return true
        case let other?: throw .badParameter(name, "\(other): true or false")
        }
    }

    /// `bbox=S,W,N,E` | `circle=LAT,LON,METRES` | `polygon=LAT LON;…`: exactly one when
    /// `required`, at most one otherwise.
    func area(required: Bool) throws(APIError) -> Area? {
        let given = ["bbox", "circle", "polygon"].filter { self[$0] != nil }
        guard given.count <= 1 else { throw .badParameter(given[1], "give one of bbox, circle, polygon") }
        guard let name = given.first, let text = self[name] else {
            if required { throw .badParameter("bbox", "give bbox=S,W,N,E, circle=LAT,LON,METRES or polygon=LAT LON;…") }
            return nil
        }
        do {
            switch name {
            case "bbox": return try Area(parsingBox: text)
            case "circle": return try Area(parsingCircle: text)
            default: return try Area(parsingPolygon: text)
            }
        } catch { throw .badParameter(name, "\(text): \(error)") }
    }

    /// Rejects parameters the route does not know (a typo must not widen a query silently).
    func only(_ known: Set<String>) throws(APIError) {
        if let unknown = query.first(where: { !known.contains($0.0) }) {
            throw .badParameter(unknown.0, "unknown parameter (this route takes \(known.sorted().joined(separator: ", ")))")
        }
    }

    /// `%XX` escapes decoded (a pattern's `?` and `*` arrive percent-encoded in a path).
    static func percentDecoded(_ text: String) -> String {
        guard text.contains("%") else { return text }
        var bytes: [UInt8] = []
        var u = Array(text.utf8)[...]
        while let b = u.popFirst() {
            if b == UInt8(ascii: "%"), u.count >= 2, let v = UInt8(String(decoding: u.prefix(2), as: UTF8.self), radix: 16) {
                bytes.append(v)
                u = u.dropFirst(2)
            } else {
                bytes.append(b)
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}
