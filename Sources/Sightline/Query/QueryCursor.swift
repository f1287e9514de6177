/// A query's answer, streamed in order in batches: a service prints or sends each batch
/// before the next is read, and pages through a large answer with `pageToken`.
///
/// Execution: the plan's blocks (and the in-memory rows) are read in order of their first
/// time. Rows read wait in a buffer until no unread block can hold an earlier row (every
/// unread block starts later), then are returned in the query's order (time, then plate and
/// camera). So each block is decoded once, and the buffer holds the matching rows of the
/// blocks whose time ranges overlap the current point of the answer — in a compacted store
/// (segments within one partition) about one partition's matches, not the whole answer.
/// `peakBufferedRows` reports the high-water mark.
///
/// The cursor checks its deadline and `cancel()` between rounds of blocks. It is `Sendable`
/// (its state is locked), but meant to be read by one consumer at a time.
public final class QueryCursor: Sendable {
    /// The query (its time range starts at the page token's time when resumed).
    public let query: Query
    /// The plan it runs.
    public let plan: QueryPlan
    private let options: CursorOptions
    private let token: QueryPageToken?
    private let fingerprint: UInt64
    private let units: [Unit]
    private let state: Locked<State>
    private let cancelled = Locked(false)
    private let snapshot: StoreSnapshot
    private let created = ContinuousClock.now

    /// A block to read: segment `segment` of the plan, block `block`, first time `minTime`.
    private struct Unit {
        var segment: Int
        var block: Int
        var minTime: Int64
    }

    private struct State {
        var nextUnit = 0
        /// Rows read and not yet returned.
        var buffer = SortedRuns()
        /// Segments whose blocks were read (a segment's blocks span several rounds).
        var segmentsRead = Set<Int>()
        var returned = 0
        var last: Sighting?
        var statistics = QueryStatistics()
        var peakBufferedRows = 0
        var finished = false
        var memoryRead = false
    }

    init(snapshot: StoreSnapshot, query: Query, after token: QueryPageToken?, options: CursorOptions) throws(SightlineError) {
        guard options.batchRows >= 1 else { throw .invalidArgument("batchRows must be at least 1, got \(options.batchRows)") }
        fingerprint = query.fingerprint
        var resumed = query
        if let token {
            guard token.queryFingerprint == fingerprint else { throw .invalidPageToken("it belongs to another query") }
            if token.time > query.time.lower {
                resumed.time = TimeRange(uncheckedFrom: token.time, to: query.time.to)
            }
        }
        self.query = resumed
        self.snapshot = snapshot
        self.token = token
        self.options = options
        plan = try snapshot.plan(resumed)
        var units: [Unit] = []
        for (i, segmentPlan) in plan.segments.enumerated() {
            guard let chosen = segmentPlan.chosen else { continue }
            for b in chosen.blocks {
                units.append(Unit(segment: i, block: b, minTime: segmentPlan.reader.blocks[b].statistics.minTime))
            }
        }
        units.sort { $0.minTime < $1.minTime }
        self.units = units
        var state = State()
        state.statistics.planning = plan.planningTime
        self.state = Locked(state)
    }

    /// The next batch of at most `batchRows` rows in the query's order; nil when the answer
    /// is complete.
    /// - Throws: `deadlineExceeded` past the deadline, `cancelled` after `cancel()`, I/O and
    ///   corruption errors of the blocks read (the rows returned before stand).
    public func next() throws(SightlineError) -> [Sighting]? {
        try state.withLock { (s: inout State) throws(SightlineError) -> [Sighting]? in try next(&s) }
    }

    /// Stops the cursor: the next call to `next()` throws `cancelled`.
    public func cancel() { cancelled.withLock { $0 = true } }

    /// Where the next page starts: after the last row returned (nil before the first).
    /// Give it to `StoreSnapshot.cursor(_:after:)` of the same query, on this snapshot or a
    /// later one: rows are never repeated or skipped across pages (those added meanwhile
    /// after the token's place in the order are included).
    public var pageToken: QueryPageToken? {
        state.withLock { s in s.last.map { QueryPageToken(queryFingerprint: fingerprint, after: $0) } }
    }

    /// What the cursor has read so far.
    public var statistics: QueryStatistics { state.withLock { $0.statistics } }

    /// The most rows the cursor held at once (read, not yet returned).
    public var peakBufferedRows: Int { state.withLock { $0.peakBufferedRows } }

    /// Rows returned so far.
    public var rowsReturned: Int { state.withLock { $0.returned } }

    // MARK: execution

    private var history: Bool { if case .history = query.kind { true } else { false } }

    private func next(_ s: inout State) throws(SightlineError) -> [Sighting]? {
        if s.finished { return nil }
        let limit = query.filters.limit ?? .max
        let wanted = min(options.batchRows, limit - s.returned)
        if wanted <= 0 { s.finished = true; return nil }
        if !s.memoryRead {
            s.memoryRead = true
            let sink = QueryExecutor.scanMemory(plan, into: RowSink.self, stats: &s.statistics)
            add(sink.rows, &s)
        }
        // Read rounds of blocks until `wanted` rows are final or every block is read.
        while s.nextUnit < units.count && ready(s) < wanted {
            if cancelled.withLock({ $0 }) { throw .cancelled }
            if let deadline = options.deadline, ContinuousClock.now >= deadline { throw .deadlineExceeded }
            try readRound(&s)
        }
        let available = ready(s)
        if available == 0 {
            s.finished = true
            s.buffer = SortedRuns()
            s.statistics.execution = ContinuousClock.now - created - s.statistics.planning
            snapshot.record(query, s.statistics)
            return nil
        }
        let take = min(available, wanted)
        let batch = s.buffer.removeFirst(take, history: history)
        s.returned += take
        s.last = batch.last
        return batch
    }

    /// Rows of the buffer that no unread block can precede.
    private func ready(_ s: State) -> Int {
        s.buffer.count(before: s.nextUnit < units.count ? units[s.nextUnit].minTime : nil)
    }

    /// Reads the next few blocks (one per core, or more when they start at the same time),
    /// in parallel, and merges their matches into the buffer.
    private func readRound(_ s: inout State) throws(SightlineError) {
        let first = s.nextUnit
        var end = min(units.count, first + max(1, plan.parallelism))
        // Blocks starting at the same time as the last one taken come too: the frontier must move.
        while end < units.count && units[end].minTime == units[end - 1].minTime { end += 1 }
        s.nextUnit = end
        let round = Array(units[first..<end])
        let plan = self.plan
        let (merged, stats) = try QueryExecutor.parallel(plan, items: round.count, into: RowSink.self) {
            (i, decoder, sink, stats) throws(SightlineError) in
            let unit = round[i]
            try QueryExecutor.scan(plan.segments[unit.segment].reader, blocks: [unit.block], plan: plan, decoder: decoder, into: &sink, stats: &stats)
        }
        s.statistics.add(stats)
        for unit in round { s.segmentsRead.insert(unit.segment) }
        s.statistics.segmentsRead = s.segmentsRead.count
        add(merged.rows, &s)
    }

    /// Adds ordered `rows` to the buffer, dropping those at or before the page token.
    private func add(_ rows: [Sighting], _ s: inout State) {
        var rows = rows
        if let token { rows.removeAll { !token.precedes($0, history: history) } }
        s.buffer.add(rows, history: history)
        s.peakBufferedRows = max(s.peakBufferedRows, s.buffer.count)
    }
}

/// Ordered runs of rows, merged lazily: a new run is merged into the last one only while
/// the last is at most twice its size (as timsort keeps its stack), so the runs number
/// O(log n) and each row is copied O(log n) times — merging every round into one buffer
/// would copy the whole buffer per round. Rows leave from the front, smallest first.
struct SortedRuns {
    private var runs: [[Sighting]] = []
    private var heads: [Int] = []
    /// Rows held.
    private(set) var count = 0

    mutating func add(_ rows: [Sighting], history: Bool) {
        guard !rows.isEmpty else { return }
        runs.append(rows)
        heads.append(0)
        count += rows.count
        while runs.count >= 2 && remaining(runs.count - 2) <= 2 * remaining(runs.count - 1) {
            let b = runs.removeLast(), hb = heads.removeLast()
            let a = runs.removeLast(), ha = heads.removeLast()
            runs.append(Self.merge(a[ha...], b[hb...], history: history))
            heads.append(0)
        }
    }

    private func remaining(_ r: Int) -> Int { runs[r].count - heads[r] }

    /// Rows with a time before `frontier` (all when nil).
    func count(before frontier: Int64?) -> Int {
        guard let frontier else { return count }
        var total = 0
        for r in runs.indices {
            // Runs are ordered by time first.
            total += runs[r][heads[r]...].partitionPoint { $0.time < frontier } - heads[r]
        }
        return total
    }

    /// Removes and returns the first `n` rows in order.
    mutating func removeFirst(_ n: Int, history: Bool) -> [Sighting] {
        var out: [Sighting] = []
        out.reserveCapacity(n)
        if runs.count == 1 {
            out += runs[0][heads[0]..<(heads[0] + n)]
            heads[0] += n
        } else {
            for _ in 0..<n {
                var best = -1
                for r in runs.indices where heads[r] < runs[r].count {
                    if best < 0 || Query.ordered(runs[r][heads[r]], runs[best][heads[best]], history: history) { best = r }
                }
                out.append(runs[best][heads[best]])
                heads[best] += 1
            }
        }
        count -= n
        for r in runs.indices.reversed() where heads[r] == runs[r].count {
            runs.remove(at: r)
            heads.remove(at: r)
        }
        if runs.count == 1 && heads[0] > 4096 && heads[0] * 2 > runs[0].count {
            runs[0].removeFirst(heads[0])  // returned rows leave memory
            heads[0] = 0
        }
        return out
    }

    static func merge(_ a: ArraySlice<Sighting>, _ b: ArraySlice<Sighting>, history: Bool) -> [Sighting] {
        var merged: [Sighting] = []
        merged.reserveCapacity(a.count + b.count)
        var i = a.startIndex, j = b.startIndex
        while i < a.endIndex && j < b.endIndex {
            if Query.ordered(b[j], a[i], history: history) { merged.append(b[j]); j += 1 } else { merged.append(a[i]); i += 1 }
        }
        merged += a[i...]
        merged += b[j...]
        return merged
    }
}

/// How a cursor returns rows.
public struct CursorOptions: Sendable, Hashable {
    /// Rows per batch at most (the last may hold fewer).
    public var batchRows: Int
    /// When reading must stop (`deadlineExceeded`); checked between rounds of blocks.
    public var deadline: ContinuousClock.Instant?

    /// Options: batches of `batchRows`, and an optional deadline.
    public init(batchRows: Int = 4096, deadline: ContinuousClock.Instant? = nil) {
        self.batchRows = batchRows
        self.deadline = deadline
    }
}

extension StoreSnapshot {
    /// A cursor over `query`'s answer on this snapshot, starting after `token` (a page token
    /// of an earlier cursor of the same query) when given.
    /// - Throws: `invalidPageToken` when the token belongs to another query,
    ///   `invalidArgument` for options out of range, `investigationRefused` for a search
    ///   beyond the store's guardrails.
    public func cursor(_ query: Query, after token: QueryPageToken? = nil,
                       options: CursorOptions = CursorOptions()) throws(SightlineError) -> QueryCursor {
        if auditTrail != nil {
            // Recorded before the first row: its rows are streamed after, so not counted (-1).
            return try audited("cursor", { t in query.auditText(t) + (token == nil ? "" : " after-token") },
                               { (s: StoreSnapshot) throws(SightlineError) in try s.cursor(query, after: token, options: options) }, counted: { _ in (-1, -1) })
        }
        try guardSearch(query)
        return try QueryCursor(snapshot: self, query: query, after: token, options: options)
    }
}
