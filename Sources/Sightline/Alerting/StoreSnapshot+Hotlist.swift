import Dispatch

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
        try checkScope(nil)
        if auditTrail != nil {
            return try audited("hotlist-check", { t in
                "hotlist-check entries=\(rules.hotlistCount) geofences=\(rules.allGeofences.count) time=\(time.auditText)"
            }, { (s: StoreSnapshot) throws(SightlineError) in try s.checkRules(rules, time: time) }, counted: { Self.counted($0.map(\.sighting)) })
        }
        // One query per distinct plate, pattern or geofence; the rules it serves share its rows.
        struct Tag { let rule: String, list: String, match: AlertMatch }
        struct Item { let query: Query; var tags: [Tag]; let hours: HourWindow? }
        var items: [Item] = []
        var historyItem: [Plate: Int] = [:]
        func history(_ plate: Plate, _ tag: Tag) throws(SightlineError) {
            if let k = historyItem[plate] { items[k].tags.append(tag); return }
            historyItem[plate] = items.count
            items.append(Item(query: try Query(.history(plate), time: time), tags: [tag], hours: nil))
        }
        for e in rules.hotlist {
            let tag = Tag(rule: e.ruleID, list: e.list, match: AlertMatch(e.mode))
            switch e.mode {
            case .exact:
                try history(try Plate(e.plate), tag)
            case .equivalent:
                let plate = try Plate(e.plate)
                if let variants = Self.equivalents(of: plate, rules.equivalence, limit: 256) {
                    for v in variants { try history(v, tag) }
                } else {
                    let pattern = try PlatePattern(e.plate, equivalence: rules.equivalence)
                    items.append(Item(query: try Query(.search(pattern, within: nil), time: time), tags: [tag], hours: nil))
                }
            case .pattern:
                items.append(Item(query: try Query(.search(try PlatePattern(e.plate), within: nil), time: time), tags: [tag], hours: nil))
            }
        }
        for g in rules.allGeofences {
            items.append(Item(query: try Query(.area(g.area), time: time, filters: QueryFilters(cameras: g.cameras)),
                              tags: [Tag(rule: g.ruleID, list: g.name, match: .geofence)], hours: g.hours))
        }
        // Items spread over the cores (each query is small: a plate's history reads a few
        // blocks of the segments whose plate filter lets it through).
        let workers = min(items.count, Machine.coreCount)
        let found = Locked<[Alert]>([])
        let failure = Locked<SightlineError?>(nil)
        let work = items
        @Sendable func runWorker(_ w: Int) {
            var out: [Alert] = []
            do throws(SightlineError) {
                for i in stride(from: w, to: work.count, by: workers) {
                    let item = work[i]
                    for s in try run(item.query).rows where item.hours?.contains(s.time) ?? true {
                        for t in item.tags {
                            out.append(Alert(sequence: 0, rule: t.rule, list: t.list, match: t.match, sighting: s, historical: true, logSequence: 0))
                        }
                    }
                    if failure.withLock({ $0 != nil }) { return }
                }
            } catch {
                failure.withLock { $0 = $0 ?? error }
            }
            found.withLock { $0 += out }
        }
        if workers == 1 { runWorker(0) } else if workers > 1 { DispatchQueue.concurrentPerform(iterations: workers) { runWorker($0) } }
        if let error = failure.withLock({ $0 }) { throw error }
        var out = found.withLock { $0 }
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
