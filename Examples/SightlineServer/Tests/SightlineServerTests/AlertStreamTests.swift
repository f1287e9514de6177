import Foundation
import Testing

#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// `GET /v1/alerts`: every alert the token's agency may see, in order, none skipped, across
/// reconnects with `Last-Event-ID` and across a server restart (SIGKILL).
@Suite(.serialized) struct AlertStreamTests {
    typealias H = Harness

    /// Reads the SSE stream until `count` events arrived or `timeout` passed; the events' ids and data.
    static func events(_ url: String, token: String, after: UInt64?, count: Int, timeout: Duration = .seconds(20)) async throws -> [(UInt64, String)] {
        var request = URLRequest(url: URL(string: url)!)
        request.setValue("Bearer \(token)", forHTTPHeaderField: "Authorization")
        request.setValue("watching", forHTTPHeaderField: "X-Sightline-Purpose")
        if let after { request.setValue(String(after), forHTTPHeaderField: "Last-Event-ID") }
        request.timeoutInterval = 30
        let reader = SSEReader()
        return try await reader.read(request, count: count, timeout: timeout)
    }

    @Test func resumesInOrderAcrossReconnectsAndARestart() async throws {
        let paths = H.Paths()
        defer { paths.cleanUp() }
        let admin = try H.token(paths, "ops", agency: "SFPD", roles: "admin,ingest")
        let watcher = try H.token(paths, "watch", agency: "SFPD", roles: "alerts")
        let oakland = try H.token(paths, "oak", agency: "OPD", roles: "alerts")
        var server = try H.Server(paths)
        #expect(try await H.http("PUT", server.base + "/v1/cameras", token: admin, body: "camera,agency,jurisdiction\n1,SFPD,CA\n2,OPD,CA\n", contentType: "text/csv").0 == 200)
        #expect(try await H.http("PUT", server.base + "/v1/policy/sharing", token: admin, body: "{\"default\":\"deny\"}", contentType: "application/json").0 == 200)
        #expect(try await H.http("PUT", server.base + "/v1/hotlists/stolen/entries/HOT1", token: admin, body: "{\"reason\":\"stolen\"}", contentType: "application/json").0 == 200)
        // A pattern entry, its * percent-encoded in the path.
        #expect(try await H.http("PUT", server.base + "/v1/hotlists/partial/entries/WAR%2A", token: admin, body: "{\"reason\":\"partial\",\"mode\":\"pattern\"}", contentType: "application/json").0 == 200)
        func post(_ first: Int, _ n: Int) async throws {
            let rows = (first..<first + n).map { i in
                "{\"plate\":\"HOT1\",\"time\":\(1_717_200_000_000 + i * 1000),\"lat\":37.7,\"lon\":-122.4,\"camera\":\(1 + i % 2),\"confidence\":90}"
            }
            #expect(try await H.http("POST", server.base + "/v1/sightings", token: admin, body: rows.joined(separator: "\n")).0 == 200)
        }
        try await post(0, 10)  // alerts 1…10: odd i on camera 2 (Oakland's), even on camera 1
        let first = try await Self.events(server.base + "/v1/alerts", token: watcher, after: nil, count: 5)
        #expect(first.map(\.0) == [1, 3, 5, 7, 9], "\(first.map(\.0))")  // SFPD sees camera 1 only
        #expect(first.map { H.object($0.1) }.allSatisfy { $0["plate"] as? String == "HOT1" && $0["camera"] as? Int == 1 && $0["list"] as? String == "stolen" })
        let oak = try await Self.events(server.base + "/v1/alerts", token: oakland, after: 4, count: 3)
        #expect(oak.map(\.0) == [6, 8, 10], "\(oak.map(\.0))")
        // Reconnect after the third: the rest, in order.
        try await post(10, 4)
        let resumed = try await Self.events(server.base + "/v1/alerts", token: watcher, after: 5, count: 4)
        #expect(resumed.map(\.0) == [7, 9, 11, 13], "\(resumed.map(\.0))")
        // SIGKILL, restart, more alerts (one from the pattern entry): nothing acknowledged is lost.
        server.kill9()
        server = try H.Server(paths)
        try await post(14, 2)
        #expect(try await H.http("POST", server.base + "/v1/sightings", token: admin,
                                 body: "{\"plate\":\"WAR123\",\"time\":1717300000000,\"lat\":37.7,\"lon\":-122.4,\"camera\":1,\"confidence\":90}").0 == 200)
        let afterRestart = try await Self.events(server.base + "/v1/alerts", token: watcher, after: 13, count: 2)
        #expect(afterRestart.map(\.0) == [15, 17], "\(afterRestart.map(\.0))")
        #expect(afterRestart.last.map { H.object($0.1)["plate"] as? String == "WAR123" && H.object($0.1)["mode"] as? String == "pattern" } == true)
        // Graceful shutdown ends open streams.
        let base = server.base
        let open = Task { try await Self.events(base + "/v1/alerts", token: watcher, after: 17, count: 1, timeout: .seconds(30)) }
        try await Task.sleep(for: .milliseconds(500))
        let started = ContinuousClock.now
        #expect(server.terminate() == 0)
        #expect(ContinuousClock.now - started < .seconds(10))
        _ = try? await open.value
    }
}

/// Reads Server-Sent Events from a URLSession data stream.
final class SSEReader: NSObject, URLSessionDataDelegate, @unchecked Sendable {
    private var buffer = Data()
    private var events: [(UInt64, String)] = []
    private var wanted = 0
    private var continuation: CheckedContinuation<[(UInt64, String)], any Error>?
    private let lock = NSLock()
    private var session: URLSession?

    func read(_ request: URLRequest, count: Int, timeout: Duration) async throws -> [(UInt64, String)] {
        wanted = count
        return try await withCheckedThrowingContinuation { c in
            lock.lock(); continuation = c; lock.unlock()
            let session = URLSession(configuration: .default, delegate: self, delegateQueue: nil)
            self.session = session
            session.dataTask(with: request).resume()
            Task {
                try? await Task.sleep(for: timeout)
                self.finish()
            }
        }
    }

    private func finish() {
        lock.lock()
        let c = continuation
        continuation = nil
        let got = events
        lock.unlock()
        c?.resume(returning: got)
        session?.invalidateAndCancel()
    }

    func urlSession(_ session: URLSession, dataTask: URLSessionDataTask, didReceive data: Data) {
        lock.lock()
        buffer += data
        while let range = buffer.range(of: Data("\n\n".utf8)) {
            let event = String(decoding: buffer[buffer.startIndex..<range.lowerBound], as: UTF8.self)
            buffer.removeSubrange(buffer.startIndex..<range.upperBound)
            var id: UInt64?, payload: String?
            for line in event.split(separator: "\n") {
                if line.hasPrefix("id: ") { id = UInt64(line.dropFirst(4)) }
                if line.hasPrefix("data: ") { payload = String(line.dropFirst(6)) }
            }
            if let id, let payload { events.append((id, payload)) }
        }
        let done = events.count >= wanted
        lock.unlock()
        if done { finish() }
    }

    func urlSession(_ session: URLSession, task: URLSessionTask, didCompleteWithError error: (any Error)?) { finish() }
}
