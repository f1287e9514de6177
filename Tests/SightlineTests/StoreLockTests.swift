import Testing
import Glibc
@_spi(Benchmarks) @testable import Sightline
@testable import SightlineWorkload

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
