#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Crypto

/// A store's data keys in its keyring entry, wrapped by a key-encryption key (KEK): the key
/// hierarchy that encryption at rest and deletion by key destruction rest on (Docs/format.md,
/// "Keyring"). Every change is durable before it returns and crash-safe at every step:
///
/// - `create` writes the new data key, wrapped (AES-256-GCM under the newest KEK, bound to the
///   store's id and the key's id), to `keys/<id>.key` — temp, fsync, rename, fsync directory —
///   before any file may use it;
/// - `destroy` removes key files and fsyncs the directory: what they opened is unreadable
///   from then on, in the store and in every earlier copy of it;
/// - `rotate` writes a new KEK, re-wraps every data key under it (each file replaced
///   atomically), and only then removes the older KEKs: a crash leaves every key under one
///   KEK or the other, both still present; the data is never rewritten.
///
/// Mutations take the entry's `LOCK` (flock), so an owner creating keys and an administrator
/// rotating them never interleave. No method returns or logs a key's bytes except `key(_:)`
/// and `create`, to the engine.
final class DataKeys: Sendable {
    let entry: String
    let storeID: StoreIdentity
    /// Where the KEKs come from: the entry's own files, or outside the keyring.
    private let keks: KeyEncryptionKeys
    private let fileSystem: any FileSystem
    /// Unwrapped keys by id (keys are immutable; a destroyed one is dropped).
    private let cache = Locked<[[UInt8]: SymmetricKey]>([:])
    /// Keys created by this process whose file may not be in place yet: shredding, which
    /// keeps the keys of the files it finds, never destroys these (`settle` ends it).
    private let unsettled = Locked<Set<[UInt8]>>([])

    static let keysFolder = "keys"
    static let kekPrefix = "kek-"

    init(keyring: Keyring, storeID: StoreIdentity, fileSystem: any FileSystem) {
        entry = keyring.entry(storeID)
        keks = keyring.keyEncryptionKeys
        self.storeID = storeID
        self.fileSystem = fileSystem
    }

    /// What `keys status` shows: ids and counts, never a key.
    struct Status: Sendable, Equatable {
        /// KEK ids, oldest first (the last wraps new keys).
        var keyEncryptionKeys: [String]
        /// Data keys by the KEK that wraps them.
        var dataKeys: [String: Int]
        /// Every data key's id (hex), sorted.
        var dataKeyIDs: [String]
    }

    // MARK: Reading

    /// The data key `id`, or nil when the keyring holds none of that id (destroyed, or
    /// never there). A key file that fails to unwrap is `corruptFile`.
    func key(_ id: [UInt8]) throws(SightlineError) -> SymmetricKey? {
        if let cached = cache.withLock({ $0[id] }) { return cached }
        let path = keyPath(id)
        guard let bytes = try fileSystem.contentsIfPresent(path, limit: 4096, "data key") else { return nil }
        let (kekID, wrapped) = try Self.parseKeyFile(bytes, path: path)
        guard let kek = try readKEK(kekID) else { throw .corruptFile(path: path, offset: 0, reason: unknownKEK(kekID)) }
        let key = try unwrap(wrapped, id: id, kek: kek, path: path)
        cache.withLock { $0[id] = key }
        return key
    }

    /// Looks data keys up for the readers of sealed files (none when `keys` is nil: the
    /// store does not seal).
    static func lookup(_ keys: DataKeys?) -> ([UInt8]) throws(SightlineError) -> SymmetricKey? {
        { (id: [UInt8]) throws(SightlineError) -> SymmetricKey? in try keys?.key(id) }
    }

    /// Every data key's id (from the key files' names: nothing is unwrapped).
    func ids() throws(SightlineError) -> [[UInt8]] {
        try keyFileNames().compactMap { hexBytes(String($0.dropLast(4))) }
    }

    /// Ids, counts and KEKs.
    func status() throws(SightlineError) -> Status {
        var status = Status(keyEncryptionKeys: try kekIDs(), dataKeys: [:], dataKeyIDs: [])
        if let current = try keks.current(fileSystem: fileSystem) { status.keyEncryptionKeys.append(current.id) }
        for name in try keyFileNames() {
            let path = "\(entry)/\(Self.keysFolder)/\(name)"
            guard let bytes = try fileSystem.contentsIfPresent(path, limit: 4096, "data key") else { continue }
            let (kekID, _) = try Self.parseKeyFile(bytes, path: path)
            status.dataKeys[kekID, default: 0] += 1
            status.dataKeyIDs.append(String(name.dropLast(4)))
        }
        status.dataKeyIDs.sort()
        return status
    }

    // MARK: Changing

    /// A new random data key, durably in the keyring (wrapped) before it is returned.
    /// `pinned`: shredding keeps it until `settle(_:)` says the file it seals is in place
    /// (false only where no shredding can run meanwhile: on the store's flush queue).
    func create(pinned: Bool = true) throws(SightlineError) -> (id: [UInt8], key: SymmetricKey) {
        try locked { () throws(SightlineError) -> (id: [UInt8], key: SymmetricKey) in
            let (kekID, kek) = try currentKEK()
            var g = SystemRandomNumberGenerator()
            let id = (0..<16).map { _ in UInt8.random(in: 0...255, using: &g) }
            let key = SymmetricKey(size: .bits256)
            try Keyring.createPrivateDirectory("\(entry)/\(Self.keysFolder)", fileSystem: fileSystem)
            try fileSystem.replaceAtomically(keyPath(id), with: try keyFile(key, id: id, kekID: kekID, kek: kek))
            cache.withLock { $0[id] = key }
            if pinned { unsettled.withLock { _ = $0.insert(id) } }
            return (id, key)
        }
    }

    /// The file sealed with the key `id` is in place (or will not be written): shredding
    /// decides by the files it finds from now on.
    func settle(_ id: [UInt8]) { unsettled.withLock { _ = $0.remove(id) } }

    /// Keys created but not yet settled.
    var unsettledIDs: Set<[UInt8]> { unsettled.withLock { $0 } }

    /// Destroys the data keys `ids` durably (missing ones are skipped); returns how many were there.
    @discardableResult
    func destroy(_ ids: [[UInt8]]) throws(SightlineError) -> Int {
        try locked { () throws(SightlineError) -> Int in
            var destroyed = 0
            for id in ids {
                cache.withLock { _ = $0.removeValue(forKey: id) }
                guard try fileSystem.contentsIfPresent(keyPath(id), limit: 4096, "data key") != nil else { continue }
                try fileSystem.remove(keyPath(id))
                destroyed += 1
            }
            if destroyed > 0 { try fileSystem.syncDirectory("\(entry)/\(Self.keysFolder)") }
            return destroyed
        }
    }

    /// Re-wraps every data key under a new KEK, then removes the older KEKs; the data keys
    /// themselves (and so every file they open) do not change. Returns (re-wrapped keys,
    /// new KEK id, removed KEK ids).
    func rotate() throws(SightlineError) -> (rewrapped: Int, kek: String, removed: [String]) {
        try locked { () throws(SightlineError) -> (rewrapped: Int, kek: String, removed: [String]) in
            let old = try kekIDs()
            // A new KEK file, or the external source's current key.
            let newID: String, newKEK: SymmetricKey
            if let current = try keks.current(fileSystem: fileSystem) {
                (newID, newKEK) = current
            } else {
                newID = try createKEK(after: old.last)
                guard let made = try readKEK(newID) else { throw .corruptFile(path: "\(entry)/\(newID)", offset: 0, reason: "missing") }
                newKEK = made
            }
            var rewrapped = 0
            for name in try keyFileNames() {
                let path = "\(entry)/\(Self.keysFolder)/\(name)"
                guard let bytes = try fileSystem.contentsIfPresent(path, limit: 4096, "data key") else { continue }
                let (kekID, wrapped) = try Self.parseKeyFile(bytes, path: path)
                guard kekID != newID else { continue }
                guard let kek = try readKEK(kekID), let id = hexBytes(String(name.dropLast(4))) else {
                    throw .corruptFile(path: path, offset: 0, reason: unknownKEK(kekID))
                }
                let key = try unwrap(wrapped, id: id, kek: kek, path: path)
                try fileSystem.replaceAtomically(path, with: try keyFile(key, id: id, kekID: newID, kek: newKEK))
                rewrapped += 1
            }
            // Every key is under the new KEK (each replacement durable): the old files can go.
            for id in old where id != newID { try fileSystem.remove("\(entry)/\(id)") }
            if !old.isEmpty { try fileSystem.syncDirectory(entry) }
            return (rewrapped, newID, old)
        }
    }

    // MARK: Files

    private func keyPath(_ id: [UInt8]) -> String { "\(entry)/\(Self.keysFolder)/\(hexString(id)).key" }

    private func keyFileNames() throws(SightlineError) -> [String] {
        let names: [String]
        do {
            names = try fileSystem.contentsOfDirectory("\(entry)/\(Self.keysFolder)")
        } catch .io(_, _, let e) where e == ENOENT {
            return []  // no key made yet; any other failure is an error, never "no keys"
        }
        return names.filter { $0.hasSuffix(".key") && !$0.contains(".tmp-") }
    }

    /// KEK ids (`kek-000001`, …), oldest first.
    private func kekIDs() throws(SightlineError) -> [String] {
        try fileSystem.contentsOfDirectory(entry).filter { $0.hasPrefix(Self.kekPrefix) && !$0.contains(".tmp-") }.sorted()
    }

    /// Writes a new KEK after `previous` (durably); returns its id.
    private func createKEK(after previous: String?) throws(SightlineError) -> String {
        let n = previous.flatMap { Int($0.dropFirst(Self.kekPrefix.count)) } ?? 0
        let digits = String(n + 1)
        let id = Self.kekPrefix + String(repeating: "0", count: max(0, 6 - digits.count)) + digits
        let kek = SymmetricKey(size: .bits256)
        let text = "sightline key-encryption key v1\n" + kek.withUnsafeBytes { hexString(Array($0)) } + "\n"
        try fileSystem.replaceAtomically("\(entry)/\(id)", with: Array(text.utf8))
        return id
    }

    /// The KEK that wraps new keys: the source's current one, else the entry's newest file
    /// (made when there is none). Under the lock.
    private func currentKEK() throws(SightlineError) -> (String, SymmetricKey) {
        if let current = try keks.current(fileSystem: fileSystem) { return current }
        var newest = try kekIDs().last
        if newest == nil { newest = try createKEK(after: nil) }
        guard let kek = try readKEK(newest!) else { throw .corruptFile(path: "\(entry)/\(newest!)", offset: 0, reason: "missing") }
        return (newest!, kek)
    }

    private func unknownKEK(_ id: String) -> String {
        id.hasPrefix(Self.kekPrefix) ? "wrapped by \(id), which the keyring no longer holds"
            : "wrapped by the key-encryption key \(id), which the keyring's key source (\(keks)) does not give"
    }

    /// The KEK `id`: an entry file (`kek-…`), or one the external source gives.
    private func readKEK(_ id: String) throws(SightlineError) -> SymmetricKey? {
        guard id.hasPrefix(Self.kekPrefix) else { return try keks.key(id, fileSystem: fileSystem) }
        let path = "\(entry)/\(id)"
        guard let bytes = try fileSystem.contentsIfPresent(path, limit: 256, "key-encryption key") else { return nil }
        let lines = String(decoding: bytes, as: UTF8.self).split(separator: "\n")
        guard lines.count == 2, lines[0] == "sightline key-encryption key v1", let key = hexBytes(String(lines[1])), key.count == 32 else {
            throw .corruptFile(path: path, offset: 0, reason: "not a key-encryption key")
        }
        return SymmetricKey(data: key)
    }

    /// `sightline data key v1`, `kek <id>`, `wrapped <hex: nonce 12 | ciphertext 32 | tag 16>`.
    private func keyFile(_ key: SymmetricKey, id: [UInt8], kekID: String, kek: SymmetricKey) throws(SightlineError) -> [UInt8] {
        let box: AES.GCM.SealedBox
        do {
            box = try key.withUnsafeBytes { try AES.GCM.seal(Array($0), using: kek, authenticating: binding(id)) }
        } catch {
            throw .invalidArgument("wrapping a data key failed: \(error)")
        }
        guard let combined = box.combined else { throw .invalidArgument("wrapping a data key failed") }
        return Array("sightline data key v1\nkek \(kekID)\nwrapped \(hexString(Array(combined)))\n".utf8)
    }

    private func unwrap(_ wrapped: [UInt8], id: [UInt8], kek: SymmetricKey, path: String) throws(SightlineError) -> SymmetricKey {
        do {
            let box = try AES.GCM.SealedBox(combined: wrapped)
            let bytes = try AES.GCM.open(box, using: kek, authenticating: binding(id))
            guard bytes.count == 32 else { throw SightlineError.corruptFile(path: path, offset: 0, reason: "a data key of \(bytes.count) bytes") }
            return SymmetricKey(data: bytes)
        } catch {
            throw .corruptFile(path: path, offset: 0, reason: "the data key fails to unwrap (damaged, or not this store's)")
        }
    }

    /// What a wrapped key is bound to: this store's id and the key's own id.
    private func binding(_ id: [UInt8]) -> [UInt8] { Array("sightline data key \(storeID.hex) \(hexString(id))".utf8) }

    static func parseKeyFile(_ bytes: [UInt8], path: String) throws(SightlineError) -> (kek: String, wrapped: [UInt8]) {
        let lines = String(decoding: bytes, as: UTF8.self).split(separator: "\n").map(String.init)
        guard lines.count == 3, lines[0] == "sightline data key v1", lines[1].hasPrefix("kek "), lines[2].hasPrefix("wrapped "),
              let wrapped = hexBytes(String(lines[2].dropFirst(8))), wrapped.count == 12 + 32 + 16 else {
            throw .corruptFile(path: path, offset: 0, reason: "not a data key file")
        }
        return (String(lines[1].dropFirst(4)), wrapped)
    }

    /// Runs `body` holding the entry's `LOCK`.
    private func locked<R>(_ body: () throws(SightlineError) -> R) throws(SightlineError) -> R {
        try Keyring.createPrivateDirectory(entry, fileSystem: fileSystem)
        let lock = try fileSystem.open("\(entry)/LOCK", mode: .readWriteCreate)
        defer { try? fileSystem.close(lock) }
        try fileSystem.lockWaiting(lock)
        defer { try? fileSystem.unlock(lock) }
        return try body()
    }
}
