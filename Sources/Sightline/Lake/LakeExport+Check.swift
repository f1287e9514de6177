extension LakeExport {
    /// Compares the directory with the snapshot without writing: every selected day of the
    /// store and every day of the manifest, and each file against its recorded size,
    /// CRC-32C and footer.
    func check() throws(SightlineError) -> LakeCheckReport {
        try snapshot.audited("export-check", { _ in "export-check dir=\(directory)" }, { (inner: StoreSnapshot) throws(SightlineError) -> LakeCheckReport in
            try checkUnaudited(inner)
        }, counted: { _ in (0, -1) })
    }

    private func checkUnaudited(_ inner: StoreSnapshot) throws(SightlineError) -> LakeCheckReport {
        guard entries(directory) != nil else { throw .invalidArgument("\(directory) is not a directory") }
        let (manifest, problem) = try readManifest()
        var settingsDiffer: String? = nil
        if let problem {
            settingsDiffer = "the export manifest is unreadable (\(problem))"
        } else if manifest == nil {
            settingsDiffer = "no export manifest (\(LakeManifest.fileName)): not an export directory, or never exported"
        } else if manifest!.settings.agency != agency {
            settingsDiffer = "exported for agency \"\(manifest!.settings.agency)\", checked for \"\(agency)\""
        }
        let partitions = manifest?.partitions ?? [:]
        let days = try storeDays(inner, also: Set(partitions.keys.compactMap(Self.dayNumber)))
        var report: [LakeCheckReport.Partition] = []
        for day in days.values.sorted(by: { $0.number < $1.number }) {
            let state: String
            if let old = partitions[day.name] {
                if day.rows == 0 {
                    state = "obsolete: the store holds no rows of this day any more"
                } else if let damage = damage(old) {
                    state = "damaged: \(damage)"
                } else if old.sources != day.sources {
                    let gone = Set(old.sources).subtracting(day.sources).sorted()
                    state = "stale: its store files were rewritten (\(gone.prefix(3).joined(separator: ", "))\(gone.count > 3 ? ", …" : "")) — a purge, retention or compaction"
                } else if old.rows != day.rows {
                    state = "stale: \(old.rows) rows exported, \(day.rows) in the store (rows expired, or holds changed)"
                } else {
                    state = "in step"
                }
            } else {
                if day.rows == 0 { continue }
                state = "missing: \(day.rows) rows not exported"
            }
            report.append(LakeCheckReport.Partition(day: day.name, state: state))
        }
        return LakeCheckReport(partitions: report, foreign: foreignEntries(partitions), settingsDiffer: settingsDiffer)
    }

    /// Why the partition's file is not the one recorded (nil when it is).
    private func damage(_ p: LakeManifest.Partition) -> String? {
        let path = "\(directory)/\(p.file)"
        guard let bytes = try? fileSystem.contentsIfPresent(path, limit: Int(p.bytes), "partition file") else {
            return fileSize(path) == nil ? "\(p.file) is missing" : "\(p.file) has \(fileSize(path)!) bytes, \(p.bytes) were written"
        }
        guard Int64(bytes.count) == p.bytes else { return "\(p.file) has \(bytes.count) bytes, \(p.bytes) were written" }
        guard CRC32C.checksum(bytes) == p.crc else { return "\(p.file) does not match its checksum" }
        do {
            let reader = try ParquetFileReader(bytes: bytes, path: path)
            guard reader.rowCount == Int64(p.rows) else { return "\(p.file) holds \(reader.rowCount) rows, \(p.rows) were written" }
        } catch {
            return "\(error)"
        }
        return nil
    }
}
