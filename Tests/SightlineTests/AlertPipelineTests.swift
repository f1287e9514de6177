import Dispatch
import Testing
@testable import Sightline

/// The alert pipeline as its own part: its meeting points with the write path (admission,
/// holding back the manifest, rule installation at the next log sequence), alone and under
/// concurrent appends.
@Suite struct AlertPipelineTests {
    static func entry(_ plate: String) throws -> HotlistEntry { try HotlistEntry(plate: plate, list: "stolen", reason: "test") }

    /// The pipeline of a fresh directory, with a `RULES` holding one entry.
    static func pipeline(_ dir: String) throws -> AlertPipeline {
        try PosixFileSystem().createDirectory(dir)
        let (pipeline, logged) = try AlertPipeline.open(directory: dir, sync: false, keys: nil, fileSystem: PosixFileSystem())
        #expect(logged.isEmpty && pipeline.matcherInForce == nil)
        #expect(pipeline.admit(1) == nil)  // no rules: nothing to settle
        try pipeline.waitUntilSettled(before: 100)
        return pipeline
    }

    @Test func aFlushWaitsForPendingAlertsBelowItsSequenceOnly() throws {
        let dir = temporaryDirectory("pipeline-settle")
        defer { removeTree(dir) }
        let pipeline = try Self.pipeline(dir)
        try pipeline.changeRules({ $0.add([try! Self.entry("AB123")]) }) { install throws(SightlineError) in try install(7) }
        #expect(pipeline.rules.effectiveFrom == 7 && pipeline.matcherInForce?.effectiveFrom == 7)
        #expect(pipeline.admit(7) != nil)
        #expect(pipeline.admit(9) != nil)
        try pipeline.waitUntilSettled(before: 7)  // nothing pending below 7
        let passed = Locked(false)
        let waiter = DispatchGroup()
        DispatchQueue.global().async(group: waiter) {
            try? pipeline.waitUntilSettled(before: 8)
            passed.withLock { $0 = true }
        }
        // The waiter cannot pass while record 7 is pending; record 9 does not hold it.
        #expect(waiter.wait(timeout: .now() + .milliseconds(50)) == .timedOut && !passed.withLock { $0 })
        pipeline.settle(7)
        #expect(waiter.wait(timeout: .now() + .seconds(10)) == .success && passed.withLock { $0 })
        // A failure wakes a waiter with the error instead.
        let failed = Locked<SightlineError?>(nil)
        DispatchQueue.global().async(group: waiter) {
            do throws(SightlineError) { try pipeline.waitUntilSettled(before: 10) } catch { failed.withLock { $0 = error } }
        }
        pipeline.fail(.invalidArgument("poisoned"))
        #expect(waiter.wait(timeout: .now() + .seconds(10)) == .success)
        #expect(failed.withLock { $0 } == .invalidArgument("poisoned"))
        pipeline.close()
    }

    @Test func aRuleChangeWaitsForARecordAdmittedBeforeItsInstallation() throws {
        let dir = temporaryDirectory("pipeline-change")
        defer { removeTree(dir) }
        let pipeline = try Self.pipeline(dir)
        try pipeline.changeRules({ $0.add([try! Self.entry("AB123")]) }) { install throws(SightlineError) in try install(1) }
        // An append admits record 5 between the change's wait and its installation: the
        // installation declines, the change waits for record 5 and installs at the next try.
        let attempts = Locked(0)
        try pipeline.changeRules({ $0.add([try! Self.entry("CD456")]) }) { install throws(SightlineError) in
            let n = attempts.withLock { $0 += 1; return $0 }
            if n == 1 {
                #expect(pipeline.admit(5) != nil)
                DispatchQueue.global().asyncAfter(deadline: .now() + .milliseconds(20)) { pipeline.settle(5) }
            }
            return try install(UInt64(5 + n))
        }
        #expect(attempts.withLock { $0 } == 2)
        #expect(pipeline.rules.effectiveFrom == 7 && pipeline.rules.hotlistCount == 2)
        // The change is durable: a reopened pipeline reads it.
        pipeline.close()
        let (again, _) = try AlertPipeline.open(directory: dir, sync: false, keys: nil, fileSystem: PosixFileSystem())
        #expect(again.rules.effectiveFrom == 7 && again.rules.hotlistCount == 2)
        again.close()
    }

    /// Appends on two threads while the rules flip: each append (one log record) is judged
    /// by one rule set — all its rows alert or none — and the alert log holds exactly the
    /// alerts the appends returned, before and after a reopen.
    @Test func concurrentAppendsAndRuleChangesJudgeEachRecordByOneRuleSet() throws {
        let dir = temporaryDirectory("pipeline-concurrent")
        defer { removeTree(dir) }
        let options = storeOptions(bufferRows: 700)
        let store = try Store(directory: dir, options: options)
        let plate = try Plate("AB123")
        let entry = try Self.entry("AB123")
        let returned = Locked(0)
        let mixed = Locked(0)
        let group = DispatchGroup()
        for w in 0..<2 {
            DispatchQueue.global().async(group: group) {
                for k in 0..<150 {
                    var b = SightingBatch()
                    for i in 0..<5 {
                        b.append(Sighting(unchecked: plate, time: Int64(w * 1_000_000 + k * 10 + i), latitudeE7: 0, longitudeE7: 0,
                                          camera: 1, confidence: 80, region: nil, image: nil))
                    }
                    guard let alerts = try? store.append(b).alerts else { mixed.withLock { $0 += 1000 }; return }
                    if alerts.count != 0 && alerts.count != 5 { mixed.withLock { $0 += 1 } }
                    returned.withLock { $0 += alerts.count }
                }
            }
        }
        for k in 0..<40 {
            if k % 2 == 0 { try store.addHotlistEntries([entry]) } else { try store.removeHotlistEntries([entry]) }
        }
        group.wait()
        #expect(mixed.withLock { $0 } == 0)
        let logged = try store.alerts()
        #expect(logged.count == returned.withLock { $0 })
        try store.close()
        let reopened = try Store(directory: dir, options: options)
        #expect(try reopened.alerts().count == logged.count)  // nothing recovered twice or missed
        try reopened.close()
    }
}
