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
        try refuseStrangersDirectory()
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
        let encoder = LakePartitionEncoder(options: options, hasher: hasher)
        let total = days.values.reduce(0) { $0 + $1.rows }
        var done = 0
        for day in days.values.sorted(by: { $0.number < $1.number }) {
            defer {
                done += 1
                options.progress?(LakeExportProgress(partitionsDone: done, partitionsTotal: days.count, rowsWritten: summary.rowsWritten, rowsTotal: total))
            }
            let old = current.partitions[day.name]
            if day.rows == 0 {
                guard old != nil || entries("\(directory)/\(LakeManifest.directory(day: day.name))") != nil else { continue }
                try removePartition(day.name)
                current.partitions[day.name] = nil
                try saveManifest(current)
                summary.partitionsRemoved.append(day.name)
                continue
            }
            if let old, !settingsChanged, fileSize("\(directory)/\(old.file)") == old.bytes {
                if old.sources == day.sources && old.rows == day.rows {
                    summary.partitionsSkipped += 1
                    continue
                }
                // Sources changed (a compaction, a purge elsewhere in the segment, expiry):
                // the rows decide whether the file must change.
                let rows = try rows(of: day, inner)
                if rows.count == old.rows && LakePartitionEncoder.digest(rows) == old.digest {
                    var kept = old
                    kept.sources = day.sources
                    current.partitions[day.name] = kept
                    try saveManifest(current)
                    summary.partitionsUnchanged.append(day.name)
                    continue
                }
                try writePartition(day, rows: rows, encoder, &current, &summary)
                continue
            }
            try writePartition(day, rows: try rows(of: day, inner), encoder, &current, &summary)
        }
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

    /// Writes one day's file through the staging area and renames it into its partition
    /// directory (atomic: readers see the old file or the new one), then records it.
    private func writePartition(_ day: Day, rows: [Sighting], _ encoder: LakePartitionEncoder,
                                _ current: inout LakeManifest, _ summary: inout LakeExportSummary) throws(SightlineError) {
        let (bytes, groups) = try encoder.encode(rows)
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
        current.partitions[day.name] = LakeManifest.Partition(
            day: day.name, rows: rows.count, rowGroups: groups, bytes: Int64(bytes.count), crc: CRC32C.checksum(bytes),
            digest: LakePartitionEncoder.digest(rows), sources: day.sources)
        try saveManifest(current)
        summary.partitionsWritten.append(day.name)
        summary.rowsWritten += rows.count
        summary.bytesWritten += Int64(bytes.count)
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
