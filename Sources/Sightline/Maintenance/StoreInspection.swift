/// What `sightline stats` shows: the store's shape, sizes and debts.
public struct StoreStatistics: Sendable {
    /// Live segments.
    public var segments: Int
    /// Distinct partitions (of `partitioning`) the segments' rows fall in.
    public var partitions: Int
    /// Rows in segments.
    public var segmentRows: Int
    /// Rows in memory (buffered or being flushed).
    public var memoryRows: Int
    /// Segment bytes.
    public var bytes: Int
    /// Bytes per column of the plate-ordered blocks, by `ColumnID.rawValue`.
    public var columnBytes: [Int]
    /// Bytes of the spatial copies.
    public var spatialBytes: Int
    /// Earliest and latest time held (nil when empty).
    public var timeRange: (from: Int64, to: Int64)?
    /// Segments compaction would rewrite (small, or spanning partitions), and their rows.
    public var compactionDebtSegments: Int
    /// Rows in those segments.
    public var compactionDebtRows: Int
    /// Deletion records by kind, with the rows they deleted.
    public var deletions: [String: (records: Int, rows: Int)]
    /// Bytes per stored sighting.
    public var bytesPerSighting: Double { segmentRows == 0 ? 0 : Double(bytes) / Double(segmentRows) }
}

extension Store {
    /// The store's shape now; compaction debt judged against `compaction` (the defaults
    /// when nil).
    public func statistics(compaction: CompactionOptions? = nil) throws(SightlineError) -> StoreStatistics {
        let c = compaction ?? options.compaction ?? CompactionOptions()
        let (segments, memoryRows) = state.withLock { s in (s.segments, s.buffer.count + (s.frozen?.count ?? 0)) }
        var columnBytes = [Int](repeating: 0, count: SegmentFormat.columnCount)
        var spatial = 0, bytes = 0, rows = 0
        var partitions = Set<Int64>()
        var debt = (0, 0)
        var from = Int64.max, to = Int64.min
        var perPartition: [Int64: Int] = [:]
        for s in segments where s.rowCount > 0 {
            perPartition[c.partitioning.partition(of: s.statistics.minTime), default: 0] += 1
        }
        for s in segments {
            bytes += Int(s.fileSize)
            rows += s.rowCount
            for c in 0..<SegmentFormat.columnCount { columnBytes[c] += s.mainColumnBytes[c] }
            for b in s.spatialBlocks { spatial += Int(s.blocks[b].byteLength) }
            guard s.rowCount > 0 else { continue }
            from = min(from, s.statistics.minTime)
            to = max(to, s.statistics.maxTime)
            let first = c.partitioning.partition(of: s.statistics.minTime), last = c.partitioning.partition(of: s.statistics.maxTime)
            var q = first
            while partitions.count < 1_000_000 { partitions.insert(q); if q >= last { break }; q += 1 }
            if first != last || (s.rowCount < c.targetRows / 2 && (perPartition[first] ?? 0) > 1) {
                debt.0 += 1
                debt.1 += s.rowCount
            }
        }
        var deletions: [String: (records: Int, rows: Int)] = [:]
        for record in try DeletionLog.read(directory: directory, fileSystem: fileSystem).records {
            let kind = record.json.contains("\"kind\":\"purge\"") ? "purge" : "retention"
            var rowsDeleted = 0
            if let part = record.json.split(separator: ",").first(where: { $0.hasPrefix("\"rowsDeleted\":") }) {
                rowsDeleted = Int(part.dropFirst(14).prefix { $0.isNumber }) ?? 0
            }
            deletions[kind, default: (0, 0)].records += 1
            deletions[kind, default: (0, 0)].rows += rowsDeleted
        }
        return StoreStatistics(segments: segments.count, partitions: partitions.count, segmentRows: rows, memoryRows: memoryRows,
                               bytes: bytes, columnBytes: columnBytes, spatialBytes: spatial,
                               timeRange: rows > 0 ? (from, to) : nil, compactionDebtSegments: debt.0, compactionDebtRows: debt.1,
                               deletions: deletions)
    }

    /// Checks a store without opening it for writing (no lock, no repair): the manifest,
    /// every listed segment (every chunk's checksum, every value, both copies agreeing),
    /// the logs and the deletion log. Returns one line per problem; empty when sound.
    /// Files that a crash left behind (the next open removes them) are reported as notes,
    /// not problems.
    public static func verify(directory: String, fileSystem: any FileSystem = PosixFileSystem()) -> (problems: [String], notes: [String]) {
        var problems: [String] = [], notes: [String] = []
        func describe(_ e: SightlineError) -> String { "\(e)" }
        let names: [String]
        do { names = try fileSystem.contentsOfDirectory(directory) } catch { return (["\(directory): \(describe(error))"], []) }
        let secret: PlateKeySecret
        do { secret = try readSecret("\(directory)/\(secretFileName)", fileSystem: fileSystem) } catch { return ([describe(error)], []) }
        let hasher = PlateHasher(secret: secret)
        let manifest: Manifest
        do { manifest = try Manifest.read(directory: directory, fileSystem: fileSystem) } catch { return ([describe(error)], []) }
        for s in manifest.segments {
            let path = "\(directory)/\(s.name)"
            guard names.contains(s.name) else { problems.append("\(path): listed in the manifest but missing"); continue }
            do {
                let reader = try SegmentReader(path: path, hasher: hasher, fileSystem: fileSystem)
                if reader.rowCount != s.rowCount || Int(reader.fileSize) != s.fileBytes {
                    problems.append("\(path): the manifest says \(s.rowCount) rows and \(s.fileBytes) bytes, the file holds \(reader.rowCount) rows in \(reader.fileSize) bytes")
                }
                try reader.verify()
            } catch {
                problems.append(describe(error))
            }
        }
        let live = Set(manifest.segments.map(\.name))
        for name in names where name.contains(".tmp-") || (name.hasSuffix(".sls") && !live.contains(name)) {
            notes.append("\(directory)/\(name): left by an interrupted write; the next open removes it")
        }
        if let logs = try? logFiles(in: directory, fileSystem: fileSystem) {
            for (_, name) in logs {
                do {
                    let contents = try LogReader.read("\(directory)/\(name)", fileSystem: fileSystem)
                    if let tail = contents.tail { notes.append("\(directory)/\(name): torn tail (the next open cuts it): \(tail)") }
                } catch {
                    problems.append(describe(error))
                }
            }
        }
        do {
            if let problem = try DeletionLog.read(directory: directory, fileSystem: fileSystem).problem { problems.append(describe(problem)) }
        } catch {
            problems.append(describe(error))
        }
        return (problems, notes)
    }
}
