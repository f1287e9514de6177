/// The store directory's `LOCK` file, held with an exclusive flock for as long as a process
/// has the store open: a second writer gets `SightlineError.storeLocked` instead of two
/// processes appending to one log. The kernel releases the lock when the process dies, so a
/// crash never leaves the store locked.
final class StoreLock {
    static let fileName = "LOCK"
    private let file: FileHandle
    private let fileSystem: any FileSystem

    init(directory: String, fileSystem: any FileSystem) throws(SightlineError) {
        let file = try fileSystem.open("\(directory)/\(Self.fileName)", mode: .readWriteCreate)
        do {
            try fileSystem.lockExclusive(file)
        } catch {
            try? fileSystem.close(file)
            throw error
        }
        self.file = file
        self.fileSystem = fileSystem
    }

    deinit { try? fileSystem.close(file) }
}
