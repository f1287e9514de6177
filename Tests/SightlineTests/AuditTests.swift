import Foundation
import Testing
@testable import Sightline
@testable import SightlineWorkload

/// Accountable access: reads refused without a purpose where one is required; exactly one
/// audit record per operation with the rows and plates it returned; the hash chain catching
/// every kind of tampering; appenders in several openers sharing one chain.
@Suite struct AuditTests {
    static let reader = AccessContext(requester: "det.ramos", agency: "SFPD", purpose: "stolen vehicle follow-up", caseNumber: "24-0117")

    /// A store of `AlertingTests`' look-alike plates over a few days, flushed.
    static func store(_ dir: String, _ g: inout SplitMix64, requirement: AccessRequirement = .none) throws -> (Store, [Sighting], [Plate]) {
        var options = storeOptions(bufferRows: 500)
        options.newStoreAccess = requirement
        let store = try Store(directory: dir, options: options)
        let plates = AlertingTests.plates(&g, 40)
        var rows: [Sighting] = []
        for k in 0..<3 {
            let b = AlertingTests.batch(&g, plates, rows: 400, start: 1_717_200_000_000 + Int64(k) * 400 * 611_000)
            try store.append(b)
            rows += b.sightings
        }
        try store.flush()
        return (store, rows, plates)
    }

    /// Every read of a snapshot, each with what it returned (rows, distinct plates) as a
    /// brute force over `rows` says.
    static func operations(_ rows: [Sighting], _ plates: [Plate]) throws -> [(name: String, run: (StoreSnapshot) throws -> Void, rows: Int64, plates: Int64)] {
        let plate = plates[0]
        let history = rows.filter { $0.plate == plate }
        let box = Area.box(south: 37.5, west: -122.1, north: 37.6, east: -122.0)
        let inBox = rows.filter { box.contains(latitudeE7: $0.latitudeE7, longitudeE7: $0.longitudeE7) }
        let pattern = try PlatePattern("\(plate.text.prefix(1))*")
        let matching = rows.filter { pattern.matches($0.plate) }
        func distinct(_ r: [Sighting]) -> Int64 { Int64(Set(r.map(\.plate)).count) }
        // Frequent locations return the top 10 cells: the sightings they summarize.
        var cells: [String: Int] = [:]
        for s in history { cells[try Geohash(latitudeE7: s.latitudeE7, longitudeE7: s.longitudeE7, precision: 7).description, default: 0] += 1 }
        let topCells = cells.values.sorted(by: >).prefix(10).reduce(0, +)
        var rules = RuleSet()
        rules.add([try HotlistEntry(plate: plate.text, list: "stolen")])
        return [
            ("query", { _ = try $0.run(Query(.history(plate))) }, Int64(history.count), distinct(history)),
            ("query", { _ = try $0.run(Query(.area(box))) }, Int64(inBox.count), distinct(inBox)),
            ("count", { _ = try $0.count(Query(.area(box))) }, Int64(inBox.count), -1),
            ("heatmap", { _ = try $0.heatmap(Query(.area(box)), by: .day) }, Int64(inBox.count), -1),
            ("cursor", { c in let cursor = try c.cursor(Query(.history(plate))); while try cursor.next() != nil {} }, -1, -1),
            ("search-plates", { _ = try $0.searchPlates(Query(.search(pattern, within: nil))) }, Int64(matching.count), distinct(matching)),
            ("query", { _ = try $0.run(Query(.search(pattern, within: nil))) }, Int64(matching.count), distinct(matching)),
            ("frequent", { _ = try $0.frequentLocations(plate) }, Int64(topCells), history.isEmpty ? 0 : 1),
            ("hotlist-check", { _ = try $0.checkRules(rules) }, Int64(history.count), distinct(history)),
            ("export", { _ = try $0.allSightings() }, Int64(rows.count), distinct(rows)),
        ]
    }

    @Test func distinctPlatesCountsLikeASet() throws {
        let seed = testSeed()
        var g = SplitMix64(seed: seed)
        for _ in 0..<50 {
            let b = randomBatch(&g, rows: Int(g.next() % 3000), plates: 1 + Int(g.next() % 500))
            let rows = b.sightings
            #expect(StoreSnapshot.distinctPlates(rows) == Set(rows.map(\.plate)).count, "SIGHTLINE_TEST_SEED=\(seed)")
        }
    }

    @Test func readsWithoutAPurposeAreRefusedWhereOneIsRequired() throws {
        let seed = testSeed()
        var g = SplitMix64(seed: seed)
        let dir = temporaryDirectory("audit-refuse")
        defer { removeTree(dir) }
        let (store, rows, plates) = try Self.store(dir, &g, requirement: .purpose)
        defer { try? store.close() }
        let ops = try Self.operations(rows, plates)
        let unstated = AccessContext(requester: "someone", agency: "SFPD")
        for op in ops {
            let before = try AuditLog.records(directory: dir).count
            #expect(throws: SightlineError.accessRefused("the store requires a purpose for every read")) { try op.run(store.snapshot(access: unstated)) }
            #expect(throws: SightlineError.self) { try op.run(store.snapshot()) }
            let records = try AuditLog.records(directory: dir)
            #expect(records.count == before + 2, "\(op.name): each refusal is audited once")
            #expect(records.suffix(2).allSatisfy { $0.outcome == .refused && $0.operation == op.name && $0.rows == 0 })
            try op.run(store.snapshot(access: Self.reader))
        }
        // Intersect and convoy too.
        let windows = [try IntersectionWindow(area: .box(south: 37.5, west: -122.1, north: 37.6, east: -122.0), time: .all)]
        #expect(throws: SightlineError.self) { try store.snapshot().intersect(windows) }
        #expect(throws: SightlineError.self) { try store.snapshot().convoy(plates[0], within: .seconds(60)) }
        _ = try store.snapshot(access: Self.reader).intersect(windows)
        // Purpose and case: a purpose alone is refused; the requirement is durable and audited.
        try store.setAccessRequirement(.purposeAndCase, by: Self.reader)
        var noCase = Self.reader
        noCase.caseNumber = nil
        #expect(throws: SightlineError.accessRefused("the store requires a case number for every read")) { try store.snapshot(access: noCase).run(Query(.history(plates[0]))) }
        _ = try store.snapshot(access: Self.reader).run(Query(.history(plates[0])))
        try store.close()
        let readOnly = try ReadOnlyStore(directory: dir)
        #expect(try readOnly.accessRequirement == .purposeAndCase)
        #expect(throws: SightlineError.self) { try readOnly.snapshot(access: noCase).run(Query(.history(plates[0]))) }
        let policy = try AuditLog.records(directory: dir).filter { $0.operation == "access-policy" }
        #expect(policy.map(\.query) == ["require purpose+case"] && policy[0].access == Self.reader)
        #expect(try AuditLog.verify(directory: dir).isSound)
    }

    @Test func everyOperationAppendsExactlyOneRecordWithItsCounts() throws {
        let seed = testSeed()
        var g = SplitMix64(seed: seed)
        let dir = temporaryDirectory("audit-counts")
        defer { removeTree(dir) }
        let (store, rows, plates) = try Self.store(dir, &g)
        defer { try? store.close() }
        let readOnly = try ReadOnlyStore(directory: dir)
        for (k, op) in try Self.operations(rows, plates).enumerated() {
            // Alternate the owner's and a read-only opener's snapshots: one log, one chain.
            let snapshot = k % 2 == 0 ? store.snapshot(access: Self.reader) : try readOnly.snapshot(access: Self.reader)
            let before = try AuditLog.records(directory: dir)
            try op.run(snapshot)
            let after = try AuditLog.records(directory: dir)
            #expect(after.count == before.count + 1, "SIGHTLINE_TEST_SEED=\(seed): \(op.name) appended \(after.count - before.count) records")
            guard let r = after.last else { continue }
            #expect(r.operation == op.name && r.outcome == .answered && r.access == Self.reader)
            #expect(r.rows == op.rows && r.plates == op.plates, "SIGHTLINE_TEST_SEED=\(seed): \(op.name) recorded \(r.rows) rows / \(r.plates) plates, returned \(op.rows) / \(op.plates)")
            #expect(r.sequence == UInt64(after.count))
        }
        // Store operations: a purge (its rows), guardrails.
        let victim = plates[1]
        let victimRows = rows.filter { $0.plate == victim }.count
        try store.purge(victim, access: Self.reader)
        try store.setInvestigationLimits(InvestigationLimits(maximumPlates: 1000), by: Self.reader)
        let tail = try AuditLog.records(directory: dir).suffix(2)
        #expect(tail.map(\.operation) == ["purge", "guardrails"])
        #expect(tail.first!.rows == Int64(victimRows) && tail.first!.query.contains("#" + hex16(store.hasher.key(victim))))
        // A failing read is recorded as failed, its error kept.
        let limited = store.snapshot(access: Self.reader)
        #expect(throws: SightlineError.self) { try limited.intersect([try IntersectionWindow(area: .box(south: 0, west: 0, north: 1, east: 1), time: .all)], minimum: 5) }
        #expect(try AuditLog.records(directory: dir).last?.outcome == .failed)
        // No plate in clear anywhere in the log: purged or not.
        let bytes = try Data(contentsOf: URL(fileURLWithPath: "\(dir)/AUDIT"))
        for p in plates where p.count >= 3 { #expect(bytes.range(of: Data(p.text.utf8)) == nil, "plate \(p) in clear in the audit log") }
        #expect(try AuditLog.verify(directory: dir).isSound)
    }

    /// A log of `n` records written through a store, and its bytes.
    static func log(_ dir: String, records n: Int) throws -> [UInt8] {
        let store = try Store(directory: dir, options: storeOptions())
        try store.append(AlertingTests.batch(&SplitMixBox.shared.g, [try Plate("ABC123")], rows: 5, start: 1_717_200_000_000))
        for k in 0..<n { _ = try store.snapshot(access: AccessContext(requester: "r\(k)", purpose: "p\(k)")).run(Query(.history(try Plate("ABC123")))) }
        try store.close()
        return Array(try Data(contentsOf: URL(fileURLWithPath: "\(dir)/AUDIT")))
    }

    /// Offsets and lengths of each record of `bytes`.
    static func frames(_ bytes: [UInt8]) -> [Range<Int>] {
        var out: [Range<Int>] = []
        var offset = AuditLogFormat.headerSize
        while offset + 4 <= bytes.count {
            let body = Int(bytes[offset]) | Int(bytes[offset + 1]) << 8 | Int(bytes[offset + 2]) << 16 | Int(bytes[offset + 3]) << 24
            let end = offset + AuditLogFormat.frameSize + body
            out.append(offset..<end)
            offset = end
        }
        return out
    }

    /// A record re-framed as a forger would: body edited, own hash and checksum recomputed,
    /// linked to `previous`.
    static func forge(_ bytes: [UInt8], _ frame: Range<Int>, previous: [UInt8]? = nil, edit: (inout [UInt8]) -> Void) -> (bytes: [UInt8], hash: [UInt8]) {
        let bodyLength = frame.count - AuditLogFormat.frameSize
        var body = Array(bytes[(frame.lowerBound + 36)..<(frame.lowerBound + 36 + bodyLength)])
        edit(&body)
        return AuditLogFormat.record(body: body, previous: previous ?? Array(bytes[(frame.lowerBound + 4)..<(frame.lowerBound + 36)]))
    }

    static func verify(_ bytes: [UInt8], anchor: AuditAnchor? = nil) throws -> AuditVerification {
        let dir = temporaryDirectory("audit-verify")
        defer { removeTree(dir) }
        try Data(bytes).write(to: URL(fileURLWithPath: "\(dir)/AUDIT"))
        return try AuditLog.verify(directory: dir, anchor: anchor)
    }

    @Test func verifyNamesEachKindOfTampering() throws {
        let dir = temporaryDirectory("audit-tamper")
        defer { removeTree(dir) }
        let bytes = try Self.log(dir, records: 8)
        let frames = Self.frames(bytes)
        #expect(frames.count == 8 && frames.last!.upperBound == bytes.count)
        let anchor = try AuditLog.anchor(directory: dir)
        #expect(try Self.verify(bytes, anchor: anchor).isSound)
        func problem(_ tampered: [UInt8], anchor: AuditAnchor? = nil) throws -> String { try Self.verify(tampered, anchor: anchor).problem ?? "sound" }
        // Sequence field of record k: the body's first 8 bytes.
        func setSequence(_ s: UInt64) -> (inout [UInt8]) -> Void { { body in for i in 0..<8 { body[i] = UInt8(truncatingIfNeeded: s >> (8 * UInt64(i))) } } }
        let purposeEdit: (inout [UInt8]) -> Void = { body in body[body.count - 10] ^= 0x20 }

        // A flipped byte (no checksum fixed): the damaged record, by offset.
        for k in [0, 3, 7] {
            var t = bytes
            t[frames[k].lowerBound + 40] ^= 1
            #expect(try problem(t).contains("byte \(frames[k].lowerBound)"), "record \(k + 1)")
        }
        // Edited, checksum fixed, own hash not: that record.
        for k in [0, 4, 7] {
            var t = bytes
            let bodyStart = frames[k].lowerBound + 36, length = frames[k].count
            t[bodyStart + 20] ^= 0x01
            let crc = t[frames[k].lowerBound..<(frames[k].upperBound - 4)].withUnsafeBytes { CRC32C.checksum($0) }
            for i in 0..<4 { t[frames[k].lowerBound + length - 4 + i] = UInt8(truncatingIfNeeded: crc >> (8 * UInt32(i))) }
            let found = try problem(t)
            #expect(found.contains("record \(k + 1) at byte \(frames[k].lowerBound) was altered"), "\(found)")
        }
        // Edited and re-hashed by a forger: the next record's link names it.
        for k in [0, 3, 6] {
            let forged = Self.forge(bytes, frames[k], edit: purposeEdit).bytes
            let t = Array(bytes[..<frames[k].lowerBound]) + forged + Array(bytes[frames[k].upperBound...])
            let found = try problem(t)
            #expect(found.contains("record \(k + 1) at byte \(frames[k].lowerBound) was altered"), "\(found)")
        }
        // The last record re-hashed: only the anchor catches it.
        do {
            let forged = Self.forge(bytes, frames[7], edit: purposeEdit).bytes
            let t = Array(bytes[..<frames[7].lowerBound]) + forged
            #expect(try problem(t) == "sound")
            #expect(try problem(t, anchor: anchor).contains("record 8 differs from the anchored one"))
        }
        // Removed: the gap names it.
        for k in [0, 2, 6] {
            let t = Array(bytes[..<frames[k].lowerBound]) + Array(bytes[frames[k].upperBound...])
            let found = try problem(t)
            #expect(found.contains("record \(k + 1) was removed"), "\(found)")
        }
        // Swapped with the next: reordered.
        for k in [0, 3, 6] {
            let t = Array(bytes[..<frames[k].lowerBound]) + Array(bytes[frames[k + 1]]) + Array(bytes[frames[k]]) + Array(bytes[frames[k + 1].upperBound...])
            let found = try problem(t)
            #expect(found.contains("record \(k + 1) was moved"), "\(found)")
        }
        // Inserted: a forged copy of record k, linked properly, before the original.
        for k in [1, 4, 7] {
            let previous = k == 0 ? AuditLogFormat.genesis : Array(bytes[(frames[k - 1].upperBound - 40)..<(frames[k - 1].upperBound - 8)])
            let forged = Self.forge(bytes, frames[k], previous: previous) { body in purposeEdit(&body); setSequence(UInt64(k + 1))(&body) }.bytes
            let t = Array(bytes[..<frames[k].lowerBound]) + forged + Array(bytes[frames[k].lowerBound...])
            let found = try problem(t)
            #expect(found.contains("was inserted"), "\(found)")
        }
        // Tail cut: sound alone (a shorter log is a log), caught by the anchor.
        for cut in [1, 3] {
            let t = Array(bytes[..<frames[8 - cut].lowerBound])
            #expect(try problem(t) == "sound")
            let found = try problem(t, anchor: anchor)
            #expect(found.contains("records \(9 - cut)–8 were cut off"), "\(found)")
        }
        // An anchor survives its text form.
        #expect(try AuditAnchor(text: anchor.text, source: "anchor") == anchor)
        #expect(try AuditAnchor(text: anchor.text.replacingOccurrences(of: "\n", with: "\r\n"), source: "anchor") == anchor)
    }

    @Test func aTornTailIsCutAndTheChainGoesOn() throws {
        let dir = temporaryDirectory("audit-torn")
        defer { removeTree(dir) }
        let bytes = try Self.log(dir, records: 3)
        let frames = Self.frames(bytes)
        // A record cut short by a crash: half of a fourth record.
        let extra = Self.forge(bytes, frames[2], previous: Array(bytes[(frames[2].upperBound - 40)..<(frames[2].upperBound - 8)])) { _ in }.bytes
        try Data(bytes + extra.prefix(extra.count / 2)).write(to: URL(fileURLWithPath: "\(dir)/AUDIT"))
        let torn = try AuditLog.verify(directory: dir)
        #expect(torn.isSound && torn.records == 3 && torn.notes.count == 1)
        let store = try Store(directory: dir, options: storeOptions())
        _ = try store.snapshot(access: Self.reader).run(Query(.history(try Plate("ABC123"))))
        try store.close()
        let after = try AuditLog.verify(directory: dir)
        #expect(after.isSound && after.records == 4 && after.notes.isEmpty)
        #expect(try AuditLog.records(directory: dir).map(\.sequence) == [1, 2, 3, 4])
        // A whole record damaged in the middle is not repaired: reads fail until someone looks.
        var damaged = Array(try Data(contentsOf: URL(fileURLWithPath: "\(dir)/AUDIT")))
        damaged[frames[1].lowerBound + 50] ^= 0xFF
        damaged.append(contentsOf: [1, 2, 3])  // and a torn tail, so the appender must walk the file
        try Data(damaged).write(to: URL(fileURLWithPath: "\(dir)/AUDIT"))
        let reopened = try Store(directory: dir, options: storeOptions())
        defer { try? reopened.close() }
        #expect(throws: SightlineError.self) { try reopened.snapshot(access: Self.reader).run(Query(.history(try Plate("ABC123")))) }
    }

    @Test func noAnswerWithoutItsRecord() throws {
        let dir = temporaryDirectory("audit-fault")
        defer { removeTree(dir) }
        let fs = FaultInjectingFileSystem()
        let store = try Store(directory: dir, options: storeOptions(), fileSystem: fs)
        defer { try? store.close() }
        try store.append(AlertingTests.batch(&SplitMixBox.shared.g, [try Plate("ABC123")], rows: 5, start: 1_717_200_000_000))
        _ = try store.snapshot(access: Self.reader).run(Query(.history(try Plate("ABC123"))))
        // Each operation of the audit append fails in turn: the read fails with it. (A failure
        // closes the log; "open" is failed while it is closed.)
        let history = try Query(.history(try Plate("ABC123")))
        for operations in [["write", "open"], ["fsync"], ["lock"]] {
            for operation in operations {
                fs.failNext(operation, path: "AUDIT")
                #expect(throws: SightlineError.self, "\(operation)") { try store.snapshot(access: Self.reader).run(history) }
            }
            _ = try store.snapshot(access: Self.reader).run(history)
        }
        // 1 + 3 answered reads, and the read whose fsync failed: its record reached the file
        // (an attempt is recorded; its answer was never returned).
        let verification = try AuditLog.verify(directory: dir)
        #expect(verification.isSound && verification.records == 5, "\(verification)")
    }

    @Test func concurrentReadersShareOneChain() throws {
        let seed = testSeed()
        var g = SplitMix64(seed: seed)
        let dir = temporaryDirectory("audit-concurrent")
        defer { removeTree(dir) }
        let (store, _, plates) = try Self.store(dir, &g)
        defer { try? store.close() }
        let readers = [try ReadOnlyStore(directory: dir), try ReadOnlyStore(directory: dir)]
        let perThread = 40
        DispatchQueue.concurrentPerform(iterations: 4) { t in
            for k in 0..<perThread {
                let context = AccessContext(requester: "t\(t)", purpose: "read \(k)")
                let snapshot = t < 2 ? store.snapshot(access: context) : try! readers[t - 2].snapshot(access: context)
                _ = try! snapshot.run(Query(.history(plates[k % plates.count])))
            }
        }
        let records = try AuditLog.records(directory: dir)
        #expect(records.count == 4 * perThread)
        #expect(records.map(\.sequence) == Array(1...UInt64(4 * perThread)))
        #expect(Set(records.map { "\($0.access.requester) \($0.access.purpose)" }).count == 4 * perThread)
        #expect(try AuditLog.verify(directory: dir).isSound)
    }
}

/// A shared generator for fixtures whose randomness does not matter.
final class SplitMixBox: @unchecked Sendable {
    static let shared = SplitMixBox()
    var g = SplitMix64(seed: 99)
}

/// The plate-key secret kept outside the store: created where asked, never written inside,
/// required to open, checked against the store.
@Suite struct SecretOutsideTheStoreTests {
    @Test func aStoreWhoseSecretIsOutsideNeedsItAndKnowsAWrongOne() throws {
        let dir = temporaryDirectory("secret-outside")
        let keys = temporaryDirectory("secret-keys")
        defer { removeTree(dir); removeTree(keys) }
        let keyFile = "\(keys)/store.key"
        var options = storeOptions()
        options.secret = nil  // from the source, not given
        options.secretSource = .file(keyFile)
        let store = try Store(directory: dir, options: options)
        let plate = try Plate("7ABC123")
        var batch = SightingBatch()
        batch.append(Sighting(unchecked: plate, time: 1_717_200_000_000, latitudeE7: 375_000_000, longitudeE7: -1_221_000_000,
                              camera: 1, confidence: 90, region: nil, image: nil))
        try store.append(batch)
        _ = try store.snapshot(access: AuditTests.reader).run(Query(.history(plate)))
        try store.close()
        // The file was made owner-only; the directory holds a check, not the secret.
        #expect(try PosixFileSystem().permissions(keyFile) == 0o600)
        let secretHex = try String(contentsOfFile: keyFile, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        let secret = try PlateKeySecret(hex: secretHex)
        let names = try FileManager.default.contentsOfDirectory(atPath: dir)
        #expect(!names.contains("plate-key.secret") && names.contains("plate-key.check"))
        var keyBytes: [UInt8] = []
        for word in [secret.k0, secret.k1] { for i in 0..<8 { keyBytes.append(UInt8(truncatingIfNeeded: word >> (8 * UInt64(i)))) } }
        for name in names {
            let bytes = try Data(contentsOf: URL(fileURLWithPath: "\(dir)/\(name)"))
            #expect(bytes.range(of: Data(secretHex.utf8)) == nil && bytes.range(of: Data(keyBytes)) == nil, "\(name) holds the secret")
        }
        // Without it: a clear error, for owners and readers alike; a wrong one is refused.
        var bare = storeOptions()
        bare.secret = nil
        #expect(throws: SightlineError.secretRequired(path: dir)) { try Store(directory: dir, options: bare) }
        #expect(throws: SightlineError.secretRequired(path: dir)) { try ReadOnlyStore(directory: dir) }
        var wrong = bare
        wrong.secretSource = .provider { PlateKeySecret(k0: 1, k1: 2) }
        #expect(throws: SightlineError.wrongPlateKeySecret(path: dir)) { try Store(directory: dir, options: wrong) }
        // A provider (key-management service) or the environment with the right secret opens it.
        var provided = bare
        provided.secretSource = .provider { secret }
        let reopened = try ReadOnlyStore(directory: dir, options: provided)
        #expect(try reopened.snapshot(access: AuditTests.reader).run(Query(.history(plate))).rows.count == 1)
        setenv("SIGHTLINE_TEST_SECRET", secretHex, 1)
        defer { unsetenv("SIGHTLINE_TEST_SECRET") }
        var fromEnvironment = bare
        fromEnvironment.secretSource = .environment("SIGHTLINE_TEST_SECRET")
        try Store(directory: dir, options: fromEnvironment).close()
        #expect(Store.verify(directory: dir, secretSource: .environment("SIGHTLINE_TEST_SECRET")).isSound)
        #expect(!Store.verify(directory: dir).isSound)
        // A secret file others may read is refused.
        chmod(keyFile, 0o644)
        #expect(throws: SightlineError.self) { try Store(directory: dir, options: options) }
        chmod(keyFile, 0o600)
        try Store(directory: dir, options: options).close()
        // The audit names the plate by a key only the secret computes.
        let record = try AuditLog.records(directory: dir).first { $0.operation == "query" }
        #expect(record?.query.contains("#" + hex16(PlateHasher(secret: secret).key(plate))) == true)
    }
}

/// Sharing policy: for random registries, policies and requesters, every query type on the
/// whole store equals the same query on a store holding only the rows the policy lets the
/// requester read — computed by an oracle written from the policy's definition.
@Suite struct SharingPolicyTests {
    static let agencies = ["SFPD", "OPD", "CHP", "RPD", "FBI"]
    static let jurisdictionOf = ["SFPD": "CA", "OPD": "CA", "CHP": "CA", "RPD": "NV", "FBI": "federal"]

    /// The definition, independently of the engine: rules naming the owner's agency apply,
    /// else those naming its jurisdiction; allowed when the requester's agency or
    /// jurisdiction is in some applicable allow and in no applicable deny; no rule: default;
    /// owners read their own.
    static func oracle(_ policy: SharingPolicy, _ registry: CameraRegistry, requester: String, camera: UInt32) -> Bool {
        let owner: (agency: String, jurisdiction: String)? = registry.cameras[camera].map { ($0.agency, $0.jurisdiction) }
            ?? registry.defaultOwner.map { ($0.agency, $0.jurisdiction) }
        if let owner, owner.agency == requester, !requester.isEmpty { return true }
        // The requester's jurisdiction: that of a camera its agency owns (none otherwise).
        let ownsCameras = registry.cameras.values.contains { $0.agency == requester } || registry.defaultOwner?.agency == requester
        let requesterJurisdiction = ownsCameras ? jurisdictionOf[requester] : nil
        var rules = policy.rules.filter { $0.owner == owner?.agency }
        if rules.isEmpty, let j = owner?.jurisdiction, !j.isEmpty { rules = policy.rules.filter { $0.owner == "jurisdiction:\(j)" } }
        if owner == nil { rules = [] }
        if rules.isEmpty { return policy.defaultAllows }
        let names = [requester, requesterJurisdiction.map { "jurisdiction:\($0)" }].compactMap { $0 }.filter { !$0.isEmpty }
        return rules.contains { r in names.contains { r.allow.contains($0) } } && !rules.contains { r in names.contains { r.deny.contains($0) } }
    }

    static func randomPolicy(_ g: inout SplitMix64) -> (CameraRegistry, SharingPolicy) {
        var registry = CameraRegistry()
        for camera in 0..<UInt32(6) where g.next() % 5 != 0 {  // some cameras unregistered
            let agency = agencies[Int(g.next() % UInt64(agencies.count - 1))]  // the FBI owns no camera
            registry.cameras[camera] = RegisteredCamera(camera: camera, agency: agency, jurisdiction: jurisdictionOf[agency]!)
        }
        if g.next() % 2 == 0 { registry.defaultOwner = CameraRegistry.Owner(agency: "CHP", jurisdiction: "CA") }
        let names = agencies + ["jurisdiction:CA", "jurisdiction:NV", "jurisdiction:federal"]
        var policy = SharingPolicy(defaultAllows: g.next() % 2 == 0)
        for _ in 0..<Int(g.next() % 4) {
            let owner = g.next() % 2 == 0 ? agencies[Int(g.next() % 4)] : ["jurisdiction:CA", "jurisdiction:NV"][Int(g.next() % 2)]
            let allow = names.filter { _ in g.next() % 3 == 0 }, deny = names.filter { _ in g.next() % 6 == 0 }
            policy.rules.append(SharingRule(owner: owner, allow: allow, deny: deny))
        }
        return (registry, policy)
    }

    @Test func everyQueryTypeSeesOnlyWhatThePolicyAllows() throws {
        let seed = testSeed()
        var g = SplitMix64(seed: seed)
        let dir = temporaryDirectory("policy-all")
        let visibleDir = temporaryDirectory("policy-visible")
        defer { removeTree(dir); removeTree(visibleDir) }
        let plates = AlertingTests.plates(&g, 30)
        var rows: [Sighting] = []
        for k in 0..<3 { rows += AlertingTests.batch(&g, plates, rows: 300, start: 1_717_200_000_000 + Int64(k) * 300 * 611_000).sightings }
        let store = try Store(directory: dir, options: storeOptions(bufferRows: 400))
        defer { try? store.close() }
        var all = SightingBatch()
        for s in rows { all.append(s) }
        try store.append(all)
        try store.flush()
        var checkedHidden = 0
        for round in 0..<6 {
            let (registry, policy) = Self.randomPolicy(&g)
            try store.setCameraRegistry(registry)
            try store.setSharingPolicy(policy)
            let requester = (Self.agencies + [""])[Int(g.next() % UInt64(Self.agencies.count + 1))]
            let visible = rows.filter { Self.oracle(policy, registry, requester: requester, camera: $0.camera) }
            checkedHidden += rows.count - visible.count
            // The same rows alone, in a store with no policy.
            removeTree(visibleDir)
            let reference = try Store(directory: visibleDir, options: storeOptions(bufferRows: 400))
            var batch = SightingBatch()
            for s in visible { batch.append(s) }
            if batch.count > 0 { try reference.append(batch) }
            try reference.flush()
            let context = AccessContext(requester: "r", agency: requester, purpose: "test")
            let got = store.snapshot(access: context), want = reference.snapshot(access: context)
            let readOnly = try ReadOnlyStore(directory: dir).snapshot(access: context)
            let box = Area.box(south: 37.5, west: -122.1, north: 37.6, east: -122.0)
            let pattern = try PlatePattern("\(plates[0].text.prefix(1))*")
            let window = try IntersectionWindow(area: box, time: .all)
            var rules = RuleSet()
            rules.add([try HotlistEntry(plate: plates[1].text, list: "l", mode: .equivalent)])
            let message = "SIGHTLINE_TEST_SEED=\(seed) round \(round) requester \(requester)"
            for snapshot in [got, readOnly] {
                for p in plates.prefix(6) {
                    #expect(try snapshot.run(Query(.history(p))).rows == want.run(Query(.history(p))).rows, "\(message): history")
                    #expect(try snapshot.frequentLocations(p) == want.frequentLocations(p), "\(message): frequent")
                    #expect(try snapshot.convoy(p, within: .seconds(3600), minimumCameras: 1) == want.convoy(p, within: .seconds(3600), minimumCameras: 1), "\(message): convoy")
                }
                #expect(try snapshot.run(Query(.area(box))).rows == want.run(Query(.area(box))).rows, "\(message): area")
                #expect(try snapshot.count(Query(.area(box))).count == want.count(Query(.area(box))).count, "\(message): count")
                #expect(try snapshot.heatmap(Query(.area(box)), by: .day) == want.heatmap(Query(.area(box)), by: .day), "\(message): heatmap")
                #expect(try snapshot.run(Query(.search(pattern, within: nil))).rows == want.run(Query(.search(pattern, within: nil))).rows, "\(message): search")
                #expect(try snapshot.searchPlates(Query(.search(pattern, within: nil))) == want.searchPlates(Query(.search(pattern, within: nil))), "\(message): search plates")
                #expect(try snapshot.intersect([window, window], minimum: 1) == want.intersect([window, window], minimum: 1), "\(message): intersect")
                #expect(try snapshot.checkRules(rules).map(\.sighting) == want.checkRules(rules).map(\.sighting), "\(message): hotlist check")
                #expect(try Set(snapshot.allSightings()) == Set(want.allSightings()), "\(message): export")
                let cursor = try snapshot.cursor(Query(.area(box)), options: CursorOptions(batchRows: 7))
                var streamed: [Sighting] = []
                while let b = try cursor.next() { streamed += b }
                #expect(streamed == (try want.run(Query(.area(box))).rows), "\(message): cursor")
            }
            try reference.close()
        }
        #expect(checkedHidden > 0, "the random policies hid nothing: the test checked nothing")
        // Both files survive a reopen, and a flipped byte is reported, never ignored.
        try store.close()
        let reopened = try Store(directory: dir, options: storeOptions())
        #expect(reopened.sharingPolicy == (try ReadOnlyStore(directory: dir).sharingPolicy))
        try reopened.close()
        var policyBytes = Array(try Data(contentsOf: URL(fileURLWithPath: "\(dir)/POLICY")))
        policyBytes[policyBytes.count / 2] ^= 0x01
        try Data(policyBytes).write(to: URL(fileURLWithPath: "\(dir)/POLICY"))
        #expect(throws: SightlineError.self) { try ReadOnlyStore(directory: dir).snapshot(access: AuditTests.reader) }
        #expect(throws: SightlineError.self) { try Store(directory: dir, options: storeOptions()) }
    }
}

/// Legal holds: held rows survive retention, compaction and purge (unless forced), stay
/// readable past the retention period, persist, and go once released.
@Suite struct LegalHoldTests {
    @Test func heldRowsSurviveRetentionCompactionAndPurgeUntilReleased() throws {
        let seed = testSeed()
        var g = SplitMix64(seed: seed)
        let dir = temporaryDirectory("holds")
        defer { removeTree(dir) }
        let plates = AlertingTests.plates(&g, 20)
        let start: Int64 = 1_717_200_000_000
        var rows: [Sighting] = []
        for k in 0..<4 { rows += AlertingTests.batch(&g, plates, rows: 250, start: start + Int64(k) * 250 * 611_000).sightings }
        let end = rows.map(\.time).max()!
        // Retention keeps the last day of data; "now" is the last row's time.
        var options = storeOptions(bufferRows: 300)
        options.retention = .milliseconds(86_400_000)
        options.wallClock = { end + 1 }
        options.maintenanceInterval = .seconds(3600)
        let cutoff = end + 1 - 86_400_000
        var store = try Store(directory: dir, options: options)
        // Holds first: rows already past the retention period are never written unless held.
        let held = plates[0]
        let box = Area.box(south: 37.5, west: -122.1, north: 37.55, east: -122.05)
        let officer = AccessContext(requester: "clerk", agency: "DA", purpose: "evidence", caseNumber: "CR-9")
        let plateHold = try store.placeLegalHold(try LegalHold(caseNumber: "CR-9", plate: held), by: officer)
        let areaHold = try store.placeLegalHold(try LegalHold(caseNumber: "CR-10", area: box, time: try TimeRange(from: start, to: cutoff)), by: officer)
        var batch = SightingBatch()
        for s in rows { batch.append(s) }
        try store.append(batch)
        try store.flush()
        func isHeld(_ s: Sighting) -> Bool {
            s.plate == held || (box.contains(latitudeE7: s.latitudeE7, longitudeE7: s.longitudeE7) && s.time < cutoff)
        }
        let expected = rows.filter { $0.time >= cutoff || isHeld($0) }
        #expect(expected.count < rows.count && rows.contains { $0.time < cutoff && isHeld($0) }, "SIGHTLINE_TEST_SEED=\(seed): the data must hold expired rows, held and not")
        func check(_ what: String, _ s: Store) throws {
            let snapshot = s.snapshot(access: officer)
            let got = Set(try snapshot.allSightings())
            #expect(got == Set(expected), "SIGHTLINE_TEST_SEED=\(seed) \(what): export: \(got.count) rows, \(expected.count) expected")
            #expect(try snapshot.run(Query(.history(held))).rows.count == rows.filter { $0.plate == held }.count, "\(what): held history")
            let world = Area.box(south: -90, west: -180, north: 90, east: 180)
            #expect(try snapshot.count(Query(.area(world))).count == expected.count, "\(what): count")
            #expect(Set(try snapshot.run(Query(.area(box))).rows) == Set(expected.filter { box.contains(latitudeE7: $0.latitudeE7, longitudeE7: $0.longitudeE7) }), "\(what): area")
            #expect(try snapshot.run(Query(.history(plates[1]))).rows.allSatisfy { $0.time >= cutoff || isHeld($0) }, "\(what): unheld history")
        }
        try check("after flush", store)
        try store.enforceRetention()
        try check("after retention", store)
        // Physically: every segment row is expected (expired unheld rows deleted).
        #expect(Set(try store.engineSnapshot().allSightingsOnDisk()) == Set(expected), "after retention: on disk")
        try store.compact(CompactionOptions(partitioning: .day, targetRows: 200, deleteOlderThan: cutoff))
        try check("after compaction", store)
        // Purge refuses the held plate, names the hold; forced, it goes (and says so).
        #expect(throws: SightlineError.self) { try store.purge(held, access: officer) }
        #expect(try AuditLog.records(directory: dir).last.map { $0.operation == "purge" && $0.outcome == .refused && $0.detail.contains(plateHold.id) } == true)
        try store.close()
        // Holds persist; a read-only opener honours them too.
        store = try Store(directory: dir, options: options)
        #expect(store.legalHolds.map(\.id).sorted() == [plateHold.id, areaHold.id].sorted())
        try check("after reopen", store)
        var readOnlyOptions = storeOptions()
        readOnlyOptions.retention = options.retention
        readOnlyOptions.wallClock = options.wallClock
        #expect(Set(try ReadOnlyStore(directory: dir, options: readOnlyOptions).snapshot(access: officer).allSightings()) == Set(expected))
        let forced = try store.purge(held, access: officer, force: true)
        #expect(forced.rowsDeleted == expected.filter { $0.plate == held }.count)
        #expect(try AuditLog.records(directory: dir).last?.detail.contains("forced over legal holds") == true)
        // Released: the area's old rows go at the next retention run.
        #expect(try store.releaseLegalHold("CR-10", by: officer).map(\.id) == [areaHold.id])
        try store.enforceRetention()
        #expect(Set(try store.engineSnapshot().allSightingsOnDisk()) == Set(rows.filter { $0.time >= cutoff && $0.plate != held }))
        let operations = try AuditLog.records(directory: dir).map(\.operation)
        #expect(operations.filter { $0 == "hold" }.count == 2 && operations.contains("hold-release") && operations.contains("retention"))
        try store.close()
    }
}

extension StoreSnapshot {
    /// Every row in the segments and memory, retention and holds ignored: what is on disk.
    func allSightingsOnDisk() throws -> [Sighting] {
        var rows: [Sighting] = []
        for segment in segments { rows += try segment.allSightings() }
        for batch in memory { rows += batch.sightings }
        return rows
    }
}

@Suite struct CameraVisibilityTests {
    /// The bitmap answers as the sorted lists do, for ids in, around and beyond it.
    @Test func bitmapAgreesWithTheLists() {
        let seed = testSeed()
        var g = SplitMix64(seed: seed)
        for _ in 0..<30 {
            var registered = Set<UInt32>()
            for _ in 0..<Int(g.next() % 300) { registered.insert(g.next() % 4 == 0 ? UInt32(truncatingIfNeeded: g.next()) : UInt32(g.next() % 100_000)) }
            if g.next() % 5 == 0 { registered.insert(.max) }
            let hidden = registered.filter { _ in g.next() % 3 == 0 }
            let v = CameraVisibility(registered: registered.sorted(), hidden: hidden.sorted(), unregisteredVisible: g.next() % 2 == 0)
            let probes = Array(registered) + (0..<500).map { _ in UInt32(g.next() % 200_000) } + [0, UInt32.max, CameraVisibility.bitmapLimit, CameraVisibility.bitmapLimit - 1]
            for c in probes {
                let want = hidden.contains(c) ? false : (registered.contains(c) ? true : v.unregisteredVisible)
                #expect(v.allows(c) == want, "SIGHTLINE_TEST_SEED=\(seed): camera \(c)")
            }
        }
    }
}

/// The keyring keeps the audit log's head as it advances: a log replaced by an earlier copy
/// of itself (its tail cut) fails `audit verify` without a manual anchor, while a restore from
/// a backup — which records in the keyring where it went back to — is named, not a cut.
@Suite struct AuditHeadInKeyringTests {
    @Test func theKeyringCatchesACutTailAndNamesARestore() throws {
        let root = temporaryDirectory("audit-head")
        defer { removeTree(root) }
        let options = EncryptionTests.options(root, .aes256GCM)
        let store = try Store(directory: "\(root)/s", options: options)
        let batches = try EncryptionTests.fill(store, seed: testSeed())
        let reader = AccessContext(requester: "tester", purpose: "audit head test")
        for i in 0..<3 { _ = try store.snapshot(access: reader).run(try Query(.history(batches[0][i].plate))) }
        let early = try readFile("\(root)/s/AUDIT")
        try StoreBackup.take(of: "\(root)/s", into: "\(root)/b")
        for i in 3..<6 { _ = try store.snapshot(access: reader).run(try Query(.history(batches[0][i].plate))) }
        #expect(try AuditLog.verify(directory: "\(root)/s", keyring: options.keyring).isSound)
        // The log replaced by its earlier copy: the keyring knows it had gone further.
        let full = try readFile("\(root)/s/AUDIT")
        try writeFile("\(root)/s/AUDIT", early)
        let cut = try AuditLog.verify(directory: "\(root)/s", keyring: options.keyring)
        #expect(cut.problem?.contains("were cut off") == true, "\(cut)")
        // A keyring without this store's entry cannot tell (a shorter log is a log).
        #expect(try AuditLog.verify(directory: "\(root)/s", keyring: Keyring(directory: "\(root)/other")).isSound)
        try writeFile("\(root)/s/AUDIT", full)
        try store.close()
        // The earlier generation restored: named, not reported as a cut.
        try StoreBackup.restore(from: "\(root)/b", to: "\(root)/r", access: reader, keyring: options.keyring)
        let restored = try AuditLog.verify(directory: "\(root)/r", keyring: options.keyring)
        #expect(restored.isSound && restored.notes.contains { $0.contains("restored at") && $0.contains("from backup generation 1") }, "\(restored)")
        let (status, out) = try CommandLineTests.run(["audit", "verify", "\(root)/r", "--keyring", "\(root)/ring"])
        #expect(status == 0 && out.contains("note: restored at"), "\(out)")
    }
}
