/// Appends records to a store's audit log from any number of processes: each append takes
/// the file's lock, finds the last record (from the end of the file: its trailing length),
/// chains the new record to it, writes and fsyncs it, then releases the lock — so the
/// caller's answer is returned only after its record is durable.
///
/// A torn last record (a write cut short by a crash before its fsync returned, so no answer
/// depended on it) is cut off before the next append. A whole but damaged record is not
/// repaired: appends (and so audited reads) fail with `corruptFile` until someone looks
/// (`sightline audit verify`).
final class AuditLogWriter: Sendable {
    let path: String
    let fileSystem: any FileSystem
    /// fsync each record (false only for a store that never syncs).
    let sync: Bool
    /// The keyring whose entry for this store keeps the log's head (`AuditHeadFile`),
    /// advanced after each append; nil: none.
    let keyring: Keyring?

    private struct State {
        var file: OpenFile?
        /// The file's size after our last append, and that record's sequence and hash:
        /// while the size is unchanged no other process appended, and the tail need not be read.
        var end: Int64 = -1
        var last: (sequence: UInt64, hash: [UInt8]) = (0, AuditLogFormat.genesis)
        /// The keyring's head file, found at the first append (a new store names its id
        /// only after its writer is made); `.some(nil)`: the store has no entry.
        var headPath: String??
    }
    private let state = Locked(State())

    /// `keyring`: the keyring whose entry for the store keeps the log's head (nil: none).
    init(directory: String, sync: Bool, keyring: Keyring? = nil, fileSystem: any FileSystem) {
        path = "\(directory)/\(AuditLogFormat.fileName)"
        self.sync = sync
        self.keyring = keyring
        self.fileSystem = fileSystem
    }

    /// Appends `record` with the next sequence and `time`; returns it as logged.
    func append(_ record: AuditRecord, time: Int64) throws(SightlineError) -> AuditRecord {
        try state.withLock { (s: inout State) throws(SightlineError) -> AuditRecord in
            if s.file == nil { s.file = try fileSystem.open(path, mode: .append) }
            let file = s.file!
            do throws(SightlineError) {
                try fileSystem.lockWaiting(file)
                defer { try? fileSystem.unlock(file) }
                let size = try fileSystem.size(file)
                if size == 0 {
                    // In a store open to its group, the group's readers append their records too.
                    if let mode = try? fileSystem.permissions(directoryOf(path)), mode & 0o007 == 0, FileAccess(directoryMode: mode) == .group {
                        try? fileSystem.setPermissions(path, FileAccess.group.auditLogMode)
                    }
                    try AuditLogFormat.header().withUnsafeBytesTyped { (raw: UnsafeRawBufferPointer) throws(SightlineError) in try fileSystem.writeAll(file, raw) }
                    try fileSystem.sync(file)
                    try fileSystem.syncDirectory(directoryOf(path))
                    s.end = Int64(AuditLogFormat.headerSize)
                    s.last = (0, AuditLogFormat.genesis)
                } else if size != s.end {
                    (s.end, s.last) = try findTail(file, size: size)
                }
                var logged = record
                guard s.last.sequence < .max else {
                    throw .corruptFile(path: path, offset: s.end, reason: "the last record's sequence is the largest there can be")
                }
                logged.sequence = s.last.sequence + 1
                logged.time = time
                let (bytes, hash) = AuditLogFormat.record(body: AuditLogFormat.body(logged), previous: s.last.hash)
                try bytes.withUnsafeBytesTyped { (raw: UnsafeRawBufferPointer) throws(SightlineError) in try fileSystem.writeAll(file, raw) }
                if sync { try fileSystem.sync(file) }
                s.end += Int64(bytes.count)
                s.last = (logged.sequence, hash)
                // Still under the log's lock, so the keyring's head never goes back. Best
                // effort: a reader that may not write the keyring still reads.
                if s.headPath == nil {
                    s.headPath = .some(keyring.flatMap { AuditHeadFile.path(directory: directoryOf(path), keyring: $0, fileSystem: fileSystem) })
                }
                if let headPath = s.headPath! {
                    try? AuditHeadFile.advance(headPath, records: logged.sequence, head: hexString(hash), fileSystem: fileSystem)
                }
                return logged
            } catch {
                // Whatever reached the file, the next append reads the tail afresh.
                try? fileSystem.close(file)
                s.file = nil
                s.end = -1
                throw error
            }
        }
    }

    /// The end of the last whole record and its sequence and hash. Reads the last record
    /// through its trailing length; when that fails, walks the file from the start, cuts off
    /// a torn tail, and refuses a damaged record.
    private func findTail(_ file: OpenFile, size: Int64) throws(SightlineError) -> (Int64, (sequence: UInt64, hash: [UInt8])) {
        let header = Int64(AuditLogFormat.headerSize)
        if size == header { return (header, (0, AuditLogFormat.genesis)) }
        let reader = try fileSystem.open(path, mode: .read)
        defer { try? fileSystem.close(reader) }
        if size >= header + Int64(AuditLogFormat.frameSize) {
            var trailer = [UInt8](repeating: 0, count: 8)
            try trailer.withUnsafeMutableBytesTyped { (raw: UnsafeMutableRawBufferPointer) throws(SightlineError) in try fileSystem.readExactly(reader, into: raw, at: size - 8) }
            let bodyLength = Int64(trailer.withUnsafeBytes { $0.loadUnaligned(as: UInt32.self).littleEndian })
            let length = Int64(AuditLogFormat.frameSize) + bodyLength
            if bodyLength <= Int64(AuditLogFormat.maximumBody) && size - length >= header {
                var bytes = [UInt8](repeating: 0, count: Int(length))
                try bytes.withUnsafeMutableBytesTyped { (raw: UnsafeMutableRawBufferPointer) throws(SightlineError) in try fileSystem.readExactly(reader, into: raw, at: size - length) }
                if let e = try? bytes.withUnsafeBytesTyped({ (raw: UnsafeRawBufferPointer) throws(SightlineError) in try AuditLogFormat.entry(raw, at: 0, path: path) }) ?? nil {
                    return (size, (e.record.sequence, e.hash))
                }
            }
        }
        // The end is not a whole record: walk from the start.
        guard let all = try fileSystem.contentsIfPresent(path, limit: .max, "audit log") else { throw .io(operation: "open", path: path, errno: 2) }
        var end = Int(header), last: (sequence: UInt64, hash: [UInt8]) = (0, AuditLogFormat.genesis)
        try all.withUnsafeBytesTyped { (raw: UnsafeRawBufferPointer) throws(SightlineError) in
            try AuditLogFormat.checkHeader(raw, path: path)
            while let e = try AuditLogFormat.entry(raw, at: end, path: path) {
                end += e.length
                last = (e.record.sequence, e.hash)
            }
        }
        try fileSystem.truncate(file, to: Int64(end))
        try fileSystem.sync(file)
        return (Int64(end), last)
    }

    func close() {
        state.withLock { s in
            if let f = s.file { try? fileSystem.close(f) }
            s.file = nil
            s.end = -1
        }
    }
}
