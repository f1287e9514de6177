/// What `sightline stats` shows: the store's shape, sizes and debts.
public struct StoreStatistics: Sendable, Hashable {
    /// Live segments.
    public var segments: Int
    /// Distinct partitions (of the compaction options' partitioning) the segments' rows fall in.
    public var partitions: Int
    /// Rows in segments.
    public var segmentRows: Int
    /// Rows in memory (buffered or being flushed).
    public var memoryRows: Int
    /// Segment bytes.
    public var bytes: Int
    /// Bytes per column of the plate-ordered blocks.
    @_spi(Benchmarks) public var columnBytes: [ColumnID: Int]
    /// Bytes of the spatial copies.
    public var spatialBytes: Int
    /// Bytes of the plate n-gram indexes (partial and OCR-equivalent plate search).
    public var plateIndexBytes = 0
    /// Bytes of the camera indexes (queries filtered by camera).
    public var cameraIndexBytes = 0
    /// The guardrails of investigative queries.
    public var investigationLimits = InvestigationLimits.off
    /// Earliest and latest time held, epoch milliseconds (nil when empty).
    public var timeRange: ClosedRange<Int64>?
    /// Segments compaction would rewrite now (the compaction planner's inputs).
    public var compactionDebtSegments: Int
    /// Rows in those segments.
    public var compactionDebtRows: Int
    /// Deletion records by kind, with the rows they deleted.
    public var deletions: [DeletionKind: DeletionTotals]
    /// Files and directories wider than the store's `FileAccess` setting (empty: none).
    public var widerThanSetting: [FileAccess.Finding] = []
    /// Bytes per stored sighting.
    public var bytesPerSighting: Double { segmentRows == 0 ? 0 : Double(bytes) / Double(segmentRows) }
}

/// Why rows were deleted, as the deletion log records it.
public enum DeletionKind: String, Sendable, Hashable, CaseIterable, Comparable {
    /// `Store.purge`: one plate's rows, on request.
    case purge
    /// Retention: rows older than the store's retention period.
    case retention

    public static func < (a: DeletionKind, b: DeletionKind) -> Bool { a.rawValue < b.rawValue }
}

/// Deletion records of one kind, summed.
public struct DeletionTotals: Sendable, Hashable {
    /// Records in the deletion log.
    public var records = 0
    /// Rows they deleted.
    public var rows = 0
}

/// What `Store.verify` found.
public struct VerificationReport: Sendable, Hashable {
    /// One finding: the file it concerns (the store directory for store-wide ones) and what.
    public struct Finding: Sendable, Hashable, CustomStringConvertible {
        /// The file (or directory) concerned.
        public var path: String
        /// What is wrong, or what was noticed.
        public var message: String
        /// `path: message`.
        public var description: String { message.hasPrefix(path) ? message : "\(path): \(message)" }
    }

    /// Damage: a checksum that fails, a listed file that is missing, copies that disagree.
    public var problems: [Finding] = []
    /// Harmless leftovers of interrupted writes that the next open removes (temporary
    /// files, unlisted segments, a torn log tail).
    public var notes: [Finding] = []
    /// True when there is no problem (notes allowed).
    public var isSound: Bool { problems.isEmpty }
}

extension Store {
    /// The store's shape now; compaction debt judged against `compaction` (the defaults
    /// when nil).
    public func statistics(compaction: CompactionOptions? = nil) throws(SightlineError) -> StoreStatistics {
        let (segments, memoryRows) = state.withLock { s in (s.segments, s.frozen.reduce(s.buffer.count) { $0 + $1.count }) }
        return try Self.statistics(of: segments, memoryRows: memoryRows, compaction: compaction ?? options.compaction ?? CompactionOptions(),
                                   directory: directory, fileSystem: fileSystem)
    }

    /// Statistics of a store's segments (what `statistics` and read-only opens report).
    static func statistics(of segments: [SegmentReader], memoryRows: Int, compaction c: CompactionOptions,
                           directory: String, fileSystem: any FileSystem) throws(SightlineError) -> StoreStatistics {
        var columnBytes: [ColumnID: Int] = [:]
        var spatial = 0, bytes = 0, rows = 0, plateIndex = 0, cameraIndex = 0
        var partitions = Set<Int64>()
        var from = Int64.max, to = Int64.min
        let debt = Set(CompactionPlanner.plan(segments.map(CompactionPlanner.Segment.init), options: c).inputs)
        for s in segments {
            bytes += Int(s.fileSize)
            rows += s.rowCount
            for id in ColumnID.allCases { columnBytes[id, default: 0] += s.mainColumnBytes[id.rawValue] }
            for b in s.spatialBlocks { spatial += Int(s.blocks[b].byteLength) }
            plateIndex += s.indexBytes.plate
            cameraIndex += s.indexBytes.camera
            guard s.rowCount > 0 else { continue }
            from = min(from, s.statistics.minTime)
            to = max(to, s.statistics.maxTime)
            let first = c.partitioning.partition(of: s.statistics.minTime), last = c.partitioning.partition(of: s.statistics.maxTime)
            var q = first
            while partitions.count < 1_000_000 { partitions.insert(q); if q >= last { break }; q += 1 }
        }
        var deletions: [DeletionKind: DeletionTotals] = [:]
        for record in try DeletionLog.read(directory: directory, fileSystem: fileSystem).records {
            let kind: DeletionKind = record.json.contains("\"kind\":\"purge\"") ? .purge : .retention
            var rowsDeleted = 0
            if let part = record.json.split(separator: ",").first(where: { $0.hasPrefix("\"rowsDeleted\":") }) {
                rowsDeleted = Int(part.dropFirst(14).prefix { $0.isNumber }) ?? 0
            }
            deletions[kind, default: DeletionTotals()].records += 1
            deletions[kind, default: DeletionTotals()].rows += rowsDeleted
        }
        var result = StoreStatistics(segments: segments.count, partitions: partitions.count, segmentRows: rows, memoryRows: memoryRows,
                                     bytes: bytes, columnBytes: columnBytes, spatialBytes: spatial,
                                     timeRange: rows > 0 ? from...to : nil, compactionDebtSegments: debt.count,
                                     compactionDebtRows: segments.filter { debt.contains($0.fileName) }.reduce(0) { $0 + $1.rowCount },
                                     deletions: deletions)
        result.plateIndexBytes = plateIndex
        result.cameraIndexBytes = cameraIndex
        result.investigationLimits = try GuardrailsFile.read(directory: directory, fileSystem: fileSystem)
        result.widerThanSetting = try permissionFindings(directory: directory, fileSystem: fileSystem)
        return result
    }

    /// Checks a store without opening it for writing (no lock, no repair): the manifest,
    /// every listed segment (every chunk's checksum, every value, both copies agreeing),
    /// the logs and the deletion log. Files that a crash left behind (the next open removes
    /// them) are reported as notes, not problems. A store whose plate-key secret is kept
    /// outside it needs `secretSource`; one whose keys are in a keyring, that keyring.
    public static func verify(directory: String, secretSource: PlateKeySecretSource = .keyring, keyring: Keyring = .standard,
                              fileSystem: any FileSystem = PosixFileSystem()) -> VerificationReport {
        var report = VerificationReport()
        func problem(_ path: String, _ message: String) { report.problems.append(.init(path: path, message: message)) }
        func problem(_ e: SightlineError) { problem(e.path ?? directory, "\(e)") }
        func note(_ path: String, _ message: String) { report.notes.append(.init(path: path, message: message)) }
        let names: [String]
        do { names = try fileSystem.contentsOfDirectory(directory) } catch { problem(error); return report }
        let secret: PlateKeySecret
        do {
            secret = try openSecret(directory: directory, names: names, secret: nil, source: secretSource, keyring: keyring, create: false, fileSystem: fileSystem)
        } catch { problem(error); return report }
        let hasher = PlateHasher(secret: secret)
        let keys: DataKeys?
        do { keys = try dataKeys(directory: directory, keyring: keyring, fileSystem: fileSystem) } catch { problem(error); return report }
        let manifest: Manifest
        do { manifest = try Manifest.read(directory: directory, fileSystem: fileSystem) } catch { problem(error); return report }
        for s in manifest.segments {
            let path = "\(directory)/\(s.name)"
            guard names.contains(s.name) else { problem(path, "listed in the manifest but missing"); continue }
            do {
                let reader = try openSegment(path, hasher: hasher, fileSystem: fileSystem, keys: keys)
                if reader.rowCount != s.rowCount || Int(reader.fileSize) != s.fileBytes {
                    problem(path, "the manifest says \(s.rowCount) rows and \(s.fileBytes) bytes, the file holds \(reader.rowCount) rows in \(reader.fileSize) bytes")
                }
                try reader.verify()
            } catch {
                problem(error)
            }
        }
        let live = Set(manifest.segments.map(\.name))
        for name in names where name.contains(".tmp-") || (name.hasSuffix(".sls") && !live.contains(name)) {
            note("\(directory)/\(name)", "left by an interrupted write; the next open removes it")
        }
        if let logs = try? logFiles(in: directory, fileSystem: fileSystem) {
            for (_, name) in logs {
                do {
                    let contents = try LogReader.read("\(directory)/\(name)", fileSystem: fileSystem, dataKey: DataKeys.lookup(keys))
                    if let tail = contents.tail { note("\(directory)/\(name)", "torn tail (the next open cuts it): \(tail)") }
                } catch {
                    problem(error)
                }
            }
        }
        do {
            if let damage = try DeletionLog.read(directory: directory, fileSystem: fileSystem).problem { problem(damage) }
        } catch {
            problem(error)
        }
        // The alert log, rules and holds: each opened (sealed ones authenticated) and decoded.
        do {
            let alerts = try AlertLogFormat.read("\(directory)/\(AlertLogFormat.fileName)", from: 0, after: 0, fileSystem: fileSystem,
                                                 dataKey: DataKeys.lookup(keys))
            if alerts.torn { note("\(directory)/\(AlertLogFormat.fileName)", "torn tail at byte \(alerts.end) (the next open cuts it)") }
        } catch {
            problem(error)
        }
        do { _ = try RulesFile.read(directory: directory, fileSystem: fileSystem, keys: keys) } catch { problem(error) }
        do { _ = try HoldsFile.read(directory: directory, fileSystem: fileSystem, keys: keys) } catch { problem(error) }
        do {
            for f in try permissionFindings(directory: directory, fileSystem: fileSystem) { problem(f.path, "\(f)") }
        } catch {
            problem(error)
        }
        return report
    }
}

extension StoreStatistics {
    /// The statistics as `sightline stats` prints them (also what the owner sends back
    /// through the control socket).
    public var report: String {
        var lines: [String] = []
        lines.append("segments:    \(segments) in \(partitions) day partitions")
        lines.append("rows:        \(segmentRows) in segments, \(memoryRows) in memory")
        lines.append("bytes:       \(Self.bytes(bytes)) (\(Self.fixed(bytesPerSighting, 2)) B/sighting; spatial copy \(Self.bytes(spatialBytes)))")
        for id in ColumnID.allCases where segmentRows > 0 {
            let name = id.name.count >= 11 ? id.name : id.name + String(repeating: " ", count: 11 - id.name.count)
            let value = Self.fixed(Double(columnBytes[id] ?? 0) / Double(segmentRows), 3)
            lines.append("  \(name) \(String(repeating: " ", count: max(0, 7 - value.count)))\(value) B/sighting")
        }
        for (name, n) in [("plate index", plateIndexBytes), ("camera index", cameraIndexBytes)] where segmentRows > 0 {
            let value = Self.fixed(Double(n) / Double(segmentRows), 3)
            lines.append("  \(name) \(String(repeating: " ", count: max(0, 18 - name.count - value.count)))\(value) B/sighting")
        }
        if let r = timeRange { lines.append("time:        \(Timestamp.rfc3339(r.lowerBound)) … \(Timestamp.rfc3339(r.upperBound))") }
        lines.append("compaction debt: \(compactionDebtSegments) segments, \(compactionDebtRows) rows")
        if deletions.isEmpty { lines.append("deletions:   none") }
        for (kind, d) in deletions.sorted(by: { $0.key < $1.key }) { lines.append("deletions:   \(d.records) \(kind) records, \(d.rows) rows") }
        lines.append("guardrails:  \(investigationLimits) (investigative queries)")
        // Only when something is wider than the store's setting (owner-only or group).
        for f in widerThanSetting { lines.append("permissions: \(f)") }
        return lines.joined(separator: "\n")
    }

    /// `x` with `digits` decimals (as `%.Nf`, without Foundation).
    static func fixed(_ x: Double, _ digits: Int) -> String {
        guard x.isFinite else { return "\(x)" }
        var scale = 1.0
        for _ in 0..<digits { scale *= 10 }
        let scaled = Int64((abs(x) * scale).rounded())
        let whole = scaled / Int64(scale), fraction = String(scaled % Int64(scale))
        let sign = x < 0 && scaled != 0 ? "-" : ""
        return digits == 0 ? "\(sign)\(whole)" : "\(sign)\(whole).\(String(repeating: "0", count: digits - fraction.count))\(fraction)"
    }

    /// Bytes in B, KiB, MiB or GiB (as the CLI prints them).
    static func bytes(_ n: Int) -> String {
        let d = Double(n)
        if d >= 1_073_741_824 { return fixed(d / 1_073_741_824, 2) + " GiB" }
        if d >= 1_048_576 { return fixed(d / 1_048_576, 2) + " MiB" }
        if d >= 1024 { return fixed(d / 1024, 1) + " KiB" }
        return "\(n) B"
    }
}
