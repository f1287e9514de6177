/// The owner's half of one-plate reads from other processes (`ReadOnlyStore.snapshot(access:
/// plate:)`): a reader opens the segments of the manifest it read, and asks the owner — over
/// the control socket, instead of decoding every row of the owner's write-ahead logs — for
/// the rows of one plate the owner holds in memory beyond that manifest. The owner answers
/// only for the manifest generation it has published itself: rows frozen for a flush stay in
/// its memory until the manifest naming their segment is in its state, so the answer plus
/// the reader's segments are every logged row of the plate exactly once. A reader whose
/// manifest is not the owner's is told so and reads the manifest again.
extension Store {
    /// The plate's rows in memory if the owner's manifest generation is `generation`, or
    /// nil (with the owner's generation) when it is not.
    func memoryRows(of plate: Plate, generation: UInt64) -> (generation: UInt64, rows: SightingBatch?) {
        let (current, chunks, indexes) = state.withLock { (s: inout State) -> (UInt64, [SightingBatch], [MemoryPlateIndex?]) in
            let buffered = s.buffer.chunksForSnapshot()
            return (s.manifest.generation, s.frozen + buffered.chunks, s.frozenPlateIndexes + buffered.plateIndexes)
        }
        guard current == generation else { return (current, nil) }
        // Off the lock: the chunks are immutable once taken (appends go to a new tail).
        var rows = SightingBatch()
        for (i, chunk) in chunks.enumerated() {
            if i < indexes.count, let index = indexes[i] {
                index.forEachCandidate(of: plate, in: chunk) { r in if chunk.plates[r] == plate { rows.appendRow(r, of: chunk) } }
            } else {
                chunk.plates.withUnsafeBufferPointer { plates in
                    for r in plates.indices where plates[r] == plate { rows.appendRow(r, of: chunk) }
                }
            }
        }
        return (current, rows)
    }
}
