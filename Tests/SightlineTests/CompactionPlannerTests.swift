import Testing
@_spi(Benchmarks) @testable import Sightline

/// The compaction planner as a table: segments in, groups and inputs out (as Prometheus
/// tsdb tests its `plan`).
@Suite struct CompactionPlannerTests {
    static let day: Int64 = 86_400_000

    /// A segment named `name` with `rows` rows from day `first` (hour `h0`) to day `last` (hour `h1`).
    static func s(_ name: String, _ rows: Int, _ first: Int64, _ last: Int64, h0: Int64 = 1, h1: Int64 = 2) -> CompactionPlanner.Segment {
        .init(name: name, rowCount: rows, minTime: first * day + h0 * 3_600_000, maxTime: last * day + h1 * 3_600_000)
    }

    struct Case: Sendable, CustomTestStringConvertible {
        var label: String
        var segments: [CompactionPlanner.Segment]
        var deleteOlderThan: Int64? = nil
        /// Expected groups: (partition, input names); expected inputs.
        var groups: [(Int64, [String])]
        var inputs: [String]
        var testDescription: String { label }
    }

    static let cases: [Case] = [
        Case(label: "nothing to do: one large segment per day",
             segments: [s("a", 1000, 0, 0), s("b", 1000, 1, 1)], groups: [], inputs: []),
        Case(label: "a small segment alone in its day is settled",
             segments: [s("a", 10, 0, 0), s("b", 1000, 1, 1)], groups: [], inputs: []),
        Case(label: "small segments of one day merge",
             segments: [s("a", 10, 0, 0), s("b", 20, 0, 0), s("c", 1000, 1, 1)], groups: [(0, ["a", "b"])], inputs: ["a", "b"]),
        Case(label: "a segment spanning days is split, even when large",
             segments: [s("a", 5000, 0, 2)], groups: [(0, ["a"]), (1, ["a"]), (2, ["a"])], inputs: ["a"]),
        Case(label: "a spanning segment joins the small ones of its days",
             segments: [s("a", 5000, 0, 1), s("b", 10, 1, 1), s("c", 10, 3, 3)], groups: [(0, ["a"]), (1, ["a", "b"])], inputs: ["a", "b"]),
        Case(label: "empty segments are ignored",
             segments: [s("a", 0, 0, 0), s("b", 10, 0, 0)], groups: [], inputs: []),
        Case(label: "expired rows: the segment is rewritten, wholly expired days get no group",
             segments: [s("a", 5000, 0, 2), s("b", 1000, 3, 3)], deleteOlderThan: 2 * day,
             groups: [(2, ["a"])], inputs: ["a"]),
        Case(label: "a large settled segment holding expired rows is rewritten alone",
             segments: [s("a", 1000, 0, 0, h0: 1, h1: 20)], deleteOlderThan: 10 * 3_600_000,
             groups: [(0, ["a"])], inputs: ["a"]),
        Case(label: "times before 1970 fall in the right day",
             segments: [s("a", 10, -1, -1), s("b", 10, -1, -1), s("c", 10, 0, 0)], groups: [(-1, ["a", "b"])], inputs: ["a", "b"]),
    ]

    @Test(arguments: cases)
    func plans(_ c: Case) {
        let plan = CompactionPlanner.plan(c.segments, options: CompactionOptions(partitioning: .day, targetRows: 1000, deleteOlderThan: c.deleteOlderThan))
        #expect(plan.inputs == c.inputs)
        #expect(plan.groups.map(\.partition) == c.groups.map(\.0))
        #expect(plan.groups.map(\.inputs) == c.groups.map(\.1))
        for g in plan.groups { #expect(g.time == g.partition.map { ($0 * Self.day)..<(($0 + 1) * Self.day) }) }
    }

    /// Random 64-bit times make one segment span ~10^14 days: it goes to the wide group, whose
    /// rows are split by partition when written (planning once walked every day, and hung).
    @Test(.timeLimit(.minutes(1))) func segmentsSpanningAllTimeGoToTheWideGroup() {
        let all = CompactionPlanner.Segment(name: "all", rowCount: 10, minTime: .min, maxTime: .max)
        let plan = CompactionPlanner.plan([all, Self.s("a", 10, 0, 0), Self.s("b", 10, 0, 0)],
                                          options: CompactionOptions(partitioning: .day, targetRows: 1000))
        #expect(plan.inputs == ["all", "a", "b"])
        #expect(plan.groups == [.init(partition: 0, time: 0..<Self.day, inputs: ["a", "b"]),
                                .init(partition: nil, time: nil, inputs: ["all"])])
    }

    /// The first and last partitions reach the ends of time, so no time is outside every one.
    @Test func partitionsCoverTheEndsOfTime() {
        for p in Partitioning.allCases {
            #expect(p.range(of: p.partition(of: .min)).from == .min)
            #expect(p.range(of: p.partition(of: .max)).to == .max)
            let q = p.partition(of: 0)
            #expect(p.range(of: q).from == 0 && p.range(of: q - 1).to == 0)
        }
    }

    @Test func weekPartitionsStartOnTheEpochsThursday() {
        // Days 0–6 (Thursday 1970-01-01 to Wednesday) are week 0; day 7 starts week 1.
        let plan = CompactionPlanner.plan([Self.s("a", 10, 0, 0), Self.s("b", 10, 6, 6), Self.s("c", 10, 7, 7), Self.s("d", 10, 8, 8)],
                                          options: CompactionOptions(partitioning: .week, targetRows: 1000))
        #expect(plan.groups.map(\.inputs) == [["a", "b"], ["c", "d"]])
        #expect(plan.groups.map(\.partition) == [0, 1])
    }
}
