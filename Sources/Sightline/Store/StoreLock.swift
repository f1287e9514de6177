#if canImport(Glibc)
import Glibc
#endif

/// The store directory's `LOCK` file, held with an exclusive flock for as long as a process
/// has the store open: a second writer gets `SightlineError.storeLocked` instead of two
/// processes appending to one log. The kernel releases the lock when the process dies, so a
/// crash never leaves the store locked.
final class StoreLock {
    static let fileName = "LOCK"
    private let file: OpenFile
    private let fileSystem: any FileSystem

    /// Takes the lock, retrying for up to 100 ms: flock belongs to the open file, and a
    /// process being spawned by another thread briefly holds copies of every descriptor
    /// until it execs, so a store closed and reopened at that moment can find its own lock
    /// still held for a few microseconds. A real second owner still gets `storeLocked`.
    init(directory: String, fileSystem: any FileSystem) throws(SightlineError) {
        let file = try fileSystem.open("\(directory)/\(Self.fileName)", mode: .readWriteCreate)
        var attempt = 0
        while true {
            do {
                try fileSystem.lockExclusive(file)
                break
            } catch {
                if case .storeLocked = error, attempt < 20 {
                    attempt += 1
                    usleep(5000)
                    continue
                }
                try? fileSystem.close(file)
                throw error
            }
        }
        self.file = file
        self.fileSystem = fileSystem
    }

    deinit { try? fileSystem.close(file) }
}
