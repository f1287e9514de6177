/// Who reads, for whom and why: carried by every read of sightings (queries, cursors,
/// searches, exports, hotlist checks) and by purges, and written to the store's audit log
/// with the operation. A store may require a purpose (and a case number) of every read
/// (`AccessRequirement`); a read without one is refused, and the refusal is audited too.
public struct AccessContext: Sendable, Hashable {
    /// The person or service asking (a user id, a service account).
    public var requester: String
    /// The agency the requester acts for (the sharing policy's requesting agency).
    public var agency: String
    /// Why: an investigation, a hotlist hit follow-up, an audit. Empty: none stated.
    public var purpose: String
    /// The case or incident number the read serves, if any.
    public var caseNumber: String?

    /// A context; empty strings mean "not stated".
    public init(requester: String, agency: String = "", purpose: String = "", caseNumber: String? = nil) {
        self.requester = requester
        self.agency = agency
        self.purpose = purpose
        self.caseNumber = caseNumber.flatMap { $0.isEmpty ? nil : $0 }
    }

    /// No stated requester, agency or purpose: what `snapshot()` without a context reads as
    /// (audited as such; refused by a store that requires a purpose).
    public static let unattributed = AccessContext(requester: "")
}

/// What a store demands of every read's `AccessContext`. Kept in the store (`ACCESS`),
/// honoured by every process that opens it.
public enum AccessRequirement: String, Sendable, Hashable, CaseIterable {
    /// Reads need no stated purpose (they are audited all the same).
    case none
    /// Every read states a purpose.
    case purpose
    /// Every read states a purpose and a case number.
    case purposeAndCase = "purpose+case"

    /// Why `context` may not read under this requirement, or nil when it may.
    public func refusal(of context: AccessContext) -> String? {
        let purpose = context.purpose.trimmedOfBlanks
        switch self {
        case .none: return nil
        case .purpose: return purpose.isEmpty ? "the store requires a purpose for every read" : nil
        case .purposeAndCase:
            if purpose.isEmpty { return "the store requires a purpose and a case number for every read" }
            return (context.caseNumber ?? "").trimmedOfBlanks.isEmpty ? "the store requires a case number for every read" : nil
        }
    }
}

extension String {
    /// The string without leading and trailing spaces and tabs.
    var trimmedOfBlanks: String {
        var scalars = Substring(self).unicodeScalars
        while let f = scalars.first, f == " " || f == "\t" { scalars.removeFirst() }
        while let l = scalars.last, l == " " || l == "\t" { scalars.removeLast() }
        return String(scalars)
    }
}
