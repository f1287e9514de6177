import ArgumentParser
import Foundation
import Sightline
import SightlineCommandLine

/// The end-to-end benchmark: generate and ingest N sightings streaming (bounded memory),
/// report the rate and bytes per sighting, then the query mix with latency percentiles; one
/// JSON report.
struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Generate and ingest N sightings into a new store, then run the query mix; JSON report.")

    @Argument(help: "Store directory (created; should be new).") var store: String
    @Option(help: "Sightings to generate and ingest.") var rows = 10_000_000
    @Option(help: "Queries per type.") var queries = 200
    @Option(help: "Write the JSON report here.") var json: String?

    func run() throws {
        let ingestJSON = NSTemporaryDirectory() + "sightline-bench-ingest-\(getpid()).json"
        let queryJSON = NSTemporaryDirectory() + "sightline-bench-queries-\(getpid()).json"
        defer { try? FileManager.default.removeItem(atPath: ingestJSON); try? FileManager.default.removeItem(atPath: queryJSON) }
        try IngestBenchCommand.parse([store, "--rows", String(rows), "--json", ingestJSON]).run()
        var bytes = 0
        for name in try FileManager.default.contentsOfDirectory(atPath: store) {
            bytes += (try FileManager.default.attributesOfItem(atPath: "\(store)/\(name)")[.size] as? Int) ?? 0
        }
        print(String(format: "on disk: %@ = %.2f bytes/sighting", formatBytes(bytes), Double(bytes) / Double(max(1, rows))))
        try QueryBenchCommand.parse([store, "--queries", String(queries), "--json", queryJSON]).run()
        guard let json else { return }
        let ingest = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: ingestJSON)))
        let queries = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: queryJSON)))
        var uname = utsname()
        uname_(&uname)
        let report: [String: Any] = [
            "rows": rows, "bytesOnDisk": bytes, "bytesPerSighting": Double(bytes) / Double(max(1, rows)),
            "ingest": ingest, "queries": queries, "cores": ProcessInfo.processInfo.activeProcessorCount,
            "memoryBytes": ProcessInfo.processInfo.physicalMemory,
            "date": ISO8601DateFormatter().string(from: Date()),
        ]
        try JSONSerialization.data(withJSONObject: report, options: [.prettyPrinted, .sortedKeys]).write(to: URL(fileURLWithPath: json))
    }
}

private func uname_(_ u: inout utsname) { _ = uname(&u) }
