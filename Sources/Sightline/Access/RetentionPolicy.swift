/// How long rows are kept, per owner (`RETENTION`; `sightline retention STORE set FILE`):
/// New Hampshire's cameras three minutes, Maine's 21 days, Vermont's 18 months, everyone
/// else the store's default.
///
/// A row's period comes from the rules whose `owner` names its camera's agency if there
/// are any, else those naming `jurisdiction:` its jurisdiction, else `defaultPeriod` (and,
/// when that is nil, `StoreOptions.retention`; nil there too: kept until purged). Rows that
/// matched a hotlist (those the alert log holds as hotlist alerts) are kept for the rule's
/// `hits` period instead, when it sets one. Held rows are kept whatever the period.
///
/// A row older than its period is gone from every answer at once (each snapshot tests
/// against the clock) and from disk at the store's next retention run (the maintenance
/// timer, `Store.enforceRetention`, `sightline retention STORE enforce`).
public struct RetentionPolicy: Sendable, Hashable {
    /// The period of rows no rule speaks of (nil: `StoreOptions.retention`).
    public var defaultPeriod: Duration?
    /// The period of such rows that matched a hotlist (nil: `defaultPeriod`).
    public var defaultHits: Duration?
    /// The rules, in file order (for one owner the first that names it applies).
    public var rules: [RetentionPolicy.Rule]

    /// A policy.
    public init(defaultPeriod: Duration? = nil, defaultHits: Duration? = nil, rules: [RetentionPolicy.Rule] = []) {
        self.defaultPeriod = defaultPeriod
        self.defaultHits = defaultHits
        self.rules = rules
    }

    /// No policy: `StoreOptions.retention` alone decides.
    public static let none = RetentionPolicy()

    /// Whether the policy states any period (so the store enforces it in the background).
    public var statesPeriods: Bool { defaultPeriod != nil || defaultHits != nil || rules.contains { $0.keep != nil || $0.hits != nil } }

    /// The rule that applies to rows of `owner` (nil: the default).
    public func rule(for owner: CameraRegistry.Owner?) -> RetentionPolicy.Rule? {
        guard let owner else { return nil }
        if let r = rules.first(where: { $0.owner == owner.agency }) { return r }
        if !owner.jurisdiction.isEmpty, let r = rules.first(where: { $0.owner == "jurisdiction:" + owner.jurisdiction }) { return r }
        return nil
    }

    /// The periods (ordinary, hotlist hits) of rows owned by `owner`; nil: kept until purged.
    public func periods(for owner: CameraRegistry.Owner?, fallback: Duration?) -> (keep: Duration?, hits: Duration?) {
        if let r = rule(for: owner) { return (r.keep, r.hits ?? r.keep) }
        let keep = defaultPeriod ?? fallback
        return (keep, defaultHits ?? keep)
    }

    /// A period in Sightline's one grammar (``Period/parse(_:)``).
    public static func period(_ text: String) throws(SightlineError) -> Duration { try Period.parse(text) }

    /// One rule: the periods of one owner's rows.
    public struct Rule: Sendable, Hashable {
        /// The owning agency, or `jurisdiction:XX`.
        public var owner: String
        /// How long its rows are kept (nil: until purged).
        public var keep: Duration?
        /// How long its rows that matched a hotlist are kept (nil: `keep`).
        public var hits: Duration?

        /// A rule.
        public init(owner: String, keep: Duration?, hits: Duration? = nil) {
            self.owner = owner
            self.keep = keep
            self.hits = hits
        }
    }

    /// `period` written back (``Period/text(_:)``).
    public static func text(_ period: Duration) -> String { Period.text(period) }
}

/// The policy on disk: `RETENTION`, checksummed text lines like `POLICY` (Docs/format.md).
enum RetentionFile {
    static let fileName = "RETENTION"
    static let header = "sightline retention v1"

    static func encode(_ p: RetentionPolicy) -> [UInt8] {
        func t(_ d: Duration?) -> String { d.map(RetentionPolicy.text) ?? "-" }
        var body = "\(header)\ndefault\t\(t(p.defaultPeriod))\t\(t(p.defaultHits))\n"
        for r in p.rules { body += "rule\t\(r.owner)\t\(t(r.keep))\t\(t(r.hits))\n" }
        return withChecksumLine(body)
    }

    static func decode(_ bytes: [UInt8], path: String) throws(SightlineError) -> RetentionPolicy {
        let lines = try checkedLines(bytes, header: header, path: path)
        func period(_ s: String, _ line: Int) throws(SightlineError) -> Duration? {
            if s == "-" { return nil }
            do { return try RetentionPolicy.period(s) } catch { throw .corruptFile(path: path, offset: 0, reason: "bad period \"\(s)\" on line \(line)") }
        }
        guard let first = lines.first?.split(separator: "\t", omittingEmptySubsequences: false).map(String.init),
              first.count == 3, first[0] == "default" else { throw .corruptFile(path: path, offset: 0, reason: "expected the default periods on line 2") }
        var policy = RetentionPolicy(defaultPeriod: try period(first[1], 2), defaultHits: try period(first[2], 2))
        for (i, line) in lines.dropFirst().enumerated() {
            let f = line.split(separator: "\t", omittingEmptySubsequences: false).map(String.init)
            guard f.count == 4, f[0] == "rule", !f[1].isEmpty else { throw .corruptFile(path: path, offset: 0, reason: "bad rule line \(i + 3)") }
            policy.rules.append(RetentionPolicy.Rule(owner: f[1], keep: try period(f[2], i + 3), hits: try period(f[3], i + 3)))
        }
        return policy
    }

    static func read(directory: String, fileSystem: any FileSystem) throws(SightlineError) -> RetentionPolicy {
        let path = "\(directory)/\(fileName)"
        guard let bytes = try fileSystem.contentsIfPresent(path, limit: 16 << 20, "retention policy") else { return .none }
        return try decode(bytes, path: path)
    }
}
