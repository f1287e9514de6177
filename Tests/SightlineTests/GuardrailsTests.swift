import Testing
@_spi(Benchmarks) @testable import Sightline
@testable import SightlineWorkload

/// The guardrails of investigative queries: off by default; when set, kept in the store and
/// honoured by every opener; a span or plate count beyond them is refused before any row.
@Suite struct GuardrailsTests {
    /// 20 plates `GR0`…`GR19` over ten days, each seen at cameras 1–3, some at the same times.
    static func store(_ dir: String) throws -> Store {
        var options = quietStoreOptions()
        options.newStoreAccess = .none  // these tests read unattributed: the explicit opt-out
        let store = try Store(directory: dir, options: options)
        var batch = SightingBatch()
        let day: Int64 = 86_400_000
        for i in 0..<400 {
            batch.append(try Sighting(plate: Plate("GR\(i % 20)"), time: 1_717_200_000_000 + Int64(i) * day / 40, latitudeE7: 375_000_000,
                                      longitudeE7: -1_221_000_000, camera: UInt32(1 + i % 3), confidence: 90))
        }
        try store.append(batch)
        try store.flush()
        return store
    }

    static func isRefused(_ body: () throws -> Void) -> Bool {
        do {
            try body()
            return false
        } catch {
            if case .investigationRefused = error as? SightlineError { return true }
            Issue.record("unexpected \(error)")
            return false
        }
    }

    @Test func limitsAreOffUntilSetThenRefuseAndPersist() throws {
        let dir = temporaryDirectory("guardrails")
        defer { removeTree(dir) }
        let store = try Self.store(dir)
        let all = try Query(.search(PlatePattern("GR*"), within: nil))
        #expect(store.investigationLimits == .off)
        #expect(try store.snapshot().searchPlates(all).count == 20)

        try store.setInvestigationLimits(InvestigationLimits(maximumTimeSpan: .seconds(2 * 86_400)))
        var snapshot = store.snapshot()
        // All time is ten days of data: refused by every entry point.
        #expect(Self.isRefused { _ = try snapshot.searchPlates(all) })
        #expect(Self.isRefused { _ = try snapshot.run(all) })
        #expect(Self.isRefused { _ = try snapshot.count(all) })
        #expect(Self.isRefused { _ = try snapshot.cursor(all) })
        #expect(Self.isRefused { _ = try snapshot.convoy(try! Plate("GR1"), within: .seconds(60)) })
        let wide = try IntersectionWindow(area: .box(south: 37, west: -123, north: 38, east: -122), time: .all)
        #expect(Self.isRefused { _ = try snapshot.intersect([wide]) })
        // Within the span: answered. A plate's own frequent locations are not capped.
        let oneDay = try Query(.search(PlatePattern("GR*"), within: nil), time: TimeRange(from: 1_717_200_000_000, to: 1_717_286_400_000))
        #expect(try !snapshot.searchPlates(oneDay).isEmpty)
        #expect(try !snapshot.frequentLocations(Plate("GR1")).isEmpty)
        // An open end is cut to the data: from the last day on spans one day.
        let lastDay = try Query(.search(PlatePattern("GR*"), within: nil), time: TimeRange(from: 1_717_200_000_000 + 9 * 86_400_000, to: nil))
        #expect(try !snapshot.run(lastDay).rows.isEmpty)

        // Plates: one day holds 20 plates; at most 5 allowed.
        try store.setInvestigationLimits(InvestigationLimits(maximumPlates: 5))
        snapshot = store.snapshot()
        #expect(Self.isRefused { _ = try snapshot.searchPlates(oneDay) })
        #expect(Self.isRefused { _ = try snapshot.run(oneDay) })
        #expect(try snapshot.searchPlates(Query(.search(PlatePattern("GR1"), within: nil))).count == 1)
        #expect(Self.isRefused { _ = try snapshot.intersect([wide]) })

        // Kept in the store: a read-only opener and a reopened owner see them; stats shows them.
        #expect(try ReadOnlyStore(directory: dir).snapshot().investigationLimits == InvestigationLimits(maximumPlates: 5))
        #expect(try store.statistics().report.contains("guardrails:  max plates 5"))
        try store.close()
        let reopened = try Store(directory: dir, options: quietStoreOptions())
        #expect(reopened.investigationLimits == InvestigationLimits(maximumPlates: 5))
        try reopened.setInvestigationLimits(.off)
        #expect(try reopened.snapshot().searchPlates(all).count == 20)
        #expect(throws: SightlineError.self) { try reopened.setInvestigationLimits(InvestigationLimits(maximumPlates: 0)) }
        try reopened.close()
    }

    @Test func guardrailsFileRoundTripsAndDamageIsReported() throws {
        for limits in [InvestigationLimits.off, InvestigationLimits(maximumTimeSpan: .seconds(86_400)),
                       InvestigationLimits(maximumTimeSpan: .milliseconds(1), maximumPlates: 1_000_000)] {
            #expect(try GuardrailsFile.decode(GuardrailsFile.encode(limits), path: "G") == limits)
        }
        let bytes = GuardrailsFile.encode(InvestigationLimits(maximumPlates: 1000))
        for i in bytes.indices {
            var damaged = bytes
            damaged[i] ^= 0x04
            #expect(throws: SightlineError.self, "flip at \(i)") { try GuardrailsFile.decode(damaged, path: "G") }
        }
        #expect(throws: SightlineError.self) { try GuardrailsFile.decode(Array(bytes.dropLast(3)), path: "G") }
        // A damaged file refuses the snapshot rather than dropping the guardrails.
        let dir = temporaryDirectory("guardrails-damaged")
        defer { removeTree(dir) }
        let store = try Self.store(dir)
        try store.setInvestigationLimits(InvestigationLimits(maximumPlates: 3))
        var damaged = try readFile("\(dir)/\(GuardrailsFile.fileName)")
        damaged[damaged.count - 2] ^= 0x01
        try PosixFileSystem().writeAtomically("\(dir)/\(GuardrailsFile.fileName)") { (write: (UnsafeRawBufferPointer) throws(SightlineError) -> Void) throws(SightlineError) in
            try damaged.withUnsafeBytesTyped { raw throws(SightlineError) in try write(raw) }
        }
        #expect(throws: SightlineError.self) { try ReadOnlyStore(directory: dir).snapshot() }
        try store.close()
    }

    @Test func controlRequestRoundTrips() throws {
        for limits in [InvestigationLimits.off, InvestigationLimits(maximumTimeSpan: .seconds(3600), maximumPlates: 7)] {
            let line = ControlWire.encode(.setInvestigationLimits(limits))
            #expect(try ControlWire.decodeRequest(line) == .setInvestigationLimits(limits))
        }
        #expect(throws: SightlineError.self) { try ControlWire.decodeRequest("guardrails 0 -") }
    }
}
