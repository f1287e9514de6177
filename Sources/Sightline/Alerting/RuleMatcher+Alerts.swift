/// Turning matches into alerts.
extension RuleMatcher {
    /// Alerts (unsequenced) of `rows`, the fresh rows of log record `logSequence` (0 outside
    /// a store), at epoch millisecond `now`.
    func alerts(of rows: SightingBatch, logSequence: UInt64, now: Int64) -> [Alert] {
        var out: [Alert] = []
        for i in 0..<rows.count {
            forEachMatch(plate: rows.plates[i], time: rows.times[i], latitudeE7: rows.latitudesE7[i],
                         longitudeE7: rows.longitudesE7[i], camera: rows.cameras[i], now: now) { rule in
                out.append(alert(rows, i, rule, logSequence: logSequence))
            }
        }
        return out
    }

    private func alert(_ rows: SightingBatch, _ i: Int, _ rule: Rule, logSequence: UInt64) -> Alert {
        let (id, list, match): (String, String, AlertMatch)
        switch rule {
        case .entry(let k):
            let e = entries[Int(k)]
            (id, list, match) = (e.ruleID, e.list, AlertMatch(e.mode))
        case .geofence(let k):
            let g = geofences[Int(k)]
            (id, list, match) = (g.ruleID, g.name, .geofence)
        }
        return Alert(sequence: 0, rule: id, list: list, match: match, sighting: rows[i], historical: false, logSequence: logSequence)
    }
}
