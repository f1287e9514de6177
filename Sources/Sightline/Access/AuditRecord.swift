/// One entry of a store's audit log: who did what to the store's sightings, when, why, and
/// what it returned. Plates never appear in clear: `query` names them by their keyed hash.
public struct AuditRecord: Sendable, Hashable {
    /// Position in the log, from 1, without gaps.
    public var sequence: UInt64
    /// When the operation was answered (or refused), epoch milliseconds.
    public var time: Int64
    /// Who asked, for which agency, why, under which case.
    public var access: AccessContext
    /// The operation: `query`, `count`, `heatmap`, `cursor`, `search-plates`, `intersect`,
    /// `convoy`, `frequent`, `hotlist-check`, `export`, `alerts`, `purge`, `retention`,
    /// `access-policy`, `guardrails`, …
    public var operation: String
    /// The operation's canonical text (`Query.auditText`), plates as keyed hashes.
    public var query: String
    /// Rows returned (or deleted, for purges and retention); -1 when not known up front (a
    /// cursor streams its rows after its record is written).
    public var rows: Int64
    /// Distinct plates among those rows; -1 when not known.
    public var plates: Int64
    /// Whether the operation was answered, refused or failed.
    public var outcome: AuditOutcome
    /// Why it was refused or failed; other notes.
    public var detail: String

    /// A record; the log assigns `sequence` and `time` when it appends it.
    public init(sequence: UInt64 = 0, time: Int64 = 0, access: AccessContext, operation: String, query: String,
                rows: Int64, plates: Int64, outcome: AuditOutcome, detail: String = "") {
        self.sequence = sequence
        self.time = time
        self.access = access
        self.operation = operation
        self.query = query
        self.rows = rows
        self.plates = plates
        self.outcome = outcome
        self.detail = detail
    }
}

/// How an audited operation ended.
public enum AuditOutcome: String, Sendable, Hashable, CaseIterable {
    /// Answered: the answer was returned after this record was durable.
    case answered
    /// Refused before any row was read (no purpose, guardrails, policy).
    case refused
    /// Failed while running (I/O, corruption, deadline); nothing more was returned.
    case failed
}
