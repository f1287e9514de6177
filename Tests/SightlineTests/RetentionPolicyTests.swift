import Foundation
import Testing
@testable import Sightline
@testable import SightlineWorkload

/// Retention per owner: each camera's agency (or jurisdiction) keeps its rows for its own
/// period; hotlist hits for the hits period; held rows until released. Checked against a
/// brute-force filter for every query type, at the deadline to the millisecond, on disk
/// after one maintenance run, and through a read-only opener.
@Suite struct RetentionPolicyTests {
    static let agencies = ["NHSP", "MESP", "VTSP", "CHP"]
    static let jurisdictionOf = ["NHSP": "NH", "MESP": "ME", "VTSP": "VT", "CHP": "CA"]
    static let hour: Int64 = 3_600_000, day: Int64 = 86_400_000

    /// The definition, independently of the engine: the first rule naming the row's
    /// agency, else its jurisdiction, else the default (else the store option); hits keep
    /// for the longer of the two periods; nil keeps forever.
    static func periods(_ policy: RetentionPolicy, _ registry: CameraRegistry, fallback: Int64?, camera: UInt32) -> (keep: Int64?, hits: Int64?) {
        let owner: (agency: String, jurisdiction: String)? = registry.cameras[camera].map { ($0.agency, $0.jurisdiction) }
            ?? registry.defaultOwner.map { ($0.agency, $0.jurisdiction) }
        var rule = policy.rules.first { $0.owner == owner?.agency }
        if rule == nil, let j = owner?.jurisdiction, !j.isEmpty { rule = policy.rules.first { $0.owner == "jurisdiction:\(j)" } }
        if let rule { return (rule.keep?.milliseconds, (rule.hits ?? rule.keep)?.milliseconds) }
        let keep = policy.defaultPeriod?.milliseconds ?? fallback
        return (keep, policy.defaultHits?.milliseconds ?? keep)
    }

    static func kept(_ s: Sighting, now: Int64, _ policy: RetentionPolicy, _ registry: CameraRegistry, fallback: Int64?,
                     hit: Plate?, held: Plate?) -> Bool {
        let hitNow = s.plate == hit, heldNow = s.plate == held
        let (keep, hits) = periods(policy, registry, fallback: fallback, camera: s.camera)
        guard let keep else { return true }
        if s.time >= now - keep { return true }
        if hitNow, hits.map({ s.time >= now - max($0, keep) }) ?? true { return true }
        return heldNow
    }

    static func randomPolicy(_ g: inout SplitMix64) -> (CameraRegistry, RetentionPolicy) {
        var registry = CameraRegistry()
        for camera in 0..<UInt32(6) where g.next() % 5 != 0 {  // some cameras unregistered
            let agency = agencies[Int(g.next() % UInt64(agencies.count))]
            registry.cameras[camera] = RegisteredCamera(camera: camera, agency: agency, jurisdiction: jurisdictionOf[agency]!)
        }
        if g.next() % 2 == 0 { registry.defaultOwner = CameraRegistry.Owner(agency: "CHP", jurisdiction: "CA") }
        func period(_ choices: [Int64?]) -> Duration? { choices[Int(g.next() % UInt64(choices.count))].map { .milliseconds($0) } }
        var policy = RetentionPolicy(defaultPeriod: period([nil, 2 * day, 4 * day]), defaultHits: period([nil, 6 * day]))
        for _ in 0..<Int(g.next() % 5) {
            let owner = g.next() % 2 == 0 ? agencies[Int(g.next() % 4)] : "jurisdiction:" + ["NH", "ME", "VT", "CA"][Int(g.next() % 4)]
            policy.rules.append(RetentionPolicy.Rule(owner: owner, keep: period([3 * 60_000, 3 * hour, day, 3 * day, nil]),
                                                     hits: period([nil, 5 * day])))
        }
        return (registry, policy)
    }

    @Test func eachOwnersRowsGoAtItsDeadlineFromAnswersAndThenFromDisk() throws {
        let seed = testSeed()
        var g = SplitMix64(seed: seed)
        let dir = temporaryDirectory("retention-owners")
        defer { removeTree(dir) }
        let plates = AlertingTests.plates(&g, 24)
        let start: Int64 = 1_717_200_000_000
        var rows: [Sighting] = []
        for k in 0..<3 { rows += AlertingTests.batch(&g, plates, rows: 350, start: start + Int64(k) * 350 * 611_000).sightings }
        rows = Array(Set(rows))  // one row per (plate, time, camera, …): the store keeps one
        let end = rows.map(\.time).max()!
        let clock = Locked<Int64>(start)
        let fallback: Int64? = g.next() % 2 == 0 ? nil : 5 * Self.day
        var options = storeOptions(bufferRows: 400)
        options.retention = fallback.map { .milliseconds($0) }
        options.wallClock = { clock.withLock { $0 } }
        options.maintenanceInterval = .seconds(3600)
        var store = try Store(directory: dir, options: options)
        // Hits: every row of one plate (an exact hotlist entry, in force before the rows
        // arrive); a hold: another plate's rows.
        let hitPlate = plates[2], heldPlate = plates[3]
        try store.addHotlistEntries([try HotlistEntry(plate: hitPlate.text, list: "stolen", mode: .exact)])
        let officer = AccessContext(requester: "clerk", agency: "DA", purpose: "evidence", caseNumber: "CR-1")
        try store.placeLegalHold(try LegalHold(caseNumber: "CR-1", plate: heldPlate), by: officer)
        var batch = SightingBatch()
        for s in rows { batch.append(s) }
        try store.append(batch)
        try store.flush()
        #expect(try store.alerts().count == rows.filter { $0.plate == hitPlate }.count, "SIGHTLINE_TEST_SEED=\(seed): every row of the hit plate alerted")
        let hit: Plate? = hitPlate, held: Plate? = heldPlate
        let box = Area.box(south: 37.5, west: -122.1, north: 37.6, east: -122.0)
        let world = Area.box(south: -90, west: -180, north: 90, east: 180)
        var roToo = storeOptions()
        roToo.retention = options.retention
        roToo.wallClock = options.wallClock
        let readOnly = try ReadOnlyStore(directory: dir, options: roToo)
        var expiredSeen = 0, keptOnlyAsHit = 0
        func check(_ policy: RetentionPolicy, _ registry: CameraRegistry, _ what: String, held: Plate? = heldPlate) throws {
            let now = clock.withLock { $0 }
            let want = rows.filter { Self.kept($0, now: now, policy, registry, fallback: fallback, hit: hit, held: held) }
            expiredSeen += rows.count - want.count
            keptOnlyAsHit += want.filter { s in s.plate == hitPlate && !Self.kept(s, now: now, policy, registry, fallback: fallback, hit: nil, held: held) }.count
            let message = "SIGHTLINE_TEST_SEED=\(seed) \(what) now=\(now)"
            for (name, snapshot) in [("owner", store.snapshot(access: officer)), ("read-only", try readOnly.snapshot(access: officer))] {
                #expect(Set(try snapshot.allSightings()) == Set(want), "\(message) \(name): export")
                for p in plates.prefix(8) {
                    let history = try snapshot.run(Query(.history(p))).rows
                    let expected: [Sighting] = want.filter { $0.plate == p }.sorted { a, b in a.time != b.time ? a.time < b.time : a.camera < b.camera }
                    #expect(history == expected, "\(message) \(name): history")
                }
                let inBox: Set<Sighting> = Set(want.filter { box.contains(latitudeE7: $0.latitudeE7, longitudeE7: $0.longitudeE7) })
                #expect(Set(try snapshot.run(Query(.area(box))).rows) == inBox, "\(message) \(name): area")
                #expect(try snapshot.count(Query(.area(world))).count == want.count, "\(message) \(name): count")
                let pattern = try PlatePattern("\(plates[0].text.prefix(1))*")
                let matching: Set<Sighting> = Set(want.filter { pattern.matches($0.plate) })
                let found = Set(try snapshot.run(Query(.search(pattern, within: nil))).rows)
                #expect(found == matching, "\(message) \(name): search")
                let cursor = try snapshot.cursor(Query(.area(world)), options: CursorOptions(batchRows: 50))
                var streamed = 0
                while let b = try cursor.next() { streamed += b.count }
                #expect(streamed == want.count, "\(message) \(name): cursor")
            }
        }
        var last: (CameraRegistry, RetentionPolicy)?
        for round in 0..<8 {
            let (registry, policy) = Self.randomPolicy(&g)
            try store.setCameraRegistry(registry)
            try store.setRetentionPolicy(policy, by: officer)
            clock.withLock { $0 = end - 2 * Self.day + Int64(g.next() % UInt64(7 * Self.day)) }
            try check(policy, registry, "round \(round)")
            last = (registry, policy)
        }
        #expect(expiredSeen > 0 && keptOnlyAsHit > 0, "SIGHTLINE_TEST_SEED=\(seed): the random policies must expire rows and keep hits")
        // Without holds or hits periods, the row test reads time and camera alone (counts
        // skip the plate column): the same answers.
        try store.releaseLegalHold("CR-1", by: officer)
        for round in 0..<4 {
            var (registry, policy) = Self.randomPolicy(&g)
            policy.defaultHits = nil
            for i in policy.rules.indices { policy.rules[i].hits = nil }
            try store.setCameraRegistry(registry)
            try store.setRetentionPolicy(policy, by: officer)
            clock.withLock { $0 = end - 2 * Self.day + Int64(g.next() % UInt64(7 * Self.day)) }
            try check(policy, registry, "no holds, round \(round)", held: nil)
        }
        try store.placeLegalHold(try LegalHold(caseNumber: "CR-1", plate: heldPlate), by: officer)
        // The deadline, to the millisecond: a row is there at time + period, gone 1 ms later.
        var cameras: [RegisteredCamera] = []
        for c in 0..<UInt32(6) { cameras.append(RegisteredCamera(camera: c, agency: c < 3 ? "NHSP" : "VTSP", jurisdiction: c < 3 ? "NH" : "VT")) }
        let registry = CameraRegistry(cameras: cameras)
        let policy = RetentionPolicy(rules: [.init(owner: "jurisdiction:NH", keep: .seconds(180)), .init(owner: "jurisdiction:VT", keep: .milliseconds(2 * Self.day))])
        try store.setCameraRegistry(registry)
        try store.setRetentionPolicy(policy)
        let probe = rows.filter { $0.plate != hitPlate && $0.plate != heldPlate && $0.camera < 3 }.sorted { $0.time < $1.time }[rows.count / 8]
        clock.withLock { $0 = probe.time + 180_000 }
        #expect(try store.snapshot(access: officer).run(Query(.history(probe.plate))).rows.contains(probe), "SIGHTLINE_TEST_SEED=\(seed): at its deadline the row is still there")
        try check(policy, registry, "at the deadline")
        clock.withLock { $0 = probe.time + 180_001 }
        #expect(try !store.snapshot(access: officer).run(Query(.history(probe.plate))).rows.contains(probe), "SIGHTLINE_TEST_SEED=\(seed): 1 ms past it, gone")
        try check(policy, registry, "past the deadline")
        // From disk within one maintenance interval: reopen with a short one and wait for a run.
        let now = clock.withLock { $0 }
        let want: Set<Sighting> = Set(rows.filter { s in Self.kept(s, now: now, policy, registry, fallback: fallback, hit: hit, held: held) })
        #expect(Set(try store.engineSnapshot().allSightingsOnDisk()).count == rows.count, "nothing deleted before the run")
        try store.close()
        options.maintenanceInterval = .milliseconds(50)
        store = try Store(directory: dir, options: options)
        store.waitForMaintenanceRuns(1)
        #expect(Set(try store.engineSnapshot().allSightingsOnDisk()) == want, "SIGHTLINE_TEST_SEED=\(seed): on disk after one maintenance run")
        let readBack = try readOnly.retentionPolicy
        #expect(store.retentionPolicy == policy && readBack == policy)
        let records = try AuditLog.records(directory: dir)
        #expect(records.filter { $0.operation == "retention-policy" }.count == 13)
        #expect(records.last { $0.operation == "retention" }.map { $0.query.hasPrefix("retention per-owner") && $0.rows == Int64(rows.count - want.count) } == true)
        try store.close()
        _ = last
    }

    @Test func policiesAndPeriodsRoundTripAndDamageIsReported() throws {
        var g = SplitMix64(seed: testSeed())
        for _ in 0..<200 {
            let (_, policy) = RetentionPolicyTests.randomPolicy(&g)
            let bytes = RetentionFile.encode(policy)
            #expect(try RetentionFile.decode(bytes, path: "RETENTION") == policy)
            var damaged = bytes
            damaged[Int(g.next() % UInt64(damaged.count))] ^= 1 << UInt8(g.next() % 8)
            #expect(throws: SightlineError.self) { try RetentionFile.decode(damaged, path: "RETENTION") }
        }
        for (text, ms) in [("3m", Int64(180_000)), ("21d", 21 * Self.day), ("18mo", 540 * Self.day), ("2y", 730 * Self.day), ("12h", 12 * Self.hour),
                           ("45s", 45_000), ("2w", 14 * Self.day), ("250", 250), ("250ms", 250)] {
            #expect(try RetentionPolicy.period(text).milliseconds == ms, "\(text)")
            #expect(try RetentionPolicy.period(RetentionPolicy.text(.milliseconds(ms))).milliseconds == ms)
        }
        for bad in ["", "3x", "-1d", "d", "1.5d"] { #expect(throws: SightlineError.self, "\(bad)") { try RetentionPolicy.period(bad) } }
    }
}
