#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// The JSON files an operator writes to set a store's policies — the sharing policy
/// (``SharingPolicy``) and the retention policy (``RetentionPolicy``) — read with the same
/// code by the CLI, by services and by the store. A bad file is refused with
/// ``SightlineError/invalidDocument(source:at:reason:)`` naming the file and the JSON path of
/// the first bad value.
public enum PolicyDocument {
    /// The `T` that `json` describes; `source` names it in errors.
    public static func decode<T: Decodable>(_ type: T.Type, from json: [UInt8], source: String) throws(SightlineError) -> T {
        do {
            return try JSONDecoder().decode(T.self, from: Data(json))
        } catch let error as DecodingError {
            throw describe(error, source: source)
        } catch {
            throw .invalidDocument(source: source, at: "", reason: "\(error)")
        }
    }

    /// The `T` in the JSON file at `path`, read through `fileSystem`.
    public static func read<T: Decodable>(_ type: T.Type, path: String,
                                          fileSystem: any FileSystem = PosixFileSystem()) throws(SightlineError) -> T {
        guard let bytes = try fileSystem.contentsIfPresent(path, limit: 16 << 20, "policy file") else {
            throw .io(operation: "open", path: path, errno: ENOENT)
        }
        return try decode(type, from: bytes, source: path)
    }

    static func describe(_ error: DecodingError, source: String) -> SightlineError {
        func at(_ path: [any CodingKey]) -> String {
            var text = ""
            for key in path {
                if let i = key.intValue { text += "[\(i)]" } else { text += (text.isEmpty ? "" : ".") + key.stringValue }
            }
            return text
        }
        switch error {
        case .dataCorrupted(let c):
            return .invalidDocument(source: source, at: at(c.codingPath), reason: c.codingPath.isEmpty ? "not JSON: \(c.debugDescription)" : c.debugDescription)
        case .keyNotFound(let key, let c):
            return .invalidDocument(source: source, at: at(c.codingPath + [key]), reason: "missing")
        case .typeMismatch(let type, let c):
            return .invalidDocument(source: source, at: at(c.codingPath), reason: "expected \(PolicyDocument.name(type))")
        case .valueNotFound(let type, let c):
            return .invalidDocument(source: source, at: at(c.codingPath), reason: "expected \(PolicyDocument.name(type)), found null")
        @unknown default:
            return .invalidDocument(source: source, at: "", reason: "\(error)")
        }
    }

    private static func name(_ type: Any.Type) -> String {
        switch type {
        case is String.Type: return "a string"
        case is [String].Type: return "an array of names"
        case is Bool.Type: return "true or false"
        default: return type is any Collection.Type ? "an array" : (type == [String: String].self ? "an object" : "\(type)")
        }
    }
}

/// `{"default": "allow" | "deny", "rules": [{"owner": "AGENCY" | "jurisdiction:XX", "allow": [...], "deny": [...]}]}`;
/// a missing default allows, missing lists are empty.
extension SharingPolicy: Codable {
    private enum CodingKeys: String, CodingKey { case `default`, rules }

    /// Reads the policy file's JSON shape (see ``PolicyDocument``).
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let decision = try c.decodeIfPresent(String.self, forKey: .default) ?? "allow"
        guard decision == "allow" || decision == "deny" else {
            throw DecodingError.dataCorruptedError(forKey: .default, in: c, debugDescription: "must be allow or deny, not \(decision)")
        }
        self.init(defaultAllows: decision == "allow", rules: try c.decodeIfPresent([SharingRule].self, forKey: .rules) ?? [])
    }

    /// Writes the policy file's JSON shape.
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(defaultAllows ? "allow" : "deny", forKey: .default)
        try c.encode(rules, forKey: .rules)
    }
}

extension SharingRule: Codable {
    private enum CodingKeys: String, CodingKey { case owner, allow, deny }

    /// One rule of the policy file: an owner (required, not empty) and its allow and deny lists.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let owner = try c.decode(String.self, forKey: .owner)
        guard !owner.isEmpty else { throw DecodingError.dataCorruptedError(forKey: .owner, in: c, debugDescription: "is empty") }
        self.init(owner: owner, allow: try c.decodeIfPresent([String].self, forKey: .allow) ?? [],
                  deny: try c.decodeIfPresent([String].self, forKey: .deny) ?? [])
    }

    /// Writes the rule as the policy file has it.
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(owner, forKey: .owner)
        try c.encode(allow, forKey: .allow)
        try c.encode(deny, forKey: .deny)
    }
}

/// `{"default": "90d", "hits": "2y", "rules": [{"owner": "AGENCY" | "jurisdiction:XX", "keep": "3m", "hits": "3y"}]}`;
/// a period is a ``Period`` text, whole milliseconds, or null / absent / `"forever"` for none.
extension RetentionPolicy: Codable {
    private enum CodingKeys: String, CodingKey { case `default`, hits, rules }

    /// Reads the retention file's JSON shape (see ``PolicyDocument``).
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.init(defaultPeriod: try c.decodeIfPresent(PeriodValue.self, forKey: .default)?.duration,
                  defaultHits: try c.decodeIfPresent(PeriodValue.self, forKey: .hits)?.duration,
                  rules: try c.decodeIfPresent([Rule].self, forKey: .rules) ?? [])
    }

    /// Writes the retention file's JSON shape (periods as ``Period`` texts, none as null).
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(defaultPeriod.map(Period.text), forKey: .default)
        try c.encode(defaultHits.map(Period.text), forKey: .hits)
        try c.encode(rules, forKey: .rules)
    }
}

extension RetentionPolicy.Rule: Codable {
    private enum CodingKeys: String, CodingKey { case owner, keep, hits }

    /// One rule of the retention file: an owner (required, not empty) and its periods.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let owner = try c.decode(String.self, forKey: .owner)
        guard !owner.isEmpty else { throw DecodingError.dataCorruptedError(forKey: .owner, in: c, debugDescription: "is empty") }
        self.init(owner: owner, keep: try c.decodeIfPresent(PeriodValue.self, forKey: .keep)?.duration,
                  hits: try c.decodeIfPresent(PeriodValue.self, forKey: .hits)?.duration)
    }

    /// Writes the rule as the retention file has it.
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(owner, forKey: .owner)
        try c.encode(keep.map(Period.text), forKey: .keep)
        try c.encode(hits.map(Period.text), forKey: .hits)
    }
}

/// A period as a policy file writes it: a ``Period`` text, whole milliseconds, or `"forever"`.
private struct PeriodValue: Decodable {
    var duration: Duration?

    init(from decoder: any Decoder) throws {
        let c = try decoder.singleValueContainer()
        if c.decodeNil() { duration = nil; return }
        if let ms = try? c.decode(Int64.self) {
            guard ms >= 0 else { throw DecodingError.dataCorruptedError(in: c, debugDescription: "a period is not negative") }
            duration = .milliseconds(ms)
            return
        }
        guard let text = try? c.decode(String.self) else {
            throw DecodingError.dataCorruptedError(in: c, debugDescription: "must be a period such as \"21d\"")
        }
        if text == "forever" { duration = nil; return }
        do { duration = try Period.parse(text) } catch {
            throw DecodingError.dataCorruptedError(in: c, debugDescription: "\(error)")
        }
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
