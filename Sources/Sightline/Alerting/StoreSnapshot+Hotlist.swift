/// Retroactive checks: the stored history against hotlist entries and geofences.
extension StoreSnapshot {
    /// Every stored sighting in `time` that matches one of `rules`, as historical alerts
    /// (sequence 0 until logged), ordered by time, plate, camera, then list. Expiry is not
    /// applied: an entry is checked against the whole range asked for.
    ///
    /// Exact entries are plate histories (plate filters, key runs); equivalent entries expand
    /// into every plate they stand for (the product of their characters' OCR classes) when
    /// that is at most 256 plates, else run as an OCR-equivalent search; patterns are searches
    /// through the plate n-gram index; geofences are area queries.
    public func checkRules(_ rules: RuleSet, time: TimeRange = .all) throws(SightlineError) -> [Alert] {
        var out: [Alert] = []
        func add(_ rows: [Sighting], rule: String, list: String, match: AlertMatch) {
            for s in rows { out.append(Alert(sequence: 0, rule: rule, list: list, match: match, sighting: s, historical: true, logSequence: 0)) }
        }
        var histories: [Plate: [Sighting]] = [:]
        func history(_ plate: Plate) throws(SightlineError) -> [Sighting] {
            if let known = histories[plate] { return known }
            let rows = try run(Query(.history(plate), time: time)).rows
            histories[plate] = rows
            return rows
        }
        for e in rules.hotlist {
            switch e.mode {
            case .exact:
                add(try history(try Plate(e.plate)), rule: e.ruleID, list: e.list, match: .exact)
            case .equivalent:
                let plate = try Plate(e.plate)
                if let variants = Self.equivalents(of: plate, rules.equivalence, limit: 256) {
                    for v in variants { add(try history(v), rule: e.ruleID, list: e.list, match: .equivalent) }
                } else {
                    let pattern = try PlatePattern(e.plate, equivalence: rules.equivalence)
                    add(try run(Query(.search(pattern, within: nil), time: time)).rows, rule: e.ruleID, list: e.list, match: .equivalent)
                }
            case .pattern:
                add(try run(Query(.search(try PlatePattern(e.plate), within: nil), time: time)).rows, rule: e.ruleID, list: e.list, match: .pattern)
            }
        }
        for g in rules.allGeofences {
            let rows = try run(Query(.area(g.area), time: time, filters: QueryFilters(cameras: g.cameras))).rows
            add(g.hours.map { h in rows.filter { h.contains($0.time) } } ?? rows, rule: g.ruleID, list: g.name, match: .geofence)
        }
        out.sort {
            let (a, b) = ($0.sighting, $1.sighting)
            if a.time != b.time { return a.time < b.time }
            if a.plate != b.plate { return a.plate < b.plate }
            if a.camera != b.camera { return a.camera < b.camera }
            return ($0.list, $0.rule) < ($1.list, $1.rule)
        }
        return out
    }

    /// Every plate equal to `plate` once folded by `equivalence` (itself included), or nil
    /// when there are more than `limit`.
    static func equivalents(of plate: Plate, _ equivalence: OCREquivalence, limit: Int) -> [Plate]? {
        var members: [UInt8: [UInt8]] = [:]
        for c in equivalence.classes { for b in c.utf8 { members[b] = Array(c.utf8) } }
        var results: [[UInt8]] = [[]]
        for i in 0..<Int(plate.count) {
            let options = members[plate[i]] ?? [plate[i]]
            guard results.count * options.count <= limit else { return nil }
            results = results.flatMap { prefix in options.map { prefix + [$0] } }
        }
        return results.map { bytes in bytes.withUnsafeBytes { Plate(uncheckedNormalized: $0) } }
    }
}
