#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Where stores keep their key material: a directory outside every store, owner-only
/// (0700, files 0600), that knows each store by the id kept inside it (`STORE-ID`), not by
/// its path — a copy of a store at another path finds the same keys, and a copy of the store
/// directory alone holds none (Docs/format.md, "Keyring").
///
/// Layout: `KEYRING/<store id>/plate-key.secret` (32 hex digits and a newline, like the
/// in-store file of earlier stores). What to back up where: the keyring apart from the
/// stores; losing it loses every store whose keys it holds.
public struct Keyring: Sendable, Hashable, CustomStringConvertible {
    /// The keyring's directory.
    public let directory: String
    /// Where the key-encryption keys that wrap its data keys come from (its own files by default).
    public let keyEncryptionKeys: KeyEncryptionKeys

    /// The keyring at `directory` (created 0700, with its parents, when a store is first made
    /// in it), its data keys wrapped by `keyEncryptionKeys`.
    public init(directory: String, keyEncryptionKeys: KeyEncryptionKeys = .keyring) {
        self.directory = directory
        self.keyEncryptionKeys = keyEncryptionKeys
    }

    /// The per-user keyring: `$SIGHTLINE_KEYRING` when set, else
    /// `$XDG_DATA_HOME/sightline/keyring`, else `$HOME/.local/share/sightline/keyring`; its
    /// key-encryption keys from `KeyEncryptionKeys.standard` (`$SIGHTLINE_KEK_FILE`,
    /// `$SIGHTLINE_KEK`, else its own files).
    public static var standard: Keyring { Keyring(directory: standardDirectory(), keyEncryptionKeys: .standard) }

    static func standardDirectory() -> String {
        func env(_ name: String) -> String? {
            guard let value = getenv(name) else { return nil }
            let text = String(cString: value)
            return text.isEmpty ? nil : text
        }
        if let explicit = env("SIGHTLINE_KEYRING") { return explicit }
        if let data = env("XDG_DATA_HOME") { return "\(data)/sightline/keyring" }
        var home = env("HOME")
        if home == nil, let entry = getpwuid(getuid()), let dir = entry.pointee.pw_dir { home = String(cString: dir) }
        return "\(home ?? "/tmp")/.local/share/sightline/keyring"
    }

    /// The keyring's directory.
    public var description: String { directory }

    static let secretFileName = "plate-key.secret"

    /// The directory of one store's entry.
    func entry(_ id: StoreIdentity) -> String { "\(directory)/\(id.hex)" }

    /// The plate-key secret of store `id`, or nil when the keyring has no entry for it.
    func secret(for id: StoreIdentity, fileSystem: any FileSystem) throws(SightlineError) -> PlateKeySecret? {
        let path = "\(entry(id))/\(Self.secretFileName)"
        guard let bytes = try fileSystem.contentsIfPresent(path, limit: 128, "plate-key secret") else { return nil }
        let mode = try fileSystem.permissions(path)
        guard mode & 0o077 == 0 else {
            throw .invalidArgument("\(path): a keyring file readable by others (mode \(String(mode, radix: 8))); chmod 600 it")
        }
        do {
            return try PlateKeySecret(hex: String(decoding: bytes.prefix(32), as: UTF8.self))
        } catch {
            throw .corruptFile(path: path, offset: 0, reason: "not a plate key secret (32 hex digits)")
        }
    }

    /// Records store `id`'s secret, durably (the entry's directory and file created
    /// owner-only, the keyring's too when it is new), before the store names its id.
    func create(_ secret: PlateKeySecret, for id: StoreIdentity, fileSystem: any FileSystem) throws(SightlineError) {
        try Self.createPrivateDirectory(directory, fileSystem: fileSystem)
        let entry = self.entry(id)
        try Self.createPrivateDirectory(entry, fileSystem: fileSystem)
        try fileSystem.syncDirectory(directory)
        try fileSystem.replaceAtomically("\(entry)/\(Self.secretFileName)", with: Array((secret.hex + "\n").utf8))
    }

    /// Creates `path` (and missing parents, as `mkdir -p`), then makes `path` itself 0700.
    static func createPrivateDirectory(_ path: String, fileSystem: any FileSystem) throws(SightlineError) {
        var prefix = path.hasPrefix("/") ? "" : "."
        for part in path.split(separator: "/") {
            prefix += "/\(part)"
            try fileSystem.createDirectory(prefix)
        }
        if try fileSystem.permissions(path) & 0o077 != 0 { try fileSystem.setPermissions(path, 0o700) }
    }
}

/// A store's identity, `STORE-ID` in its directory: what its keyring knows it by.
///
///     sightline store id v1
///     <32 lowercase hex digits>
struct StoreIdentity: Sendable, Hashable {
    /// The id's 32 hex digits.
    let hex: String

    static let fileName = "STORE-ID"
    static let header = "sightline store id v1"

    /// A new random id.
    static func random() -> StoreIdentity {
        var g = SystemRandomNumberGenerator()
        return StoreIdentity(hex: hexString((0..<16).map { _ in UInt8.random(in: 0...255, using: &g) }))
    }

    private init(hex: String) { self.hex = hex }

    /// The id of the store at `directory`, or nil when it has none (a store made before keyrings).
    static func read(directory: String, fileSystem: any FileSystem) throws(SightlineError) -> StoreIdentity? {
        let path = "\(directory)/\(fileName)"
        guard let bytes = try fileSystem.contentsIfPresent(path, limit: 256, "store id") else { return nil }
        let lines = String(decoding: bytes, as: UTF8.self).split(separator: "\n").map(String.init)
        guard lines.count == 2, lines[0] == header, lines[1].count == 32,
              lines[1].utf8.allSatisfy({ ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x61 && $0 <= 0x66) }) else {
            throw .corruptFile(path: path, offset: 0, reason: "not a store id file")
        }
        return StoreIdentity(hex: lines[1])
    }

    /// Writes `STORE-ID` durably.
    func write(directory: String, fileSystem: any FileSystem) throws(SightlineError) {
        try fileSystem.replaceAtomically("\(directory)/\(Self.fileName)", with: Array("\(Self.header)\n\(hex)\n".utf8))
    }
}

/// What a keyring holds for one store (`sightline keys STORE status`): ids and counts,
/// never a key.
public struct KeyringStatus: Sendable, Hashable {
    /// The store's id (`STORE-ID`); nil for a store made before keyrings.
    public var storeID: String?
    /// The keyring consulted.
    public var keyring: String
    /// Where the plate-key secret is: `keyring`, `store directory` (a store made before
    /// keyrings) or `outside` (a secret file, variable or provider).
    public var plateKeySecret: String
    /// Key-encryption key ids, oldest first; the last wraps new data keys.
    public var keyEncryptionKeys: [String]
    /// Where they come from (`KeyEncryptionKeys.description`: `keyring`, `file PATH`, …).
    public var keyEncryptionKeySource: String = "keyring"
    /// Data keys by the key-encryption key that wraps them.
    public var dataKeysByKEK: [String: Int]
    /// Every data key's id (hex), sorted.
    public var dataKeyIDs: [String]

    /// The status as `sightline keys STORE status` prints it.
    public var report: String {
        var lines = ["store id:            \(storeID ?? "none (a store made before keyrings)")",
                     "keyring:             \(keyring)",
                     "plate-key secret:    \(plateKeySecret)"]
        lines.append("key-encryption keys: \(keyEncryptionKeys.isEmpty ? "none yet" : keyEncryptionKeys.joined(separator: ", "))"
                     + (keyEncryptionKeySource == "keyring" ? "" : " (current from \(keyEncryptionKeySource))"))
        let byKEK = dataKeysByKEK.sorted { $0.key < $1.key }.map { "\($0.key): \($0.value)" }.joined(separator: ", ")
        lines.append("data keys:           \(dataKeyIDs.count)" + (byKEK.isEmpty ? "" : " (\(byKEK))"))
        for id in dataKeyIDs { lines.append("  \(id)") }
        return lines.joined(separator: "\n")
    }
}

/// What a rotation did (`sightline keys STORE rotate`).
public struct KeyRotation: Sendable, Hashable {
    /// Data keys re-wrapped under the new key-encryption key (the data is not rewritten).
    public var rewrapped: Int
    /// The new key-encryption key's id.
    public var keyEncryptionKey: String
    /// The key-encryption keys removed once every data key was under the new one.
    public var removed: [String]
}

extension Keyring {
    /// The store at `directory`'s id, or throws `keyMissing` when this keyring has no entry for it.
    func dataKeys(ofStoreAt directory: String, fileSystem: any FileSystem) throws(SightlineError) -> DataKeys? {
        guard let id = try StoreIdentity.read(directory: directory, fileSystem: fileSystem) else { return nil }
        do {
            _ = try fileSystem.permissions(entry(id))
        } catch .io(_, _, let e) where e == ENOENT {
            throw .keyMissing(store: directory, keyring: self.directory, storeID: id.hex)
        }
        return DataKeys(keyring: self, storeID: id, fileSystem: fileSystem)
    }

    /// What this keyring holds for the store at `directory`: ids and counts, never a key.
    public func status(ofStoreAt directory: String, fileSystem: any FileSystem = PosixFileSystem()) throws(SightlineError) -> KeyringStatus {
        let names = try fileSystem.contentsOfDirectory(directory)
        guard names.contains("MANIFEST") else { throw .invalidArgument("\(directory) holds no store") }
        guard let keys = try dataKeys(ofStoreAt: directory, fileSystem: fileSystem) else {
            return KeyringStatus(storeID: nil, keyring: self.directory,
                                 plateKeySecret: names.contains(Keyring.secretFileName) ? "store directory (plate-key.secret)" : "outside (a secret file, variable or provider)",
                                 keyEncryptionKeys: [], dataKeysByKEK: [:], dataKeyIDs: [])
        }
        let status = try keys.status()
        let inRing = (try? fileSystem.permissions("\(keys.entry)/\(Keyring.secretFileName)")) != nil
        return KeyringStatus(storeID: keys.storeID.hex, keyring: self.directory,
                             plateKeySecret: inRing ? "keyring" : "outside (a secret file, variable or provider)",
                             keyEncryptionKeys: status.keyEncryptionKeys, keyEncryptionKeySource: keyEncryptionKeys.description,
                             dataKeysByKEK: status.dataKeys, dataKeyIDs: status.dataKeyIDs)
    }

    /// Rotates the key-encryption key of the store at `directory`: a new one is written (or,
    /// with an external source, its current key taken), every data key re-wrapped under it
    /// (each key file replaced atomically; the store's files are not touched), then the
    /// keyring's older KEK files removed. Safe while the store is open.
    public func rotateKeys(ofStoreAt directory: String, fileSystem: any FileSystem = PosixFileSystem()) throws(SightlineError) -> KeyRotation {
        guard let keys = try dataKeys(ofStoreAt: directory, fileSystem: fileSystem) else {
            throw .invalidArgument("\(directory) is a store made before keyrings: it has no keys to rotate")
        }
        let (rewrapped, kek, removed) = try keys.rotate()
        return KeyRotation(rewrapped: rewrapped, keyEncryptionKey: kek, removed: removed)
    }
}
