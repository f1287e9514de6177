#if canImport(Glibc)
import Glibc
#endif
import Crypto

/// Appends checksummed records to a write-ahead log file, with group commit.
///
/// Appending is two steps so that concurrent appenders share writes and fsyncs: `enqueue`
/// encodes a record into the pending bytes and gives it the next sequence number (cheap, in
/// the caller's critical section, so sequence order is the caller's order); `commit(through:)`
/// returns once that record is written and as durable as the mode promises. The first
/// committer to get the commit lock writes every pending record with one `write` and one
/// fsync; the ones queued behind it find their records already durable. After a failed
/// write the writer refuses everything — a partial record may be on disk, and only recovery
/// (`LogReader` + truncate) may decide what the file holds.
package final class LogWriter: Sendable {
    let path: String
    private let fileSystem: any FileSystem
    private let file: OpenFile
    private let durability: Durability
    /// Seals each record's payload (a sealed, version-2 log); nil: in clear.
    private let sealer: RecordSealer?

    private struct Pending {
        var bytes = ByteWriter(capacity: 1 << 20)
        /// A sealed log's record payload before sealing (reused).
        var plain = ByteWriter()
        var nextSequence: UInt64
        var failed: SightlineError?
    }

    private struct Committed {
        /// Records below this sequence are written (and synced per the mode).
        var through: UInt64
        var lastSync: UInt64 = LogWriter.nowMilliseconds()
        /// Spare buffer swapped with the pending one, so neither reallocates.
        var spare = ByteWriter(capacity: 1 << 20)
        /// A committer is writing (outside the lock); the others wait for it.
        var leaderActive = false
        /// The failure that stopped the log.
        var failed: SightlineError?
    }

    private let pending: Locked<Pending>
    private let committed: Locked<Committed>

    /// Creates a new log at `path` whose first record will have `firstSequence`, its records
    /// sealed under the data key `sealing` when given (a version-2 log). The header is
    /// fsynced and the directory entry made durable before this returns.
    package static func create(_ path: String, firstSequence: UInt64, durability: Durability,
                               sealing: (id: [UInt8], key: SymmetricKey)? = nil,
                               fileSystem: any FileSystem) throws(SightlineError) -> LogWriter {
        let sealer = sealing.map { RecordSealer(keyID: $0.id, dataKey: $0.key) }
        let file = try fileSystem.open(path, mode: .createExclusive)
        do {
            let header = LogFormat.header(sealer: sealer)
            try header.withUnsafeBytesTyped { (raw: UnsafeRawBufferPointer) throws(SightlineError) in try fileSystem.writeAll(file, raw) }
            try fileSystem.sync(file)
            try fileSystem.syncDirectory(directoryOf(path))
        } catch {
            try? fileSystem.close(file)
            try? fileSystem.remove(path)
            throw error
        }
        return LogWriter(path: path, file: file, nextSequence: firstSequence, durability: durability, sealer: sealer, fileSystem: fileSystem)
    }

    /// Continues an existing log in clear (version 1) whose valid records end at
    /// `validLength` (from `LogReader`): a torn tail past it is cut off first. A store never
    /// continues a log (it starts a new one at open); this is for tools and tests.
    package static func reopen(_ path: String, validLength: Int64, nextSequence: UInt64, durability: Durability,
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
        return LogWriter(path: path, file: file, nextSequence: nextSequence, durability: durability, sealer: nil, fileSystem: fileSystem)
    }

    private init(path: String, file: OpenFile, nextSequence: UInt64, durability: Durability, sealer: RecordSealer?, fileSystem: any FileSystem) {
        self.path = path
        self.sealer = sealer
        self.file = file
        self.durability = durability
        self.fileSystem = fileSystem
        pending = Locked(Pending(nextSequence: nextSequence))
        committed = Locked(Committed(through: nextSequence))
    }

    /// The sequence the next enqueued record gets.
    package var nextSequence: UInt64 { pending.withLock { $0.nextSequence } }

    deinit { try? fileSystem.close(file) }

    /// Appends one record holding `batch` and commits it: returns its sequence number once
    /// it is as durable as the durability mode promises.
    @discardableResult
    package func append(_ batch: SightingBatch) throws(SightlineError) -> UInt64 {
        let sequence = try enqueue(batch)
        try commit(through: sequence)
        return sequence
    }

    /// Encodes a record holding `batch` into the pending bytes; returns its sequence number.
    /// Nothing is written yet: `commit(through:)` does that.
    func enqueue(_ batch: SightingBatch) throws(SightlineError) -> UInt64 {
        try pending.withLock { (p: inout Pending) throws(SightlineError) -> UInt64 in
            if let failed = p.failed { throw failed }
            let start = p.bytes.count
            p.bytes.append(littleEndian: UInt32(0))  // payload length, patched below
            p.bytes.append(littleEndian: UInt32(0))  // crc, patched below
            p.bytes.append(littleEndian: p.nextSequence)
            if let sealer {
                var plain = ByteWriter()
                swap(&plain, &p.plain)
                defer { swap(&plain, &p.plain) }
                plain.removeAll()
                BatchCodec.encode(batch, into: &plain)
                var sealed = ByteWriter()
                swap(&sealed, &p.bytes)
                defer { swap(&sealed, &p.bytes) }
                let sequence = p.nextSequence
                do throws(SightlineError) {
                    try plain.bytes.withUnsafeBytesTyped { (raw: UnsafeRawBufferPointer) throws(SightlineError) in
                        try sealer.seal(raw, sequence: sequence, into: &sealed)
                    }
                } catch {
                    sealed.bytes.removeSubrange(start...)
                    throw error
                }
            } else {
                BatchCodec.encode(batch, into: &p.bytes)
            }
            let payloadLength = p.bytes.count - start - LogFormat.recordHeaderSize
            guard payloadLength <= LogFormat.maximumPayload else {
                p.bytes.bytes.removeSubrange(start...)
                throw .invalidArgument("a batch of \(batch.count) rows encodes to \(payloadLength) bytes; the most a record holds is \(LogFormat.maximumPayload)")
            }
            p.bytes.patch(littleEndian: UInt32(payloadLength), at: start)
            let crc = p.bytes.bytes.withUnsafeBytes { CRC32C.checksum(UnsafeRawBufferPointer(rebasing: $0[(start + 8)...])) }
            p.bytes.patch(littleEndian: crc, at: start + 4)
            defer { p.nextSequence += 1 }
            return p.nextSequence
        }
    }

    /// Returns once the record `sequence` (and every earlier one) is written and synced as
    /// the durability mode promises. Group commit: one committer at a time is the leader and
    /// writes every pending record with one write and one fsync, outside the lock; the others
    /// wait on a condition and are all woken at once when their records are durable (waiting
    /// on the leader's mutex instead would wake them one by one, each becoming the leader of
    /// a tiny batch).
    func commit(through sequence: UInt64, forceSync: Bool = false) throws(SightlineError) {
        let lead = try committed.withLock(waitingUntil: { c in
            !c.leaderActive || c.failed != nil || (!forceSync && c.through > sequence)
        }) { (c: inout Committed) throws(SightlineError) -> (ByteWriter, UInt64)? in
            if let failed = c.failed { throw failed }
            if !forceSync && c.through > sequence { return nil }
            c.leaderActive = true
            var taken = ByteWriter()
            swap(&taken, &c.spare)
            return (taken, c.lastSync)
        }
        guard var (taken, lastSync) = lead else { return }
        var end: UInt64 = 0
        var outcome: SightlineError?
        do throws(SightlineError) {
            // Take everything pending now: later records ride along for free.
            end = try pending.withLock { (p: inout Pending) throws(SightlineError) -> UInt64 in
                if let failed = p.failed { throw failed }
                swap(&taken, &p.bytes)
                return p.nextSequence
            }
            if taken.count > 0 {
                try taken.bytes.withUnsafeBytesTyped { (raw: UnsafeRawBufferPointer) throws(SightlineError) in try fileSystem.writeAll(file, raw) }
            }
            let now = Self.nowMilliseconds()
            let due: Bool = switch durability {
            case .everyBatch: taken.count > 0
            case .periodic(let interval): now &- lastSync >= UInt64(max(0, interval.milliseconds))
            case .none: false
            }
            if forceSync || due {
                try fileSystem.sync(file)
                lastSync = now
            }
        } catch {
            outcome = error
            pending.withLock { $0.failed = error }
        }
        committed.withLock { (c: inout Committed) in
            c.leaderActive = false
            if let outcome {
                c.failed = outcome
            } else {
                c.through = max(c.through, end)
                c.lastSync = lastSync
                taken.removeAll()
                c.spare = taken
            }
        }
        committed.broadcast()
        if let outcome { throw outcome }
    }

    /// Writes what is pending and fsyncs now (before a flush, at close).
    func sync() throws(SightlineError) {
        try commit(through: nextSequence, forceSync: true)
    }

    static func nowMilliseconds() -> UInt64 {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return UInt64(ts.tv_sec) * 1000 + UInt64(ts.tv_nsec) / 1_000_000
    }
}
