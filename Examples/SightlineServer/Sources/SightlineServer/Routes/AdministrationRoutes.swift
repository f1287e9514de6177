import FoundationEssentials
import Hummingbird
import Sightline

/// Cameras, sharing and retention policies, the access requirement, legal holds, purges and
/// statistics (role `admin`). Every change is made on behalf of the caller, and audited
/// under the credential's identity by the store.
extension ServiceAPI {
    func addAdministrationRoutes(to router: Router<BasicRequestContext>) {
        add(router, .get, "/v1/cameras", role: .admin) { request, context, _ in
            try Parameters(request, context).only([])
            return Self.json(JSON.object([("cameras", JSON.array(store.store.cameraRegistry.sorted.map { c in
                "{\"camera\":\(c.camera),\"agency\":\(JSON.string(c.agency)),\"jurisdiction\":\(JSON.string(c.jurisdiction)),\"kind\":\(JSON.string(c.kind)),"
                    + "\"lat\":\(c.latitude.map { "\($0)" } ?? "null"),\"lon\":\(c.longitude.map { "\($0)" } ?? "null"),\"name\":\(JSON.string(c.name))}"
            }))]))
        }
        add(router, .put, "/v1/cameras", role: .admin) { request, context, caller in
            try Parameters(request, context).only([])
            let registry: CameraRegistry
            do { registry = try CameraRegistry(csv: try await self.body(request), source: "body") } catch let e as SightlineError { throw APIError.badBody("\(e)") }
            try await blocking { try $0.setCameraRegistry(registry, by: caller.access) }
            return Self.json("{\"cameras\":\(registry.cameras.count)}\n")
        }
        add(router, .get, "/v1/policy/sharing", role: .admin) { request, context, _ in
            try Parameters(request, context).only([])
            return Self.json(try Self.encoded(store.store.sharingPolicy))
        }
        add(router, .put, "/v1/policy/sharing", role: .admin) { request, context, caller in
            try Parameters(request, context).only([])
            let policy: SharingPolicy
            do { policy = try PolicyDocument.decode(SharingPolicy.self, from: try await self.body(request), source: "body") } catch let e as SightlineError { throw APIError.badBody("\(e)") }
            try await blocking { try $0.setSharingPolicy(policy, by: caller.access) }
            return Self.json(try Self.encoded(policy))
        }
        add(router, .get, "/v1/policy/retention", role: .admin) { request, context, _ in
            try Parameters(request, context).only([])
            return Self.json(try Self.encoded(store.store.retentionPolicy))
        }
        add(router, .put, "/v1/policy/retention", role: .admin) { request, context, caller in
            try Parameters(request, context).only([])
            let policy: RetentionPolicy
            do { policy = try PolicyDocument.decode(RetentionPolicy.self, from: try await self.body(request), source: "body") } catch let e as SightlineError { throw APIError.badBody("\(e)") }
            try await blocking { try $0.setRetentionPolicy(policy, by: caller.access) }
            return Self.json(try Self.encoded(policy))
        }
        add(router, .get, "/v1/policy/access", role: .admin) { request, context, _ in
            try Parameters(request, context).only([])
            return Self.json("{\"require\":\"\(store.store.accessRequirement.rawValue)\"}\n")
        }
        add(router, .put, "/v1/policy/access", role: .admin) { request, context, caller in
            let p = Parameters(request, context)
            try p.only(["require"])
            guard let text = p["require"], let requirement = AccessRequirement(rawValue: text) else {
                throw APIError.badParameter("require", "\(p["require"] ?? "missing"): none, purpose or purpose+case")
            }
            try await blocking { try $0.setAccessRequirement(requirement, by: caller.access) }
            return Self.json("{\"require\":\"\(requirement.rawValue)\"}\n")
        }
        add(router, .post, "/v1/retention/enforce", role: .admin) { request, context, _ in
            try Parameters(request, context).only([])
            let summary = try await blocking { try $0.enforceRetention() }
            return Self.json("{\"rowsDeleted\":\(summary.rowsDeleted),\"segmentsWritten\":\(summary.segmentsWritten.count)}\n")
        }
        add(router, .get, "/v1/holds", role: .admin) { request, context, _ in
            try Parameters(request, context).only([])
            return Self.json(JSON.object([("holds", JSON.array(store.store.legalHolds.map(Self.holdJSON)))]))
        }
        add(router, .post, "/v1/holds", role: .admin) { request, context, caller in
            let p = Parameters(request, context)
            try p.only(["case", "plate", "bbox", "circle", "polygon", "from", "to"])
            guard let caseNumber = p["case"], !caseNumber.isEmpty else { throw APIError.badParameter("case", "missing") }
            let plate = try p["plate"].map { text throws(APIError) -> Plate in
                do { return try Plate(text) } catch { throw .badParameter("plate", "\(error)") }
            }
            let area = try p.area(required: false)
            guard (plate == nil) != (area == nil) else { throw APIError.badParameter("plate", "give plate or an area (bbox, circle, polygon), exactly one") }
            let time = try p.timeRange()
            let hold: LegalHold
            do { hold = try LegalHold(caseNumber: caseNumber, plate: plate, area: area, time: time) } catch { throw APIError.badParameter("case", "\(error)") }
            let placed = try await blocking { try $0.placeLegalHold(hold, by: caller.access) }
            return Self.json(Self.holdJSON(placed) + "\n")
        }
        add(router, .delete, "/v1/holds/{hold}", role: .admin) { request, context, caller in
            let p = Parameters(request, context)
            try p.only([])
            let id = try p.pathValue("hold")
            let released = try await blocking { try $0.releaseLegalHold(id, by: caller.access) }
            guard !released.isEmpty else { throw APIError.notFound("no hold \(id) (an id or a case number)") }
            return Self.json(JSON.object([("released", JSON.array(released.map { JSON.string($0.id) }))]))
        }
        add(router, .post, "/v1/plates/{plate}/purge", role: .admin) { request, context, caller in
            let p = Parameters(request, context)
            try p.only(["from", "to", "force"])
            let plate = try p.plate(), time = try p.timeRange(), force = try p.flag("force")
            let summary = try await blocking { try $0.purge(plate, time: time, access: caller.access, force: force) }
            return Self.json("{\"rowsDeleted\":\(summary.rowsDeleted),\"segmentsWritten\":\(summary.segmentsWritten.count)}\n")
        }
        add(router, .get, "/v1/stats", role: .admin) { request, context, _ in
            try Parameters(request, context).only([])
            let s: StoreStatistics
            s = try await blocking { try $0.statistics() }
            return Self.json(JSON.object([
                ("segments", "\(s.segments)"), ("partitions", "\(s.partitions)"), ("segmentRows", "\(s.segmentRows)"),
                ("memoryRows", "\(s.memoryRows)"), ("bytes", "\(s.bytes)"), ("bytesPerSighting", "\(s.bytesPerSighting)"),
                ("from", JSON.optional(s.timeRange?.lowerBound)), ("to", JSON.optional(s.timeRange?.upperBound)),
                ("compactionDebtSegments", "\(s.compactionDebtSegments)"), ("hotlistEntries", "\(store.store.rules.hotlistCount)"),
                ("geofences", "\(store.store.rules.allGeofences.count)"),
            ]))
        }
    }

    static func encoded(_ value: some Encodable) throws(APIError) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        do { return String(decoding: try encoder.encode(value), as: UTF8.self) + "\n" } catch { throw APIError(status: .internalServerError, code: "encoding", message: "\(error)") }
    }

    static func holdJSON(_ h: LegalHold) -> String {
        "{\"id\":\(JSON.string(h.id)),\"case\":\(JSON.string(h.caseNumber)),\"plate\":" + (h.plate.map { JSON.string($0.text) } ?? "null")
            + ",\"area\":" + (h.area.map { JSON.string("\($0)") } ?? "null")
            + ",\"from\":\(JSON.optional(h.time.from)),\"to\":\(JSON.optional(h.time.to)),\"placedAt\":\(h.placedAt),\"placedBy\":\(JSON.string(h.placedBy))}"
    }
}
