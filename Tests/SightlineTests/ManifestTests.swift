import Testing
import Glibc
@_spi(Benchmarks) @testable import Sightline
@testable import SightlineWorkload

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
