import Synchronization
import Glibc
@_spi(Benchmarks) @testable import Sightline

/// Wraps the real file system and fails the N-th operation (counting every call) the way a
/// sick disk would: an errno, or a short write. Records the operations it saw.
final class FaultInjectingFileSystem: FileSystem, @unchecked Sendable {
    enum Fault: Sendable, CustomStringConvertible {
        case error(Int32)
        case shortWrite
        var description: String {
            switch self {
            case .error(let e): return "errno \(e)"
            case .shortWrite: return "short write"
            }
        }
    }

    private let real = PosixFileSystem()
    private let state = Mutex<(count: Int, failAt: Int?, fault: Fault, log: [String])>((0, nil, .error(EIO), []))
    /// A one-shot fault for the next `operation` on a path ending in `suffix`.
    private let targeted = Mutex<(operation: String, suffix: String)?>(nil)

    /// Fails the next `operation` ("write", "fsync", "lock", "open", …) on a file whose path
    /// ends in `suffix`, once, with EIO.
    func failNext(_ operation: String, path suffix: String) { targeted.withLock { $0 = (operation, suffix) } }

    /// Microseconds each fsync of a file takes on top of the real one (a slow disk).
    private let syncDelay: UInt32

    init(failAt: Int? = nil, fault: Fault = .error(EIO), syncDelay: UInt32 = 0) {
        self.syncDelay = syncDelay
        state.withLock { $0.failAt = failAt; $0.fault = fault }
    }

    var operations: [String] { state.withLock { $0.log } }

    /// Counts the operation; returns the fault to inject now, if any.
    private func tick(_ name: String, _ path: String = "") -> Fault? {
        let hit = targeted.withLock { t -> Bool in
            guard let target = t, target.operation == name, path.hasSuffix(target.suffix) else { return false }
            t = nil
            return true
        }
        if hit { return .error(EIO) }
        return state.withLock { s in
            defer { s.count += 1 }
            s.log.append(name)
            return s.count == s.failAt ? s.fault : nil
        }
    }

    private func check(_ name: String, _ path: String) throws(SightlineError) {
        if case .error(let e) = tick(name, path) { throw .io(operation: name, path: path, errno: e) }
    }

    func open(_ path: String, mode: OpenMode) throws(SightlineError) -> OpenFile {
        try check("open", path); return try real.open(path, mode: mode)
    }
    func read(_ file: OpenFile, into buffer: UnsafeMutableRawBufferPointer, at offset: Int64) throws(SightlineError) -> Int {
        try check("read", file.path); return try real.read(file, into: buffer, at: offset)
    }
    func write(_ file: OpenFile, _ bytes: UnsafeRawBufferPointer) throws(SightlineError) -> Int {
        switch tick("write", file.path) {
        case .error(let e)?: throw .io(operation: "write", path: file.path, errno: e)
        case .shortWrite?: return try real.write(file, UnsafeRawBufferPointer(rebasing: bytes[..<min(bytes.count, 7)]))
        case nil: return try real.write(file, bytes)
        }
    }
    func size(_ file: OpenFile) throws(SightlineError) -> Int64 { try check("size", file.path); return try real.size(file) }
    func sync(_ file: OpenFile) throws(SightlineError) {
        try check("fsync", file.path)
        if syncDelay > 0 { usleep(syncDelay) }
        try real.sync(file)
    }
    func close(_ file: OpenFile) throws(SightlineError) {
        // A failed close still releases the descriptor, as on Linux.
        if case .error(let e) = tick("close") { try? real.close(file); throw .io(operation: "close", path: file.path, errno: e) }
        try real.close(file)
    }
    func rename(_ from: String, to: String) throws(SightlineError) { try check("rename", from); try real.rename(from, to: to) }
    func remove(_ path: String) throws(SightlineError) { try check("remove", path); try real.remove(path) }
    func syncDirectory(_ path: String) throws(SightlineError) { try check("fsync directory", path); try real.syncDirectory(path) }
    func createDirectory(_ path: String) throws(SightlineError) { try check("mkdir", path); try real.createDirectory(path) }
    func contentsOfDirectory(_ path: String) throws(SightlineError) -> [String] { try check("list", path); return try real.contentsOfDirectory(path) }
    func truncate(_ file: OpenFile, to length: Int64) throws(SightlineError) { try check("truncate", file.path); try real.truncate(file, to: length) }
    func lockExclusive(_ file: OpenFile) throws(SightlineError) { try check("lock", file.path); try real.lockExclusive(file) }
    func lockWaiting(_ file: OpenFile) throws(SightlineError) { try check("lock", file.path); try real.lockWaiting(file) }
    func unlock(_ file: OpenFile) throws(SightlineError) { try check("unlock", file.path); try real.unlock(file) }
    func permissions(_ path: String) throws(SightlineError) -> UInt16 { try check("stat", path); return try real.permissions(path) }
    func setPermissions(_ path: String, _ mode: UInt16) throws(SightlineError) { try check("chmod", path); try real.setPermissions(path, mode) }
}

/// A fresh empty directory under /tmp, removed by the caller with `removeTree`.
func temporaryDirectory(_ name: String) -> String {
    let path = "/tmp/sightline-tests-\(getpid())-\(name)-\(UInt32.random(in: 0...UInt32.max))"
    mkdir(path, 0o755)
    return path
}

func removeTree(_ path: String) {
    if let names = try? PosixFileSystem().contentsOfDirectory(path) {
        for n in names { unlink("\(path)/\(n)") }
    }
    rmdir(path)
}
