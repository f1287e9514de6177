import Hummingbird
import Sightline

/// Heat maps and the investigative queries: intersect, convoy, frequent locations. Each
/// answers with the CLI's columns as JSON fields, in the CLI's order.
extension ServiceAPI {
    func addInvestigationRoutes(to router: Router<BasicRequestContext>) {
        add(router, .get, "/v1/heatmap", role: .read) { request, context, caller in
            let p = Parameters(request, context)
            try p.only(["bbox", "circle", "polygon", "from", "to", "precision", "by"])
            let precision = try p.int("precision", 1...12)
            let grouping: HeatmapGrouping, column: String
            switch (precision, p["by"]) {
            case (let precision?, nil): (grouping, column) = (.geohash(precision: precision), "geohash")
            case (nil, "hour"): (grouping, column) = (.hourOfDay, "hour")
            case (nil, "day"): (grouping, column) = (.day, "day")
            case (nil, let by?): throw APIError.badParameter("by", "\(by): hour or day")
            default: throw APIError.badParameter("precision", "give exactly one of precision=1…12, by=hour|day")
            }
            let query = try makeQuery(.area(try p.area(required: true)!), p)
            let cells = try await blocking { try $0.snapshot(access: caller.access).heatmap(query, by: grouping) }
            return Self.json(JSON.object([("cells", JSON.array(cells.map { "{\"\(column)\":\(JSON.string($0.key)),\"count\":\($0.count)}" }))]))
        }
        add(router, .get, "/v1/intersect", role: .investigate) { request, context, caller in
            let p = Parameters(request, context)
            try p.only(["window", "min", "limit"])
            let texts = p.all("window")
            guard !texts.isEmpty else { throw APIError.badParameter("window", "give at least one window=S,W,N,E,FROM,TO") }
            var windows: [IntersectionWindow] = []
            for text in texts {
                let f = text.split(separator: ",", omittingEmptySubsequences: false).map { $0.trimmedSpaces }
                guard f.count == 6, let s = Double(f[0]), let w = Double(f[1]), let n = Double(f[2]), let e = Double(f[3]),
                      let from = Timestamp.milliseconds(f[4]), let to = Timestamp.milliseconds(f[5]) else {
                    throw APIError.badParameter("window", "\(text): expected S,W,N,E,FROM,TO (times epoch ms or RFC 3339)")
                }
                do { windows.append(try IntersectionWindow(area: .box(south: s, west: w, north: n, east: e), time: TimeRange(from: from, to: to))) }
                catch { throw APIError.badParameter("window", "\(text): \(error)") }
            }
            let minimum = try p.int("min", 1...windows.count), limit = try p.int("limit", 1...1_000_000)
            let found = windows
            let matches = try await blocking { try $0.snapshot(access: caller.access).intersect(found, minimum: minimum, filters: QueryFilters(limit: limit)) }
            return Self.json(JSON.object([("plates", JSON.array(matches.map {
                "{\"plate\":\"\($0.plate.text)\",\"windows\":\($0.windows),\"sightings\":\($0.sightings)}"
            }))]))
        }
        add(router, .get, "/v1/plates/{plate}/convoy", role: .investigate) { request, context, caller in
            let p = Parameters(request, context)
            try p.only(["within", "min_cameras", "from", "to", "limit"])
            let plate = try p.plate()
            guard let within = try p.int("within", 0...86_400 * 365) else { throw APIError.badParameter("within", "missing (seconds)") }
            let minimum = try p.int("min_cameras", default: 2, 1...100_000)!, limit = try p.int("limit", 1...1_000_000)
            let time = try p.timeRange()
            let companions = try await blocking {
                try $0.snapshot(access: caller.access).convoy(plate, within: .seconds(within), minimumCameras: minimum, time: time, limit: limit)
            }
            return Self.json(JSON.object([("plates", JSON.array(companions.map {
                "{\"plate\":\"\($0.plate.text)\",\"cameras\":\($0.cameras),\"sightings\":\($0.sightings)}"
            }))]))
        }
        add(router, .get, "/v1/plates/{plate}/frequent", role: .investigate) { request, context, caller in
            let p = Parameters(request, context)
            try p.only(["precision", "top", "hours", "from", "to"])
            let plate = try p.plate()
            let precision = try p.int("precision", default: 7, 1...12)!, top = try p.int("top", default: 10, 1...100_000)!
            let hours = try p["hours"].map { text throws(APIError) -> (from: Int, to: Int) in
                do { let w = try HourWindow(parsing: text); return (w.from, w.to) } catch { throw .badParameter("hours", "\(text): \(error)") }
            }
            let time = try p.timeRange()
            let cells = try await blocking {
                try $0.snapshot(access: caller.access).frequentLocations(plate, precision: precision, top: top, hours: hours, time: time)
            }
            return Self.json(JSON.object([("cells", JSON.array(cells.map {
                "{\"cell\":\(JSON.string($0.cell)),\"sightings\":\($0.sightings),\"first\":\($0.first),\"last\":\($0.last)}"
            }))]))
        }
    }
}
