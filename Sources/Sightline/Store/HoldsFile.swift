/// The store's legal holds on disk: `HOLDS`, one tab-separated line per hold between a
/// header and a CRC32C line, replaced whole (write-temp, fsync, rename, fsync directory):
///
///     sightline holds v1
///     hold <TAB> id <TAB> case <TAB> plate:<PLATE> | area:<area text> <TAB> from|- <TAB> to|- <TAB> placedAt <TAB> placedBy
///     crc32c <8 hex digits>
///
/// No file: no holds. A damaged file is `corruptFile` (retention would otherwise delete
/// rows a court ordered kept).
enum HoldsFile {
    static let fileName = "HOLDS"
    static let header = "sightline holds v1"

    static func encode(_ holds: [LegalHold]) -> [UInt8] {
        var body = header + "\n"
        for h in holds {
            let scope = h.plate.map { "plate:\($0.text)" } ?? "area:" + RulesFile.areaText(h.area!)
            body += "hold\t\(h.id)\t\(h.caseNumber)\t\(scope)\t\(h.time.from.map(String.init) ?? "-")\t\(h.time.to.map(String.init) ?? "-")\t\(h.placedAt)\t\(h.placedBy)\n"
        }
        return withChecksumLine(body)
    }

    static func decode(_ bytes: [UInt8], path: String) throws(SightlineError) -> [LegalHold] {
        func corrupt(_ reason: String) -> SightlineError { .corruptFile(path: path, offset: 0, reason: reason) }
        var holds: [LegalHold] = []
        for (i, line) in try checkedLines(bytes, header: header, path: path).enumerated() {
            let f = line.split(separator: "\t", omittingEmptySubsequences: false).map(String.init)
            guard f.count == 8, f[0] == "hold", let placedAt = Int64(f[6]) else { throw corrupt("bad hold line \(i + 2)") }
            func time(_ s: String) throws(SightlineError) -> Int64? {
                if s == "-" { return nil }
                guard let t = Int64(s) else { throw corrupt("bad time on hold line \(i + 2)") }
                return t
            }
            let plate: Plate? = f[3].hasPrefix("plate:") ? try Plate(String(f[3].dropFirst(6))) : nil
            let area: Area? = f[3].hasPrefix("area:") ? try RulesFile.area(String(f[3].dropFirst(5))) : nil
            holds.append(try LegalHold(id: f[1], caseNumber: f[2], plate: plate, area: area,
                                       time: try TimeRange(from: try time(f[4]), to: try time(f[5])), placedAt: placedAt, placedBy: f[7]))
        }
        return holds
    }

    static func read(directory: String, fileSystem: any FileSystem) throws(SightlineError) -> [LegalHold] {
        let path = "\(directory)/\(fileName)"
        guard let bytes = try fileSystem.contentsIfPresent(path, limit: 64 << 20, "holds file") else { return [] }
        return try decode(bytes, path: path)
    }
}

extension Store {
    /// The legal holds in force.
    public var legalHolds: [LegalHold] { state.withLock { $0.holds } }

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
            try state.withLock { (s: inout State) throws(SightlineError) in
                try fileSystem.replaceAtomically("\(directory)/\(HoldsFile.fileName)", with: HoldsFile.encode(s.holds + [placed]))
                s.holds.append(placed)
            }
        }
        try audit(access, "hold", holdText(placed), rows: 0, plates: placed.plate == nil ? 0 : 1, detail: "placed \(placed.id) case \(placed.caseNumber)")
        return placed
    }

    /// Releases the hold with this id (or every hold of this case number): its rows fall
    /// under retention again at the next maintenance. Audited. Returns the holds released.
    @discardableResult
    public func releaseLegalHold(_ idOrCase: String, by access: AccessContext = .unattributed) throws(SightlineError) -> [LegalHold] {
        let released = try onFlushQueue { () throws(SightlineError) -> [LegalHold] in
            try state.withLock { (s: inout State) throws(SightlineError) -> [LegalHold] in
                let gone = s.holds.filter { $0.id == idOrCase || $0.caseNumber == idOrCase }
                guard !gone.isEmpty else { return [] }
                let kept = s.holds.filter { $0.id != idOrCase && $0.caseNumber != idOrCase }
                try fileSystem.replaceAtomically("\(directory)/\(HoldsFile.fileName)", with: HoldsFile.encode(kept))
                s.holds = kept
                return gone
            }
        }
        for h in released { try audit(access, "hold-release", holdText(h), rows: 0, plates: 0, detail: "released \(h.id) case \(h.caseNumber)") }
        return released
    }

    func holdText(_ h: LegalHold) -> String {
        (h.plate.map { "hold plate=#\(hex16(hasher.key($0)))" } ?? "hold area=\(h.area!.auditText)") + " time=\(h.time.auditText)"
    }

}
