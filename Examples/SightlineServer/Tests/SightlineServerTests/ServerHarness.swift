import Foundation
import Testing

#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// The service as its operators start it and its clients call it: a process on 127.0.0.1
/// with a random port, tokens issued by `sightline-server token add`, HTTP through
/// URLSession.
enum Harness {
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

    /// A new store path, its keyring (passed as `--keyring` to the server and the CLI: suites
    /// run in parallel, so not through the shared environment) and a token file path, all removed by `cleanUp`.
    struct Paths {
        let store: String, keyring: String, tokens: String
        init() {
            let base = NSTemporaryDirectory() + "sightline-server-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
            store = base
            keyring = base + "-keyring"
            tokens = base + "-tokens"
        }
        func cleanUp() { for p in [store, keyring, tokens] { try? FileManager.default.removeItem(atPath: p) } }
    }

    /// Runs a tool to its end: exit status and standard output (standard error too when `merge`).
    static func run(_ path: String, _ arguments: [String], merge: Bool = true) throws -> (Int32, String) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: path)
        p.arguments = arguments
        let out = Pipe()
        p.standardOutput = out
        p.standardError = merge ? out : FileHandle.nullDevice
        try p.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return (p.terminationStatus, String(decoding: data, as: UTF8.self))
    }

    /// Issues a token with `sightline-server token add`.
    static func token(_ paths: Paths, _ requester: String, agency: String, roles: String) throws -> String {
        let (status, out) = try run(serverPath, ["token", "add", "--tokens", paths.tokens, "--requester", requester, "--agency", agency, "--roles", roles], merge: false)
        guard status == 0, out.hasPrefix("slt_"), out.split(separator: "\n").count == 1 else { throw Failure("token add: \(status) \(out)") }
        return out.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// A running server process and its base URL.
    final class Server {
        let process = Process()
        let output = Pipe()
        let base: String

        init(_ paths: Paths, arguments: [String]? = nil) throws {
            process.executableURL = URL(fileURLWithPath: Harness.serverPath)
            process.arguments = ["serve", "--store", paths.store, "--keyring", paths.keyring, "--port", "0"] + (arguments ?? ["--tokens", paths.tokens])
            process.standardOutput = output
            process.standardError = FileHandle.nullDevice
            try process.run()
            // The first line names the port it listens on.
            var line = Data()
            while !line.contains(UInt8(ascii: "\n")) {
                let chunk = output.fileHandleForReading.availableData
                guard !chunk.isEmpty else { throw Failure("the server exited before listening") }
                line += chunk
            }
            let text = String(decoding: line, as: UTF8.self)
            guard let port = text.split(separator: "\n").first?.split(separator: ":").last.map(String.init), Int(port) != nil else {
                throw Failure("unexpected first line: \(text)")
            }
            base = "http://127.0.0.1:\(port)"
        }

        func kill9() { kill(process.processIdentifier, SIGKILL); process.waitUntilExit() }
        func terminate() -> Int32 { process.terminate(); process.waitUntilExit(); return process.terminationStatus }
    }

    struct Failure: Error, CustomStringConvertible {
        let description: String
        init(_ d: String) { description = d }
    }

    /// Sends a request; returns the status and body.
    static func http(_ method: String, _ url: String, token: String? = nil, body: String? = nil, contentType: String = "application/x-ndjson",
                     headers: [String: String] = [:]) async throws -> (Int, String) {
        var request = URLRequest(url: URL(string: url)!)
        request.httpMethod = method
        if let token { request.setValue("Bearer \(token)", forHTTPHeaderField: "Authorization") }
        for (name, value) in headers { request.setValue(value, forHTTPHeaderField: name) }
        if let body {
            request.httpBody = Data(body.utf8)
            request.setValue(contentType, forHTTPHeaderField: "Content-Type")
        }
        let (data, response) = try await URLSession.shared.data(for: request)
        return ((response as! HTTPURLResponse).statusCode, String(decoding: data, as: UTF8.self))
    }

    /// The JSON object of a body.
    static func object(_ body: String) -> [String: Any] {
        (try? JSONSerialization.jsonObject(with: Data(body.utf8))) as? [String: Any] ?? [:]
    }

    /// NDJSON rows for batch `n`: 50 rows of plates P<n>X<k> around San Francisco.
    static func rows(_ n: Int) -> [String] {
        (0..<50).map { k in
            "{\"plate\":\"P\(n)X\(k % 7)\",\"time\":\(1_717_200_000_000 + n * 60_000 + k),\"lat\":37.7\(k % 10),\"lon\":-122.4\(k % 10),\"camera\":\(k),\"confidence\":90}"
        }
    }
}
