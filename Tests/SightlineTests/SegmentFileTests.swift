import Testing
import Glibc
@_spi(Benchmarks) @testable import Sightline
@testable import SightlineWorkload

@Suite struct SegmentFileTests {
    @Test func writesAndReadsAFile() throws {
        let dir = temporaryDirectory("file")
        defer { removeTree(dir) }
        let batch = ALPRWorkload().generate(rows: 20_000)
        let summary = try SegmentWriter(hasher: testHasher).write(batch, to: "\(dir)/a.sls")
        let reader = try SegmentReader(path: "\(dir)/a.sls", hasher: testHasher)
        #expect(reader.fileSize == Int64(summary.fileBytes))
        #expect(sameRows(try reader.allSightings(), batch.sightings))
        #expect(try PosixFileSystem().contentsOfDirectory(dir) == ["a.sls"])
    }

    @Test func missingFileIsAnIOError() {
        #expect(throws: SightlineError.io(operation: "open", path: "/nonexistent/x.sls", errno: ENOENT)) {
            try SegmentReader(path: "/nonexistent/x.sls", hasher: testHasher)
        }
    }

    /// Fails each I/O operation of a segment write in turn, with each kind of fault. After
    /// every case the segment is either absent or complete and correct — never partial — and
    /// no temporary file is left behind.
    @Test(arguments: [FaultInjectingFileSystem.Fault.error(EIO), .error(ENOSPC), .shortWrite])
    func faultAtEveryOperation(fault: FaultInjectingFileSystem.Fault) throws {
        var g = SplitMix64(seed: 8)
        let batch = randomBatch(&g, rows: 3000, plates: 300)
        let dry = FaultInjectingFileSystem()
        let dir = temporaryDirectory("faults")
        defer { removeTree(dir) }
        try SegmentWriter(hasher: testHasher, options: SegmentOptions(blockRows: 256), fileSystem: dry).write(batch, to: "\(dir)/dry.sls")
        let operationCount = dry.operations.count
        #expect(dry.operations.first == "open" && dry.operations.contains("fsync") && dry.operations.contains("rename")
                && dry.operations.last == "fsync directory")

        var failures = 0
        for n in 0..<operationCount {
            let path = "\(dir)/\(n).sls"
            let fs = FaultInjectingFileSystem(failAt: n, fault: fault)
            let writer = try SegmentWriter(hasher: testHasher, options: SegmentOptions(blockRows: 256), fileSystem: fs)
            var thrown: SightlineError?
            do { try writer.write(batch, to: path) } catch { thrown = error }
            if thrown != nil { failures += 1 }
            let names = try PosixFileSystem().contentsOfDirectory(dir)
            #expect(!names.contains { $0.contains(".tmp-") }, "operation \(n) (\(fs.operations[n])): temporary file left: \(names)")
            if names.contains("\(n).sls") {
                // Present: must be whole. (A failed directory fsync comes after the rename.)
                let rows = try SegmentReader(path: path, hasher: testHasher).allSightings()
                #expect(sameRows(rows, batch.sightings), "operation \(n): visible segment is wrong")
                #expect(thrown == nil || fs.operations[n] == "fsync directory", "operation \(n): \(String(describing: thrown))")
            } else {
                #expect(thrown != nil, "operation \(n): no error, yet no segment")
            }
        }
        if case .shortWrite = fault { #expect(failures == 0) } else { #expect(failures == operationCount) }
    }
}
