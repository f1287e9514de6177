import Crypto

/// Where a store's plate-key secret comes from. The secret keys the plate hashes that the
/// audit and deletion logs name plates by: kept outside the store directory, someone holding
/// only the directory cannot tell which plates were looked up or purged (Docs/format.md,
/// "Plate-key secret").
public enum PlateKeySecretSource: Sendable {
    /// The store's entry in its keyring (`StoreOptions.keyring`), found by the id the store
    /// keeps (`STORE-ID`): the default. A store made before keyrings keeps its secret where
    /// it was (inside it, or a source below) and opens as before.
    case keyring
    /// `plate-key.secret` inside the store directory: how stores made before keyrings keep
    /// theirs. Choosing it for a new store keeps the key beside the data — an explicit
    /// opt-out of the default.
    case storeDirectory
    /// A file outside the store: 32 hex digits, readable and writable by its owner only
    /// (mode 0600 or 0400; anything wider is refused). A new store creates it when missing.
    case file(String)
    /// An environment variable holding the 32 hex digits.
    case environment(String)
    /// A callback, e.g. a key-management service.
    case provider(@Sendable () throws -> PlateKeySecret)
}

/// `plate-key.check` in a store whose secret lives outside it: proves a supplied secret is
/// the store's without holding it.
///
///     sightline plate-key check v1
///     hmac-sha256 <64 hex digits: HMAC-SHA256 keyed by the secret's 16 bytes of "sightline plate-key check">
enum SecretCheckFile {
    static let fileName = "plate-key.check"
    static let header = "sightline plate-key check v1"

    static func fingerprint(_ secret: PlateKeySecret) -> String {
        hexString(Array(HMAC<SHA256>.authenticationCode(for: Array("sightline plate-key check".utf8), using: SymmetricKey(data: secret.bytes))))
    }

    static func encode(_ secret: PlateKeySecret) -> [UInt8] { Array("\(header)\nhmac-sha256 \(fingerprint(secret))\n".utf8) }

    /// Whether `secret` is the one `bytes` (the file at `path`) was written for.
    static func matches(_ secret: PlateKeySecret, _ bytes: [UInt8], path: String) throws(SightlineError) -> Bool {
        let lines = String(decoding: bytes, as: UTF8.self).split(separator: "\n").map(String.init)
        guard lines.count == 2, lines[0] == header, lines[1].hasPrefix("hmac-sha256 "), lines[1].count == 12 + 64 else {
            throw .corruptFile(path: path, offset: 0, reason: "not a plate-key check file")
        }
        return lines[1].dropFirst(12) == fingerprint(secret)
    }
}

extension PlateKeySecretSource {
    /// The secret this source gives, or nil for `.storeDirectory`. For `.file` with
    /// `creating`, a missing file is made (a random secret, mode 0600, created exclusively).
    func resolve(creating: Bool, fileSystem: any FileSystem) throws(SightlineError) -> PlateKeySecret? {
        switch self {
        case .storeDirectory, .keyring:
            return nil
        case .file(let path):
            if creating, try fileSystem.contentsIfPresent(path, limit: 128, "plate-key secret file") == nil {
                let secret = PlateKeySecret.random()
                let file = try fileSystem.open(path, mode: .createExclusive)
                do throws(SightlineError) {
                    try fileSystem.setPermissions(path, 0o600)
                    try Array((secret.hex + "\n").utf8).withUnsafeBytesTyped { (raw: UnsafeRawBufferPointer) throws(SightlineError) in try fileSystem.writeAll(file, raw) }
                    try fileSystem.sync(file)
                    try fileSystem.close(file)
                } catch {
                    try? fileSystem.close(file)
                    throw error
                }
                try fileSystem.syncDirectory(directoryOf(path))
                return secret
            }
            let mode = try fileSystem.permissions(path)
            guard mode & 0o077 == 0 else {
                throw .invalidArgument("\(path): the plate-key secret file is readable by others (mode \(String(mode, radix: 8))); chmod 600 it")
            }
            guard let bytes = try fileSystem.contentsIfPresent(path, limit: 128, "plate-key secret file") else {
                throw .invalidArgument("\(path): no plate-key secret file")
            }
            do { return try PlateKeySecret(hex: String(decoding: bytes, as: UTF8.self).trimmedOfBlanks.split(separator: "\n").first.map(String.init) ?? "") } catch {
                throw .corruptFile(path: path, offset: 0, reason: "not a plate key secret (32 hex digits)")
            }
        case .environment(let name):
            guard let value = getenv(name) else { throw .invalidArgument("the environment variable \(name) (the plate-key secret) is not set") }
            do { return try PlateKeySecret(hex: String(cString: value).trimmedOfBlanks) } catch {
                throw .invalidArgument("the environment variable \(name) does not hold a plate key secret (32 hex digits)")
            }
        case .provider(let provide):
            do { return try provide() } catch let e as SightlineError { throw e } catch {
                throw .invalidArgument("the plate-key secret provider failed: \(error)")
            }
        }
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
