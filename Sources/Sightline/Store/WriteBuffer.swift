/// The rows appended since the last freeze: an open tail that appends grow in place, and
/// the sealed chunks before it.
///
/// A snapshot shares the buffered rows with the store. Were the buffer one batch, the next
/// append after every snapshot would copy all of it (copy-on-write of up to
/// `StoreOptions.bufferRows` rows, tens of megabytes) — a service answering queries while it
/// ingests would copy the buffer once per query. Instead a snapshot seals the tail: the
/// snapshot and the store share the sealed chunk, which is never appended to again, and
/// appends start a new tail. Small neighbouring chunks are merged as they are sealed (a
/// binary counter: a chunk merges into its predecessor while that is less than twice its
/// size, up to `mergeLimit` rows), so one snapshot per append leaves O(log n) small chunks
/// and each row is copied O(log n) times, never the whole buffer.
///
/// Each sealed chunk of `MemoryPlateIndex.minimumRows` rows or more carries a plate index
/// (built by the first history that reads it), which every later snapshot and the flush's
/// frozen rows share.
struct WriteBuffer {
    /// Chunks no append touches again, oldest first, and their plate indexes.
    private(set) var sealed: [SightingBatch] = []
    private(set) var sealedIndexes: [MemoryPlateIndex?] = []
    private var sealedRows = 0
    /// The open tail.
    private(set) var tail: SightingBatch

    /// Chunks up to this many rows are merged when sealing; larger ones stay as they are
    /// (merging them would copy megabytes under the store's lock for little gain).
    static let mergeLimit = 1 << 17

    init(tail: SightingBatch = SightingBatch()) { self.tail = tail }

    var count: Int { sealedRows + tail.count }
    var isEmpty: Bool { count == 0 }

    mutating func append(contentsOf rows: SightingBatch) { tail.append(contentsOf: rows) }

    mutating func appendRow(_ i: Int, of other: SightingBatch) { tail.appendRow(i, of: other) }

    /// Every buffered row as chunks a snapshot may keep, with their plate indexes: the
    /// tail is sealed first.
    mutating func chunksForSnapshot() -> (chunks: [SightingBatch], plateIndexes: [MemoryPlateIndex?]) {
        seal()
        return (sealed, sealedIndexes)
    }

    /// Empties the buffer, returning its rows in append order as chunks (the tail alone
    /// when nothing was sealed), and makes `nextTail` the new tail. No rows are copied: the
    /// flush joins the chunks off the store's lock (`joined`).
    mutating func takeAll(nextTail: SightingBatch = SightingBatch()) -> (chunks: [SightingBatch], plateIndexes: [MemoryPlateIndex?]) {
        var all = sealed, indexes = sealedIndexes
        if !tail.isEmpty || all.isEmpty {
            all.append(tail)
            indexes.append(MemoryPlateIndex.forBatch(ofCount: tail.count))
        }
        self = WriteBuffer(tail: nextTail)
        return (all, indexes)
    }

    /// `chunks` as one batch: the only chunk itself, or a copy of all of them in order.
    static func joined(_ chunks: [SightingBatch]) -> SightingBatch {
        guard chunks.count > 1 else { return chunks.first ?? SightingBatch() }
        var all = SightingBatch(capacity: chunks.reduce(0) { $0 + $1.count })
        for chunk in chunks { all.append(contentsOf: chunk) }
        return all
    }

    /// Whether any buffered row satisfies `predicate` (given the chunk and the row's index in it).
    func contains(where predicate: (SightingBatch, Int) -> Bool) -> Bool {
        for chunk in sealed where (0..<chunk.count).contains(where: { predicate(chunk, $0) }) { return true }
        return (0..<tail.count).contains { predicate(tail, $0) }
    }

    private mutating func seal() {
        guard !tail.isEmpty else { return }
        sealed.append(tail)
        sealedIndexes.append(nil)
        sealedRows += tail.count
        tail = SightingBatch()
        while sealed.count >= 2 {
            let last = sealed[sealed.count - 1], previous = sealed[sealed.count - 2]
            guard previous.count < 2 * last.count, previous.count + last.count <= Self.mergeLimit else { break }
            var merged = SightingBatch(capacity: previous.count + last.count)
            merged.append(contentsOf: previous)
            merged.append(contentsOf: last)
            sealed.removeLast(2)
            sealed.append(merged)
            sealedIndexes.removeLast(2)
            sealedIndexes.append(nil)
        }
        // The new last chunk (the tail, or what it merged into) gets its index box now;
        // small ones get none and are scanned.
        sealedIndexes[sealedIndexes.count - 1] = MemoryPlateIndex.forBatch(ofCount: sealed[sealed.count - 1].count)
    }
}
