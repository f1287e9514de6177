import Dispatch

extension LakeExport {
    /// Brings the directory in step with the snapshot: writes new, changed and damaged
    /// partitions, removes obsolete ones and foreign files, keeps the rest.
    func run() throws(SightlineError) -> LakeExportSummary {
        guard options.rowGroupRows >= 1 else { throw .invalidArgument("rowGroupRows must be at least 1") }
        if case .lz4 = options.compression { throw .invalidArgument("GeoParquet export compresses with zstd or none, not lz4") }
        let text = "export dir=\(directory) order=\(options.order.rawValue)\(options.pseudonymous ? " pseudonymous" : "")"
            + " from=\(options.from.map(Timestamp.rfc3339) ?? "-") to=\(options.to.map(Timestamp.rfc3339) ?? "-")"
        return try snapshot.audited("export", { _ in text }, { (inner: StoreSnapshot) throws(SightlineError) -> LakeExportSummary in
            try fileSystem.createDirectory(directory)
            try refuseStrangersDirectory()  // before the lock file: nothing is written into a directory that is not ours
            let lock = try fileSystem.open("\(directory)/\(Self.lockName)", mode: .readWriteCreate)
            defer { try? fileSystem.close(lock) }
            try fileSystem.lockExclusive(lock)
            return try write(inner)
        }, counted: { ($0.rowsWritten, -1) })
    }

    private func write(_ inner: StoreSnapshot) throws(SightlineError) -> LakeExportSummary {
        let (manifest, _) = try readManifest()
        let staging = "\(directory)/\(Self.stagingName)"
        try fileSystem.createDirectory(staging)
        for leftover in entries(staging) ?? [] { try? fileSystem.remove("\(staging)/\(leftover)") }  // an interrupted export's

        let settingsChanged = manifest.map { $0.settings != settings } ?? true
        var current = manifest ?? LakeManifest(settings: settings, partitions: [:])
        if settingsChanged { current.settings = settings }
        let known = Set(current.partitions.keys.compactMap(Self.dayNumber))
        let days = try storeDays(inner, also: known)
        var summary = LakeExportSummary()
        let total = days.values.reduce(0) { $0 + $1.rows }
        // Decide per day, in order: remove, skip, or read (then compare or write).
        var reads: [(day: Day, old: LakeManifest.Partition?)] = []
        for day in days.values.sorted(by: { $0.number < $1.number }) {
            let old = current.partitions[day.name]
            if day.rows == 0 {
                guard old != nil || entries("\(directory)/\(LakeManifest.directory(day: day.name))") != nil else { continue }
                try removePartition(day.name)
                current.partitions[day.name] = nil
                try saveManifest(current)
                summary.partitionsRemoved.append(day.name)
            } else if let old, !settingsChanged, fileSize("\(directory)/\(old.file)") == old.bytes {
                if old.sources == day.sources && old.rows == day.rows {
                    summary.partitionsSkipped += 1
                } else {
                    // Sources changed (a compaction, a purge elsewhere in the segment,
                    // expiry): the rows decide whether the file must change.
                    reads.append((day, old))
                }
            } else {
                reads.append((day, nil))
            }
        }
        // Days are read, encoded and written on several threads (one query and one encoder
        // each); the manifest is updated under a lock as each finishes.
        let shared = Locked(LakeExportState(current: current, summary: summary, done: days.count - reads.count, error: nil))
        let workers = max(1, min(reads.count, inner.parallelism))
        var perWorker = inner
        perWorker.parallelism = max(1, inner.parallelism / workers)
        let encoder = LakePartitionEncoder(options: options, hasher: hasher)
        let (export, dayCount, reading, reader) = (self, days.count, reads, perWorker)
        let work: @Sendable (Int) -> Void = { worker in
            var i = worker
            while i < reading.count, shared.withLock({ $0.error == nil }) {
                do throws(SightlineError) {
                    try export.read(reading[i].day, old: reading[i].old, reader, encoder, shared: shared)
                    shared.withLock { s in
                        s.done += 1
                        export.options.progress?(LakeExportProgress(partitionsDone: s.done, partitionsTotal: dayCount,
                                                                    rowsWritten: s.summary.rowsWritten, rowsTotal: total))
                    }
                } catch {
                    shared.withLock { if $0.error == nil { $0.error = error } }
                }
                i += workers
            }
        }
        if workers == 1 { work(0) } else { DispatchQueue.concurrentPerform(iterations: workers) { work($0) } }
        let result = shared.withLock { $0 }
        if let error = result.error { throw error }
        current = result.current
        summary = result.summary
        summary.partitionsWritten.sort()
        summary.partitionsUnchanged.sort()
        // Files nobody wrote here (by hand, from elsewhere), and days outside the store.
        for path in foreignEntries(current.partitions) {
            if removeTree("\(directory)/\(path)") { summary.foreignRemoved.append(path) }
        }
        try fileSystem.syncDirectory(directory)
        if settingsChanged || manifest == nil { try saveManifest(current) }
        summary.rowsNotExportable = try unexportableRows(inner)
        summary.rowsInExport = current.partitions.values.reduce(0) { $0 + $1.rows }
        summary.bytesInExport = current.partitions.values.reduce(0) { $0 + $1.bytes }
        return summary
    }

    /// Only ever write into an empty directory or one that is plainly an export: the
    /// foreign-file cleanup must never reach someone else's files.
    private func refuseStrangersDirectory() throws(SightlineError) {
        guard try readManifest().manifest == nil else { return }
        let strangers = (entries(directory) ?? []).filter {
            !($0.hasPrefix("day=") || $0.hasPrefix("_sightline_export") || $0 == Self.stagingName)
        }
        guard strangers.isEmpty else {
            throw .invalidArgument("\(directory) is not empty and holds no Sightline export (found \(strangers.prefix(3).joined(separator: ", "))): export into an empty or new directory")
        }
    }

    /// Reads one day; keeps the file when the rows equal what it holds (`old`), else
    /// writes it through the staging area and renames it into its partition directory
    /// (atomic: readers see the old file or the new one), then records it.
    private func read(_ day: Day, old: LakeManifest.Partition?, _ inner: StoreSnapshot, _ encoder: LakePartitionEncoder,
                      shared: Locked<LakeExportState>) throws(SightlineError) {
        let columns = encoder.arrange(try rows(of: day, inner))
        let rows = columns.times.count
        let digest = LakePartitionEncoder.digest(columns)
        if let old, rows == old.rows && digest == old.digest {
            var kept = old
            kept.sources = day.sources
            try shared.withLock { (s: inout LakeExportState) throws(SightlineError) in
                s.current.partitions[day.name] = kept
                try saveManifest(s.current)
                s.summary.partitionsUnchanged.append(day.name)
            }
            return
        }
        let (bytes, groups) = try encoder.encode(columns, parallelism: inner.parallelism)
        let staged = "\(directory)/\(Self.stagingName)/day=\(day.name).parquet"
        try? fileSystem.remove(staged)
        let file = try fileSystem.open(staged, mode: .createExclusive)
        do {
            try bytes.withUnsafeBytesTyped { (raw: UnsafeRawBufferPointer) throws(SightlineError) in try fileSystem.writeAll(file, raw) }
            try fileSystem.sync(file)
        } catch {
            try? fileSystem.close(file)
            try? fileSystem.remove(staged)
            throw error
        }
        try fileSystem.close(file)
        let partition = "\(directory)/\(LakeManifest.directory(day: day.name))"
        if entries(partition) == nil {
            try fileSystem.createDirectory(partition)
            try fileSystem.syncDirectory(directory)
        }
        try fileSystem.rename(staged, to: "\(directory)/\(LakeManifest.file(day: day.name))")
        try fileSystem.syncDirectory(partition)
        let record = LakeManifest.Partition(day: day.name, rows: rows, rowGroups: groups, bytes: Int64(bytes.count),
                                            crc: CRC32C.checksum(bytes), digest: digest, sources: day.sources)
        try shared.withLock { (s: inout LakeExportState) throws(SightlineError) in
            s.current.partitions[day.name] = record
            try saveManifest(s.current)
            s.summary.partitionsWritten.append(day.name)
            s.summary.rowsWritten += rows
            s.summary.bytesWritten += Int64(bytes.count)
        }
    }

    private func removePartition(_ day: String) throws(SightlineError) {
        let partition = "\(directory)/\(LakeManifest.directory(day: day))"
        for name in entries(partition) ?? [] { try fileSystem.remove("\(partition)/\(name)") }
        if entries(partition) != nil { try fileSystem.remove(partition) }
        try fileSystem.syncDirectory(directory)
    }

    /// Removes a file, or a directory and the files in it; false when something stays.
    private func removeTree(_ path: String) -> Bool {
        if let names = entries(path) {
            for n in names where (try? fileSystem.remove("\(path)/\(n)")) == nil { _ = removeTree("\(path)/\(n)") }
        }
        return (try? fileSystem.remove(path)) != nil
    }

    private func saveManifest(_ manifest: LakeManifest) throws(SightlineError) {
        try fileSystem.replaceAtomically(manifestPath, with: manifest.encode())
    }
}

/// What an export's threads share: the manifest as it grows, the summary, progress, and the
/// first error (which stops the others between days).
struct LakeExportState {
    var current: LakeManifest
    var summary: LakeExportSummary
    var done: Int
    var error: SightlineError?
}
