#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// An open file of a ``FileSystem``: a descriptor (whatever the file system makes of it)
/// plus the path, for error messages.
public struct OpenFile: Sendable, Hashable {
    /// The OS file descriptor.
    public let descriptor: Int32
    /// The path it was opened with.
    public let path: String
}

/// How `FileSystem.open` opens a file.
public enum OpenMode: Sendable {
    /// Read only; the file must exist.
    case read
    /// Write only; creates the file and fails if it exists (for temporary files).
    case createExclusive
    /// Write only, appending; creates the file if missing (logs).
    case append
    /// Read and write; creates the file if missing (lock files).
    case readWriteCreate
}

/// The seam through which Sightline does all file I/O, so tests can inject a failure at any
/// operation (EIO, ENOSPC, short writes, failed fsync or rename), and an embedder can run a
/// store on another storage layer.
///
/// What the engine relies on — an implementation must give exactly this, or crash safety
/// and the checksummed formats mean nothing:
/// - **Errors:** every failure throws ``SightlineError/io(operation:path:errno:)`` naming the
///   operation and path (``lockExclusive(_:)`` throws ``SightlineError/storeLocked(path:)``
///   when the lock is held). A method that throws must have had no effect the engine could
///   observe later, except where noted (a failed write or sync leaves the file's contents
///   unknown: the engine then abandons or truncates the file).
/// - **Durability:** bytes written are durable only after ``sync(_:)`` returns; a
///   directory entry created, renamed or removed is durable only after
///   ``syncDirectory(_:)`` on its directory returns. The engine orders its writes on these
///   two and nothing else.
/// - **Atomic rename:** ``rename(_:to:)`` replaces the target atomically: after a crash the
///   name refers to the old file or the new one, never to a mix or to nothing.
/// - **Concurrency:** all methods may be called from many threads at once on different
///   files, and ``read(_:into:at:)`` on the same file (positioned reads do not move a shared
///   offset).
public protocol FileSystem: Sendable {
    /// Opens `path` as `mode` says (see ``OpenMode``): reading a file that must exist,
    /// creating a new file that must not (temporary files), appending (logs), or reading and
    /// writing (lock files).
    func open(_ path: String, mode: OpenMode) throws(SightlineError) -> OpenFile
    /// Reads up to `buffer.count` bytes at `offset` without moving any shared position;
    /// returns the number read (fewer only at the end of the file; 0 at or past it).
    func read(_ file: OpenFile, into buffer: UnsafeMutableRawBufferPointer, at offset: Int64) throws(SightlineError) -> Int
    /// Writes some of `bytes` at the file's current position (its end, for files opened to
    /// append); returns how many (may be short, never 0 for a non-empty buffer without an
    /// error — ``writeAll(_:_:)`` continues short writes).
    func write(_ file: OpenFile, _ bytes: UnsafeRawBufferPointer) throws(SightlineError) -> Int
    /// The file's size in bytes.
    func size(_ file: OpenFile) throws(SightlineError) -> Int64
    /// Makes every byte written to the file so far durable (fsync).
    func sync(_ file: OpenFile) throws(SightlineError)
    /// Closes the file (releasing its lock, if it holds one). The handle is invalid after,
    /// whether or not it throws.
    func close(_ file: OpenFile) throws(SightlineError)
    /// Renames `from` to `to`, atomically replacing `to` if it exists. Durable only after
    /// ``syncDirectory(_:)``.
    func rename(_ from: String, to: String) throws(SightlineError)
    /// Removes the file (or empty directory) at `path`. Open handles to a file stay
    /// readable until closed (snapshots read segments that compaction has replaced).
    func remove(_ path: String) throws(SightlineError)
    /// Makes a directory's entries (creations, renames, removals) durable.
    func syncDirectory(_ path: String) throws(SightlineError)
    /// Creates the directory at `path`; succeeds if it already exists.
    func createDirectory(_ path: String) throws(SightlineError)
    /// The names in the directory (not paths; without `.` and `..`), sorted.
    func contentsOfDirectory(_ path: String) throws(SightlineError) -> [String]
    /// Cuts the file to `length` bytes (recovery trims a torn log tail).
    func truncate(_ file: OpenFile, to length: Int64) throws(SightlineError)
    /// Takes an exclusive advisory lock (flock) without waiting; throws `storeLocked` when
    /// another open file holds it. Released when the file is closed.
    func lockExclusive(_ file: OpenFile) throws(SightlineError)
    /// Takes an exclusive advisory lock (flock), waiting for other holders (appenders of a
    /// log shared by processes: the audit log).
    func lockWaiting(_ file: OpenFile) throws(SightlineError)
    /// Releases the lock of `lockWaiting`.
    func unlock(_ file: OpenFile) throws(SightlineError)
    /// The permission bits of the file at `path` (`stat`), e.g. 0o600.
    func permissions(_ path: String) throws(SightlineError) -> UInt16
    /// Sets the permission bits of the file at `path` (`chmod`).
    func setPermissions(_ path: String, _ mode: UInt16) throws(SightlineError)
}

extension FileSystem {
    /// Reads exactly `buffer.count` bytes at `offset`, or throws `corruptFile` for a file
    /// that ends early.
    public func readExactly(_ file: OpenFile, into buffer: UnsafeMutableRawBufferPointer, at offset: Int64) throws(SightlineError) {
        var done = 0
        while done < buffer.count {
            let n = try read(file, into: UnsafeMutableRawBufferPointer(rebasing: buffer[done...]), at: offset + Int64(done))
            guard n > 0 else {
                throw .corruptFile(path: file.path, offset: offset + Int64(done), reason: "file ends \(buffer.count - done) bytes early")
            }
            done += n
        }
    }

    /// Writes all of `bytes`, continuing after short writes.
    public func writeAll(_ file: OpenFile, _ bytes: UnsafeRawBufferPointer) throws(SightlineError) {
        var done = 0
        while done < bytes.count {
            let n = try write(file, UnsafeRawBufferPointer(rebasing: bytes[done...]))
            guard n > 0 else { throw .io(operation: "write", path: file.path, errno: EIO) }
            done += n
        }
    }

    /// Creates `path` with the bytes `produce` writes, durably and atomically: a temporary
    /// file in the same directory is written, fsynced and closed, renamed over `path`, and the
    /// directory is fsynced. On any failure the temporary file is removed and `path` is as it was.
    public func writeAtomically(_ path: String,
                                _ produce: (_ write: (UnsafeRawBufferPointer) throws(SightlineError) -> Void) throws(SightlineError) -> Void) throws(SightlineError) {
        let temporary = "\(path).tmp-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        let file = try open(temporary, mode: .createExclusive)
        var closed = false
        do {
            try produce { (bytes: UnsafeRawBufferPointer) throws(SightlineError) in try self.writeAll(file, bytes) }
            try sync(file)
            closed = true
            try close(file)
            try rename(temporary, to: path)
        } catch {
            if !closed { try? close(file) }
            try? remove(temporary)
            throw error
        }
        try syncDirectory(directoryOf(path))
    }

    /// Replaces `path` with `bytes` atomically (`writeAtomically`).
    func replaceAtomically(_ path: String, with bytes: [UInt8]) throws(SightlineError) {
        try writeAtomically(path) { (write: (UnsafeRawBufferPointer) throws(SightlineError) -> Void) throws(SightlineError) in
            try bytes.withUnsafeBytesTyped { raw throws(SightlineError) in try write(raw) }
        }
    }

    /// The whole content of `path`, or nil when there is no such file; a file larger than
    /// `limit` bytes is `corruptFile` (`what` names it), not read.
    func contentsIfPresent(_ path: String, limit: Int = .max, _ what: String = "file") throws(SightlineError) -> [UInt8]? {
        let file: OpenFile
        do {
            file = try open(path, mode: .read)
        } catch {
            if case .io(_, _, let e) = error, e == ENOENT { return nil }
            throw error
        }
        defer { try? close(file) }
        let size = Int(try self.size(file))
        guard size <= limit else { throw .corruptFile(path: path, offset: 0, reason: "\(what) of \(size) bytes") }
        var bytes = [UInt8](repeating: 0, count: size)
        try bytes.withUnsafeMutableBytesTyped { (raw: UnsafeMutableRawBufferPointer) throws(SightlineError) in try readExactly(file, into: raw, at: 0) }
        return bytes
    }
}

/// The directory part of `path` ("." for a bare name).
func directoryOf(_ path: String) -> String {
    guard let slash = path.lastIndex(of: "/") else { return "." }
    return slash == path.startIndex ? "/" : String(path[..<slash])
}

/// The real file system, through POSIX calls. Retries EINTR.
public struct PosixFileSystem: FileSystem {
    /// The file system.
    public init() {}

    @inline(__always)
    private func check(_ result: Int, _ operation: String, _ path: String) throws(SightlineError) -> Int {
        if result < 0 { throw .io(operation: operation, path: path, errno: errno) }
        return result
    }

    /// Opens with `open(2)` (close-on-exec). A file it creates in a private directory — one
    /// that grants others nothing, as a store's does — gets that directory's setting exactly,
    /// whatever the umask (`FileAccess.fileMode(inDirectoryWithMode:)`: 0600, or 0640 in a
    /// directory that admits its group); elsewhere 0644 less the umask, as any program's.
    public func open(_ path: String, mode: OpenMode) throws(SightlineError) -> OpenFile {
        if mode == .read { return try open(path, flags: O_RDONLY | O_CLOEXEC, creating: 0) }
        var directory = stat()
        let exact = stat(directoryOf(path), &directory) == 0
            ? FileAccess.fileMode(inDirectoryWithMode: UInt16(directory.st_mode & 0o7777)) : nil
        let flags: Int32 = switch mode {
        case .read, .createExclusive: O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC
        case .append: O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC
        case .readWriteCreate: O_RDWR | O_CREAT | O_CLOEXEC
        }
        guard let exact else { return try open(path, flags: flags, creating: 0o644) }
        // Created here (O_EXCL) gets its mode set exactly; an existing file is opened as it is.
        let created: OpenFile
        do {
            created = try open(path, flags: flags | O_EXCL, creating: mode_t(exact))
        } catch .io(_, _, let e) where e == EEXIST && mode != .createExclusive {
            return try open(path, flags: flags & ~O_CREAT, creating: 0)
        }
        if fchmod(created.descriptor, mode_t(exact)) != 0 {
            let e = errno
            Glibc.close(created.descriptor)
            throw .io(operation: "fchmod", path: path, errno: e)
        }
        return created
    }

    private func open(_ path: String, flags: Int32, creating mode: mode_t) throws(SightlineError) -> OpenFile {
        while true {
            let fd = Glibc.open(path, flags, mode)
            if fd >= 0 { return OpenFile(descriptor: fd, path: path) }
            if errno != EINTR { throw .io(operation: "open", path: path, errno: errno) }
        }
    }

    /// Reads with `pread(2)`.
    public func read(_ file: OpenFile, into buffer: UnsafeMutableRawBufferPointer, at offset: Int64) throws(SightlineError) -> Int {
        while true {
            let n = pread(file.descriptor, buffer.baseAddress, buffer.count, off_t(offset))
            if n >= 0 { return n }
            if errno != EINTR { throw .io(operation: "read", path: file.path, errno: errno) }
        }
    }

    /// Writes with `write(2)`.
    public func write(_ file: OpenFile, _ bytes: UnsafeRawBufferPointer) throws(SightlineError) -> Int {
        while true {
            let n = Glibc.write(file.descriptor, bytes.baseAddress, bytes.count)
            if n >= 0 { return n }
            if errno != EINTR { throw .io(operation: "write", path: file.path, errno: errno) }
        }
    }

    /// The size from `fstat(2)`.
    public func size(_ file: OpenFile) throws(SightlineError) -> Int64 {
        var st = stat()
        _ = try check(Int(fstat(file.descriptor, &st)), "stat", file.path)
        return Int64(st.st_size)
    }

    /// Flushes with `fsync(2)`.
    public func sync(_ file: OpenFile) throws(SightlineError) {
        _ = try check(Int(fsync(file.descriptor)), "fsync", file.path)
    }

    /// Closes with `close(2)` (never retried on EINTR: the descriptor is gone either way).
    public func close(_ file: OpenFile) throws(SightlineError) {
        // Never retry close on EINTR: the descriptor is gone either way on Linux.
        _ = try check(Int(Glibc.close(file.descriptor)), "close", file.path)
    }

    /// Renames with `rename(2)` (atomic on POSIX file systems).
    public func rename(_ from: String, to: String) throws(SightlineError) {
        _ = try check(Int(Glibc.rename(from, to)), "rename", from)
    }

    /// Removes with `unlink(2)`; an empty directory with `rmdir(2)`.
    public func remove(_ path: String) throws(SightlineError) {
        if unlink(path) == 0 { return }
        guard errno == EISDIR else { throw .io(operation: "unlink", path: path, errno: errno) }
        _ = try check(Int(rmdir(path)), "rmdir", path)
    }

    /// Opens the directory and `fsync(2)`s it.
    public func syncDirectory(_ path: String) throws(SightlineError) {
        let fd = Glibc.open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        _ = try check(Int(fd), "open directory", path)
        defer { Glibc.close(fd) }
        _ = try check(Int(fsync(fd)), "fsync directory", path)
    }

    /// Creates with `mkdir(2)`, mode 0755; an existing directory is fine.
    public func createDirectory(_ path: String) throws(SightlineError) {
        if mkdir(path, 0o755) != 0 && errno != EEXIST { throw .io(operation: "mkdir", path: path, errno: errno) }
    }

    /// Truncates with `ftruncate(2)`.
    public func truncate(_ file: OpenFile, to length: Int64) throws(SightlineError) {
        _ = try check(Int(ftruncate(file.descriptor, off_t(length))), "truncate", file.path)
    }

    /// Locks with `flock(2)`, `LOCK_EX | LOCK_NB`.
    public func lockExclusive(_ file: OpenFile) throws(SightlineError) {
        while flock(file.descriptor, LOCK_EX | LOCK_NB) != 0 {
            if errno == EINTR { continue }
            if errno == EWOULDBLOCK { throw .storeLocked(path: file.path) }
            throw .io(operation: "flock", path: file.path, errno: errno)
        }
    }

    /// Locks with `flock(2)`, `LOCK_EX`, waiting.
    public func lockWaiting(_ file: OpenFile) throws(SightlineError) {
        while flock(file.descriptor, LOCK_EX) != 0 {
            if errno == EINTR { continue }
            throw .io(operation: "flock", path: file.path, errno: errno)
        }
    }

    /// Unlocks with `flock(2)`, `LOCK_UN`.
    public func unlock(_ file: OpenFile) throws(SightlineError) {
        _ = try check(Int(flock(file.descriptor, LOCK_UN)), "flock", file.path)
    }

    /// `stat(2)`'s permission bits.
    public func permissions(_ path: String) throws(SightlineError) -> UInt16 {
        var info = stat()
        _ = try check(Int(stat(path, &info)), "stat", path)
        return UInt16(info.st_mode & 0o7777)
    }

    /// `chmod(2)`.
    public func setPermissions(_ path: String, _ mode: UInt16) throws(SightlineError) {
        _ = try check(Int(chmod(path, mode_t(mode))), "chmod", path)
    }

    /// Lists with `opendir`/`readdir`, sorted.
    public func contentsOfDirectory(_ path: String) throws(SightlineError) -> [String] {
        guard let dir = opendir(path) else { throw .io(operation: "opendir", path: path, errno: errno) }
        defer { closedir(dir) }
        var names: [String] = []
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(cString: raw.baseAddress!.assumingMemoryBound(to: CChar.self))
            }
            if name != "." && name != ".." { names.append(name) }
        }
        return names.sorted()
    }
}
