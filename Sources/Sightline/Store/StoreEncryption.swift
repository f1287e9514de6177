#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Crypto

/// Whether a store seals its files at rest — segments, write-ahead logs, the alert log,
/// hotlist rules and legal holds — with AES-256-GCM under data keys wrapped in its keyring
/// (Docs/format.md, "Sealed files"). Fixed when the store is created and kept in its
/// `ENCRYPTION` file; a store made before this setting has none and is `.none`.
public enum StoreEncryption: String, Sendable, CaseIterable {
    /// Files sealed with AES-256-GCM (the default for new stores).
    case aes256GCM = "aes-256-gcm"
    /// Files in clear: the explicit opt-out (`sightline init --encryption none`).
    case none

    static let fileName = "ENCRYPTION"
    static let header = "sightline encryption v1"

    /// The setting of the store at `directory` (`.none` when it has no `ENCRYPTION` file).
    static func read(directory: String, fileSystem: any FileSystem) throws(SightlineError) -> StoreEncryption {
        let path = "\(directory)/\(fileName)"
        guard let bytes = try fileSystem.contentsIfPresent(path, limit: 256, "encryption setting") else { return .none }
        let lines = String(decoding: bytes, as: UTF8.self).split(separator: "\n").map(String.init)
        guard lines.count == 2, lines[0] == header, let setting = StoreEncryption(rawValue: lines[1]) else {
            throw .corruptFile(path: path, offset: 0, reason: "not an encryption setting")
        }
        return setting
    }

    /// Writes the setting durably (a new store, before its manifest).
    func write(directory: String, fileSystem: any FileSystem) throws(SightlineError) {
        try fileSystem.replaceAtomically("\(directory)/\(Self.fileName)", with: Array("\(Self.header)\n\(rawValue)\n".utf8))
    }
}

extension Store {
    /// The data keys of the store at `directory` when it seals its segments (nil when it does
    /// not): its keyring entry, by the id in `STORE-ID`.
    static func dataKeys(directory: String, keyring: Keyring, fileSystem: any FileSystem) throws(SightlineError) -> DataKeys? {
        guard try StoreEncryption.read(directory: directory, fileSystem: fileSystem) == .aes256GCM else { return nil }
        guard let id = try StoreIdentity.read(directory: directory, fileSystem: fileSystem) else {
            throw .corruptFile(path: "\(directory)/\(StoreIdentity.fileName)", offset: 0, reason: "missing: an encrypted store names its keyring entry there")
        }
        return DataKeys(keyring: keyring, storeID: id, fileSystem: fileSystem)
    }

    /// Makes the store at `directory` one that seals its files from now on: its `STORE-ID`
    /// (a new one when it has none), its keyring entry, then `ENCRYPTION` — each durable
    /// before the next. A new store does this before its first manifest; a compaction of a
    /// store made before encryption existed, before it rewrites the segments.
    static func startSealing(directory: String, keyring: Keyring, fileSystem: any FileSystem) throws(SightlineError) {
        var id = try StoreIdentity.read(directory: directory, fileSystem: fileSystem)
        if id == nil {
            try checkOutside(keyring, of: directory)
            id = StoreIdentity.random()
            try id!.write(directory: directory, fileSystem: fileSystem)
        }
        // The entry exists from the start (its data keys come with the first sealed file):
        // an entry without a plate-key secret says the secret is kept elsewhere.
        try Keyring.createPrivateDirectory(keyring.entry(id!), fileSystem: fileSystem)
        try StoreEncryption.aes256GCM.write(directory: directory, fileSystem: fileSystem)
    }

    /// Converts a store made before encryption existed (no `ENCRYPTION` file) to one that
    /// seals, when its options ask for sealing: from now on new segments and logs are
    /// sealed; the caller rewrites the segments in clear; `RULES`, `HOLDS` and `ALERTS` are
    /// sealed at the next open. Returns whether it converted. On the flush queue.
    func sealInClearStore() throws(SightlineError) -> Bool {
        guard dataKeys == nil, options.encryption == .aes256GCM,
              try fileSystem.contentsIfPresent("\(directory)/\(StoreEncryption.fileName)", limit: 256, "encryption setting") == nil else { return false }
        try Self.startSealing(directory: directory, keyring: options.keyring, fileSystem: fileSystem)
        let keys = try Self.dataKeys(directory: directory, keyring: options.keyring, fileSystem: fileSystem)
        sealing.withLock { $0 = keys }
        options.logger.notice("sealing a store made before encryption: its segments are rewritten sealed, its other files sealed at the next open",
                              metadata: ["store": "\(directory)"])
        return true
    }

    /// Seals `RULES` and `HOLDS` when they are in clear and rewrites a version-1 `ALERTS` as
    /// a sealed version 2 (every alert and sequence kept): each replaced atomically, at open,
    /// before anything reads them.
    static func sealSmallFiles(directory: String, keys: DataKeys, fileSystem: any FileSystem) throws(SightlineError) {
        for name in [RulesFile.fileName, HoldsFile.fileName] {
            let path = "\(directory)/\(name)"
            guard let bytes = try fileSystem.contentsIfPresent(path, limit: 1 << 30, name), !SealedFile.isSealed(bytes) else { continue }
            try fileSystem.replaceAtomically(path, with: bytes, sealedBy: keys)
        }
        try AlertLogWriter.seal(directory: directory, keys: keys, fileSystem: fileSystem)
    }

    /// Opens the segment at `path`, sealed or not, with `keys`.
    static func openSegment(_ path: String, hasher: PlateHasher, fileSystem: any FileSystem, keys: DataKeys?) throws(SightlineError) -> SegmentReader {
        try SegmentReader(path: path, hasher: hasher, fileSystem: fileSystem) { (id: [UInt8]) throws(SightlineError) in try keys?.key(id) }
    }

    /// A segment writer that seals the next segment with a fresh data key (when the store seals).
    func segmentWriter() throws(SightlineError) -> SegmentWriter {
        var writer = try SegmentWriter(hasher: hasher, options: options.segment, fileSystem: fileSystem)
        // Unpinned: segments are written on the flush queue, where shredding also runs.
        if let dataKeys { writer.sealing = try dataKeys.create(pinned: false) }
        return writer
    }

    /// Creates the write-ahead log at `path`, sealed under a data key of its own when the
    /// store seals (destroyed by the first deletion after the log is retired).
    func createLog(_ path: String, firstSequence: UInt64) throws(SightlineError) -> LogWriter {
        let sealing = try dataKeys?.create()
        defer { if let sealing { dataKeys?.settle(sealing.id) } }
        return try LogWriter.create(path, firstSequence: firstSequence, durability: options.durability, sealing: sealing, fileSystem: fileSystem)
    }

    /// A data-key lookup for the sealed files of the store at `directory` (for tools that
    /// read its logs directly): its keys in `keyring`, or none when it does not seal.
    package static func dataKeyLookup(directory: String, keyring: Keyring = .standard,
                                      fileSystem: any FileSystem = PosixFileSystem()) throws(SightlineError) -> ([UInt8]) throws(SightlineError) -> SymmetricKey? {
        DataKeys.lookup(try dataKeys(directory: directory, keyring: keyring, fileSystem: fileSystem))
    }

    /// The data keys that files of the store use, other than its live segments' (whose keys
    /// the manifest's readers know): write-ahead logs, `ALERTS`, `RULES`, `HOLDS`, read from
    /// each file's header.
    func keyIDsOfOtherSealedFiles() throws(SightlineError) -> Set<[UInt8]> {
        var ids: Set<[UInt8]> = []
        for name in try fileSystem.contentsOfDirectory(directory) where !name.contains(".tmp-") {
            let path = "\(directory)/\(name)"
            let keyAt: Int
            if (name.hasPrefix("log-") && name.hasSuffix(".log")) || name == AlertLogFormat.fileName {
                keyAt = 12
            } else if name == RulesFile.fileName || name == HoldsFile.fileName {
                keyAt = 16
            } else {
                continue
            }
            let file: OpenFile
            do { file = try fileSystem.open(path, mode: .read) } catch .io(_, _, let e) where e == ENOENT { continue }
            defer { try? fileSystem.close(file) }
            guard try fileSystem.size(file) >= Int64(keyAt + 16) else { continue }
            var header = [UInt8](repeating: 0, count: keyAt + 16)
            try header.withUnsafeMutableBytesTyped { (raw: UnsafeMutableRawBufferPointer) throws(SightlineError) in try fileSystem.readExactly(file, into: raw, at: 0) }
            let sealed = keyAt == 16 ? SealedFile.isSealed(header)
                : (header.starts(with: LogFormat.magic) || header.starts(with: AlertLogFormat.magic))
                    && header.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: 8, as: UInt32.self).littleEndian } >= 2
            if sealed { ids.insert(Array(header[keyAt..<(keyAt + 16)])) }
        }
        return ids
    }
}

extension FileSystem {
    /// Replaces the small file at `path` with `plaintext`, sealed under a new data key of
    /// `keys` when the store seals (in clear when `keys` is nil): write-temp, fsync, rename,
    /// fsync directory.
    func replaceAtomically(_ path: String, with plaintext: [UInt8], sealedBy keys: DataKeys?) throws(SightlineError) {
        guard let keys else { return try replaceAtomically(path, with: plaintext) }
        let (id, key) = try keys.create()
        defer { keys.settle(id) }
        try replaceAtomically(path, with: try SealedFile.seal(plaintext, keyID: id, dataKey: key))
    }

    /// The plaintext of the small file at `path` (nil when there is none), opened with
    /// `keys` when it is sealed. A file in clear is read as it is (written before its store
    /// sealed such files).
    func contentsIfPresent(_ path: String, limit: Int, _ what: String, openedBy keys: DataKeys?) throws(SightlineError) -> [UInt8]? {
        guard let bytes = try contentsIfPresent(path, limit: limit, what) else { return nil }
        guard SealedFile.isSealed(bytes) else { return bytes }
        return try SealedFile.open(bytes, path: path) { (id: [UInt8]) throws(SightlineError) in try keys?.key(id) }
    }
}

extension SegmentReader {
    /// Opens a segment file of a store — sealed or in clear — with what the store keeps: its
    /// plate-key secret (in `keyring`, in the store directory, or from `secretSource`) and,
    /// for a sealed segment, its data key from `keyring`. The store is the file's directory.
    /// `secret`, when given, must be the store's (`wrongPlateKeySecret` otherwise).
    public convenience init(storeSegment path: String, secret given: PlateKeySecret? = nil, keyring: Keyring = .standard,
                            secretSource: PlateKeySecretSource = .keyring, fileSystem: any FileSystem = PosixFileSystem()) throws(SightlineError) {
        _ = try fileSystem.permissions(path)  // a missing file is named as such
        let directory = directoryOf(path)
        let names = try fileSystem.contentsOfDirectory(directory)
        let secret = try Store.openSecret(directory: directory, names: names, secret: given, source: secretSource, keyring: keyring,
                                          create: false, fileSystem: fileSystem)
        let keys = try Store.dataKeys(directory: directory, keyring: keyring, fileSystem: fileSystem)
        try self.init(path: path, hasher: PlateHasher(secret: secret), fileSystem: fileSystem) { (id: [UInt8]) throws(SightlineError) in try keys?.key(id) }
    }
}
