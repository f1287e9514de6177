#if canImport(Glibc)
import Glibc
#endif

/// Appends checksummed records to a write-ahead log file.
///
/// Not thread-safe: the store serializes appends (and batches them: group commit). After a
/// failed write the writer refuses further appends — a partial record may be on disk, and
/// only recovery (`LogReader` + truncate) may decide what the file holds.
final class LogWriter {
    let path: String
    private let fileSystem: any FileSystem
    private let file: FileHandle
    private let durability: Durability
    private var record = ByteWriter(capacity: 1 << 20)
    private(set) var nextSequence: UInt64
    private var lastSync: UInt64 = LogWriter.nowMilliseconds()
    private var failed: SightlineError?

    /// Creates a new log at `path` whose first record will have `firstSequence`. The header
    /// is fsynced and the directory entry made durable before this returns.
    static func create(_ path: String, firstSequence: UInt64, durability: Durability,
                       fileSystem: any FileSystem) throws(SightlineError) -> LogWriter {
        let file = try fileSystem.open(path, mode: .createExclusive)
        do {
            var header = ByteWriter()
            header.append(contentsOf: LogFormat.magic)
            header.append(littleEndian: LogFormat.version)
            header.append(littleEndian: header.bytes.withUnsafeBytes { CRC32C.checksum($0) })
            try header.bytes.withUnsafeBytesTyped { (raw: UnsafeRawBufferPointer) throws(SightlineError) in try fileSystem.writeAll(file, raw) }
            try fileSystem.sync(file)
            try fileSystem.syncDirectory(directoryOf(path))
        } catch {
            try? fileSystem.close(file)
            try? fileSystem.remove(path)
            throw error
        }
        return LogWriter(path: path, file: file, nextSequence: firstSequence, durability: durability, fileSystem: fileSystem)
    }

    /// Continues an existing log whose valid records end at `validLength` (from `LogReader`):
    /// a torn tail past it is cut off first.
    static func reopen(_ path: String, validLength: Int64, nextSequence: UInt64, durability: Durability,
                       fileSystem: any FileSystem) throws(SightlineError) -> LogWriter {
        let file = try fileSystem.open(path, mode: .append)
        do {
            if try fileSystem.size(file) != validLength {
                try fileSystem.truncate(file, to: validLength)
                try fileSystem.sync(file)
            }
        } catch {
            try? fileSystem.close(file)
            throw error
        }
        return LogWriter(path: path, file: file, nextSequence: nextSequence, durability: durability, fileSystem: fileSystem)
    }

    private init(path: String, file: FileHandle, nextSequence: UInt64, durability: Durability, fileSystem: any FileSystem) {
        self.path = path
        self.file = file
        self.nextSequence = nextSequence
        self.durability = durability
        self.fileSystem = fileSystem
    }

    deinit { try? fileSystem.close(file) }

    /// Appends one record holding `batch`; returns its sequence number once it is as durable
    /// as the durability mode promises.
    @discardableResult
    func append(_ batch: SightingBatch) throws(SightlineError) -> UInt64 {
        if let failed { throw failed }
        record.removeAll()
        record.append(littleEndian: UInt32(0))  // payload length, patched below
        record.append(littleEndian: UInt32(0))  // crc, patched below
        record.append(littleEndian: nextSequence)
        BatchCodec.encode(batch, into: &record)
        let payloadLength = record.count - LogFormat.recordHeaderSize
        guard payloadLength <= LogFormat.maximumPayload else {
            throw .invalidArgument("a batch of \(batch.count) rows encodes to \(payloadLength) bytes; the most a record holds is \(LogFormat.maximumPayload)")
        }
        record.patch(littleEndian: UInt32(payloadLength), at: 0)
        let crc = record.bytes.withUnsafeBytes { CRC32C.checksum(UnsafeRawBufferPointer(rebasing: $0[8...])) }
        record.patch(littleEndian: crc, at: 4)
        do {
            try record.bytes.withUnsafeBytesTyped { (raw: UnsafeRawBufferPointer) throws(SightlineError) in try fileSystem.writeAll(file, raw) }
            try syncIfDue()
        } catch {
            failed = error
            throw error
        }
        defer { nextSequence += 1 }
        return nextSequence
    }

    /// fsyncs now (flush, close, the periodic timer).
    func sync() throws(SightlineError) {
        if let failed { throw failed }
        do {
            try fileSystem.sync(file)
            lastSync = Self.nowMilliseconds()
        } catch {
            failed = error
            throw error
        }
    }

    private func syncIfDue() throws(SightlineError) {
        switch durability {
        case .everyBatch:
            try fileSystem.sync(file)
        case .periodic(let interval):
            let now = Self.nowMilliseconds()
            if now &- lastSync >= UInt64(max(0, interval)) {
                try fileSystem.sync(file)
                lastSync = now
            }
        case .none:
            break
        }
    }

    static func nowMilliseconds() -> UInt64 {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return UInt64(ts.tv_sec) * 1000 + UInt64(ts.tv_nsec) / 1_000_000
    }
}
