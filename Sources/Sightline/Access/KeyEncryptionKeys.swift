#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Crypto

/// Where a keyring's key-encryption keys (KEKs) come from: the keys that wrap every data key
/// (Docs/format.md, "Keyring"). By default they are files in each store's keyring entry
/// (`kek-000001`, …), made and rotated by the engine; an agency that keeps its master keys in
/// a key-management service, a mounted secret or its environment names them here instead,
/// and the keyring then holds only wrapped data keys — a copy of the keyring alone opens
/// nothing.
///
/// An external KEK has an id: `external-` and 16 hex digits of its SHA-256 fingerprint for a
/// file or an environment variable, the provider's own for a provider. Data keys name the KEK
/// that wraps them; `sightline keys STORE rotate` (`Keyring.rotateKeys(ofStoreAt:)`) re-wraps
/// every data key under the current KEK — from the keyring's files to an external key, from
/// one external key to the next (the old one given as `previous`, or still served by the
/// provider) — and never rewrites data.
public struct KeyEncryptionKeys: Sendable, Hashable, CustomStringConvertible {
    enum Kind: Sendable, Hashable {
        case keyring
        case file(String, previous: [String])
        case environment(String, previous: [String])
        case provider(name: String)
    }

    let kind: Kind
    /// The provider's function (only for `.provider`).
    private let provide: (@Sendable (_ id: String?) throws -> (id: String, key: [UInt8])?)?

    /// KEK files in each store's keyring entry, made and rotated by the engine (the default).
    public static let keyring = KeyEncryptionKeys(kind: .keyring, provide: nil)

    /// A 32-byte key as 64 hex digits (and an optional newline) in the file at `path` — a
    /// mounted secret, say. `previous` names files of earlier keys, read only to re-wrap the
    /// data keys they wrap (a rotation).
    public static func file(_ path: String, previous: [String] = []) -> KeyEncryptionKeys {
        KeyEncryptionKeys(kind: .file(path, previous: previous), provide: nil)
    }

    /// A 32-byte key as 64 hex digits in the environment variable `name`; `previous` names
    /// variables holding earlier keys (for a rotation).
    public static func environment(_ name: String, previous: [String] = []) -> KeyEncryptionKeys {
        KeyEncryptionKeys(kind: .environment(name, previous: previous), provide: nil)
    }

    /// A key-management service: `provide(nil)` returns the current KEK and its id (letters,
    /// digits, `.`, `_`, `-`; at most 64), `provide(id)` the KEK of that id, or nil when the
    /// service holds none. `name` tells providers apart (two keyrings with the same directory
    /// and provider name are equal). Called when a data key is made, first opened, or
    /// re-wrapped; the engine keeps unwrapped data keys in memory, never the KEK.
    public static func provider(named name: String,
                                _ provide: @escaping @Sendable (_ id: String?) throws -> (id: String, key: [UInt8])?) -> KeyEncryptionKeys {
        KeyEncryptionKeys(kind: .provider(name: name), provide: provide)
    }

    /// `keyring`, `file PATH`, `environment NAME` or `provider NAME` (never a key).
    public var description: String {
        switch kind {
        case .keyring: "keyring"
        case .file(let path, _): "file \(path)"
        case .environment(let name, _): "environment \(name)"
        case .provider(let name): "provider \(name)"
        }
    }

    public static func == (a: KeyEncryptionKeys, b: KeyEncryptionKeys) -> Bool { a.kind == b.kind }
    public func hash(into hasher: inout Hasher) { hasher.combine(kind) }

    /// The standard source: `$SIGHTLINE_KEK_FILE` (a file), else `$SIGHTLINE_KEK` (the key in
    /// the environment), else the keyring's own files. `$SIGHTLINE_KEK_PREVIOUS_FILE` names an
    /// earlier key's file, for a rotation away from it.
    public static var standard: KeyEncryptionKeys {
        let previous = environmentValue("SIGHTLINE_KEK_PREVIOUS_FILE").map { [$0] } ?? []
        if let path = environmentValue("SIGHTLINE_KEK_FILE") { return .file(path, previous: previous) }
        if environmentValue("SIGHTLINE_KEK") != nil { return .environment("SIGHTLINE_KEK") }
        return .keyring
    }

    static func environmentValue(_ name: String) -> String? {
        guard let value = getenv(name) else { return nil }
        let text = String(cString: value)
        return text.isEmpty ? nil : text
    }

    // MARK: For DataKeys

    /// Whether the KEKs are the keyring's own files.
    var isKeyring: Bool { kind == .keyring }

    /// The KEK that wraps new data keys (nil for the keyring's own files).
    func current(fileSystem: any FileSystem) throws(SightlineError) -> (id: String, key: SymmetricKey)? {
        switch kind {
        case .keyring: return nil
        case .file(let path, _): return try Self.fromFile(path, fileSystem: fileSystem)
        case .environment(let name, _): return try Self.fromEnvironment(name)
        case .provider(let name):
            guard let given = try call(name, nil) else { throw .invalidArgument("the key provider \(name) gave no current key-encryption key") }
            return given
        }
    }

    /// The external KEK `id`, or nil when this source holds none of that id.
    func key(_ id: String, fileSystem: any FileSystem) throws(SightlineError) -> SymmetricKey? {
        switch kind {
        case .keyring: return nil
        case .file(let path, let previous):
            for p in [path] + previous {
                if let k = try? Self.fromFile(p, fileSystem: fileSystem), k.id == id { return k.key }
            }
            return nil
        case .environment(let name, let previous):
            for n in [name] + previous {
                if let k = try? Self.fromEnvironment(n), k.id == id { return k.key }
            }
            return nil
        case .provider(let name):
            guard let given = try call(name, id) else { return nil }
            guard given.id == id else { throw .invalidArgument("the key provider \(name) answered \(given.id) when asked for \(id)") }
            return given.key
        }
    }

    private func call(_ name: String, _ id: String?) throws(SightlineError) -> (id: String, key: SymmetricKey)? {
        let given: (id: String, key: [UInt8])?
        do { given = try provide!(id) } catch { throw .invalidArgument("the key provider \(name) failed: \(error)") }
        guard let given else { return nil }
        guard given.key.count == 32 else { throw .invalidArgument("the key provider \(name) gave a key of \(given.key.count) bytes, not 32") }
        guard Self.isValidID(given.id) else { throw .invalidArgument("the key provider \(name) gave the id \"\(given.id)\": letters, digits, . _ - only, at most 64") }
        return (given.id, SymmetricKey(data: given.key))
    }

    /// Ids name KEKs in data key files: one word, and never a keyring file's (`kek-…`).
    static func isValidID(_ id: String) -> Bool {
        !id.isEmpty && id.count <= 64 && !id.hasPrefix("kek-")
            && id.utf8.allSatisfy { ($0 >= 0x30 && $0 <= 0x39) || ($0 | 0x20 >= 0x61 && $0 | 0x20 <= 0x7A) || $0 == 0x2E || $0 == 0x5F || $0 == 0x2D }
    }

    private static func fromFile(_ path: String, fileSystem: any FileSystem) throws(SightlineError) -> (id: String, key: SymmetricKey) {
        guard let bytes = try fileSystem.contentsIfPresent(path, limit: 256, "key-encryption key file") else {
            throw .invalidArgument("\(path): no key-encryption key file there")
        }
        return try parse(String(decoding: bytes, as: UTF8.self), source: path)
    }

    private static func fromEnvironment(_ name: String) throws(SightlineError) -> (id: String, key: SymmetricKey) {
        guard let text = environmentValue(name) else { throw .invalidArgument("the environment variable \(name) holds no key-encryption key") }
        return try parse(text, source: "$\(name)")
    }

    /// 64 hex digits (surrounding whitespace allowed): the key, and its id from its fingerprint.
    static func parse(_ text: String, source: String) throws(SightlineError) -> (id: String, key: SymmetricKey) {
        let trimmed = String(text.filter { !$0.isWhitespace })
        guard trimmed.utf8.count == 64, let bytes = hexBytes(trimmed) else {
            throw .invalidArgument("\(source): a key-encryption key is 64 hex digits (32 random bytes; e.g. openssl rand -hex 32)")
        }
        return (fingerprintID(bytes), SymmetricKey(data: bytes))
    }

    /// `external-` and 16 hex digits of SHA-256("sightline kek fingerprint v1" + key): names
    /// the key without revealing it.
    static func fingerprintID(_ key: [UInt8]) -> String {
        var hash = SHA256()
        hash.update(data: Array("sightline kek fingerprint v1".utf8))
        hash.update(data: key)
        return "external-" + hexString(Array(hash.finalize().prefix(8)))
    }
}
