/// The decoded camera indexes of open segments, loaded on first use and kept within a byte
/// budget, least recently used dropped first.
///
/// A segment's camera index is small on disk (0.29 B a row) but several times that decoded;
/// decoding every segment's at open cost 1.9 GiB of a 1 B-row store's 2.1 GiB resident
/// memory before a single query, for an index only camera-filtered queries (convoys,
/// `--camera`) read. One cache per process, shared by every store and snapshot.
final class CameraIndexCache: Sendable {
    /// The process's cache.
    static let shared = CameraIndexCache(budgetBytes: defaultBudgetBytes)
    /// The budget before any store asks (`StoreOptions.cameraIndexCacheBytes` defaults to it).
    static let defaultBudgetBytes = 1 << 30

    private struct Entry {
        var index: CameraBlockIndex
        var bytes: Int
        var lastUse: UInt64
    }

    private struct State {
        var entries: [ObjectIdentifier: Entry] = [:]
        var bytes = 0
        var tick: UInt64 = 0
        var loads = 0
        var budget: Int
    }

    private let state: Locked<State>

    init(budgetBytes: Int) { state = Locked(State(budget: budgetBytes)) }

    /// Decoded bytes kept at most (an index larger than this is still returned, not kept).
    var budgetBytes: Int { state.withLock { $0.budget } }

    /// Raises the budget to `bytes` when it is lower (a store opened asking for more).
    func raiseBudget(to bytes: Int) { state.withLock { $0.budget = max($0.budget, bytes) } }

    /// The index of `reader`, decoded by `load` when not cached.
    func index(of reader: SegmentReader, load: () throws(SightlineError) -> CameraBlockIndex) throws(SightlineError) -> CameraBlockIndex {
        let key = ObjectIdentifier(reader)
        if let hit = state.withLock({ s -> CameraBlockIndex? in
            s.tick &+= 1
            s.entries[key]?.lastUse = s.tick
            return s.entries[key]?.index
        }) { return hit }
        // Decoded outside the lock: two threads may both decode a cold index; both results
        // are equal and the second insert replaces the first.
        let index = try load()
        let bytes = index.decodedBytes
        state.withLock { s in
            s.loads += 1
            guard bytes <= s.budget else { return }
            if let old = s.entries.removeValue(forKey: key) { s.bytes -= old.bytes }
            while s.bytes + bytes > s.budget, let victim = s.entries.min(by: { $0.value.lastUse < $1.value.lastUse }) {
                s.entries.removeValue(forKey: victim.key)
                s.bytes -= victim.value.bytes
            }
            s.tick &+= 1
            s.entries[key] = Entry(index: index, bytes: bytes, lastUse: s.tick)
            s.bytes += bytes
        }
        return index
    }

    /// Forgets `reader`'s index (its segment was closed).
    func remove(_ reader: ObjectIdentifier) {
        state.withLock { s in
            if let old = s.entries.removeValue(forKey: reader) { s.bytes -= old.bytes }
        }
    }

    /// Decoded bytes held, indexes held, and loads so far (tests and statistics).
    var usage: (bytes: Int, indexes: Int, loads: Int) { state.withLock { ($0.bytes, $0.entries.count, $0.loads) } }
}

extension CameraBlockIndex {
    /// Bytes its arrays hold.
    var decodedBytes: Int {
        4 * (cameras.count + starts.count + blocks.count + clusterStarts.count + offsets.count + spans.count) + 6 * 32
    }
}
