#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Crypto

/// Backups of a store as generations in a backup directory (Docs/format.md, "Backup
/// directory"): `take` adds an online, consistent copy of a store — running or not — in which
/// immutable segments are copied once and shared by every generation that holds them, and the
/// write-ahead logs are cut to their last whole record; `generations` lists them; `restore`
/// brings one back into a new directory.
///
/// A backup holds no key: a store that seals its files is backed up sealed, and opens only
/// with its keyring, as it is at the time of the restore — so what a later purge or retention
/// run destroyed stays unreadable in every earlier generation (a restore of such a generation
/// names each file it can no longer open), while a generation taken before a compaction
/// restores whole. (A store made before keyrings that keeps its plate-key secret inside its
/// directory has it copied too: `Generation.holdsPlateKeySecret` says so.)
public enum StoreBackup {
    /// One generation of a backup.
    public struct Generation: Sendable, Hashable {
        /// 1, 2, … in the order taken.
        public var number: Int
        /// When it was taken (epoch milliseconds).
        public var takenAt: Int64
        /// The store's id (`STORE-ID`), or "-" for a store made before ids.
        public var storeID: String
        /// Segments in it.
        public var segments: Int
        /// Rows in its segments (its write-ahead logs hold more, replayed at open).
        public var rows: Int
        /// Bytes of its segments (copied or shared).
        public var segmentBytes: Int64
        /// Bytes of the other files (logs, alerts, audit, policy files).
        public var otherBytes: Int64
        /// Segment bytes this generation copied (the rest it shares with earlier ones).
        public var newSegmentBytes: Int64
        /// Whether the store kept its plate-key secret in its directory (so this generation holds it).
        public var holdsPlateKeySecret: Bool
    }

    static let markerName = "BACKUP"
    static let markerHeader = "sightline backup v1"
    static let segmentsFolder = "segments"
    static let generationsFolder = "generations"
    static let generationFile = "GENERATION"
    static let generationHeader = "sightline backup generation v1"
    /// Files of a store never copied: its lock, its control socket, a pending shred (a restored
    /// copy must not destroy keys its original still uses), temporary files.
    static let skipped: Set<String> = [StoreLock.fileName, ControlServer.fileName, Store.shredPendingFileName]
    static let maximumAttempts = 20

    // MARK: Taking

    /// Adds a generation of the store at `store` to the backup directory `backup` (created
    /// when missing, 0700). Reads the store only, so its owner keeps running: the segments of
    /// one manifest, the logs from that manifest's persisted sequence on (each cut to its last
    /// whole record — a whole-batch prefix of an ingest under way), and every other file of
    /// the store. Retries when the owner replaced what it was copying.
    public static func take(of store: String, into backup: String, clock: @Sendable () -> Int64 = StoreOptions.systemTime,
                            fileSystem: any FileSystem = PosixFileSystem()) throws(SightlineError) -> Generation {
        let storeID = try StoreIdentity.read(directory: store, fileSystem: fileSystem)?.hex ?? "-"
        try prepare(backup, storeID: storeID, fileSystem: fileSystem)
        let existing = try generationNumbers(in: backup, fileSystem: fileSystem)
        let number = (existing.last ?? 0) + 1
        let final = "\(backup)/\(generationsFolder)/\(pad(number))"
        var lastError: SightlineError?
        for _ in 0..<maximumAttempts {
            let staging = "\(final).tmp-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
            do throws(SightlineError) {
                var generation = try copy(store, storeID: storeID, into: staging, pool: "\(backup)/\(segmentsFolder)",
                                          number: number, takenAt: clock(), fileSystem: fileSystem)
                try fileSystem.syncDirectory("\(backup)/\(segmentsFolder)")
                try fileSystem.syncDirectory(staging)
                try fileSystem.rename(staging, to: final)
                try fileSystem.syncDirectory("\(backup)/\(generationsFolder)")
                generation.number = number
                return generation
            } catch {
                removeTree(staging, fileSystem: fileSystem)
                // The owner removed a file meanwhile (a flush, a compaction): take it again.
                guard case .io(_, _, let e) = error, e == ENOENT || e == ESTALE else {
                    if case .invalidArgument(let m) = error, m.hasPrefix(retryMark) { lastError = error; continue }
                    throw error
                }
                lastError = error
            }
        }
        throw lastError ?? .invalidArgument("\(store): the owner changed the store \(maximumAttempts) times during one backup")
    }

    private static let retryMark = "backup: the store changed"

    /// Copies one consistent state of `store` into the new directory `staging`.
    private static func copy(_ store: String, storeID: String, into staging: String, pool: String, number: Int, takenAt: Int64,
                             fileSystem: any FileSystem) throws(SightlineError) -> Generation {
        let manifest = try Manifest.read(directory: store, fileSystem: fileSystem)
        try Keyring.createPrivateDirectory(staging, fileSystem: fileSystem)
        var generation = Generation(number: number, takenAt: takenAt, storeID: storeID, segments: manifest.segments.count,
                                    rows: manifest.segments.reduce(0) { $0 + $1.rowCount }, segmentBytes: 0, otherBytes: 0,
                                    newSegmentBytes: 0, holdsPlateKeySecret: false)
        var lines = [generationHeader, "store \(storeID)", "taken \(takenAt)", "manifest \(manifest.generation)"]
        // Logs first: every record from the manifest's persisted sequence on must be in them.
        let names = try fileSystem.contentsOfDirectory(store).sorted()
        let logs = try Store.logFiles(in: store, fileSystem: fileSystem)
        if let first = logs.first, first.0 > manifest.persistedSequence {
            throw .invalidArgument("\(retryMark): its log from \(manifest.persistedSequence) was flushed")
        }
        var files: [(String, Int64)] = []
        for (_, name) in logs {
            let bytes = try read("\(store)/\(name)", fileSystem: fileSystem)
            let valid = Array(bytes.prefix(LogFormat.validPrefix(bytes)))
            try write("\(staging)/\(name)", valid, fileSystem: fileSystem)
            files.append((name, Int64(valid.count)))
        }
        // The segments of the manifest, each copied once into the shared pool.
        for s in manifest.segments {
            let source = "\(store)/\(s.name)"
            let pooled = "\(s.name.dropLast(4))-\(try fingerprint(source, fileSystem: fileSystem)).sls"
            let target = "\(pool)/\(pooled)"
            if try size(target, fileSystem: fileSystem) != Int64(s.fileBytes) {
                try copyFile(source, to: target, fileSystem: fileSystem)
                generation.newSegmentBytes += Int64(s.fileBytes)
            }
            generation.segmentBytes += Int64(s.fileBytes)
            lines.append("segment \(s.name) \(pooled) \(s.fileBytes)")
        }
        // Every other file; the manifest last read is the one whose segments were copied.
        for name in names where !skipped.contains(name) && !name.contains(".tmp-") && !name.hasSuffix(".sls")
            && !(name.hasPrefix("log-") && name.hasSuffix(".log")) && name != Manifest.fileName {
            let bytes: [UInt8]
            do { bytes = try read("\(store)/\(name)", fileSystem: fileSystem) } catch .io(_, _, let e) where e == ENXIO || e == EISDIR {
                continue  // not a regular file
            }
            try write("\(staging)/\(name)", bytes, fileSystem: fileSystem)
            files.append((name, Int64(bytes.count)))
            if name == Store.secretFileName { generation.holdsPlateKeySecret = true }
        }
        let manifestBytes = manifest.encoded()
        try write("\(staging)/\(Manifest.fileName)", manifestBytes, fileSystem: fileSystem)
        files.append((Manifest.fileName, Int64(manifestBytes.count)))
        for (name, bytes) in files {
            lines.append("file \(name) \(bytes)")
            generation.otherBytes += bytes
        }
        let body = Array((lines.joined(separator: "\n") + "\n").utf8)
        try write("\(staging)/\(generationFile)", body + Array((RulesFile.checksumLine(body.withUnsafeBytes { CRC32C.checksum($0) }) + "\n").utf8),
                  fileSystem: fileSystem)
        return generation
    }

    // MARK: Listing

    /// The generations in `backup`, oldest first.
    public static func generations(in backup: String, fileSystem: any FileSystem = PosixFileSystem()) throws(SightlineError) -> [Generation] {
        try checkMarker(backup, fileSystem: fileSystem)
        var out: [Generation] = []
        var pooled: Set<String> = []
        for number in try generationNumbers(in: backup, fileSystem: fileSystem) {
            let (generation, segments, _) = try readGeneration(backup, number, fileSystem: fileSystem)
            var g = generation
            // What this generation copied: the pool files no earlier generation names.
            g.newSegmentBytes = segments.filter { !pooled.contains($0.pooled) }.reduce(0) { $0 + $1.bytes }
            pooled.formUnion(segments.map(\.pooled))
            out.append(g)
        }
        return out
    }

    // MARK: Restoring

    /// Restores generation `number` of `backup` (the latest when nil) into `store`, a
    /// directory that must not exist or be empty: every file is copied and fsynced (created
    /// owner-only), the manifest last, so a crash leaves no half-restored store that opens.
    /// The restore is then recorded in the restored store's audit log on behalf of `access`
    /// (at `clock`'s time) and in the store's entry in `keyring`, whose head of the audit log
    /// goes back with it (so `AuditLog.verify` names the restore instead of a cut). Returns
    /// the generation restored. Opening the store needs its
    /// keyring as it is now (a backup holds no key): a
    /// segment or log whose data key a later deletion destroyed no longer opens (`Store.verify`
    /// names each).
    @discardableResult
    public static func restore(from backup: String, generation number: Int? = nil, to store: String,
                               access: AccessContext = .unattributed, keyring: Keyring = .standard,
                               clock: @Sendable () -> Int64 = StoreOptions.systemTime,
                               fileSystem: any FileSystem = PosixFileSystem()) throws(SightlineError) -> Generation {
        try checkMarker(backup, fileSystem: fileSystem)
        let numbers = try generationNumbers(in: backup, fileSystem: fileSystem)
        guard let chosen = number ?? numbers.last else { throw .invalidArgument("\(backup): the backup has no generation") }
        guard numbers.contains(chosen) else {
            throw .invalidArgument("\(backup): no generation \(chosen) (there are \(numbers.map(String.init).joined(separator: ", ")))")
        }
        let (generation, segments, files) = try readGeneration(backup, chosen, fileSystem: fileSystem)
        let present: [String]
        do throws(SightlineError) { present = try fileSystem.contentsOfDirectory(store) } catch .io(_, _, let e) where e == ENOENT {
            present = []
            try fileSystem.createDirectory(store)
        }
        guard present.isEmpty else { throw .invalidArgument("\(store) exists and is not empty: restore into a new directory") }
        try fileSystem.setPermissions(store, FileAccess.owner.directoryMode)
        let source = "\(backup)/\(generationsFolder)/\(pad(chosen))"
        for (name, pooled, _) in segments { try copyFile("\(backup)/\(segmentsFolder)/\(pooled)", to: "\(store)/\(name)", fileSystem: fileSystem) }
        for name in files where name != Manifest.fileName { try copyFile("\(source)/\(name)", to: "\(store)/\(name)", fileSystem: fileSystem) }
        try fileSystem.syncDirectory(store)
        try copyFile("\(source)/\(Manifest.fileName)", to: "\(store)/\(Manifest.fileName)", fileSystem: fileSystem)
        try fileSystem.syncDirectory(store)
        // Recorded where auditors look: the restored store's own audit log (appended without
        // opening a segment, so it is recorded even when some no longer open), and the keyring,
        // whose head of the audit log goes back with it: `audit verify` names the restore.
        let headPath = AuditHeadFile.path(directory: store, keyring: keyring, fileSystem: fileSystem)
        let lastSeen = headPath.flatMap { try? AuditHeadFile.read($0, fileSystem: fileSystem).get() }
        let restoredHead = try AuditLog.anchor(directory: store, fileSystem: fileSystem)
        let now = clock()
        _ = try AuditLogWriter(directory: store, sync: true, keyring: keyring, fileSystem: fileSystem).append(
            AuditRecord(access: access, operation: "restore", query: "restore generation=\(chosen) taken=\(generation.takenAt)",
                        rows: Int64(generation.rows), plates: 0, outcome: .answered,
                        detail: "restored from \(backup): generation \(chosen) of \(numbers.count), taken at \(generation.takenAt)"
                            + (lastSeen.map { "; the audit log had reached record \($0.records)" } ?? "")),
            time: now)
        if let headPath {
            let after = try AuditLog.anchor(directory: store, fileSystem: fileSystem)
            try AuditHeadFile.recordRestore(.init(time: now, generation: chosen, from: lastSeen ?? restoredHead, to: after),
                                            entry: directoryOf(headPath), fileSystem: fileSystem)
        }
        return generation
    }

    // MARK: Files

    /// Creates `backup` (and its folders) or checks that it is a backup of this store.
    private static func prepare(_ backup: String, storeID: String, fileSystem: any FileSystem) throws(SightlineError) {
        let marker = "\(backup)/\(markerName)"
        if let bytes = try fileSystem.contentsIfPresent(marker, limit: 4096, "backup marker") {
            let lines = String(decoding: bytes, as: UTF8.self).split(separator: "\n").map(String.init)
            guard lines.count == 2, lines[0] == markerHeader else { throw .corruptFile(path: marker, offset: 0, reason: "not a backup marker") }
            guard lines[1] == "store \(storeID)" else {
                throw .invalidArgument("\(backup) holds backups of another store (\(lines[1].dropFirst(6))), not of \(storeID)")
            }
        } else {
            if let names = try? fileSystem.contentsOfDirectory(backup), !names.isEmpty {
                throw .invalidArgument("\(backup) is not a backup directory (no \(markerName)) and is not empty")
            }
            try Keyring.createPrivateDirectory(backup, fileSystem: fileSystem)
            try fileSystem.replaceAtomically(marker, with: Array("\(markerHeader)\nstore \(storeID)\n".utf8))
        }
        try Keyring.createPrivateDirectory("\(backup)/\(segmentsFolder)", fileSystem: fileSystem)
        try Keyring.createPrivateDirectory("\(backup)/\(generationsFolder)", fileSystem: fileSystem)
        // Leftovers of a backup that stopped before its rename.
        for name in try fileSystem.contentsOfDirectory("\(backup)/\(generationsFolder)") where name.contains(".tmp-") {
            removeTree("\(backup)/\(generationsFolder)/\(name)", fileSystem: fileSystem)
        }
    }

    private static func checkMarker(_ backup: String, fileSystem: any FileSystem) throws(SightlineError) {
        guard let bytes = try fileSystem.contentsIfPresent("\(backup)/\(markerName)", limit: 4096, "backup marker"),
              String(decoding: bytes, as: UTF8.self).hasPrefix(markerHeader + "\n") else {
            throw .invalidArgument("\(backup) is not a backup directory (no \(markerName))")
        }
    }

    private static func generationNumbers(in backup: String, fileSystem: any FileSystem) throws(SightlineError) -> [Int] {
        let names: [String]
        do { names = try fileSystem.contentsOfDirectory("\(backup)/\(generationsFolder)") } catch .io(_, _, let e) where e == ENOENT { return [] }
        return names.compactMap { $0.count == 6 ? Int($0) : nil }.sorted()
    }

    /// A generation's description: itself, its segments (store name → pool name), its other files.
    private static func readGeneration(_ backup: String, _ number: Int, fileSystem: any FileSystem) throws(SightlineError)
        -> (generation: Generation, segments: [(name: String, pooled: String, bytes: Int64)], files: [String]) {
        let path = "\(backup)/\(generationsFolder)/\(pad(number))/\(generationFile)"
        guard let bytes = try fileSystem.contentsIfPresent(path, limit: 1 << 28, "backup generation") else {
            throw .corruptFile(path: path, offset: 0, reason: "missing")
        }
        func bad(_ line: Int, _ reason: String) -> SightlineError { .corruptFile(path: path, offset: 0, reason: "line \(line): \(reason)") }
        guard bytes.last == 0x0A, let crcStart = bytes.dropLast().lastIndex(of: 0x0A).map({ $0 + 1 }) else { throw bad(0, "not a generation file") }
        let crc = bytes[..<crcStart].withUnsafeBytes { CRC32C.checksum(UnsafeRawBufferPointer($0)) }
        guard String(decoding: bytes[crcStart..<(bytes.count - 1)], as: UTF8.self) == RulesFile.checksumLine(crc) else { throw bad(0, "checksum mismatch") }
        let lines = String(decoding: bytes[..<crcStart], as: UTF8.self).split(separator: "\n").map(String.init)
        guard lines.count >= 4, lines[0] == generationHeader, lines[1].hasPrefix("store "), lines[2].hasPrefix("taken "),
              let taken = Int64(lines[2].dropFirst(6)) else { throw bad(1, "not a generation file") }
        var g = Generation(number: number, takenAt: taken, storeID: String(lines[1].dropFirst(6)), segments: 0, rows: 0,
                           segmentBytes: 0, otherBytes: 0, newSegmentBytes: 0, holdsPlateKeySecret: false)
        var segments: [(name: String, pooled: String, bytes: Int64)] = [], files: [String] = []
        for (i, line) in lines.enumerated().dropFirst(4) {
            let f = line.split(separator: " ").map(String.init)
            if f.count == 4, f[0] == "segment", let bytes = Int64(f[3]) {
                segments.append((f[1], f[2], bytes))
                g.segmentBytes += bytes
            } else if f.count == 3, f[0] == "file", let bytes = Int64(f[2]) {
                files.append(f[1])
                g.otherBytes += bytes
                if f[1] == Store.secretFileName { g.holdsPlateKeySecret = true }
            } else {
                throw bad(i + 1, "unknown line")
            }
        }
        g.segments = segments.count
        // Rows come from the generation's manifest.
        if let manifest = try? Manifest.decode(try read("\(backup)/\(generationsFolder)/\(pad(number))/\(Manifest.fileName)", fileSystem: fileSystem),
                                               path: Manifest.fileName) {
            g.rows = manifest.segments.reduce(0) { $0 + $1.rowCount }
        }
        return (g, segments, files)
    }

    /// 16 hex digits of SHA-256 over the file's size and its first and last 64 bytes: a
    /// sealed segment's random salt, or a segment's footer checksum, tells files of the same
    /// name apart (a restored store reuses segment numbers).
    private static func fingerprint(_ path: String, fileSystem: any FileSystem) throws(SightlineError) -> String {
        let file = try fileSystem.open(path, mode: .read)
        defer { try? fileSystem.close(file) }
        let size = try fileSystem.size(file)
        let n = Int(min(size, 64))
        var head = [UInt8](repeating: 0, count: n), tail = [UInt8](repeating: 0, count: n)
        try head.withUnsafeMutableBytesTyped { (raw: UnsafeMutableRawBufferPointer) throws(SightlineError) in try fileSystem.readExactly(file, into: raw, at: 0) }
        try tail.withUnsafeMutableBytesTyped { (raw: UnsafeMutableRawBufferPointer) throws(SightlineError) in try fileSystem.readExactly(file, into: raw, at: size - Int64(n)) }
        var hash = SHA256()
        withUnsafeBytes(of: size.littleEndian) { hash.update(bufferPointer: $0) }
        hash.update(data: head)
        hash.update(data: tail)
        return hexString(Array(hash.finalize().prefix(8)))
    }

    private static func size(_ path: String, fileSystem: any FileSystem) throws(SightlineError) -> Int64? {
        let file: OpenFile
        do { file = try fileSystem.open(path, mode: .read) } catch .io(_, _, let e) where e == ENOENT { return nil }
        defer { try? fileSystem.close(file) }
        return try fileSystem.size(file)
    }

    /// The whole file; a missing one is ENOENT (the owner removed it: the backup starts over).
    private static func read(_ path: String, fileSystem: any FileSystem) throws(SightlineError) -> [UInt8] {
        guard let bytes = try fileSystem.contentsIfPresent(path) else { throw .io(operation: "open", path: path, errno: ENOENT) }
        return bytes
    }

    /// Writes a new file durably (fsynced; the caller fsyncs the directory).
    private static func write(_ path: String, _ bytes: [UInt8], fileSystem: any FileSystem) throws(SightlineError) {
        let file = try fileSystem.open(path, mode: .createExclusive)
        do {
            try bytes.withUnsafeBytesTyped { (raw: UnsafeRawBufferPointer) throws(SightlineError) in try fileSystem.writeAll(file, raw) }
            try fileSystem.sync(file)
        } catch {
            try? fileSystem.close(file)
            throw error
        }
        try fileSystem.close(file)
    }

    /// Copies `source` to `target` in 1 MiB pieces: temp, fsync, rename (the caller fsyncs the directory).
    private static func copyFile(_ source: String, to target: String, fileSystem: any FileSystem) throws(SightlineError) {
        let input = try fileSystem.open(source, mode: .read)
        defer { try? fileSystem.close(input) }
        let size = try fileSystem.size(input)
        let temporary = "\(target).tmp-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        let output = try fileSystem.open(temporary, mode: .createExclusive)
        do {
            var buffer = [UInt8](repeating: 0, count: 1 << 20)
            var at: Int64 = 0
            while at < size {
                let n = Int(min(Int64(buffer.count), size - at))
                try buffer.withUnsafeMutableBytesTyped { (raw: UnsafeMutableRawBufferPointer) throws(SightlineError) in
                    let piece = UnsafeMutableRawBufferPointer(rebasing: raw[0..<n])
                    try fileSystem.readExactly(input, into: piece, at: at)
                    try fileSystem.writeAll(output, UnsafeRawBufferPointer(piece))
                }
                at += Int64(n)
            }
            try fileSystem.sync(output)
            try fileSystem.close(output)
            try fileSystem.rename(temporary, to: target)
        } catch {
            try? fileSystem.close(output)
            try? fileSystem.remove(temporary)
            throw error
        }
    }

    private static func removeTree(_ path: String, fileSystem: any FileSystem) {
        if let names = try? fileSystem.contentsOfDirectory(path) {
            for name in names { removeTree("\(path)/\(name)", fileSystem: fileSystem) }
            try? fileSystem.remove(path)
        } else {
            try? fileSystem.remove(path)
        }
    }

    private static func pad(_ n: Int) -> String {
        let digits = String(n)
        return String(repeating: "0", count: max(0, 6 - digits.count)) + digits
    }
}
