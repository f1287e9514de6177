import Crypto
import Testing
@testable import Sightline
@testable import SightlineWorkload

/// Sealed files (chunked AES-256-GCM): every range reads back what was written; a flipped
/// bit anywhere, a cut, a moved chunk or a wrong key is an error naming the file — never
/// other bytes.
@Suite struct SealedFileTests {
    static let keyID = [UInt8](repeating: 7, count: 16)

    /// Seals `plain` into `path` with `key`.
    static func seal(_ plain: [UInt8], _ path: String, key: SymmetricKey, chunkSize: Int) throws {
        var out: [UInt8] = []
        let collect = { (raw: UnsafeRawBufferPointer) throws(SightlineError) in out.append(contentsOf: raw) }
        var writer = SealedFileWriter(dataKey: key, keyID: keyID, chunkSize: chunkSize)
        try plain.withUnsafeBytesTyped { (raw: UnsafeRawBufferPointer) throws(SightlineError) in
            // In uneven pieces, as a segment writer hands them over.
            var at = 0, step = 1
            while at < raw.count {
                let n = min(step, raw.count - at)
                try writer.append(UnsafeRawBufferPointer(rebasing: raw[at..<(at + n)]), output: collect)
                at += n
                step = step * 3 % 97 + 1
            }
        }
        try writer.finish(output: collect)
        #expect(out.count == SealedFileWriter.sealedSize(plaintext: plain.count, chunkSize: chunkSize))
        try writeFile(path, out)
    }

    /// The plaintext range [from, to) of the sealed file at `path`.
    static func read(_ path: String, key: SymmetricKey?, keyID: [UInt8] = keyID, _ from: Int, _ to: Int) throws -> [UInt8] {
        let fs = PosixFileSystem()
        let file = try fs.open(path, mode: .read)
        defer { try? fs.close(file) }
        let reader = try SealedFileReader(file: file, fileSize: try fs.size(file), fileSystem: fs) { (id: [UInt8]) throws(SightlineError) -> SymmetricKey? in
            id == keyID ? key : nil  // the parameter: the id the file names must be the key's
        }
        var out = [UInt8](repeating: 0, count: to - from)
        try out.withUnsafeMutableBytesTyped { (raw: UnsafeMutableRawBufferPointer) throws(SightlineError) in
            try reader.read(file, into: raw, at: Int64(from), fileSystem: fs)
        }
        return out
    }

    static func size(_ path: String, key: SymmetricKey) throws -> Int64 {
        let fs = PosixFileSystem()
        let file = try fs.open(path, mode: .read)
        defer { try? fs.close(file) }
        return try SealedFileReader(file: file, fileSize: try fs.size(file), fileSystem: fs) { _ throws(SightlineError) in key }.size
    }

    @Test func everyRangeReadsBackWhatWasWritten() throws {
        let dir = temporaryDirectory("sealed")
        defer { removeTree(dir) }
        let seed = testSeed()
        var g = SplitMix64(seed: seed)
        let key = SymmetricKey(size: .bits256)
        for chunk in [64, 256, SealedFile.defaultChunkSize] {
            for length in [0, 1, chunk - 1, chunk, chunk + 1, 3 * chunk, 3 * chunk + 17, Int(g.next() % UInt64(10 * chunk))] {
                let plain = (0..<length).map { _ in UInt8(truncatingIfNeeded: g.next()) }
                let path = "\(dir)/f-\(chunk)-\(length)"
                try Self.seal(plain, path, key: key, chunkSize: chunk)
                #expect(try Self.size(path, key: key) == Int64(length), "chunk \(chunk) length \(length)")
                #expect(try Self.read(path, key: key, 0, length) == plain, "chunk \(chunk) length \(length) (SIGHTLINE_TEST_SEED=\(seed))")
                for _ in 0..<20 where length > 0 {
                    let a = Int(g.next() % UInt64(length)), b = a + Int(g.next() % UInt64(length - a + 1))
                    #expect(try Self.read(path, key: key, a, b) == Array(plain[a..<b]), "[\(a), \(b)) of \(length) (SIGHTLINE_TEST_SEED=\(seed))")
                }
                // No plaintext byte run of 8 or more appears in the file.
                let sealed = try readFile(path)
                if length >= 64 {
                    let probe = Array(plain[20..<36])
                    #expect(!sealed.indices.dropLast(15).contains { Array(sealed[$0..<($0 + 16)]) == probe })
                }
                #expect(throws: SightlineError.self) { _ = try Self.read(path, key: key, 0, length + 1) }
            }
        }
    }

    /// Every bit of a three-chunk file flipped, one at a time; every cut; two chunks swapped;
    /// the wrong key; a destroyed key. Each is an error — the file's path in it — and never
    /// a read of other bytes.
    @Test func damageIsAnErrorNeverOtherBytes() throws {
        let dir = temporaryDirectory("sealed-damage")
        defer { removeTree(dir) }
        let key = SymmetricKey(size: .bits256)
        let plain = (0..<(3 * 64 - 5)).map { UInt8(truncatingIfNeeded: $0 &* 31) }
        let path = "\(dir)/f"
        try Self.seal(plain, path, key: key, chunkSize: 64)
        let good = try readFile(path)
        func mustFail(_ bytes: [UInt8], _ what: String) throws {
            try writeFile(path, bytes)
            do {
                let got = try Self.read(path, key: key, 0, plain.count)
                Issue.record("\(what): read \(got == plain ? "the original" : "other") bytes")
            } catch let error as SightlineError {
                #expect(error.path == path, "\(what): \(error)")
            }
        }
        for bit in 0..<(good.count * 8) {
            var bytes = good
            bytes[bit / 8] ^= UInt8(1 << (bit % 8))
            try mustFail(bytes, "bit \(bit)")
        }
        for cut in 0..<good.count { try mustFail(Array(good[0..<cut]), "cut at \(cut)") }
        let chunk = 64 + SealedFile.tagSize, h = SealedFile.headerSize
        try mustFail(Array(good[0..<h]) + Array(good[(h + chunk)..<(h + 2 * chunk)]) + Array(good[h..<(h + chunk)]) + Array(good[(h + 2 * chunk)...]), "chunks 0 and 1 swapped")
        try mustFail(good + Array(good[h..<(h + chunk)]), "a chunk appended")
        try writeFile(path, good)
        #expect(try Self.read(path, key: key, 0, plain.count) == plain)
        #expect(throws: SightlineError.self) { _ = try Self.read(path, key: SymmetricKey(size: .bits256), 0, plain.count) }
        do {
            _ = try Self.read(path, key: nil, 0, 1)
            Issue.record("a destroyed key opened the file")
        } catch let error as SightlineError {
            #expect("\(error)".contains("not in the keyring") && error.path == path, "\(error)")
        }
    }

    /// The opened-chunk cache: what it returns is what was inserted, within its budget, oldest
    /// dropped first; a file's chunks go with it.
    @Test func theChunkCacheKeepsItsBudgetAndForgetsAFile() {
        let cache = SealedChunkCache(budget: 4 * 100)
        let a = cache.newFileID(), b = cache.newFileID()
        #expect(a != b)
        for i in 0..<6 { cache.insert(file: a, index: i, [UInt8](repeating: UInt8(i), count: 100)) }
        var out = [UInt8](repeating: 0, count: 10)
        let hit = { (file: UInt64, index: Int) -> Bool in out.withUnsafeMutableBytes { cache.copy(file: file, index: index, range: 5..<15, into: $0) } }
        #expect(!hit(a, 0) && !hit(a, 1))  // dropped: the budget holds four
        #expect(hit(a, 5) && out == [UInt8](repeating: 5, count: 10))
        cache.insert(file: b, index: 0, [UInt8](repeating: 9, count: 100))
        cache.remove(file: a)
        #expect(!hit(a, 5) && hit(b, 0) && out == [UInt8](repeating: 9, count: 10))
    }
}
