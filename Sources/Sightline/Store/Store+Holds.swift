extension Store {
    /// The legal holds in force.
    public var legalHolds: [LegalHold] { policy.current.holds }

    /// Places a legal hold (its id and time assigned here): written durably (`HOLDS`)
    /// before this returns, so no retention run or compaction after it deletes its rows;
    /// audited (operation `hold`). Returns the hold as placed.
    @discardableResult
    public func placeLegalHold(_ hold: LegalHold, by access: AccessContext = .unattributed) throws(SightlineError) -> LegalHold {
        try checkPolicyName(hold.caseNumber, "case number")
        var placed = hold
        placed.id = "H" + hex8(UInt32.random(in: 0...UInt32.max))
        placed.placedAt = options.wallClock()
        placed.placedBy = access.requester
        try checkPolicyName(placed.placedBy, "requester")
        try onFlushQueue { () throws(SightlineError) in  // not while a rewrite decides what to keep
            try policy.placeHold(placed)
        }
        try audit(access, "hold", holdText(placed), rows: 0, plates: placed.plate == nil ? 0 : 1, detail: "placed \(placed.id) case \(placed.caseNumber)")
        return placed
    }

    /// Releases the hold with this id (or every hold of this case number): its rows fall
    /// under retention again at the next maintenance. Audited. Returns the holds released.
    @discardableResult
    public func releaseLegalHold(_ idOrCase: String, by access: AccessContext = .unattributed) throws(SightlineError) -> [LegalHold] {
        let released = try onFlushQueue { () throws(SightlineError) -> [LegalHold] in
            try policy.releaseHolds(idOrCase)
        }
        for h in released { try audit(access, "hold-release", holdText(h), rows: 0, plates: 0, detail: "released \(h.id) case \(h.caseNumber)") }
        return released
    }

    func holdText(_ h: LegalHold) -> String {
        (h.plate.map { "hold plate=#\(hex16(hasher.key($0)))" } ?? "hold area=\(h.area!.auditText)") + " time=\(h.time.auditText)"
    }

}
