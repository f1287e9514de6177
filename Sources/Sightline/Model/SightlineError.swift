/// Every error the Sightline library throws. Each case names what went wrong and where.
public enum SightlineError: Error, Sendable, Equatable, CustomStringConvertible {
    /// A plate that is empty, too long, or has characters outside A–Z, 0–9 after normalization.
    case invalidPlate(String, reason: String)
    /// A field of a sighting outside its domain (latitude, longitude, confidence, region, image).
    case invalidField(field: String, value: String, reason: String)
    /// A file whose bytes do not match what was written: bad magic, checksum, or structure.
    case corruptFile(path: String, offset: Int64, reason: String)
    /// A file written by a newer or unknown version of the format.
    case unsupportedFormat(path: String, version: Int)
    /// A segment written under a different plate key secret than the reader's.
    case wrongPlateKeySecret(path: String)
    /// Another process (or another open store in this one) holds the store's lock.
    case storeLocked(path: String)
    /// A compression library reported an error.
    case compression(codec: String, reason: String)
    /// An operating-system call failed. `errno` is the raw error number.
    case io(operation: String, path: String, errno: Int32)
    /// An argument outside what the API accepts.
    case invalidArgument(String)
    /// The store was closed (`Store.close()`); open it again to go on.
    case storeClosed(path: String)
    /// A query ran past its deadline (checked between blocks); rows already returned stand.
    case deadlineExceeded
    /// The task running the operation was cancelled.
    case cancelled
    /// A page token that does not belong to the query it was given with, or is malformed.
    case invalidPageToken(String)
    /// A request through a store's control socket failed: no owner listening, refused, or
    /// an error the owner reported.
    case controlFailed(path: String, reason: String)
    /// An investigative query the store's guardrails refuse (`InvestigationLimits`): it spans
    /// more time, or would expose more distinct plates, than the owner allows.
    case investigationRefused(String)
    /// A line of an input file (a hotlist CSV) that cannot be used: the file, the 1-based
    /// line and why. Nothing of the file was applied.
    case invalidInput(source: String, line: Int, reason: String)
    /// A structured document (a sharing or retention policy file) is not what it should be:
    /// `source` is the file, `at` the JSON path of the bad value (`rules[2].owner`).
    case invalidDocument(source: String, at: String, reason: String)
    /// A read the store's access rules refuse: no purpose (or case number) where the store
    /// requires one. The refusal itself is audited.
    case accessRefused(String)
    /// The store's plate-key secret is kept outside it and none was supplied
    /// (`StoreOptions.secret` or `secretSource`).
    case secretRequired(path: String)
    /// The store keeps its key material in a keyring (outside it), and the one given holds
    /// no entry for the store's id: the wrong keyring, or a lost one.
    case keyMissing(store: String, keyring: String, storeID: String)
    /// A purge refused because rows it would remove are under a legal hold (which holds,
    /// how many rows); release them or force the purge.
    case legalHold(String)

    /// The file the error concerns, when it concerns one.
    public var path: String? {
        switch self {
        case .corruptFile(let path, _, _), .unsupportedFormat(let path, _), .wrongPlateKeySecret(let path),
             .storeLocked(let path), .io(_, let path, _), .storeClosed(let path), .controlFailed(let path, _), .secretRequired(let path),
             .keyMissing(let path, _, _):
            return path
        case .invalidInput(let source, _, _), .invalidDocument(let source, _, _):
            return source
        case .invalidPlate, .invalidField, .compression, .invalidArgument, .deadlineExceeded, .cancelled, .invalidPageToken,
             .investigationRefused, .accessRefused, .legalHold:
            return nil
        }
    }

    public var description: String {
        switch self {
        case .invalidPlate(let plate, let reason):
            return "invalid plate \"\(plate)\": \(reason)"
        case .invalidField(let field, let value, let reason):
            return "invalid \(field) \(value): \(reason)"
        case .corruptFile(let path, let offset, let reason):
            return "\(path): corrupt at byte \(offset): \(reason)"
        case .unsupportedFormat(let path, let version):
            return "\(path): unsupported format version \(version)"
        case .wrongPlateKeySecret(let path):
            return "\(path): written under a different plate key secret"
        case .storeLocked(let path):
            return "\(path): the store is open in another process (lock held)"
        case .compression(let codec, let reason):
            return "\(codec): \(reason)"
        case .io(let operation, let path, let errno):
            return "\(operation) \(path): \(String(cString: strerror(errno))) (errno \(errno))"
        case .invalidArgument(let message):
            return message
        case .storeClosed(let path):
            return "\(path): the store is closed"
        case .deadlineExceeded:
            return "the query ran past its deadline"
        case .cancelled:
            return "cancelled"
        case .invalidPageToken(let reason):
            return "invalid page token: \(reason)"
        case .controlFailed(let path, let reason):
            return "\(path): \(reason)"
        case .investigationRefused(let reason):
            return "refused by the store's guardrails: \(reason)"
        case .invalidInput(let source, let line, let reason):
            return "\(source):\(line): \(reason)"
        case .invalidDocument(let source, let at, let reason):
            return at.isEmpty ? "\(source): \(reason)" : "\(source): \(at): \(reason)"
        case .accessRefused(let reason):
            return "access refused: \(reason)"
        case .legalHold(let reason):
            return "refused: \(reason)"
        case .secretRequired(let path):
            return "\(path): the store's plate-key secret is kept outside it; supply it (a secret file, an environment variable or a provider)"
        case .keyMissing(let store, let keyring, let id):
            return "\(store): the keyring \(keyring) holds no keys for this store (id \(id)); open it with the keyring it was made with (--keyring DIR or SIGHTLINE_KEYRING; the keyring of the store options)"
        }
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
