import Foundation
import Sightline
import SightlineTestSupport

/// A row's identity in the store: duplicates are rows equal in these.
struct RowID: Hashable {
    var plate: Plate
    var time: Int64
    var camera: UInt32
    init(_ s: Sighting) { plate = s.plate; time = s.time; camera = s.camera }
    init(plate: Plate, time: Int64, camera: UInt32) { self.plate = plate; self.time = time; self.camera = camera }
}

/// What the store must and may hold, from the writer's operations: op j is sent before op
/// j + 1, and acknowledged ("OK") once it returned. A row is certainly there when a copy of
/// it was acknowledged before the reader looked and no purge of its plate was sent after
/// that copy by the time the reader finished, and it had not expired for any clock reading
/// during the read; it may be there when a copy was sent and no purge acknowledged before
/// the reader looked came after it, and it was not expired for every reading.
final class SoakOracle: @unchecked Sendable {
    enum Op { case batch(Int), purge(Plate), compact }

    struct Entry {
        var row: Sighting
        var copies: [Int]  // op indices of the batches holding it
    }

    /// The moment a reader looked: ops acknowledged before, ops sent by the end, and the
    /// wall clock (ms) before and after.
    struct View {
        var acknowledged: Int
        var sent: Int
        var clockBefore: Int64
        var clockAfter: Int64
    }

    private let lock = NSLock()
    private var ops: [Op] = []
    private var entries: [RowID: Entry] = [:]
    private var byPlate: [Plate: [RowID]] = [:]
    private var purges: [Plate: [Int]] = [:]
    private(set) var acknowledged = 0
    private(set) var sent = 0
    let retention = Int64(SoakWorkload.retentionMilliseconds)

    /// Registers the next op (before it is sent); returns its index.
    func add(_ op: Op, rows: [Sighting]) -> Int {
        lock.lock(); defer { lock.unlock() }
        let j = ops.count
        ops.append(op)
        for r in rows {
            let id = RowID(r)
            if entries[id] == nil {
                entries[id] = Entry(row: r, copies: [j])
                byPlate[r.plate, default: []].append(id)
            } else {
                entries[id]!.copies.append(j)
            }
        }
        if case .purge(let plate) = op { purges[plate, default: []].append(j) }
        return j
    }

    func markSent(_ j: Int) { lock.lock(); sent = max(sent, j + 1); lock.unlock() }
    func markAcknowledged(_ j: Int) { lock.lock(); acknowledged = max(acknowledged, j + 1); lock.unlock() }

    /// Starts a view: ops acknowledged now, and the clock.
    func begin() -> View {
        lock.lock(); defer { lock.unlock() }
        return View(acknowledged: acknowledged, sent: 0, clockBefore: StoreOptions.systemTime(), clockAfter: 0)
    }

    /// Ends a view: ops sent by now, and the clock.
    func end(_ v: View) -> View {
        var v = v
        v.clockAfter = StoreOptions.systemTime()
        lock.lock(); v.sent = sent; lock.unlock()
        return v
    }

    /// (must, may) for the row `id` in view `v`; nil when no such row was ever sent.
    func presence(_ id: RowID, in v: View) -> (must: Bool, may: Bool, row: Sighting)? {
        lock.lock(); defer { lock.unlock() }
        return presenceLocked(id, v)
    }

    private func presenceLocked(_ id: RowID, _ v: View) -> (must: Bool, may: Bool, row: Sighting)? {
        guard let e = entries[id] else { return nil }
        let sentCopies = e.copies.filter { $0 < v.sent }
        guard !sentCopies.isEmpty else { return nil }
        let plateP = purges[id.plate] ?? []
        // A purge deletes every row of its plate stored when it runs, from any copy before it.
        let must = sentCopies.contains { c in c < v.acknowledged && !plateP.contains { $0 > c && $0 < v.sent } }
            && id.time >= v.clockAfter - retention + 1
        let may = sentCopies.contains { c in !plateP.contains { $0 > c && $0 < v.acknowledged } }
            && id.time >= v.clockBefore - retention - 1
        return (must, may, e.row)
    }

    /// Every sent row satisfying `matches`, with its presence in `v`.
    func rows(in v: View, plate: Plate? = nil, where matches: (Sighting) -> Bool) -> [(id: RowID, must: Bool, may: Bool)] {
        lock.lock(); defer { lock.unlock() }
        let ids = plate.map { byPlate[$0] ?? [] } ?? Array(entries.keys)
        var out: [(RowID, Bool, Bool)] = []
        for id in ids {
            guard let p = presenceLocked(id, v), matches(p.row) else { continue }
            out.append((id, p.must, p.may))
        }
        return out
    }

    var rowCount: Int { lock.lock(); defer { lock.unlock() }; return entries.count }
}

extension SoakWorkload {
    static var retentionMilliseconds: Int64 { retention.components.seconds * 1000 }
}

extension TimeRange {
    /// Whether `t` lies in the range (from inclusive, to exclusive): the oracle's own test.
    func holds(_ t: Int64) -> Bool { (from.map { t >= $0 } ?? true) && (to.map { t < $0 } ?? true) }
}
