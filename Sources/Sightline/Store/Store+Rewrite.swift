#if canImport(Glibc)
import Glibc
#endif
import Dispatch
import Tracing

/// Replacing live segments by rewritten ones: the engine under compaction, retention and
/// purge. Runs on the flush queue (one manifest change at a time).
///
/// Crash safety: the new segments are written completely (each atomically: temporary file,
/// fsync, rename, directory fsync), then one new manifest names them instead of the old
/// ones (atomic), then the old files are removed. A crash before the manifest leaves the old
/// set (the new files are unlisted and removed on open); after it, the new set (the old
/// files are unlisted and removed on open). Snapshots hold their segments' open files, so
/// queries running meanwhile keep reading the old files until they finish.
extension Store {
    /// One output group: rows of `inputs` whose time lies in `time` (all when nil; an end of
    /// `Int64.max` includes it) and that `keep` accepts become new segments of at most
    /// `targetRows` — one set per partition of `splitBy` when given.
    struct RewriteGroup {
        var inputs: [SegmentReader]
        var time: (from: Int64, to: Int64)?
        var splitBy: Partitioning? = nil
    }

    /// Rewrites `groups` (whose inputs together are `inputs`), keeping rows `keep` accepts.
    /// `deleting` (a purge, retention): once the new set is durable and the old files gone,
    /// every data key no live segment uses is destroyed (`shredRetiredKeys`), so no earlier
    /// copy of the store opens the replaced segments either; a compaction keeps them.
    func rewrite(_ groups: [RewriteGroup], removing inputs: [SegmentReader], targetRows: Int,
                 maximumRowsPerSecond: Int? = nil, deleting: Bool = false,
                 keep: (Plate, Int64, UInt32, Int32, Int32) -> Bool) throws(SightlineError) -> RewriteSummary {
        var summary = RewriteSummary()
        guard !inputs.isEmpty else { return summary }
        let span = startSpan("sightline.rewrite")
        let rewriteStarted = ContinuousClock.now
        defer {
            metrics.rewrites.recordNanoseconds((ContinuousClock.now - rewriteStarted).nanoseconds)
            span.attributes["sightline.rows_read"] = summary.rowsRead
            span.attributes["sightline.rows_deleted"] = summary.rowsDeleted
            span.end()
        }
        if let failure = state.withLock({ $0.failure }) { throw failure }
        var manifest = state.withLock { $0.manifest }
        let inputNames = Set(inputs.map(\.fileName))
        summary.segmentsRemoved = inputs.map(\.fileName)
        summary.bytesRead = inputs.reduce(0) { $0 + Int($1.fileSize) }
        summary.rowsRead = inputs.reduce(0) { $0 + $1.rowCount }
        var written: [(Manifest.Segment, SegmentReader, SplitBlockBloomFilter)] = []
        let clock = ContinuousClock()
        let started = clock.now
        var rowsDone = 0
        do throws(SightlineError) {
            // Group i + 1 is read, split and sorted on a second core while group i is
            // written: reading is single-threaded, and the writer's own phases are not all
            // parallel either. At most two groups' rows are in memory.
            try withoutActuallyEscaping(keep) { (keep) throws(SightlineError) in
                let reader = RewriteGroupReader(hasher: hasher, targetRows: targetRows, keep: keep)
                defer { reader.waitForReading() }  // `keep` must not outlive this scope
                let parallel = Machine.coreCount > 1
                if let first = groups.first { reader.start(first, inBackground: false) }
                for (i, group) in groups.enumerated() {
                    let prepared = try reader.take()
                    if i + 1 < groups.count { reader.start(groups[i + 1], inBackground: parallel) }
                    for (chunk, filter) in prepared {
                        let name = Self.segmentName(manifest.nextSegmentNumber)
                        manifest.nextSegmentNumber += 1
                        let path = "\(directory)/\(name)"
                        let result = try segmentWriter().write(chunk, to: path)  // a fresh data key per segment
                        let segment = try Self.openSegment(path, hasher: hasher, fileSystem: fileSystem, keys: dataKeys)
                        written.append((Manifest.Segment(name: name, rowCount: result.rowCount, fileBytes: result.fileBytes,
                                                         minTime: segment.statistics.minTime, maxTime: segment.statistics.maxTime),
                                        segment, filter))
                        summary.rowsWritten += chunk.count
                        summary.bytesWritten += result.fileBytes
                    }
                    rowsDone += group.inputs.reduce(0) { $0 + $1.rowCount }
                    if let limit = maximumRowsPerSecond, limit > 0 {
                        // Throttle: sleep until the rows done fit the rate.
                        let due = Double(rowsDone) / Double(limit) - seconds(clock.now - started)
                        if due > 0 { usleep(UInt32(min(due, 60) * 1_000_000)) }
                    }
                }
            }
        } catch {
            // Nothing is live yet: remove what was written (open would, too).
            for (segment, _, _) in written { try? fileSystem.remove("\(directory)/\(segment.name)") }
            throw error
        }
        summary.segmentsWritten = written.map(\.0.name)
        summary.rowsDeleted = summary.rowsRead - summary.rowsWritten
        manifest.generation += 1
        manifest.segments = manifest.segments.filter { !inputNames.contains($0.name) } + written.map(\.0)
        let shredding = deleting && dataKeys != nil && summary.rowsRead > summary.rowsWritten
        if shredding, let dataKeys {
            // The alerts of the deleted rows go too: the alert log is rewritten (before the
            // manifest: a crash after this leaves rows whose alerts are already redacted,
            // never alerts of deleted rows) under a new key, and the old key goes with the
            // segments'.
            do throws(SightlineError) {
                let redacted = try alerts.redact(keys: dataKeys) { a in
                    !keep(a.sighting.plate, a.sighting.time, a.sighting.camera, a.sighting.latitudeE7, a.sighting.longitudeE7)
                }
                if redacted > 0 { options.logger.info("redacted the alerts of deleted rows", metadata: ["store": "\(directory)", "alerts": "\(redacted)"]) }
            } catch {
                for (segment, _, _) in written { try? fileSystem.remove("\(directory)/\(segment.name)") }
                throw error
            }
            // Durable before the manifest: a crash after it finishes the destruction at open.
            do throws(SightlineError) { try fileSystem.replaceAtomically("\(directory)/\(Self.shredPendingFileName)", with: Array("shred\n".utf8)) } catch {
                for (segment, _, _) in written { try? fileSystem.remove("\(directory)/\(segment.name)") }
                throw error
            }
        }
        do throws(SightlineError) {
            try manifest.write(directory: directory, fileSystem: fileSystem)
        } catch {
            // The rename may or may not have happened: memory no longer knows the disk.
            throw state.withLock { (s: inout State) -> SightlineError in poison(&s, error, "manifest write failed during a rewrite") }
        }
        state.withLock { (s: inout State) in
            s.manifest = manifest
            s.segments = s.segments.filter { !inputNames.contains($0.fileName) } + written.map(\.1)
            rowFilters.withLock { cache in
                for input in inputs { cache.remove(input) }
                for (_, reader, filter) in written { cache.insert(filter, for: reader) }
            }
            recordShape(s)
        }
        if summary.rowsDeleted > 0 { metrics.rowsDeleted.increment(by: summary.rowsDeleted) }
        // The new set is durable: the old files go (a failure here only leaves files that
        // the next open removes).
        for input in inputs {
            do throws(SightlineError) { try fileSystem.remove(input.path) } catch {
                options.logger.warning("could not remove a replaced segment; open will", metadata: ["file": "\(input.path)", "error": "\(error)"])
            }
        }
        try? fileSystem.syncDirectory(directory)
        if shredding { try shredRetiredKeys() }
        return summary
    }

    static let shredPendingFileName = "SHRED-PENDING"

    /// Destroys every data key no live file uses — those of segments a deletion replaced,
    /// of segments a compaction retired or a crash orphaned, of write-ahead logs already
    /// flushed, of replaced `RULES` and `HOLDS` — durably, then clears the pending mark.
    /// Called after a deletion's manifest is durable (on the flush queue, so no flush holds a
    /// segment key not yet live), and at open when the mark survived a crash. Kept: the live
    /// segments' keys, those named in the headers of the store's other sealed files, and
    /// keys created but not yet settled (their file may be being written). The order matters:
    /// a key listed first was created before the unsettled set is read, so it is either
    /// still unsettled there or its file is in place before the headers are read.
    func shredRetiredKeys() throws(SightlineError) {
        guard let dataKeys else { return }
        let candidates = try dataKeys.ids()
        var live = dataKeys.unsettledIDs
        live.formUnion(try keyIDsOfOtherSealedFiles())
        live.formUnion(state.withLock { $0.segments }.compactMap(\.keyID))
        let retired = candidates.filter { !live.contains($0) }
        let destroyed = try dataKeys.destroy(retired)
        try fileSystem.remove("\(directory)/\(Self.shredPendingFileName)")
        try fileSystem.syncDirectory(directory)
        if destroyed > 0 { options.logger.info("destroyed the data keys of replaced files", metadata: ["store": "\(directory)", "keys": "\(destroyed)"]) }
    }

    /// `rows` as one batch per partition of `partitioning`, in time order of partitions
    /// (all of them as one batch when nil).
    static func split(_ rows: SightingBatch, by partitioning: Partitioning?) -> [SightingBatch] {
        guard let partitioning, !rows.isEmpty else { return [rows] }
        var buckets: [Int64: SightingBatch] = [:]
        for i in 0..<rows.count { buckets[partitioning.partition(of: rows.times[i]), default: SightingBatch()].appendRow(i, of: rows) }
        return buckets.keys.sorted().map { buckets[$0]! }
    }

    /// Runs `body` on the flush queue (serialized with flushes and other rewrites).
    /// Throws `storeClosed` once `close()` has begun.
    func onFlushQueue<T>(_ body: () throws(SightlineError) -> T) throws(SightlineError) -> T {
        let result: Result<T, SightlineError> = flushQueue.sync {
            do throws(SightlineError) {
                try state.withLock { (s: inout State) throws(SightlineError) in try checkOpen(s) }
                return .success(try body())
            } catch { return .failure(error) }
        }
        return try result.get()
    }

    /// Appends a deletion record (JSON) and returns its id.
    func recordDeletion(kind: String, summary: RewriteSummary, details: [(String, String)]) throws(SightlineError) -> String {
        let id = String(PlateKeySecret.random().hex.prefix(16))
        func quote(_ s: String) -> String {
            var r = "\""
            for c in s { if c == "\"" || c == "\\" { r.append("\\") }; r.append(c) }
            return r + "\""
        }
        var fields = [("id", quote(id)), ("kind", quote(kind)), ("at", String(options.wallClock())),
                      ("rowsDeleted", String(summary.rowsDeleted)),
                      ("segmentsRemoved", "[" + summary.segmentsRemoved.map(quote).joined(separator: ",") + "]"),
                      ("segmentsWritten", "[" + summary.segmentsWritten.map(quote).joined(separator: ",") + "]")]
        fields += details
        let json = "{" + fields.map { "\(quote($0.0)):\($0.1)" }.joined(separator: ",") + "}"
        try DeletionLog.append(json, directory: directory, fileSystem: fileSystem)
        options.logger.notice("deleted rows", metadata: ["store": "\(directory)", "kind": "\(kind)", "rows": "\(summary.rowsDeleted)", "id": "\(id)"])
        return id
    }
}

/// Reads one rewrite group at a time — decodes its inputs' rows that `keep` accepts, splits
/// them by partition and into chunks of at most `targetRows`, sorts each chunk and builds
/// its row filter — on a background thread or the caller's. One group is in flight at a
/// time; `take` waits for it. The caller must `waitForReading()` before `keep` goes.
final class RewriteGroupReader: @unchecked Sendable {
    typealias Keep = (Plate, Int64, UInt32, Int32, Int32) -> Bool
    private let hasher: PlateHasher
    private let targetRows: Int
    private let keep: Keep
    private let decoder = BlockDecoder()
    private let finished = DispatchGroup()
    /// Set by the reading thread, read after `finished` is left.
    private var result: Result<[(SortedBatch, SplitBlockBloomFilter)], SightlineError>?

    init(hasher: PlateHasher, targetRows: Int, keep: @escaping Keep) {
        self.hasher = hasher
        self.targetRows = targetRows
        self.keep = keep
    }

    /// Starts reading `group` (the previous group must have been taken).
    func start(_ group: Store.RewriteGroup, inBackground: Bool) {
        precondition(result == nil, "one group at a time")
        if inBackground {
            DispatchQueue.global(qos: .userInitiated).async(group: finished) { self.read(group) }
        } else {
            read(group)
        }
    }

    /// The started group's sorted chunks with their row filters; waits for them.
    func take() throws(SightlineError) -> [(SortedBatch, SplitBlockBloomFilter)] {
        finished.wait()
        defer { result = nil }
        guard let result else { throw .invalidArgument("no rewrite group was started") }
        return try result.get()
    }

    /// Waits until no group is being read.
    func waitForReading() { finished.wait() }

    private func read(_ group: Store.RewriteGroup) {
        do throws(SightlineError) {
            var chunks: [(SortedBatch, SplitBlockBloomFilter)] = []
            for output in Store.split(try rows(of: group), by: group.splitBy) {
                var start = 0
                while start < output.count {
                    let end = min(output.count, start + targetRows)
                    let chunk = SortedBatch(start == 0 && end == output.count ? output : output.slice(start..<end), hasher: hasher)
                    chunks.append((chunk, Store.rowFilter(of: chunk)))
                    start = end
                }
            }
            result = .success(chunks)
        } catch {
            result = .failure(error)
        }
    }

    /// The rows of `group`'s inputs in its time range that `keep` accepts.
    private func rows(of group: Store.RewriteGroup) throws(SightlineError) -> SightingBatch {
        var rows = SightingBatch()
        for input in group.inputs {
            for b in 0..<input.blockCount {
                let s = input.blockStatistics(b)
                if let t = group.time, s.maxTime < t.from || (s.minTime >= t.to && t.to != .max) { continue }
                try decoder.decode(input, block: b, columns: .all)
                let c = DecodedColumns(decoder)  // plain pointers: no exclusivity check per row
                let from = group.time?.from ?? .min, to = group.time?.to ?? .max, bounded = group.time != nil
                let keep = self.keep
                decoder.forEachRow { plate, row in
                    let time = c.times[row]
                    if (!bounded || time >= from && (time < to || to == .max)) && keep(plate, time, c.cameras[row], c.latitudes[row], c.longitudes[row]) {
                        rows.appendUnchecked(plate: plate, time: time, latitudeE7: c.latitudes[row],
                                             longitudeE7: c.longitudes[row], camera: c.cameras[row],
                                             confidence: c.confidences[row], regionCode: c.regions[row],
                                             image: c.images.isEmpty ? nil : c.images[row])
                    }
                }
            }
        }
        return rows
    }
}

extension SightingBatch {
    /// Rows `range` as a new batch.
    func slice(_ range: Range<Int>) -> SightingBatch {
        var b = SightingBatch(capacity: range.count)
        for i in range { b.appendRow(i, of: self) }
        return b
    }
}
