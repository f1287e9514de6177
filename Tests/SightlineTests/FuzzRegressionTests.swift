import Foundation
import Testing
@_spi(Benchmarks) @testable import Sightline

/// Every input the fuzzers ever broke something with (Fuzz/Regressions/TARGET/, replayed by
/// Scripts/fuzz.sh too), fed to the same decoders in the ordinary build. Fuzz builds zero
/// every checksum, so segment findings are resealed here with real ones first.
@Suite struct FuzzRegressionTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("Fuzz/Regressions").path

    static func inputs(_ target: String) throws -> [(String, [UInt8])] {
        let dir = "\(root)/\(target)"
        let names = (try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []
        return try names.sorted().map { ($0, Array(try Data(contentsOf: URL(fileURLWithPath: "\(dir)/\($0)")))) }
    }

    @Test func segmentFindingsDecodeToAnErrorOrToRows() throws {
        let inputs = try Self.inputs("segment")
        #expect(!inputs.isEmpty, "no regression inputs under \(Self.root)/segment")
        for (name, bytes) in inputs {
            let sealed = Self.resealed(bytes)
            do {
                let reader = try SegmentReader(bytes: sealed, hasher: testHasher, label: name)
                try reader.verify()
                let rows = try reader.allSightings()
                #expect(rows.count == reader.rowCount, "\(name)")
                // A segment that verifies answers as a scan of its rows does.
                let snapshot = StoreSnapshot(segments: [reader], memory: [])
                for plate in Set([rows.first?.plate, rows.last?.plate].compactMap { $0 }) {
                    let answer = try snapshot.run(try Query(.history(plate))).rows
                    #expect(sameRows(answer, rows.filter { $0.plate == plate }), "\(name): history of \(plate)")
                }
            } catch {
                // Damage is reported as such, naming where.
                guard case .corruptFile = error else { Issue.record("\(name): \(error)"); continue }
            }
        }
    }

    @Test func exportManifestFindingsDecodeToAnErrorOrRoundTrip() throws {
        let inputs = try Self.inputs("export-manifest")
        #expect(!inputs.isEmpty)
        for (name, bytes) in inputs {
            // Reseal: the checksum line over the body, as a real export writes it.
            let body = bytes.dropLast().lastIndex(of: UInt8(ascii: "\n")).map { Array(bytes[...$0]) } ?? []
            let sealed = body + Array("checksum \(String(CRC32C.checksum(body), radix: 16))\n".utf8)
            do {
                let m = try LakeManifest.decode(sealed, path: name)
                #expect(try LakeManifest.decode(m.encode(), path: name) == m, "\(name)")
            } catch {
                guard case .corruptFile = error else { Issue.record("\(name): \(error)"); continue }
            }
        }
    }

    @Test func parquetFindingsDecodeToAnErrorOrToTheValuesTheFooterStates() throws {
        let inputs = try Self.inputs("parquet")
        #expect(!inputs.isEmpty)
        for (name, bytes) in inputs {
            do {
                let reader = try ParquetFileReader(bytes: bytes, path: name)
                for leaf in reader.leaves {
                    let n: Int
                    switch try reader.values(of: leaf.path) {
                    case .int32(let v): n = v.count
                    case .int64(let v): n = v.count
                    case .double(let v): n = v.count
                    case .byteArray(let v): n = v.count
                    }
                    let stated = reader.rowGroups.reduce(Int64(0)) { $0 + ($1.first { $0.path == leaf.path }?.values ?? 0) }
                    #expect(Int64(n) == reader.rowCount && Int64(n) == stated, "\(name): \(leaf.path)")
                }
            } catch {
                guard case .corruptFile = error else { Issue.record("\(name): \(error)"); continue }
            }
        }
    }

    @Test func alertLogFindingsDecodeToAnErrorOrToAlerts() throws {
        let inputs = try Self.inputs("alert-log")
        #expect(!inputs.isEmpty)
        let dir = temporaryDirectory("fuzz-regressions-alerts")
        let fs = PosixFileSystem()
        for (name, bytes) in inputs {
            let path = "\(dir)/\(AlertLogFormat.fileName)"
            try? fs.remove(path)
            try fs.replaceAtomically(path, with: Self.resealedRecords(bytes, headerSize: AlertLogFormat.headerSize))
            do {
                let read = try AlertLogFormat.read(path, from: 0, after: 0, fileSystem: fs, dataKey: { _ in nil })
                #expect(read.end <= Int64(bytes.count), "\(name)")
            } catch {
                guard case .corruptFile = error else { Issue.record("\(name): \(error)"); continue }
            }
        }
    }

    @Test func policyFileFindingsDecodeToAnErrorOrRoundTrip() throws {
        let inputs = try Self.inputs("policy-files")
        #expect(!inputs.isEmpty)
        for (name, input) in inputs {
            // The first byte chooses the file, as in the fuzz target; the checksum line is
            // resealed over the body, as a real writer computes it.
            guard let selector = input.first else { continue }
            let bytes = Array(input.dropFirst())
            let body = bytes.dropLast().lastIndex(of: 0x0A).map { Array(bytes[...$0]) } ?? []
            let sealed = withChecksumLine(String(decoding: body, as: UTF8.self))
            func roundTrip<T: Equatable>(_ decode: ([UInt8]) throws(SightlineError) -> T, _ encode: (T) -> [UInt8]) {
                let value: T
                do { value = try decode(sealed) } catch {
                    if case .corruptFile = error { return }
                    Issue.record("\(name): \(error)")
                    return
                }
                #expect((try? decode(encode(value))) == value, "\(name): \(T.self) does not survive a re-encode")
            }
            switch selector % 6 {
            case 0: roundTrip({ (b) throws(SightlineError) in try AccessFile.decode(b, path: name) }, AccessFile.encode)
            case 1: roundTrip({ (b) throws(SightlineError) in try CamerasFile.decode(b, path: name) }, CamerasFile.encode)
            case 2: roundTrip({ (b) throws(SightlineError) in try PolicyFile.decode(b, path: name) }, PolicyFile.encode)
            case 3: roundTrip({ (b) throws(SightlineError) in try RetentionFile.decode(b, path: name) }, RetentionFile.encode)
            case 4: roundTrip({ (b) throws(SightlineError) in try HoldsFile.decode(b, path: name) }, HoldsFile.encode)
            default: roundTrip({ (b) throws(SightlineError) in try GuardrailsFile.decode(b, path: name) }, GuardrailsFile.encode)
            }
        }
    }

    @Test func walFindingsDecodeToAnErrorOrToRecords() throws {
        let dir = temporaryDirectory("fuzz-regressions-wal")
        let fs = PosixFileSystem()
        for (name, bytes) in try Self.inputs("wal") {
            let path = "\(dir)/\(name)"
            try fs.replaceAtomically(path, with: Self.resealedRecords(bytes, headerSize: LogFormat.headerSize))
            do {
                let contents = try LogReader.read(path, fileSystem: fs)
                #expect(contents.validLength <= Int64(bytes.count), "\(name)")
            } catch {
                guard case .corruptFile = error else { Issue.record("\(name): \(error)"); continue }
            }
        }
    }

    /// A log of `length u32 | crc u32 | sequence u64 | payload` records after a header (the
    /// write-ahead log's and the alert log's shape) with every record's checksum recomputed.
    static func resealedRecords(_ input: [UInt8], headerSize: Int) -> [UInt8] {
        var b = input
        var position = headerSize
        while position + 16 <= b.count {
            let length = Int(b.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: position, as: UInt32.self) })
            let end = position + 16 + length
            guard end <= b.count else { break }
            let crc = b.withUnsafeBytes { CRC32C.checksum(UnsafeRawBufferPointer(rebasing: $0[(position + 8)..<end])) }
            withUnsafeBytes(of: crc.littleEndian) { for i in 0..<4 { b[position + 4 + i] = $0[i] } }
            position = end
        }
        return b
    }

    /// `query-text` inputs: a selector byte, then the text (Fuzz/Sources/sightline-fuzz/TextTargets.swift).
    @Test func queryTextFindingsHoldTheirInvariants() throws {
        let inputs = try Self.inputs("query-text")
        #expect(!inputs.isEmpty)
        for (name, bytes) in inputs where bytes.first.map({ $0 % 8 == 3 }) == true {
            let text = String(decoding: bytes.dropFirst(), as: UTF8.self)
            if let t = Timestamp.milliseconds(text) {
                #expect(Timestamp.milliseconds(Timestamp.rfc3339(t)) == t, "\(name): \(t)")
            }
        }
        #expect(Timestamp.milliseconds("17172000000000001") == nil)
        #expect(Timestamp.milliseconds("253402300799999") == 253_402_300_799_999)
        #expect(Timestamp.milliseconds("9999-12-31T23:59:59.999Z") == 253_402_300_799_999)
        #expect(Timestamp.milliseconds("0000-01-01T00:00:00Z") == -62_167_219_200_000)
        #expect(Timestamp.milliseconds("0000-01-01T00:00:00+00:01") == nil)
    }

    /// `csv` inputs (TextTargets.csv): the header is the first line when the first byte is
    /// odd, else the standard one; the fast path and the general parser agree on every line.
    @Test func csvFindingsParseTheSameOnBothPaths() throws {
        let inputs = try Self.inputs("csv")
        #expect(!inputs.isEmpty)
        for (name, bytes) in inputs {
            var lines = String(decoding: bytes, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false)
            var parser = SightingParser(source: name, format: .csv)
            let header = (bytes.first ?? 0) & 1 == 1 && !lines.isEmpty ? lines.removeFirst()
                : Substring("plate,time,lat,lon,camera,confidence,region,image")
            guard (try? parser.readHeader(header)) != nil else { continue }
            let roles = parser.fastRoles
            for (k, line) in lines.enumerated() {
                var batch = SightingBatch()
                let rejected = Array(line.utf8).withUnsafeBytes { parser.parseCSVLine($0, number: k + 2, roles: roles, into: &batch) }
                switch parser.parse(line, number: k + 2) {
                case .success(let row): #expect(rejected == nil && batch.count == 1 && batch[0] == row, "\(name) line \(k + 2)")
                case .failure: #expect(rejected != nil && batch.count == 0, "\(name) line \(k + 2): \(line)")
                }
            }
        }
    }

    /// What the planner prunes by — the plate filter, block time ranges — damaged behind
    /// valid checksums (as a rewrite tool could leave it): `verify` reports it. Before it did,
    /// such a segment verified, and a history missed its rows (the fuzzer's `segment` finding
    /// `statistics-that-do-not-cover-the-rows`).
    @Test func verifyChecksThePlannersStatisticsAgainstTheRows() throws {
        let (_, original) = try CorruptionTests.smallSegment()
        let reader = try SegmentReader(bytes: original, hasher: testHasher)
        try reader.verify()
        let footer = Int(original.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: original.count - SegmentFormat.trailerSize, as: UInt64.self) })
        func u64(_ b: [UInt8], _ o: Int) -> Int { Int(truncatingIfNeeded: b.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: o, as: UInt64.self) }) }
        func u32(_ b: [UInt8], _ o: Int) -> Int { Int(b.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: o, as: UInt32.self) }) }

        // An empty plate filter: the planner would skip the segment for every plate.
        var noFilter = original
        let filterOffset = u64(original, footer + 96), filterLength = u32(original, footer + 104)
        for i in filterOffset..<(filterOffset + filterLength) { noFilter[i] = 0 }
        let damaged = try SegmentReader(bytes: Self.resealed(noFilter), hasher: testHasher)
        let plate = try reader.allSightings()[0].plate
        #expect(try StoreSnapshot(segments: [damaged], memory: []).run(try Query(.history(plate))).rows.isEmpty)
        #expect { try damaged.verify() } throws: { "\($0)".contains("plate filter lacks a plate") }

        // A block whose time range starts after its first row: time-bounded reads skip it.
        var lateStart = original
        let entry = footer + SegmentFormat.footerFixedSize  // block 0
        let minTime = u64(original, entry + 28)
        withUnsafeBytes(of: Int64(minTime + 1).littleEndian) { for i in 0..<8 { lateStart[entry + 28 + i] = $0[i] } }
        let shifted = try SegmentReader(bytes: Self.resealed(lateStart), hasher: testHasher)
        #expect { try shifted.verify() } throws: { "\($0)".contains("time is outside block 0's time range") }
    }

    @Test func resealingAValidSegmentChangesNothing() throws {
        let (_, original) = try CorruptionTests.smallSegment()
        #expect(Self.resealed(original) == original)
        var zeroed = original
        for i in 12..<16 { zeroed[i] = 0 }  // the header's checksum
        #expect(Self.resealed(zeroed) == original)
    }

    /// `bytes` with every checksum the layout lets us find recomputed: header, each block's
    /// column chunks, camera homes, plate filter, plate index directory, camera index, footer
    /// (Docs/format.md). Anything that does not parse is left as it is.
    static func resealed(_ input: [UInt8]) -> [UInt8] {
        var b = input
        func u64(_ o: Int) -> Int? { o >= 0 && o + 8 <= b.count ? Int(truncatingIfNeeded: b.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: o, as: UInt64.self) }) : nil }
        func u32(_ o: Int) -> Int? { o >= 0 && o + 4 <= b.count ? Int(b.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: o, as: UInt32.self) }) : nil }
        func seal(at o: Int, over start: Int?, _ length: Int?) {
            guard let start, let length, start >= 0, length >= 0, start + length <= b.count, o >= 0, o + 4 <= b.count else { return }
            let crc = b.withUnsafeBytes { CRC32C.checksum(UnsafeRawBufferPointer(rebasing: $0[start..<(start + length)])) }
            withUnsafeBytes(of: crc.littleEndian) { for i in 0..<4 { b[o + i] = $0[i] } }
        }
        guard b.count >= SegmentFormat.headerSize + SegmentFormat.trailerSize else { return b }
        seal(at: 12, over: 0, 12)
        let trailer = b.count - SegmentFormat.trailerSize
        guard let f = u64(trailer), let footerLength = u32(trailer + 8), f >= SegmentFormat.headerSize, f + footerLength == trailer,
              let version = u32(8), let blocks = u32(f + 8), let spatial = u32(f + 88) else { return b }
        let fixed = version == 2 ? SegmentFormat.footerFixedSizeV2 : SegmentFormat.footerFixedSize
        guard footerLength >= fixed else { return b }
        for e in 0..<min(blocks + spatial, (footerLength - fixed) / SegmentFormat.blockEntrySize) {
            let entry = f + fixed + e * SegmentFormat.blockEntrySize
            guard var offset = u64(entry) else { break }
            for c in 0..<SegmentFormat.columnCount {
                guard let length = u32(entry + 60 + c * 8), offset + length <= f else { break }
                seal(at: entry + 64 + c * 8, over: offset, length)
                offset += length
            }
        }
        seal(at: f + 76, over: u64(f + 64), u32(f + 72))
        seal(at: f + 108, over: u64(f + 96), u32(f + 104))
        if version >= 3 {
            seal(at: f + 128, over: u64(f + 112), u32(f + 124))
            seal(at: f + 144, over: u64(f + 132), u32(f + 140))
        }
        seal(at: trailer + 12, over: f, footerLength)
        return b
    }
}
