import Crypto

/// What a snapshot (or a store's maintenance) needs to audit: the log, the store's access
/// requirement when the snapshot was taken, the keyed hash that names plates in the log,
/// and the clock.
struct AuditTrail: Sendable {
    let log: AuditLogWriter
    let requirement: AccessRequirement
    let hasher: PlateHasher
    let now: @Sendable () -> Int64

    /// Appends one record, durable when this returns.
    @discardableResult
    func record(_ access: AccessContext, _ operation: String, _ query: String, rows: Int, plates: Int,
                outcome: AuditOutcome, detail: String = "") throws(SightlineError) -> AuditRecord {
        try log.append(AuditRecord(access: access, operation: operation, query: query, rows: Int64(rows), plates: Int64(plates),
                                   outcome: outcome, detail: detail), time: now())
    }

    /// `plate` as the log names it: `#` and its 64-bit plate key under the store's secret.
    func name(_ plate: Plate) -> String { "#" + hex16(hasher.key(plate)) }

    /// A pattern (or any text that may hold a plate) as the log names it: `#` and the first
    /// 8 bytes of its HMAC-SHA256 under the store's secret.
    func name(text: String) -> String {
        let code = HMAC<SHA256>.authenticationCode(for: Array(text.utf8), using: SymmetricKey(data: hasher.secret.bytes))
        return "#" + hexString(Array(code.prefix(8)))
    }
}

/// `value` as 16 lowercase hex digits.
func hex16(_ value: UInt64) -> String {
    let hex = String(value, radix: 16)
    return String(repeating: "0", count: 16 - hex.count) + hex
}
