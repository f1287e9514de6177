import Foundation
import Glibc
import Testing
@_spi(Benchmarks) @testable import Sightline
@testable import SightlineWorkload

/// Stores under a memory limit (issue 15): the options shrink to fit it, and a limit too
/// small for any store is a clear error — never an allocation failure the runtime dies of.
@Suite(.serialized) struct MemoryLimitTests {
    @Test func optionsAreFittedToALimit() throws {
        #expect(try MemoryBudget.fit(StoreOptions(), to: nil).1 == nil)
        let roomy = MemoryBudget.Limit(bytes: 64 << 30, source: "cgroup /sys/fs/cgroup/memory.max")
        #expect(try MemoryBudget.fit(StoreOptions(), to: roomy).1 == nil)
        for megabytes in [420, 700, 1_200, 2_000, 6_000] {
            let limit = MemoryBudget.Limit(bytes: megabytes << 20, source: "ulimit -v \(megabytes * 1024)")
            let (fitted, note) = try MemoryBudget.fit(StoreOptions(), to: limit)
            let available = limit.bytes - MemoryBudget.baseline(limit)
            // Changed exactly when the defaults do not fit; what it gives always fits.
            let defaultsFit = StoreOptions().bufferRows * MemoryBudget.bytesPerBufferedRow + StoreOptions().duplicateFilterBytes <= available / 5 * 4
                && StoreOptions().cameraIndexCacheBytes <= available / 4
            #expect((note == nil) == defaultsFit, "\(megabytes) MiB: \(String(describing: note))")
            #expect(note.map { $0.contains("memory limit ulimit -v") } ?? true)
            #expect(fitted.bufferRows >= MemoryBudget.minimumBufferRows && fitted.bufferRows <= StoreOptions().bufferRows)
            #expect(fitted.bufferRows * MemoryBudget.bytesPerBufferedRow + fitted.duplicateFilterBytes <= available / 5 * 4,
                    "\(megabytes) MiB: \(fitted.bufferRows) rows, \(fitted.duplicateFilterBytes) filter bytes")
        }
        let tiny = MemoryBudget.Limit(bytes: 200 << 20, source: "ulimit -v 204800")
        #expect {
            _ = try MemoryBudget.fit(StoreOptions(), to: tiny)
        } throws: { error in
            "\(error)".contains("memory limit (ulimit -v 204800: 200 MiB) is too small for a store")
        }
    }

    static func underLimit(_ kilobytes: Int, _ arguments: [String]) throws -> (signal: Int32, status: Int32, output: String) {
        let command = "ulimit -v \(kilobytes) && exec \"$0\" \"$@\""
        return try ChildProcess("/bin/sh", ["-c", command, CommandLineTests.binary] + arguments, captureStandardError: true).finishWithSignal()
    }

    @Test func ingestAndQueriesRunUnderAnAddressSpaceLimitAndATooSmallOneIsAClearError() throws {
        let dir = temporaryDirectory("memory-limit")
        defer { removeTree(dir) }
        var csv = "plate,time,lat,lon,camera,confidence\n"
        let rows = ALPRWorkload(ALPRWorkload.Configuration()).generate(rows: 60_000)
        for s in rows.sightings { csv += "\(s.plate),\(s.time),\(s.latitude),\(s.longitude),\(s.camera),\(s.confidence)\n" }
        try csv.write(toFile: "\(dir)/rows.csv", atomically: true, encoding: .utf8)
        let store = "\(dir)/store"

        let ingest = try Self.underLimit(700_000, ["ingest", store, "\(dir)/rows.csv"])
        #expect(ingest.signal == 0 && ingest.status == 0, "\(ingest)")
        let area = try Self.underLimit(700_000, ["area", store, "--bbox=-90,-180,90,180", "--epoch-ms", "--purpose", "test"])
        #expect(area.signal == 0 && area.status == 0, "\(area.signal) \(area.status)")
        let stored = area.output.split(separator: "\n").count - 1
        #expect(stored > 59_000 && stored <= 60_000, "\(stored) rows")

        // Too small for any store: a clear error, no crash, nothing lost.
        let refused = try Self.underLimit(220_000, ["ingest", store, "\(dir)/rows.csv"])
        #expect(refused.signal == 0, "died of signal \(refused.signal): \(refused.output.suffix(400))")
        #expect(refused.status != 0)
        #expect(refused.output.contains("memory limit (ulimit -v 220000"), "\(refused.output.suffix(400))")
        let (status, after) = try CommandLineTests.run(["area", store, "--bbox=-90,-180,90,180", "--epoch-ms", "--purpose", "test"])
        #expect(status == 0)
        #expect(after.split(separator: "\n").count - 1 == stored)
    }
}
