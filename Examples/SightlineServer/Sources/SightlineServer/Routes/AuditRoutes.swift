import Hummingbird
import Sightline

/// The audit log (role `audit`): `GET /v1/audit` as NDJSON with the `audit` command's
/// filters, and `GET /v1/audit/verify`, the hash chain checked.
extension ServiceAPI {
    func addAuditRoutes(to router: Router<BasicRequestContext>) {
        add(router, .get, "/v1/audit", role: .audit) { request, context, _ in
            let p = Parameters(request, context)
            try p.only(["from", "to", "requester", "agency", "plate"])
            let lower = try p.time("from") ?? .min, upper = try p.time("to") ?? .max
            let requester = p["requester"], agency = p["agency"]
            let named = try p["plate"].map { text throws(APIError) -> String in
                do { return "#" + Self.hex16(store.store.hasher.key(try Plate(text))) } catch { throw .badParameter("plate", "\(error)") }
            }
            let directory = store.directory
            let records = try await blocking { _ throws(SightlineError) in try AuditLog.records(directory: directory) }
            var out = ""
            for r in records where r.time >= lower && r.time < upper && (requester.map { r.access.requester == $0 } ?? true)
                && (agency.map { r.access.agency == $0 } ?? true) && (named.map { r.query.contains($0) } ?? true) {
                out += "{\"sequence\":\(r.sequence),\"time\":\(r.time),\"requester\":\(JSON.string(r.access.requester)),\"agency\":\(JSON.string(r.access.agency)),"
                out += "\"purpose\":\(JSON.string(r.access.purpose)),\"case\":\(JSON.string(r.access.caseNumber ?? "")),\"operation\":\(JSON.string(r.operation)),"
                out += "\"query\":\(JSON.string(r.query)),\"rows\":\(r.rows),\"plates\":\(r.plates),\"outcome\":\"\(r.outcome.rawValue)\",\"detail\":\(JSON.string(r.detail))}\n"
            }
            return Response(status: .ok, headers: [.contentType: "application/x-ndjson"], body: .init(byteBuffer: ByteBuffer(string: out)))
        }
        add(router, .get, "/v1/audit/verify", role: .audit) { request, context, _ in
            try Parameters(request, context).only([])
            let directory = store.directory, keyring = self.keyring
            let result = try await blocking { _ throws(SightlineError) in try AuditLog.verify(directory: directory, keyring: keyring) }
            return Self.json(JSON.object([("sound", "\(result.isSound)"), ("records", "\(result.records)"), ("head", JSON.string(result.head)),
                                          ("problem", result.problem.map(JSON.string) ?? "null"), ("notes", JSON.array(result.notes.map(JSON.string)))]))
        }
    }

    static func hex16(_ value: UInt64) -> String {
        let hex = String(value, radix: 16)
        return String(repeating: "0", count: 16 - hex.count) + hex
    }
}
