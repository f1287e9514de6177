/// Whether a store seals its segments at rest (AES-256-GCM with a data key per segment,
/// wrapped in its keyring; Docs/format.md, "Sealed files"). Fixed when the store is created
/// and kept in its `ENCRYPTION` file; a store made before this setting has none and is
/// `.none`.
public enum StoreEncryption: String, Sendable, CaseIterable {
    /// Segments sealed with AES-256-GCM (the default for new stores).
    case aes256GCM = "aes-256-gcm"
    /// Segments in clear: the explicit opt-out (`sightline init --encryption none`).
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

    /// Opens the segment at `path`, sealed or not, with `keys`.
    static func openSegment(_ path: String, hasher: PlateHasher, fileSystem: any FileSystem, keys: DataKeys?) throws(SightlineError) -> SegmentReader {
        try SegmentReader(path: path, hasher: hasher, fileSystem: fileSystem) { (id: [UInt8]) throws(SightlineError) in try keys?.key(id) }
    }

    /// A segment writer that seals the next segment with a fresh data key (when the store seals).
    func segmentWriter() throws(SightlineError) -> SegmentWriter {
        var writer = try SegmentWriter(hasher: hasher, options: options.segment, fileSystem: fileSystem)
        if let dataKeys { writer.sealing = try dataKeys.create() }
        return writer
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
