/// A retention policy resolved against the camera registry: each camera's class of
/// periods. Rebuilt when the policy or the registry changes; a snapshot turns it into
/// cutoffs with the clock (`RetentionRule`), so evaluating it costs O(classes).
final class RetentionShape: Sendable {
    /// Distinct (keep, hits) periods in milliseconds (nil: kept until purged); class 0 is
    /// that of unregistered cameras.
    let classes: [(keep: Int64?, hits: Int64?)]
    /// Registered cameras whose class is not 0.
    let cameraClass: [UInt32: Int]
    /// Whether some class keeps hotlist hits longer than its other rows (only then do the
    /// hits matter).
    var keepsHitsLonger: Bool { classes.contains { ($0.hits ?? .max) > ($0.keep ?? .max) } }

    /// The shape of `policy` over `registry`, `fallback` standing for a missing default; nil
    /// when no row ever expires.
    static func make(_ policy: RetentionPolicy, registry: CameraRegistry, fallback: Duration?) -> RetentionShape? {
        guard policy.statesPeriods || fallback != nil else { return nil }  // nothing expires: no camera to look at
        func ms(_ p: (keep: Duration?, hits: Duration?)) -> (keep: Int64?, hits: Int64?) {
            (p.keep?.milliseconds, p.hits?.milliseconds ?? p.keep?.milliseconds)
        }
        var classes = [ms(policy.periods(for: registry.defaultOwner, fallback: fallback))]
        var cameraClass: [UInt32: Int] = [:]
        for c in registry.cameras.values {
            let p = ms(policy.periods(for: CameraRegistry.Owner(agency: c.agency, jurisdiction: c.jurisdiction), fallback: fallback))
            guard let k = classes.firstIndex(where: { $0.keep == p.keep && $0.hits == p.hits }) else {
                classes.append(p)
                cameraClass[c.camera] = classes.count - 1
                continue
            }
            if k != 0 { cameraClass[c.camera] = k }
        }
        guard classes.contains(where: { $0.keep != nil }) else { return nil }
        return RetentionShape(classes: classes, cameraClass: cameraClass)
    }

    private init(classes: [(keep: Int64?, hits: Int64?)], cameraClass: [UInt32: Int]) {
        self.classes = classes
        self.cameraClass = cameraClass
    }
}

/// What retention keeps at one moment: rows younger than their owner's period, rows that
/// matched a hotlist younger than the owner's hits period, and held rows. Queries test
/// rows against it (or, when it is one cutoff for everyone, narrow their time range);
/// flushes, retention runs and compactions keep what it keeps.
struct RetentionRule: Sendable, Hashable {
    /// Rows at or after this time are kept whoever owns them (the latest cutoff).
    let keepsFrom: Int64
    /// Rows before this time are gone unless held (the earliest cutoff, hits included).
    let expiresBefore: Int64
    /// Per class of `shape`: the cutoffs (ordinary rows, hotlist hits).
    private let cutoffs: [(keep: Int64, hits: Int64)]
    private let shape: RetentionShape?
    /// Rows that matched a hotlist (plate, time, camera); empty when no hits period extends a keep.
    let hits: Set<RowKey>
    /// Holds in force.
    let holds: [LegalHold]

    /// One cutoff for every row (a store-wide retention, an explicit `deleteOlderThan`).
    init(cutoff: Int64, holds: [LegalHold]) {
        keepsFrom = cutoff
        expiresBefore = cutoff
        cutoffs = [(cutoff, cutoff)]
        shape = nil
        hits = []
        self.holds = holds
    }

    /// `shape` at `now`; nil when nothing expires.
    init?(_ shape: RetentionShape?, now: Int64, hits: Set<RowKey>, holds: [LegalHold]) {
        guard let shape else { return nil }
        cutoffs = shape.classes.map { c in
            let keep = c.keep.map { now &- $0 } ?? .min  // periods are ≥ 0 and far below the epoch: no wrap
            return (keep, min(keep, c.hits.map { now &- $0 } ?? .min))
        }
        let extended = shape.keepsHitsLonger && !hits.isEmpty
        self.shape = shape.classes.count > 1 ? shape : nil
        self.hits = extended ? hits : []
        keepsFrom = cutoffs.map(\.keep).max()!
        expiresBefore = cutoffs.map { extended ? $0.hits : $0.keep }.min()!
        self.holds = holds
        if keepsFrom == .min { return nil }
    }

    /// Whether every row expires at one cutoff (a time range can stand for the rule).
    var isOneCutoff: Bool { holds.isEmpty && keepsFrom == expiresBefore }

    /// Whether a row's plate and position matter (a hold or a hotlist hit may keep it);
    /// otherwise its time and camera decide (`keeps(time:camera:)`), and a count need not
    /// decode plates.
    var needsPlate: Bool { !holds.isEmpty || !hits.isEmpty }

    /// `keeps` for a rule without holds or hits (`needsPlate` false).
    @inline(__always)
    func keeps(time: Int64, camera: UInt32) -> Bool {
        assert(!needsPlate, "holds and hits need the plate")
        if time >= keepsFrom { return true }
        return time >= cutoffs(of: camera).keep
    }

    /// The cutoffs of `camera`'s class.
    @inline(__always)
    private func cutoffs(of camera: UInt32) -> (keep: Int64, hits: Int64) {
        shape.map { cutoffs[$0.cameraClass[camera] ?? 0] } ?? cutoffs[0]
    }

    @inline(__always)
    func keeps(plate: Plate, time: Int64, camera: UInt32, latitudeE7: Int32, longitudeE7: Int32) -> Bool {
        if time >= keepsFrom { return true }
        if time >= expiresBefore {
            let c = cutoffs(of: camera)
            if time >= c.keep { return true }
            if time >= c.hits && hits.contains(RowKey(plate: plate, time: time, camera: camera)) { return true }
        }
        return holds.contains { $0.covers(plate: plate, time: time, latitudeE7: latitudeE7, longitudeE7: longitudeE7) }
    }

    static func == (a: RetentionRule, b: RetentionRule) -> Bool {
        a.keepsFrom == b.keepsFrom && a.expiresBefore == b.expiresBefore && a.shape === b.shape && a.holds == b.holds
            && a.cutoffs.elementsEqual(b.cutoffs) { $0 == $1 } && a.hits == b.hits
    }

    func hash(into h: inout Hasher) {
        h.combine(keepsFrom)
        h.combine(expiresBefore)
        h.combine(holds)
        h.combine(hits.count)
    }
}
