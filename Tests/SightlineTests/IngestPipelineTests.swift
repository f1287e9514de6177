import Foundation
import Testing
@_spi(Benchmarks) @testable import Sightline
@testable import SightlineWorkload

/// Byte chunks of `bytes`, cut at the given sizes (cycled), optionally failing after `failAfter`
/// chunks: a stand-in for an HTTP body.
struct ChunkedBody: AsyncSequence, Sendable {
    struct Cut: Error {}
    let bytes: [UInt8]
    let sizes: [Int]
    var failAfter: Int? = nil

    struct AsyncIterator: AsyncIteratorProtocol {
        let body: ChunkedBody
        var offset = 0, index = 0
        mutating func next() async throws -> ArraySlice<UInt8>? {
            if let limit = body.failAfter, index >= limit { throw Cut() }
            guard offset < body.bytes.count else { return nil }
            let n = Swift.max(1, body.sizes[index % body.sizes.count])
            defer { offset = Swift.min(body.bytes.count, offset + n); index += 1 }
            return body.bytes[offset..<Swift.min(body.bytes.count, offset + n)]
        }
    }
    func makeAsyncIterator() -> AsyncIterator { AsyncIterator(body: self) }
}

@Suite struct IngestPipelineTests {
    /// A CSV of generated rows with bad lines mixed in; returns the text, the good rows and the
    /// bad lines' numbers (1-based, the header is line 1).
    static func mixedCSV(rows: Int, seed: UInt64) -> (text: String, good: [Sighting], bad: [Int]) {
        let batch = ALPRWorkload.liveFeedBatch(number: 0, rows: rows, seed: seed)
        var g = SplitMix64(seed: seed)
        var lines = ["\u{FEFF}plate,time,lat,lon,camera,confidence,region"]
        var good: [Sighting] = [], bad: [Int] = []
        for i in 0..<batch.count {
            let s = batch[i]
            switch g.next() % 50 {
            case 0:
                lines.append("\(s.plate.text),yesterday,1,2,3,4,")
                bad.append(lines.count)
            case 1:
                lines.append("")  // blank lines are skipped, not rejected
            default:
                break
            }
            lines.append("\(s.plate.text),\(s.time),\(Double(s.latitudeE7) / 1e7),\(Double(s.longitudeE7) / 1e7),\(s.camera),\(s.confidence),\(s.region?.text ?? "")")
            good.append(s)
        }
        return (lines.joined(separator: "\n") + (g.next() % 2 == 0 ? "\n" : ""), good, bad)
    }

    static func openStore(_ dir: String) throws -> Store {
        var options = storeOptions(bufferRows: 5_000)
        return try Store(directory: dir, options: options)
    }

    /// The async form over random chunkings and the descriptor form store the same rows, the
    /// good ones exactly, and report each bad line by number.
    @Test func everyChunkingStoresTheGoodRowsAndReportsTheBadLines() async throws {
        let seed = testSeed()
        let (text, good, bad) = Self.mixedCSV(rows: 12_000, seed: seed)
        let bytes = Array(text.utf8)
        var g = SplitMix64(seed: seed)
        for round in 0..<4 {
            let dir = temporaryDirectory("ingest-pipeline")
            defer { removeTree(dir) }
            let store = try Self.openStore(dir)
            var rejectedLines: [Int] = []
            let options = IngestOptions(batchRows: [1, 7, 1000, 100_000][round])
            let summary: IngestSummary
            if round == 3 {
                try Data(bytes).write(to: URL(fileURLWithPath: "\(dir)/in.csv"))
                summary = try store.ingest(path: "\(dir)/in.csv", options: options, rejected: { rejectedLines.append($0.line) })
            } else {
                let sizes = (0..<17).map { _ in Int(g.next() % 3000) + 1 } + [1, 2, 3]
                summary = try await store.ingest(ChunkedBody(bytes: bytes, sizes: sizes), source: "body", options: options,
                                                 rejected: { rejectedLines.append($0.line) })
            }
            #expect(rejectedLines == bad, "seed \(seed) round \(round)")
            #expect(summary.stored == good.count && summary.rejected == bad.count && summary.rowsRead == good.count + bad.count,
                    "seed \(seed) round \(round): \(summary)")
            #expect(summary.bytesRead == bytes.count && summary.acknowledgedBytes == bytes.count, "seed \(seed) round \(round)")
            #expect(sameRows(try store.snapshot().allSightings(), good), "seed \(seed) round \(round)")
            try store.close()
        }
    }

    /// A body cut off mid-stream: the call says how far it got, and exactly the rows of the
    /// acknowledged lines are stored — durably, as a reopen shows.
    @Test func aFailingSourceKeepsEveryAcknowledgedBatchAndSaysHowFar() async throws {
        let seed = testSeed()
        let (text, _, _) = Self.mixedCSV(rows: 20_000, seed: seed)
        let bytes = Array(text.utf8)
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        let dir = temporaryDirectory("ingest-cut")
        defer { removeTree(dir) }
        var store = try Self.openStore(dir)
        do {
            _ = try await store.ingest(ChunkedBody(bytes: bytes, sizes: [4096], failAfter: 60), source: "body",
                                       options: IngestOptions(batchRows: 1_000))
            Issue.record("seed \(seed): a cut body was taken whole")
        } catch {
            guard case .source(let cause) = error.reason, cause is ChunkedBody.Cut else {
                Issue.record("seed \(seed): \(error)")
                return
            }
            let got = error.summary
            #expect(got.acknowledgedLines > 0 && got.acknowledgedBytes <= 60 * 4096 && got.stored > 0, "seed \(seed): \(got)")
            // The acknowledged prefix ends at a line's end.
            let prefix = Array(bytes[..<got.acknowledgedBytes])
            #expect(prefix.last == UInt8(ascii: "\n"), "seed \(seed)")
            let expected = try Self.parse(lines.prefix(got.acknowledgedLines).joined(separator: "\n"))
            #expect(got.stored == expected.count, "seed \(seed): \(got)")
            try store.close()
            store = try Self.openStore(dir)
            #expect(sameRows(try store.snapshot().allSightings(), expected), "seed \(seed)")
            // Resuming from the acknowledged byte (with the header) stores the rest, once.
            let rest = Array(lines[0].utf8) + [0x0A] + Array(bytes[got.acknowledgedBytes...])
            let resumed = try await store.ingest(ChunkedBody(bytes: rest, sizes: [65_536]), source: "body")
            #expect(resumed.duplicates == 0, "seed \(seed): \(resumed)")
            #expect(sameRows(try store.snapshot().allSightings(), try Self.parse(text)), "seed \(seed)")
        }
        try store.close()
    }

    /// A cancelled task stops at the next chunk, keeping what was acknowledged.
    @Test func cancellationStopsTheIngest() async throws {
        let dir = temporaryDirectory("ingest-cancel")
        defer { removeTree(dir) }
        let store = try Self.openStore(dir)
        let (text, _, _) = Self.mixedCSV(rows: 5_000, seed: 3)
        let body = ChunkedBody(bytes: Array(text.utf8), sizes: [100])
        let task = Task { () async -> Result<IngestSummary, IngestError> in
            withUnsafeCurrentTask { $0?.cancel() }
            do throws(IngestError) { return .success(try await store.ingest(body, source: "body")) } catch { return .failure(error) }
        }
        switch await task.value {
        case .success:
            Issue.record("a cancelled ingest ran to the end")
        case .failure(let error):
            guard case .cancelled = error.reason else { Issue.record("\(error)"); return }
            #expect(store.snapshot().rowCount == error.summary.stored)
        }
        try store.close()
    }

    /// Strict: one bad row and nothing of the source is stored; NDJSON is found by its first
    /// byte in a body with no name to go by.
    @Test func strictStoresNothingAndNDJSONIsDetected() async throws {
        let dir = temporaryDirectory("ingest-strict")
        defer { removeTree(dir) }
        let store = try Self.openStore(dir)
        let (text, _, bad) = Self.mixedCSV(rows: 3_000, seed: 9)
        #expect(!bad.isEmpty)
        do {
            _ = try await store.ingest(ChunkedBody(bytes: Array(text.utf8), sizes: [777]), source: "body",
                                       options: IngestOptions(batchRows: 100, strict: true))
            Issue.record("strict took a bad row")
        } catch {
            guard case .strict(let row) = error.reason else { Issue.record("\(error)"); return }
            #expect(row.line == bad[0] && error.summary.stored == 0)
        }
        #expect(store.snapshot().rowCount == 0)
        let ndjson = """
            {"plate":"NDJ1","time":1717228800000,"lat":37.5,"lon":-122.1,"camera":7,"confidence":90}
            {"plate":"NDJ2","time":1717228800001,"lat":37.5,"lon":-122.1,"camera":7,"confidence":90}
            """
        let summary = try await store.ingest(ChunkedBody(bytes: Array(ndjson.utf8), sizes: [5]), source: "body")
        #expect(summary.stored == 2 && summary.rejected == 0, "\(summary)")
        try store.close()
    }

    /// The rows of a CSV text, parsed by the general parser (header first).
    static func parse(_ text: String) throws -> [Sighting] {
        var parser = SightingParser(source: "t", format: .csv)
        var rows: [Sighting] = []
        for (i, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            var l = line
            if i == 0 {
                if l.hasPrefix("\u{FEFF}") { l = l.dropFirst() }
                try parser.readHeader(l)
                continue
            }
            if l.allSatisfy({ $0 == " " }) { continue }
            if case .success(let s) = parser.parse(l, number: i + 1) { rows.append(s) }
        }
        return rows
    }
}
