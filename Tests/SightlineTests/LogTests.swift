import Testing
import Glibc
@_spi(Benchmarks) @testable import Sightline
@testable import SightlineWorkload

@Suite struct LogTests {
    static func batches(_ count: Int, seed: UInt64) -> [SightingBatch] {
        var g = SplitMix64(seed: seed)
        return (0..<count).map { i in randomBatch(&g, rows: 1 + i % 7, plates: 3, images: i % 3 == 0) }
    }

    @Test func writesAndReadsRecordsInOrder() throws {
        let dir = temporaryDirectory("log")
        defer { removeTree(dir) }
        let fs = PosixFileSystem()
        let input = Self.batches(40, seed: 1)
        let writer = try LogWriter.create("\(dir)/000001.log", firstSequence: 100, durability: .everyBatch, fileSystem: fs)
        for (i, b) in input.enumerated() { #expect(try writer.append(b) == UInt64(100 + i)) }
        let contents = try LogReader.read("\(dir)/000001.log", fileSystem: fs)
        #expect(contents.tail == nil)
        #expect(contents.records.map(\.sequence) == Array(100..<140))
        #expect(contents.records.map(\.batch) == input)
    }

    /// Cutting the log at every length keeps exactly the records that are whole.
    @Test func everyTruncationKeepsTheCompletePrefix() throws {
        let dir = temporaryDirectory("log-trunc")
        defer { removeTree(dir) }
        let fs = PosixFileSystem()
        let input = Self.batches(6, seed: 2)
        let path = "\(dir)/a.log"
        let writer = try LogWriter.create(path, firstSequence: 0, durability: .none, fileSystem: fs)
        var ends: [Int] = []
        for b in input {
            try writer.append(b)
            ends.append(Int(try fs.size(try fs.open(path, mode: .read))))
        }
        let full = try readFile(path)
        for length in LogFormat.headerSize...full.count {
            let cut = "\(dir)/cut.log"
            try writeFile(cut, Array(full[..<length]))
            let contents = try LogReader.read(cut, fileSystem: fs)
            let whole = ends.filter { $0 <= length }.count
            #expect(contents.records.map(\.batch) == Array(input[..<whole]), "length \(length)")
            #expect(contents.validLength == Int64(whole == 0 ? LogFormat.headerSize : ends[whole - 1]))
            #expect((contents.tail == nil) == (length == contents.validLength), "length \(length)")
            unlink(cut)
        }
        for length in 0..<LogFormat.headerSize {
            try writeFile("\(dir)/h.log", Array(full[..<length]))
            #expect(throws: SightlineError.self) { try LogReader.read("\(dir)/h.log", fileSystem: fs) }
        }
    }

    @Test func flippedBytesEndTheValidPrefixThere() throws {
        let dir = temporaryDirectory("log-flip")
        defer { removeTree(dir) }
        let fs = PosixFileSystem()
        let input = Self.batches(5, seed: 3)
        let path = "\(dir)/a.log"
        let writer = try LogWriter.create(path, firstSequence: 0, durability: .none, fileSystem: fs)
        for b in input { try writer.append(b) }
        let full = try readFile(path)
        for offset in LogFormat.headerSize..<full.count {
            var bytes = full
            bytes[offset] ^= 0x10
            try writeFile("\(dir)/f.log", bytes)
            let contents = try LogReader.read("\(dir)/f.log", fileSystem: fs)
            #expect(contents.tail != nil, "flip at \(offset) undetected")
            #expect(contents.validLength <= Int64(offset))
            #expect(contents.records.map(\.batch) == Array(input[..<contents.records.count]))
        }
    }

    @Test func reopenCutsATornTailAndContinuesTheSequence() throws {
        let dir = temporaryDirectory("log-reopen")
        defer { removeTree(dir) }
        let fs = PosixFileSystem()
        let path = "\(dir)/a.log"
        let input = Self.batches(4, seed: 4)
        do {
            let writer = try LogWriter.create(path, firstSequence: 7, durability: .everyBatch, fileSystem: fs)
            for b in input.prefix(3) { try writer.append(b) }
        }
        var bytes = try readFile(path)
        bytes += [1, 2, 3, 4, 5]  // a torn record
        try writeFile(path, bytes)
        let before = try LogReader.read(path, fileSystem: fs)
        #expect(before.records.count == 3 && before.tail != nil)
        do {
            let writer = try LogWriter.reopen(path, validLength: before.validLength, nextSequence: 10, durability: .everyBatch, fileSystem: fs)
            #expect(try writer.append(input[3]) == 10)
        }
        let after = try LogReader.read(path, fileSystem: fs)
        #expect(after.tail == nil)
        #expect(after.records.map(\.sequence) == [7, 8, 9, 10])
        #expect(after.records.map(\.batch) == input)
    }

    /// Fails every operation of creating a log and appending to it, in turn: whatever failed,
    /// every acknowledged batch reads back, in order, and at most the one in flight besides.
    @Test(arguments: [FaultInjectingFileSystem.Fault.error(EIO), .error(ENOSPC), .shortWrite])
    func faultsNeverLoseAcknowledgedBatches(fault: FaultInjectingFileSystem.Fault) throws {
        let input = Self.batches(8, seed: 5)
        let dir = temporaryDirectory("log-faults")
        defer { removeTree(dir) }
        let dry = FaultInjectingFileSystem()
        do {
            let w = try LogWriter.create("\(dir)/dry.log", firstSequence: 0, durability: .everyBatch, fileSystem: dry)
            for b in input { try w.append(b) }
        }
        let operations = dry.operations.count
        for n in 0..<operations {
            let path = "\(dir)/\(n).log"
            let fs = FaultInjectingFileSystem(failAt: n, fault: fault)
            var acknowledged: [SightingBatch] = []
            do {
                let w = try LogWriter.create(path, firstSequence: 0, durability: .everyBatch, fileSystem: fs)
                for b in input {
                    try w.append(b)
                    acknowledged.append(b)
                }
            } catch {}
            guard let contents = try? LogReader.read(path, fileSystem: PosixFileSystem()) else {
                #expect(acknowledged.isEmpty, "operation \(n): log unreadable after acknowledging \(acknowledged.count)")
                continue
            }
            let got = contents.records.map(\.batch)
            #expect(Array(got.prefix(acknowledged.count)) == acknowledged, "operation \(n) (\(fs.operations[n]))")
            #expect(got.count <= acknowledged.count + 1)
            #expect(Array(input.prefix(got.count)) == got)
        }
    }
}

func readFile(_ path: String) throws -> [UInt8] {
    let fs = PosixFileSystem()
    let f = try fs.open(path, mode: .read)
    defer { try? fs.close(f) }
    var bytes = [UInt8](repeating: 0, count: Int(try fs.size(f)))
    try bytes.withUnsafeMutableBytes { try fs.readExactly(f, into: $0, at: 0) }
    return bytes
}

func writeFile(_ path: String, _ bytes: [UInt8]) throws {
    unlink(path)
    let fs = PosixFileSystem()
    let f = try fs.open(path, mode: .createExclusive)
    defer { try? fs.close(f) }
    try bytes.withUnsafeBytes { try fs.writeAll(f, $0) }
}
