import Foundation
import Testing

#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// `/openapi.json` describes exactly what runs: the server refuses to start when a route it
/// serves is undescribed or a described one is not served (checked at every start, so this
/// suite's start is that check), and every described operation answers here — never 404 or
/// 405 — with its documented role.
@Suite(.serialized) struct OpenAPITests {
    typealias H = Harness

    @Test func everyDescribedOperationAnswers() async throws {
        let paths = H.Paths()
        defer { paths.cleanUp() }
        let token = try H.token(paths, "all", agency: "SFPD", roles: "ingest,read,investigate,alerts,admin,audit")
        let none = try H.token(paths, "none", agency: "SFPD", roles: "ingest")
        let server = try H.Server(paths)
        defer { _ = server.terminate() }
        let (status, text) = try await H.http("GET", server.base + "/openapi.json")
        let document = H.object(text)
        #expect(status == 200 && document["openapi"] as? String == "3.1.0")
        let described = document["paths"] as? [String: [String: Any]] ?? [:]
        #expect(described.count >= 30, "\(described.keys.sorted())")
        var operations = 0
        for (path, item) in described.sorted(by: { $0.key < $1.key }) {
            for (method, value) in item where ["get", "put", "post", "delete"].contains(method) {
                let op = value as? [String: Any] ?? [:]
                let concrete = path.replacingOccurrences(of: "{plate}", with: "ABC1").replacingOccurrences(of: "{list}", with: "stolen")
                    .replacingOccurrences(of: "{name}", with: "yard").replacingOccurrences(of: "{hold}", with: "H00000000")
                let url = server.base + concrete + (path == "/v1/alerts" ? "?after=999999" : "")
                if path == "/v1/alerts" { continue }  // a stream; AlertStreamTests reads it
                let (answer, body) = try await H.http(method.uppercased(), url, token: token, headers: ["X-Sightline-Purpose": "test"])
                #expect(answer != 404 || body.contains("\"not_found\""), "\(method) \(path): \(answer)")
                #expect(answer != 405 && answer != 500, "\(method) \(path): \(answer) \(body)")
                if let role = op["x-sightline-role"] as? String, role != "ingest" {
                    let (refused, _) = try await H.http(method.uppercased(), url, token: none, headers: ["X-Sightline-Purpose": "test"])
                    #expect(refused == 403, "\(method) \(path) without role \(role): \(refused)")
                }
                operations += 1
            }
        }
        #expect(operations >= 38)
        // Something not described is not served.
        #expect(try await H.http("GET", server.base + "/v1/everything", token: token).0 == 404)
    }
}
