/// The owner's half of one-plate and one-box reads from other processes
/// (`ReadOnlyStore.snapshot(access:plate:)`, `snapshot(access:box:)`): a reader opens the
/// segments of the manifest it read, and asks the owner — over the control socket, instead of
/// decoding every row of the owner's write-ahead logs — for the rows of one plate, or inside
/// one box, that the owner holds in memory beyond that manifest. The owner answers
/// only for the manifest generation it has published itself: rows frozen for a flush stay in
/// its memory until the manifest naming their segment is in its state, so the answer plus
/// the reader's segments are every logged row of the plate exactly once. A reader whose
/// manifest is not the owner's is told so and reads the manifest again.
extension Store {
    /// The rows in memory inside `box` (edges included) if the owner's manifest generation
    /// is `generation`, or nil (with the owner's generation) when it is not.
    func memoryRows(in box: GeoBox, generation: UInt64) -> (generation: UInt64, rows: SightingBatch?) {
        let (current, chunks, _) = memoryChunks()
        guard current == generation else { return (current, nil) }
        var rows = SightingBatch()
        for chunk in chunks {
            chunk.latitudesE7.withUnsafeBufferPointer { lats in
                chunk.longitudesE7.withUnsafeBufferPointer { lons in
                    for r in lats.indices where lats[r] >= box.minLatitudeE7 && lats[r] <= box.maxLatitudeE7
                        && lons[r] >= box.minLongitudeE7 && lons[r] <= box.maxLongitudeE7 { rows.appendRow(r, of: chunk) }
                }
            }
        }
        return (current, rows)
    }

    /// The manifest generation the owner has published and its in-memory chunks (frozen,
    /// then buffered) with their plate indexes, taken together under its lock.
    private func memoryChunks() -> (UInt64, [SightingBatch], [MemoryPlateIndex?]) {
        state.withLock { (s: inout State) -> (UInt64, [SightingBatch], [MemoryPlateIndex?]) in
            let buffered = s.buffer.chunksForSnapshot()
            return (s.manifest.generation, s.frozen + buffered.chunks, s.frozenPlateIndexes + buffered.plateIndexes)
        }
    }

    /// The plate's rows in memory if the owner's manifest generation is `generation`, or
    /// nil (with the owner's generation) when it is not.
    func memoryRows(of plate: Plate, generation: UInt64) -> (generation: UInt64, rows: SightingBatch?) {
        let (current, chunks, indexes) = memoryChunks()
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
