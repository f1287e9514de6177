/// Areas from the text forms the CLI, the control socket and services take: one parser, so
/// every caller accepts and rejects the same strings (and one fuzz target covers them).
extension Area {
    /// Parses a box `south,west,north,east` in degrees (`west > east` crosses the
    /// antimeridian). Not validated: call ``validated()``.
    /// - Throws: `invalidArgument` naming the text when it is not four numbers.
    public init(parsingBox text: String) throws(SightlineError) {
        let v = try Self.numbers(text, ",", 4, "bbox")
        self = .box(south: v[0], west: v[1], north: v[2], east: v[3])
    }

    /// Parses a circle `lat,lon,metres`. Not validated: call ``validated()``.
    /// - Throws: `invalidArgument` naming the text when it is not three numbers.
    public init(parsingCircle text: String) throws(SightlineError) {
        let v = try Self.numbers(text, ",", 3, "circle")
        self = .circle(latitude: v[0], longitude: v[1], metres: v[2])
    }

    /// Parses a polygon `"lat lon;lat lon;..."`. Not validated (vertex count, ranges): call
    /// ``validated()``.
    /// - Throws: `invalidArgument` naming the text when a vertex is not two numbers.
    public init(parsingPolygon text: String) throws(SightlineError) {
        var vertices: [Vertex] = []
        for pair in text.split(separator: ";") {
            let v = try Self.numbers(pair, " ", 2, "polygon")
            vertices.append(Vertex(latitude: v[0], longitude: v[1]))
        }
        self = .polygon(vertices)
    }

    private static func numbers(_ text: some StringProtocol, _ separator: Character, _ count: Int,
                                _ what: String) throws(SightlineError) -> [Double] {
        var values: [Double] = []
        for part in text.split(separator: separator, omittingEmptySubsequences: true) {
            guard values.count < count, let v = Double(String(part).trimmingWhitespace()) else {
                throw .invalidArgument("--\(what) \(text): expected \(count) numbers")
            }
            values.append(v)
        }
        guard values.count == count else { throw .invalidArgument("--\(what) \(text): expected \(count) numbers") }
        return values
    }
}
