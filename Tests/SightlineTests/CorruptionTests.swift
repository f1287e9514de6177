import Testing
@_spi(Benchmarks) @testable import Sightline
@testable import SightlineWorkload

@Suite struct CorruptionTests {
    static func smallSegment(compression: SegmentCompression = .default) throws -> (SightingBatch, [UInt8]) {
        var g = SplitMix64(seed: 77)
        let batch = batchWithHomes(&g, rows: 300)
        let bytes = try SegmentEncoder(hasher: testHasher, options: SegmentOptions(blockRows: 256, compression: compression)).encode(batch)
        return (batch, bytes)
    }

    /// Opens, verifies (both copies) and fully decodes; returns the rows or the error.
    static func decodeAll(_ bytes: [UInt8]) -> Result<[Sighting], SightlineError> {
        Result { () throws(SightlineError) in
            let reader = try SegmentReader(bytes: bytes, hasher: testHasher, label: "seg")
            try reader.verify()
            return try reader.allSightings()
        }
    }

    @Test(arguments: [SegmentCompression.none, .zstd(level: 3)])
    func everyFlippedByteIsDetected(compression: SegmentCompression) throws {
        let (batch, original) = try Self.smallSegment(compression: compression)
        let expected = batch.sightings
        var detected = 0
        for offset in original.indices {
            for mask: UInt8 in [0x01, 0x80, 0xFF] {
                var bytes = original
                bytes[offset] ^= mask
                switch Self.decodeAll(bytes) {
                case .failure(let error):
                    guard case .corruptFile(let path, let at, _) = error else {
                        if case .unsupportedFormat = error { detected += 1; continue }
                        Issue.record("offset \(offset): unexpected error \(error)")
                        continue
                    }
                    #expect(path == "seg" && at >= 0 && at <= Int64(bytes.count))
                    detected += 1
                case .success(let rows):
                    #expect(sameRows(rows, expected), "flip at \(offset) mask \(mask) returned wrong rows")
                }
            }
        }
        // CRC32C detects every single-bit and every single-byte error.
        #expect(detected == original.count * 3)
    }

    @Test func everyTruncationIsDetected() throws {
        let (_, original) = try Self.smallSegment()
        for length in 0..<original.count {
            let result = Self.decodeAll(Array(original[..<length]))
            guard case .failure(let error) = result, case .corruptFile = error else {
                Issue.record("truncation to \(length) bytes not reported as corruption: \(result)")
                continue
            }
        }
        // And extra bytes after the trailer are not a segment either.
        #expect(throws: SightlineError.self) { try SegmentReader(bytes: original + [0], hasher: testHasher).allSightings() }
    }

    /// Garbage whose checksums have been forged still never crashes the decoder: every chunk
    /// of every block is overwritten with random bytes and its CRC recomputed.
    @Test func forgedChecksumsNeverCrash() throws {
        let (_, original) = try Self.smallSegment()
        let reader = try SegmentReader(bytes: original, hasher: testHasher)
        var g = SplitMix64(seed: 1)
        var outcomes = (errors: 0, rows: 0)
        for trial in 0..<3000 {
            var bytes = original
            let block = Int(g.next() % UInt64(reader.blockCount))
            let entry = reader.blocks[block]
            let column = ColumnID.allCases[Int(g.next() % 7)]
            let start = Int(entry.offset(of: column)), length = Int(entry.columnLengths[column.rawValue])
            guard length > 0 else { continue }
            // Mutate a few bytes (or, sometimes, all of them).
            let edits = trial % 10 == 0 ? length : 1 + Int(g.next() % 4)
            for _ in 0..<edits { bytes[start + Int(g.next() % UInt64(length))] = UInt8(truncatingIfNeeded: g.next()) }
            Self.forgeChecksums(&bytes, reader: reader, block: block, column: column)
            switch Self.decodeAll(bytes) {
            case .failure: outcomes.errors += 1
            case .success: outcomes.rows += 1
            }
        }
        #expect(outcomes.errors > 1000, "\(outcomes)")
    }

    /// Recomputes a chunk's CRC in the footer and the footer's CRC in the trailer.
    static func forgeChecksums(_ bytes: inout [UInt8], reader: SegmentReader, block: Int, column: ColumnID) {
        let entry = reader.blocks[block]
        let start = Int(entry.offset(of: column)), length = Int(entry.columnLengths[column.rawValue])
        let crc = bytes.withUnsafeBytes { CRC32C.checksum(UnsafeRawBufferPointer(rebasing: $0[start..<(start + length)])) }
        let trailer = bytes.count - SegmentFormat.trailerSize
        let footerOffset = Int(bytes.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: trailer, as: UInt64.self) })
        let entryOffset = footerOffset + SegmentFormat.footerFixedSize + block * SegmentFormat.blockEntrySize
        let crcOffset = entryOffset + 8 + 4 + 48 + column.rawValue * 8 + 4
        withUnsafeBytes(of: crc.littleEndian) { for i in 0..<4 { bytes[crcOffset + i] = $0[i] } }
        let footerCRC = bytes.withUnsafeBytes { CRC32C.checksum(UnsafeRawBufferPointer(rebasing: $0[footerOffset..<trailer])) }
        withUnsafeBytes(of: footerCRC.littleEndian) { for i in 0..<4 { bytes[trailer + 12 + i] = $0[i] } }
    }

    @Test func forgingHelperIsRight() throws {
        // Forging an unchanged chunk must leave a valid segment (validates the helper itself).
        let (batch, original) = try Self.smallSegment()
        var bytes = original
        Self.forgeChecksums(&bytes, reader: try SegmentReader(bytes: original, hasher: testHasher), block: 0, column: .time)
        #expect(bytes == original)
        #expect(sameRows(try SegmentReader(bytes: bytes, hasher: testHasher).allSightings(), batch.sightings))
    }

    @Test func wrongSecretIsReportedAsSuch() throws {
        let (_, bytes) = try Self.smallSegment()
        #expect(throws: SightlineError.wrongPlateKeySecret(path: "<memory>")) {
            try SegmentReader(bytes: bytes, hasher: PlateHasher(secret: PlateKeySecret(k0: 9, k1: 9)))
        }
    }

    @Test func notASegment() {
        #expect(throws: SightlineError.corruptFile(path: "x", offset: 0, reason: "not a Sightline segment (bad magic)")) {
            try SegmentReader(bytes: [UInt8](repeating: 0x41, count: 200), hasher: testHasher, label: "x")
        }
    }

    @Test func newerVersionIsReportedAsSuch() throws {
        var (_, bytes) = try Self.smallSegment()
        bytes[8] = 4
        let crc = bytes.withUnsafeBytes { CRC32C.checksum(UnsafeRawBufferPointer(rebasing: $0[0..<12])) }
        withUnsafeBytes(of: crc.littleEndian) { for i in 0..<4 { bytes[12 + i] = $0[i] } }
        #expect(throws: SightlineError.unsupportedFormat(path: "<memory>", version: 4)) { try SegmentReader(bytes: bytes, hasher: testHasher) }
    }
}
