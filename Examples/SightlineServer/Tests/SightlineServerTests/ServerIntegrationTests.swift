import Foundation
import Testing

#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// The service end to end, as its clients and operators use it: started on 127.0.0.1 with a
/// random port, fed over HTTP, queried, read by `sightline history` from another process
/// during the posts, SIGKILLed and restarted with every acknowledged row present.
@Suite(.serialized) struct ServerIntegrationTests {
    typealias H = Harness
    @Test func postsQueriesPagesAndSurvivesAKill() async throws {
        // The server and the CLI find the store's keys in one keyring, outside the store.
        let paths = H.Paths()
        defer { paths.cleanUp() }
        let store = paths.store
        let writer = try H.token(paths, "camera-feed", agency: "SFPD", roles: "ingest")
        let admin = try H.token(paths, "ops", agency: "SFPD", roles: "admin")
        let dispatcher = try H.token(paths, "dispatch-7", agency: "SFPD", roles: "read")
        var server = try H.Server(paths)
        #expect(try await H.http("GET", server.base + "/healthz") == (200, "ok\n"))

        // Posts, with `sightline history` reading the live store from another process meanwhile.
        var acknowledged = 0
        for n in 0..<20 {
            let (status, body) = try await H.http("POST", server.base + "/v1/sightings", token: writer, body: H.rows(n).joined(separator: "\n"))
            #expect(status == 200 && body.contains("\"stored\":50"), "\(body)")
            acknowledged += 1
            if n % 5 == 4 {
                let (cli, out) = try H.run(H.cliPath, ["history", store, "P\(n)X1", "--epoch-ms", "--purpose", "test", "--keyring", paths.keyring])
                // Acknowledged rows are visible to another process at once (7 rows of P<n>X1).
                #expect(cli == 0 && out.split(separator: "\n").count == 1 + 7, "sightline history during the posts: \(out)")
            }
        }
        // Bad input: 4xx with the line and reason; the good rows of the body are stored.
        let (bad, report) = try await H.http("POST", server.base + "/v1/sightings", token: writer,
                                                body: H.rows(100)[0] + "\n{\"plate\":\"\",\"time\":1}\nnot json")
        #expect(bad == 422 && report.contains("\"line\":2") && report.contains("\"line\":3") && report.contains("\"stored\":1")
                && H.object(report)["error"] as? String == "rejected_lines", "\(report)")
        let (badCSV, csvReport) = try await H.http("POST", server.base + "/v1/sightings", token: writer, body: "plate,time\nA,1", contentType: "text/csv")
        #expect(badCSV == 400 && csvReport.contains("line 1"), "\(csvReport)")
        let purpose = ["X-Sightline-Purpose": "stolen vehicle"]
        #expect(try await H.http("GET", server.base + "/v1/area?bbox=1,2,3", token: dispatcher, headers: purpose).0 == 400)
        #expect(try await H.http("GET", server.base + "/v1/plates/P1X1/sightings?page=nonsense", token: dispatcher, headers: purpose).0 == 400)

        // A store made by the server requires a purpose of every read, as any new store does.
        let (refused, why) = try await H.http("GET", server.base + "/v1/plates/P3X2/sightings?limit=3", token: dispatcher)
        #expect(refused == 403 && why.contains("purpose"), "\(why)")
        // A plate's history, paged: pages concatenate to the whole answer.
        let reader = ["X-Sightline-Purpose": "stolen vehicle", "X-Sightline-Case": "24-11"]
        let (s1, first) = try await H.http("GET", server.base + "/v1/plates/P3X2/sightings?limit=3", token: dispatcher, headers: reader)
        #expect(s1 == 200 && first.contains("\"next\":\"v1."), "\(first)")
        let token = first.components(separatedBy: "\"next\":\"").last!.split(separator: "\"").first!
        let (s2, second) = try await H.http("GET", server.base + "/v1/plates/P3X2/sightings?limit=100&page=\(token)", token: dispatcher, headers: reader)
        #expect(s2 == 200 && second.hasSuffix("\"next\":null}\n"), "\(second)")
        let count = { (s: String) in s.components(separatedBy: "\"plate\":").count - 1 }
        #expect(count(first) + count(second) == 7)
        // Each page was audited under the reader the headers named, durably before it was sent.
        let (auditStatus, audit) = try H.run(H.cliPath, ["audit", store, "--requester", "dispatch-7", "--keyring", paths.keyring])
        #expect(auditStatus == 0 && audit.contains(",dispatch-7,SFPD,stolen vehicle,24-11,cursor,"), "\(audit)")
        let (s3, area) = try await H.http("GET", server.base + "/v1/area?circle=37.75,-122.45,20000&limit=10000", token: dispatcher, headers: reader)
        #expect(s3 == 200 && count(area) == 20 * 50 + 1, "\(area.prefix(200))")
        let (s4, metrics) = try await H.http("GET", server.base + "/metrics", token: admin)
        #expect(s4 == 200 && metrics.contains("sightline_rows_appended_total") && metrics.contains("/v1/area"), "\(metrics.prefix(500))")

        // SIGKILL while posts are in flight, restart: every acknowledged batch is there whole,
        // and the one in flight is there whole or not at all.
        let base = server.base
        let posting = Task { () -> Int in
            var done = 0
            for n in 200..<300 {  // bounded: the area page below holds at most 10 000 rows
                guard let (status, _) = try? await H.http("POST", base + "/v1/sightings", token: writer, body: H.rows(n).joined(separator: "\n")),
                      status == 200 else { break }
                done += 1
            }
            return done
        }
        try await Task.sleep(for: .milliseconds(300))
        server.kill9()
        let acknowledgedDuringKill = await posting.value
        #expect(acknowledgedDuringKill > 0)
        server = try H.Server(paths)
        let (s5, all) = try await H.http("GET", server.base + "/v1/area?circle=37.75,-122.45,20000&limit=10000", token: dispatcher, headers: reader)
        let expected = (acknowledged + acknowledgedDuringKill) * 50 + 1
        #expect(s5 == 200 && (count(all) == expected || count(all) == expected + 50),
                "\(count(all)) rows after the restart; \(expected) acknowledged")
        #expect(server.terminate() == 0)  // graceful: flushed and closed
        let (cli, stats) = try H.run(H.cliPath, ["stats", store, "--keyring", paths.keyring])
        #expect(cli == 0 && stats.contains("0 in memory"), "\(stats)")
    }

    /// SIGTERM while a large POST is in flight: the server stops accepting, lets the request
    /// finish (200), flushes and closes (exit 0); after a restart every acknowledged row is
    /// there, none in memory.
    @Test func sigtermDrainsARequestInFlightThenFlushes() async throws {
        let paths = H.Paths()
        defer { paths.cleanUp() }
        let writer = try H.token(paths, "feed", agency: "SFPD", roles: "ingest,read")
        var server = try H.Server(paths)
        let body = (0..<2000).flatMap { H.rows(1000 + $0) }.joined(separator: "\n")  // 100,000 rows, ~11 MB
        let base = server.base
        let posting = Task { try await H.http("POST", base + "/v1/sightings", token: writer, body: body) }
        try await Task.sleep(for: .milliseconds(150))
        kill(server.process.processIdentifier, SIGTERM)
        let (status, answer) = try await posting.value
        server.process.waitUntilExit()
        #expect(status == 200 && H.object(answer)["stored"] as? Int == 100_000, "\(status) \(answer.prefix(300))")
        #expect(server.process.terminationStatus == 0)
        let (cli, stats) = try H.run(H.cliPath, ["stats", paths.store, "--keyring", paths.keyring])
        #expect(cli == 0 && stats.contains("0 in memory"), "\(stats)")
        server = try H.Server(paths)
        let (_, count) = try await H.http("GET", server.base + "/v1/area?bbox=37,-123,38,-122&count=true", token: writer,
                                         headers: ["X-Sightline-Purpose": "check"])
        #expect(H.object(count)["count"] as? Int == 100_000, "\(count)")
        #expect(server.terminate() == 0)
    }
}
