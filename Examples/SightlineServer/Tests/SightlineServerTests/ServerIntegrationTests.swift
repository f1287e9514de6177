import Foundation
import Testing

#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// The service end to end, as its clients and operators use it: started on 127.0.0.1 with a
/// random port, fed over HTTP, queried, read by `sightline history` from another process
/// during the posts, SIGKILLed and restarted with every acknowledged row present.
@Suite(.serialized) struct ServerIntegrationTests {
    /// The built products: this package's server, and the root package's CLI (built by the
    /// root's `swift test`, which the test command runs first; `SIGHTLINE_CLI` overrides).
    static var serverPath: String {
        let tests = Bundle.allBundles.first { $0.bundlePath.hasSuffix(".xctest") }?.bundleURL.deletingLastPathComponent()
        return (tests ?? URL(fileURLWithPath: ".build/debug")).appendingPathComponent("sightline-server").path
    }
    static var cliPath: String {
        ProcessInfo.processInfo.environment["SIGHTLINE_CLI"] ?? URL(fileURLWithPath: #filePath)
            .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("../../.build/debug/sightline").standardized.path
    }

    /// A running server process and its base URL.
    final class Server {
        let process = Process()
        let output = Pipe()
        let base: String

        init(store: String) throws {
            process.executableURL = URL(fileURLWithPath: ServerIntegrationTests.serverPath)
            process.arguments = ["--store", store, "--port", "0"]
            process.standardOutput = output
            process.standardError = FileHandle.nullDevice
            try process.run()
            // The first line names the port it listens on.
            var line = Data()
            while !line.contains(UInt8(ascii: "\n")) {
                let chunk = output.fileHandleForReading.availableData
                guard !chunk.isEmpty else { throw ServerError("the server exited before listening") }
                line += chunk
            }
            let text = String(decoding: line, as: UTF8.self)
            guard let port = text.split(separator: "\n").first?.split(separator: ":").last.map(String.init), Int(port) != nil else {
                throw ServerError("unexpected first line: \(text)")
            }
            base = "http://127.0.0.1:\(port)"
        }

        func kill9() { kill(process.processIdentifier, SIGKILL); process.waitUntilExit() }
        func terminate() -> Int32 { process.terminate(); process.waitUntilExit(); return process.terminationStatus }
    }

    struct ServerError: Error, CustomStringConvertible {
        let description: String
        init(_ d: String) { description = d }
    }

    /// Sends a request; returns the status and body.
    static func http(_ method: String, _ url: String, body: String? = nil, contentType: String = "application/x-ndjson",
                     headers: [String: String] = [:]) async throws -> (Int, String) {
        var request = URLRequest(url: URL(string: url)!)
        request.httpMethod = method
        for (name, value) in headers { request.setValue(value, forHTTPHeaderField: name) }
        if let body {
            request.httpBody = Data(body.utf8)
            request.setValue(contentType, forHTTPHeaderField: "Content-Type")
        }
        let (data, response) = try await URLSession.shared.data(for: request)
        return ((response as! HTTPURLResponse).statusCode, String(decoding: data, as: UTF8.self))
    }

    /// NDJSON rows for batch `n`: 50 rows of plates P<n>X<k> around San Francisco.
    static func rows(_ n: Int) -> [String] {
        (0..<50).map { k in
            "{\"plate\":\"P\(n)X\(k % 7)\",\"time\":\(1_717_200_000_000 + n * 60_000 + k),\"lat\":37.7\(k % 10),\"lon\":-122.4\(k % 10),\"camera\":\(k),\"confidence\":90}"
        }
    }

    func runCLI(_ arguments: [String]) throws -> (Int32, String) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: Self.cliPath)
        p.arguments = arguments
        let out = Pipe()
        p.standardOutput = out
        p.standardError = out
        try p.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return (p.terminationStatus, String(decoding: data, as: UTF8.self))
    }

    @Test func postsQueriesPagesAndSurvivesAKill() async throws {
        let store = NSTemporaryDirectory() + "sightline-server-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        // The server and the CLI find the store's keys in one keyring, outside the store.
        let keyring = store + "-keyring"
        setenv("SIGHTLINE_KEYRING", keyring, 1)
        defer { try? FileManager.default.removeItem(atPath: store); try? FileManager.default.removeItem(atPath: keyring) }
        var server = try Server(store: store)
        #expect(try await Self.http("GET", server.base + "/healthz") == (200, "ok\n"))

        // Posts, with `sightline history` reading the live store from another process meanwhile.
        var acknowledged = 0
        for n in 0..<20 {
            let (status, body) = try await Self.http("POST", server.base + "/sightings", body: Self.rows(n).joined(separator: "\n"))
            #expect(status == 200 && body.contains("\"stored\":50"), "\(body)")
            acknowledged += 1
            if n % 5 == 4 {
                let (cli, out) = try runCLI(["history", store, "P\(n)X1", "--epoch-ms", "--purpose", "test"])
                // Acknowledged rows are visible to another process at once (7 rows of P<n>X1).
                #expect(cli == 0 && out.split(separator: "\n").count == 1 + 7, "sightline history during the posts: \(out)")
            }
        }
        // Bad input: 4xx with the line and reason; the good rows of the body are stored.
        let (bad, report) = try await Self.http("POST", server.base + "/sightings",
                                                body: Self.rows(100)[0] + "\n{\"plate\":\"\",\"time\":1}\nnot json")
        #expect(bad == 422 && report.contains("\"line\":2") && report.contains("\"line\":3") && report.contains("\"stored\":1"), "\(report)")
        let (badCSV, csvReport) = try await Self.http("POST", server.base + "/sightings", body: "plate,time\nA,1", contentType: "text/csv")
        #expect(badCSV == 400 && csvReport.contains("line 1"), "\(csvReport)")
        #expect(try await Self.http("GET", server.base + "/area?bbox=1,2,3").0 == 400)
        #expect(try await Self.http("GET", server.base + "/plates/P1X1/sightings?page=nonsense").0 == 400)

        // A store made by the server requires a purpose of every read, as any new store does.
        let (refused, why) = try await Self.http("GET", server.base + "/plates/P3X2/sightings?limit=3")
        #expect(refused == 403 && why.contains("purpose"), "\(why)")
        // A plate's history, paged: pages concatenate to the whole answer.
        let reader = ["X-Sightline-Requester": "dispatch-7", "X-Sightline-Agency": "SFPD", "X-Sightline-Purpose": "stolen vehicle", "X-Sightline-Case": "24-11"]
        let (s1, first) = try await Self.http("GET", server.base + "/plates/P3X2/sightings?limit=3", headers: reader)
        #expect(s1 == 200 && first.contains("\"next\":\"v1."), "\(first)")
        let token = first.components(separatedBy: "\"next\":\"").last!.split(separator: "\"").first!
        let (s2, second) = try await Self.http("GET", server.base + "/plates/P3X2/sightings?limit=100&page=\(token)", headers: reader)
        #expect(s2 == 200 && second.hasSuffix("\"next\":null}\n"), "\(second)")
        let count = { (s: String) in s.components(separatedBy: "\"plate\":").count - 1 }
        #expect(count(first) + count(second) == 7)
        // Each page was audited under the reader the headers named, durably before it was sent.
        let (auditStatus, audit) = try runCLI(["audit", store, "--requester", "dispatch-7"])
        #expect(auditStatus == 0 && audit.contains(",dispatch-7,SFPD,stolen vehicle,24-11,cursor,"), "\(audit)")
        let (s3, area) = try await Self.http("GET", server.base + "/area?circle=37.75,-122.45,20000&limit=10000", headers: reader)
        #expect(s3 == 200 && count(area) == 20 * 50 + 1, "\(area.prefix(200))")
        let (s4, metrics) = try await Self.http("GET", server.base + "/metrics")
        #expect(s4 == 200 && metrics.contains("sightline_rows_appended_total"), "\(metrics.prefix(500))")

        // SIGKILL while posts are in flight, restart: every acknowledged batch is there whole,
        // and the one in flight is there whole or not at all.
        let base = server.base
        let posting = Task { () -> Int in
            var done = 0
            for n in 200..<300 {  // bounded: the area page below holds at most 10 000 rows
                guard let (status, _) = try? await Self.http("POST", base + "/sightings", body: Self.rows(n).joined(separator: "\n")),
                      status == 200 else { break }
                done += 1
            }
            return done
        }
        try await Task.sleep(for: .milliseconds(300))
        server.kill9()
        let acknowledgedDuringKill = await posting.value
        #expect(acknowledgedDuringKill > 0)
        server = try Server(store: store)
        let (s5, all) = try await Self.http("GET", server.base + "/area?circle=37.75,-122.45,20000&limit=10000", headers: reader)
        let expected = (acknowledged + acknowledgedDuringKill) * 50 + 1
        #expect(s5 == 200 && (count(all) == expected || count(all) == expected + 50),
                "\(count(all)) rows after the restart; \(expected) acknowledged")
        #expect(server.terminate() == 0)  // graceful: flushed and closed
        let (cli, stats) = try runCLI(["stats", store])
        #expect(cli == 0 && stats.contains("0 in memory"), "\(stats)")
    }
}
