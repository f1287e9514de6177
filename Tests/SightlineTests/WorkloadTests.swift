import Testing
import Foundation
@_spi(Benchmarks) @testable import Sightline
@testable import SightlineWorkload

/// The generator's distributions, measured on generated data (Docs/workload.md).
@Suite struct WorkloadTests {
    static let rows: SightingBatch = {
        var c = ALPRWorkload.Configuration()
        c.days = 30
        return ALPRWorkload(c).generate(rows: 300_000)
    }()

    @Test func misreadsAreAboutTwoPercentOfReads() {
        let plates = Self.rows.plates
        // A plate's reads are generated together, so a misread sits next to a correct read
        // of its plate: one OCR twin apart from a neighbour. (Plates read only once, and a
        // misread next to another misread, escape this count: it is a lower bound.)
        func oneTwinApart(_ a: Plate, _ b: Plate) -> Bool {
            guard a.count == b.count, a != b else { return false }
            var differences = 0
            for k in 0..<Int(a.count) where a[k] != b[k] {
                guard ALPRWorkload.misread(a[k]) == b[k] else { return false }
                differences += 1
            }
            return differences == 1
        }
        var misreads = 0
        for i in plates.indices where (i > 0 && oneTwinApart(plates[i], plates[i - 1]) && (i < 2 || plates[i - 1] == plates[i - 2] || i + 1 == plates.count || plates[i - 1] == plates[i + 1]))
            || (i + 1 < plates.count && oneTwinApart(plates[i], plates[i + 1]) && (i + 2 >= plates.count || plates[i + 1] == plates[i + 2])) {
            misreads += 1
        }
        let rate = Double(misreads) / Double(plates.count)
        report("workload: misread rate \(rate)")
        #expect(rate > 0.012 && rate < 0.022, "measured misread rate \(rate) (configured 0.02)")
    }

    @Test func mobileReadersReadAboutTenPercent() {
        let batch = Self.rows
        let mobile = batch.cameras.filter { $0 >= 90_000 }.count
        let share = Double(mobile) / Double(batch.count)
        report("workload: mobile share \(share)")
        #expect(share > 0.07 && share < 0.13, "measured mobile share \(share) (configured 0.10)")
    }

    /// Trips per plate follow P(t) ∝ t^−1.6, so the share of plates with at least r reads
    /// falls as r^−0.6 in the tail; the log–log slope of that curve is measured here.
    @Test func readsPerPlateHaveAZipfTail() {
        var counts: [Plate: Int] = [:]
        for p in Self.rows.plates { counts[p, default: 0] += 1 }
        let values = counts.values.sorted()
        var xs: [Double] = [], ys: [Double] = []
        for r in [8, 12, 18, 27, 40, 60, 90] {
            let atLeast = values.count - (values.firstIndex { $0 >= r } ?? values.count)
            guard atLeast > 20 else { continue }
            xs.append(log(Double(r)))
            ys.append(log(Double(atLeast) / Double(values.count)))
        }
        #expect(xs.count >= 4)
        let mx = xs.reduce(0, +) / Double(xs.count), my = ys.reduce(0, +) / Double(ys.count)
        let slope = zip(xs, ys).reduce(0) { $0 + ($1.0 - mx) * ($1.1 - my) } / xs.reduce(0) { $0 + ($1 - mx) * ($1 - mx) }
        report("workload: reads-per-plate CCDF slope \(slope)")
        #expect(slope < -0.35 && slope > -1.1, "measured CCDF slope \(slope) (model −0.6)")
    }

    /// The live feed: each batch is a day of reads starting an hour after the previous
    /// batch's, so most of its rows are older than the newest row already stored — late data.
    @Test func liveFeedBatchesArriveLate() {
        var newest = Int64.min
        var late = 0, total = 0
        for n in 0..<30 {
            let b = ALPRWorkload.liveFeedBatch(number: UInt64(n), rows: 5000)
            if n >= 24 {
                late += b.times.filter { $0 < newest }.count
                total += b.count
            }
            newest = max(newest, b.times.max()!)
            #expect(ALPRWorkload.liveFeedBatch(number: UInt64(n), rows: 5000) == b)  // deterministic
        }
        let share = Double(late) / Double(total)
        report("workload: late share \(share)")
        #expect(share > 0.85, "late share \(share)")
    }
}
