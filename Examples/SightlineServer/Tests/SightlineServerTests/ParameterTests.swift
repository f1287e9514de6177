import Foundation
import Testing

#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// Bad parameters on every route: 400 with `{"error","message"}` naming the parameter, and
/// nothing stored changes. Bodies over the limit: 413.
@Suite(.serialized) struct ParameterTests {
    typealias H = Harness

    /// (method, path and query, the parameter the message must name).
    static let bad: [(String, String, String)] = [
        ("GET", "/v1/plates/P1X1/sightings?from=yesterday", "from"),
        ("GET", "/v1/plates/P1X1/sightings?limit=0", "limit"),
        ("GET", "/v1/plates/P1X1/sightings?page=nonsense", "page"),
        ("GET", "/v1/plates/P1X1/sightings?count=maybe", "count"),
        ("GET", "/v1/plates/P1X1/sightings?form=1", "form"),
        ("GET", "/v1/plates/%20/sightings", "plate"),
        ("GET", "/v1/area", "bbox"),
        ("GET", "/v1/area?bbox=1,2,3", "bbox"),
        ("GET", "/v1/area?circle=37,-122", "circle"),
        ("GET", "/v1/area?polygon=1%202", "polygon"),
        ("GET", "/v1/area?bbox=37,-123,38,-122&circle=37,-122,10", "circle"),
        ("GET", "/v1/heatmap?bbox=37,-123,38,-122", "precision"),
        ("GET", "/v1/heatmap?bbox=37,-123,38,-122&precision=13", "precision"),
        ("GET", "/v1/heatmap?bbox=37,-123,38,-122&by=week", "by"),
        ("GET", "/v1/search", "pattern"),
        ("GET", "/v1/search?pattern=A%5B", "pattern"),
        ("GET", "/v1/search?pattern=AB*&equivalent=perhaps", "equivalent"),
        ("GET", "/v1/intersect", "window"),
        ("GET", "/v1/intersect?window=1,2,3,4", "window"),
        ("GET", "/v1/intersect?window=37,-123,38,-122,0,10&min=2", "min"),
        ("GET", "/v1/plates/P1X1/convoy", "within"),
        ("GET", "/v1/plates/P1X1/convoy?within=-5", "within"),
        ("GET", "/v1/plates/P1X1/convoy?within=60&min_cameras=x", "min_cameras"),
        ("GET", "/v1/plates/P1X1/frequent?precision=0", "precision"),
        ("GET", "/v1/plates/P1X1/frequent?hours=25-3", "hours"),
        ("GET", "/v1/plates/P1X1/frequent?top=-1", "top"),
        ("GET", "/v1/hotlists?x=1", "x"),
        ("PUT", "/v1/hotlists/stolen/entries/ABC1?retroactive_from=soon", "retroactive_from"),
        ("DELETE", "/v1/hotlists/stolen/entries/ABC1?mode=fuzzy", "mode"),
        ("PUT", "/v1/geofences/yard", "bbox"),
        ("PUT", "/v1/geofences/yard?bbox=37,-123,38,-122&camera=x", "camera"),
        ("PUT", "/v1/geofences/yard?bbox=37,-123,38,-122&hours=9", "hours"),
        ("PUT", "/v1/policy/access?require=always", "require"),
        ("POST", "/v1/holds", "case"),
        ("POST", "/v1/holds?case=24-1", "plate"),
        ("POST", "/v1/holds?case=24-1&plate=ABC1&bbox=37,-123,38,-122", "plate"),
        ("POST", "/v1/plates/P1X1/purge?to=never", "to"),
        ("POST", "/v1/plates/P1X1/purge?force=please", "force"),
        ("GET", "/v1/alerts?after=last", "Last-Event-ID"),
        ("GET", "/v1/audit?from=x", "from"),
        ("GET", "/v1/audit?plate=%20", "plate"),
        ("GET", "/v1/stats?verbose=1", "verbose"),
        ("GET", "/v1/cameras?all=1", "all"),
        ("GET", "/v1/audit/verify?deep=1", "deep"),
    ]

    @Test func everyRouteNamesItsBadParameter() async throws {
        let paths = H.Paths()
        defer { paths.cleanUp() }
        let token = try H.token(paths, "all", agency: "SFPD", roles: "ingest,read,investigate,alerts,admin,audit")
        let server = try H.Server(paths)
        defer { _ = server.terminate() }
        #expect(try await H.http("POST", server.base + "/v1/sightings", token: token, body: H.rows(1).joined(separator: "\n")).0 == 200)
        for (method, path, parameter) in Self.bad {
            let (status, body) = try await H.http(method, server.base + path, token: token, headers: ["X-Sightline-Purpose": "test"])
            let error = H.object(body)
            #expect(status == 400 && error["error"] is String && (error["message"] as? String ?? "").contains(parameter),
                    "\(method) \(path): \(status) \(body)")
        }
        // An unknown parameter on every described route that needs a credential: 400 naming it
        // (a typo must not widen a query or change an operation silently).
        let (_, text) = try await H.http("GET", server.base + "/openapi.json")
        let described = H.object(text)["paths"] as? [String: [String: Any]] ?? [:]
        var routes = 0
        for (path, item) in described where path.hasPrefix("/v1/") || path == "/metrics" {
            for method in item.keys where ["get", "put", "post", "delete"].contains(method) {
                let concrete = path.replacingOccurrences(of: "{plate}", with: "ABC1").replacingOccurrences(of: "{list}", with: "stolen")
                    .replacingOccurrences(of: "{name}", with: "yard").replacingOccurrences(of: "{hold}", with: "H00000000")
                let (status, body) = try await H.http(method.uppercased(), server.base + concrete + "?bogus=1", token: token,
                                                      headers: ["X-Sightline-Purpose": "test"])
                #expect(status == 400 && (H.object(body)["message"] as? String ?? "").hasPrefix("bogus:"), "\(method) \(path): \(status) \(body)")
                routes += 1
            }
        }
        #expect(routes >= 34)
        // Bad bodies: named with their line or JSON path.
        let badBodies: [(String, String, String, String, String)] = [
            ("PUT", "/v1/hotlists/stolen/entries/ABC1", "{\"mode\":\"sometimes\"}", "application/json", "mode"),
            ("PUT", "/v1/hotlists/stolen/entries/ABC1", "{\"reason\":", "application/json", "body"),
            ("POST", "/v1/hotlists/stolen/entries", "plate,list,reason\nABC1,other,x\n", "text/csv", "other"),
            ("POST", "/v1/hotlists/stolen/entries", "plate,lst\n", "text/csv", "body:1"),
            ("PUT", "/v1/cameras", "camera,agency\n1,SFPD\n", "text/csv", "body:1"),
            ("PUT", "/v1/policy/sharing", "{\"default\":\"maybe\"}", "application/json", "default"),
            ("PUT", "/v1/policy/retention", "{\"rules\":7}", "application/json", "rules"),
        ]
        for (method, path, body, type, named) in badBodies {
            let (status, answer) = try await H.http(method, server.base + path, token: token, body: body, contentType: type)
            #expect(status == 400 && (H.object(answer)["message"] as? String ?? "").contains(named), "\(method) \(path) \(body): \(status) \(answer)")
        }
        // Nothing changed: the one row, no hotlist, no geofence, no hold.
        let (_, stats) = try await H.http("GET", server.base + "/v1/stats", token: token)
        let s = H.object(stats)
        #expect((s["segmentRows"] as? Int ?? 0) + (s["memoryRows"] as? Int ?? 0) == 50 && s["hotlistEntries"] as? Int == 0 && s["geofences"] as? Int == 0, "\(stats)")
    }

    @Test func bodiesOverTheLimitAre413() async throws {
        let paths = H.Paths()
        defer { paths.cleanUp() }
        let token = try H.token(paths, "all", agency: "SFPD", roles: "ingest,admin")
        let server = try H.Server(paths, arguments: ["--tokens", paths.tokens, "--max-body", "16384"])
        defer { _ = server.terminate() }
        let big = (0..<200).flatMap { H.rows($0) }.joined(separator: "\n")
        let (status, body) = try await H.http("POST", server.base + "/v1/sightings", token: token, body: big)
        #expect(status == 413 && H.object(body)["error"] as? String == "body_too_large", "\(status) \(body)")
        let (hotlist, _) = try await H.http("POST", server.base + "/v1/hotlists/stolen/entries", token: token,
                                            body: "plate,list,reason\n" + (0..<3000).map { "P\($0),stolen,x" }.joined(separator: "\n"), contentType: "text/csv")
        #expect(hotlist == 413)
        #expect(try await H.http("POST", server.base + "/v1/sightings", token: token, body: H.rows(1).joined(separator: "\n")).0 == 200)
    }
}
