import Testing
import Glibc
@_spi(Benchmarks) @testable import Sightline
@testable import SightlineWorkload

@Suite struct BatchCodecTests {
    @Test func roundTripsRandomBatches() throws {
        var g = SplitMix64(seed: 31)
        for rows in [0, 1, 50, 2000] {
            let batch = randomBatch(&g, rows: rows, plates: max(1, rows / 3), images: rows % 2 == 0)
            var out = ByteWriter()
            BatchCodec.encode(batch, into: &out)
            let back = try out.bytes.withUnsafeBytes { raw in
                var r = ByteReader(raw, fileOffset: 0, path: "wal")
                let b = try BatchCodec.decode(&r)
                #expect(r.isAtEnd)
                return b
            }
            #expect(back.sightings == batch.sightings, "\(rows) rows")
        }
    }

    @Test func rejectsInvalidRowsWithTheirOffset() throws {
        let s = try Sighting(plate: Plate("AB12"), time: 1, latitudeE7: 1, longitudeE7: 1, camera: 1, confidence: 50)
        var out = ByteWriter()
        BatchCodec.encode(SightingBatch([s]), into: &out)
        var bad = out.bytes
        bad[4 + 1 + 4 + 8 + 4 + 4 + 4] = 101  // confidence of row 0
        #expect(throws: SightlineError.self) {
            try bad.withUnsafeBytes { raw in var r = ByteReader(raw, fileOffset: 0, path: "wal"); _ = try BatchCodec.decode(&r) }
        }
        var lowercase = out.bytes
        lowercase[5] = UInt8(ascii: "a")  // first plate character
        #expect(throws: SightlineError.self) {
            try lowercase.withUnsafeBytes { raw in var r = ByteReader(raw, fileOffset: 0, path: "wal"); _ = try BatchCodec.decode(&r) }
        }
    }
}

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

@Suite struct ManifestTests {
    static let sample: Manifest = {
        var m = Manifest()
        m.generation = 5
        m.nextSegmentNumber = 12
        m.persistedSequence = 99
        m.segments = [.init(name: "000003.sls", rowCount: 1000, fileBytes: 6000, minTime: -5, maxTime: 77),
                      .init(name: "000011.sls", rowCount: 1, fileBytes: 300, minTime: 0, maxTime: 0)]
        return m
    }()

    @Test func roundTrips() throws {
        let dir = temporaryDirectory("manifest")
        defer { removeTree(dir) }
        try Self.sample.write(directory: dir, fileSystem: PosixFileSystem())
        #expect(try Manifest.read(directory: dir, fileSystem: PosixFileSystem()) == Self.sample)
        #expect(try Manifest.decode(Manifest().encoded(), path: "m") == Manifest())
    }

    @Test func everyFlipAndTruncationIsDetected() {
        let bytes = Self.sample.encoded()
        for offset in bytes.indices {
            var b = bytes
            b[offset] ^= 0x01
            #expect(throws: SightlineError.self, "flip at \(offset)") { try Manifest.decode(b, path: "m") }
        }
        for length in 0..<bytes.count {
            #expect(throws: SightlineError.self, "length \(length)") { try Manifest.decode(Array(bytes[..<length]), path: "m") }
        }
    }

    /// Replacing the manifest under a fault at every operation leaves the old one or the
    /// new one, whole.
    @Test func replacementIsAtomicUnderFaults() throws {
        let dir = temporaryDirectory("manifest-faults")
        defer { removeTree(dir) }
        var old = Self.sample
        old.generation = 4
        old.segments.removeLast()
        let dry = FaultInjectingFileSystem()
        try Self.sample.write(directory: dir, fileSystem: dry)
        for n in 0..<dry.operations.count {
            try old.write(directory: dir, fileSystem: PosixFileSystem())
            let fs = FaultInjectingFileSystem(failAt: n, fault: .error(EIO))
            let failed = (try? Self.sample.write(directory: dir, fileSystem: fs)) == nil
            let now = try Manifest.read(directory: dir, fileSystem: PosixFileSystem())
            #expect(now == old || now == Self.sample, "operation \(n)")
            if failed && fs.operations[n] != "fsync directory" { #expect(now == old, "operation \(n) (\(fs.operations[n]))") }
            #expect(!(try PosixFileSystem().contentsOfDirectory(dir)).contains { $0.contains(".tmp-") })
        }
    }
}

@Suite struct StoreLockTests {
    @Test func aSecondHolderIsRefusedUntilTheFirstLetsGo() throws {
        let dir = temporaryDirectory("lock")
        defer { removeTree(dir) }
        var first: StoreLock? = try StoreLock(directory: dir, fileSystem: PosixFileSystem())
        #expect(throws: SightlineError.storeLocked(path: "\(dir)/LOCK")) { try StoreLock(directory: dir, fileSystem: PosixFileSystem()) }
        _ = first
        first = nil
        _ = try StoreLock(directory: dir, fileSystem: PosixFileSystem())
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
