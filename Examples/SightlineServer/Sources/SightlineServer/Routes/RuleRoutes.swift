import FoundationEssentials
import Hummingbird
import Sightline

/// Hotlists and geofences: the standing rules alerts are raised by (role `admin`).
extension ServiceAPI {
    func addRuleRoutes(to router: Router<BasicRequestContext>) {
        add(router, .get, "/v1/hotlists", role: .admin) { request, context, _ in
            try Parameters(request, context).only([])
            let rules = store.store.rules
            var sizes: [String: Int] = [:]
            for e in rules.hotlist { sizes[e.list, default: 0] += 1 }
            return Self.json(JSON.object([("hotlists", JSON.array(sizes.sorted { $0.key < $1.key }.map {
                "{\"list\":\(JSON.string($0.key)),\"entries\":\($0.value)}"
            }))]))
        }
        add(router, .get, "/v1/hotlists/{list}/entries", role: .admin) { request, context, _ in
            let p = Parameters(request, context)
            try p.only([])
            let list = try p.pathValue("list")
            let entries = store.store.rules.hotlist.filter { $0.list == list }.sorted { ($0.plate, $0.mode.rawValue) < ($1.plate, $1.mode.rawValue) }
            return Self.json(JSON.object([("entries", JSON.array(entries.map(Self.entryJSON)))]))
        }
        add(router, .put, "/v1/hotlists/{list}/entries/{plate}", role: .admin) { request, context, caller in
            let p = Parameters(request, context)
            try p.only(["retroactive_from"])
            let body = try await self.body(request)
            struct Body: Decodable { var reason: String?; var mode: String?; var expires: Int64?; var priority: Int? }
            let fields: Body
            if body.allSatisfy({ $0 == 0x20 || $0 == 0x0A || $0 == 0x0D || $0 == 0x09 }) {
                fields = Body()
            } else {
                do { fields = try PolicyDocument.decode(Body.self, from: body, source: "body") } catch { throw APIError.badBody("\(error)") }
            }
            let mode = try Self.mode(fields.mode ?? "exact", "mode")
            let entry: HotlistEntry
            do {
                entry = try HotlistEntry(plate: try p.pathValue("plate"), list: try p.pathValue("list"), reason: fields.reason ?? "",
                                         expires: fields.expires, priority: fields.priority, mode: mode)
            } catch { throw APIError.badParameter("plate", "\(error)") }
            let from = try p.time("retroactive_from")
            let alerts = try await blocking { try $0.addHotlistEntries([entry], retroactiveFrom: from, access: caller.access) }
            return Self.json(JSON.object([("entry", Self.entryJSON(entry)), ("historicalAlerts", "\(alerts.count)")]))
        }
        add(router, .delete, "/v1/hotlists/{list}/entries/{plate}", role: .admin) { request, context, _ in
            let p = Parameters(request, context)
            try p.only(["mode"])
            let entry: HotlistEntry
            do { entry = try HotlistEntry(plate: try p.pathValue("plate"), list: try p.pathValue("list"), mode: try Self.mode(p["mode"] ?? "exact", "mode")) }
            catch let error as APIError { throw error } catch { throw APIError.badParameter("plate", "\(error)") }
            let removed = try await blocking { try $0.removeHotlistEntries([entry]) }
            guard removed > 0 else { throw APIError.notFound("no \(entry.mode.rawValue) entry for that plate in list \(entry.list)") }
            return Self.json("{\"removed\":\(removed)}\n")
        }
        add(router, .post, "/v1/hotlists/{list}/entries", role: .admin) { request, context, caller in
            let p = Parameters(request, context)
            try p.only(["retroactive_from"])
            let list = try p.pathValue("list")
            let text = String(decoding: try await self.body(request), as: UTF8.self)
            let entries: [HotlistEntry]
            do { entries = try HotlistFile.parse(text, source: "body") } catch { throw APIError.badBody("\(error)") }
            if let i = entries.firstIndex(where: { $0.list != list }) {
                throw APIError.badBody("entry \(i + 1) is for list \(entries[i].list), not \(list)")
            }
            let from = try p.time("retroactive_from")
            let alerts = try await blocking { try $0.addHotlistEntries(entries, retroactiveFrom: from, access: caller.access) }
            return Self.json("{\"added\":\(entries.count),\"historicalAlerts\":\(alerts.count)}\n")
        }
        add(router, .get, "/v1/geofences", role: .admin) { request, context, _ in
            try Parameters(request, context).only([])
            return Self.json(JSON.object([("geofences", JSON.array(store.store.rules.allGeofences.map { g in
                "{\"name\":\(JSON.string(g.name)),\"area\":\(JSON.string(g.areaText)),\"cameras\":"
                    + (g.cameras.map { JSON.array($0.sorted().map(String.init)) } ?? "null")
                    + ",\"hours\":" + (g.hours.map { JSON.string($0.description) } ?? "null") + "}"
            }))]))
        }
        add(router, .put, "/v1/geofences/{name}", role: .admin) { request, context, caller in
            let p = Parameters(request, context)
            try p.only(["bbox", "circle", "polygon", "camera", "hours", "retroactive_from"])
            let area = try p.area(required: true)!
            var cameras: Set<UInt32> = []
            for text in p.all("camera") {
                guard let c = UInt32(text) else { throw APIError.badParameter("camera", "\(text): a camera id") }
                cameras.insert(c)
            }
            let hours = try p["hours"].map { text throws(APIError) -> HourWindow in
                do { return try HourWindow(parsing: text) } catch { throw .badParameter("hours", "\(text): \(error)") }
            }
            let fence: Geofence
            do { fence = try Geofence(name: try p.pathValue("name"), area: area, cameras: cameras.isEmpty ? nil : cameras, hours: hours) }
            catch { throw APIError.badParameter("name", "\(error)") }
            let from = try p.time("retroactive_from")
            let alerts = try await blocking { try $0.addGeofence(fence, retroactiveFrom: from, access: caller.access) }
            return Self.json("{\"name\":\(JSON.string(fence.name)),\"area\":\(JSON.string(fence.areaText)),\"historicalAlerts\":\(alerts.count)}\n")
        }
        add(router, .delete, "/v1/geofences/{name}", role: .admin) { request, context, _ in
            let p = Parameters(request, context)
            try p.only([])
            let name = try p.pathValue("name")
            guard try await blocking({ try $0.removeGeofence(named: name) }) else { throw APIError.notFound("no geofence \(name)") }
            return Self.json("{\"removed\":1}\n")
        }
    }

    static func mode(_ text: String, _ name: String) throws(APIError) -> MatchMode {
        guard let mode = MatchMode(rawValue: text) else { throw .badParameter(name, "\(text): exact, equivalent or pattern") }
        return mode
    }

    static func entryJSON(_ e: HotlistEntry) -> String {
        "{\"plate\":\(JSON.string(e.plate)),\"list\":\(JSON.string(e.list)),\"reason\":\(JSON.string(e.reason)),\"mode\":\"\(e.mode.rawValue)\","
            + "\"expires\":\(JSON.optional(e.expires)),\"priority\":\(e.priority.map(String.init) ?? "null")}"
    }
}
