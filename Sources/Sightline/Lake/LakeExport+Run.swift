/// One export or check of a directory against a snapshot (`ReadOnlyStore.exportLake`,
/// `checkLake`). Docs/architecture.md, "GeoParquet export", explains the bookkeeping.
struct LakeExport: Sendable {
    let snapshot: StoreSnapshot
    let hasher: PlateHasher
    let directory: String
    let options: LakeExportOptions
    let agency: String
    let fileSystem: any FileSystem

    static let dayMilliseconds: Int64 = 86_400_000
    static let stagingName = "_staging"
    static let lockName = "_sightline_export.lock"
    static let world = Area.box(south: -90, west: -180, north: 90, east: 180)

    var manifestPath: String { "\(directory)/\(LakeManifest.fileName)" }

    /// What the store holds for one day now.
    struct Day: Sendable {
        var number: Int64
        var name: String
        var rows: Int
        var sources: [String]
        var range: TimeRange {
            TimeRange(uncheckedFrom: number * LakeExport.dayMilliseconds, to: (number + 1) * LakeExport.dayMilliseconds)
        }
    }

    static func dayName(_ number: Int64) -> String { String(Timestamp.rfc3339(number * dayMilliseconds).prefix(10)) }

    static func dayNumber(_ name: String) -> Int64? {
        guard LakeManifest.isDay(name), let ms = Timestamp.milliseconds(name + "T00:00:00Z") else { return nil }
        return HeatmapSink.dayNumber(ms)
    }

    /// The days the options select: [first, last) as day numbers (nil: open).
    var dayBounds: (from: Int64?, to: Int64?) {
        // Clamped to years 0000–9999 first: nothing beyond is exported, and the arithmetic stays in range.
        let r = Timestamp.range
        return (options.from.map { HeatmapSink.dayNumber(min(max($0, r.lowerBound), r.upperBound + 1)) },
                options.to.map { HeatmapSink.dayNumber(min(max($0, r.lowerBound + 1), r.upperBound + 1) - 1) + 1 })
    }

    /// The selected days' times, within years 0000–9999 (`Timestamp.range`): the times a
    /// day partition can name and a microsecond timestamp can hold.
    var exportableRange: TimeRange {
        let b = dayBounds
        let lo = max(b.from.map { $0 * Self.dayMilliseconds } ?? .min, Timestamp.range.lowerBound)
        let hi = min(b.to.map { $0 * Self.dayMilliseconds } ?? .max, Timestamp.range.upperBound + 1)
        return TimeRange(uncheckedFrom: lo, to: hi)
    }

    /// Rows of the selected days outside years 0000–9999: the store takes any 64-bit time
    /// through its API, an export cannot write them (reported, not silently dropped).
    func unexportableRows(_ inner: StoreSnapshot) throws(SightlineError) -> Int {
        let b = dayBounds
        var n = 0
        let lo = b.from.map { $0 * Self.dayMilliseconds }, hi = b.to.map { $0 * Self.dayMilliseconds }
        if lo ?? .min < Timestamp.range.lowerBound {
            n += try inner.count(try Query(.area(Self.world), time: TimeRange(uncheckedFrom: lo, to: Timestamp.range.lowerBound))).count
        }
        if hi ?? .max > Timestamp.range.upperBound + 1 {
            n += try inner.count(try Query(.area(Self.world), time: TimeRange(uncheckedFrom: Timestamp.range.upperBound + 1, to: hi))).count
        }
        return n
    }

    func selected(_ day: Int64) -> Bool {
        let b = dayBounds
        return (b.from.map { day >= $0 } ?? true) && (b.to.map { day < $0 } ?? true)
    }

    var settings: LakeManifest.Settings {
        LakeManifest.Settings(order: options.order, pseudonymous: options.pseudonymous,
                              compression: options.compression.description, agency: agency)
    }

    // MARK: The store's side

    /// Rows per day as `inner` (unaudited, with the reader's retention and sharing rules)
    /// sees them, with the sources each day's rows can come from, for the selected days and
    /// `also` (days the directory holds).
    func storeDays(_ inner: StoreSnapshot, also: Set<Int64>) throws(SightlineError) -> [Int64: Day] {
        let range = exportableRange
        var days: [Int64: Day] = [:]
        if range.from! < range.to! {
            for cell in try inner.heatmap(try Query(.area(Self.world), time: range), by: .day) {
                guard let n = Self.dayNumber(cell.key) else { continue }
                days[n] = Day(number: n, name: cell.key, rows: cell.count, sources: [])
            }
        }
        for n in also where days[n] == nil && selected(n) { days[n] = Day(number: n, name: Self.dayName(n), rows: 0, sources: []) }
        let numbers = days.keys.sorted()
        for segment in inner.segments where segment.rowCount > 0 {
            let first = HeatmapSink.dayNumber(segment.statistics.minTime), last = HeatmapSink.dayNumber(segment.statistics.maxTime)
            var i = numbers.partitionPoint { $0 < first }
            while i < numbers.count && numbers[i] <= last {
                days[numbers[i]]!.sources.append(segment.fileName)
                i += 1
            }
        }
        var walDays: Set<Int64> = []
        for batch in inner.memory { for t in batch.times { walDays.insert(HeatmapSink.dayNumber(t)) } }
        for n in walDays where days[n] != nil { days[n]!.sources.append("wal") }
        for n in numbers { days[n]!.sources.sort() }
        return days
    }

    /// The day's rows as `inner` sees them (retention and sharing rules applied), unordered.
    func rows(of day: Day, _ inner: StoreSnapshot) throws(SightlineError) -> SightingBatch {
        let plan = try inner.plan(try Query(.area(Self.world), time: day.range))
        return try QueryExecutor.run(plan, into: LakeRows.self).0.batch
    }

    // MARK: The directory's side

    /// The manifest, nil when there is none; a damaged one is reported through `problem`.
    func readManifest() throws(SightlineError) -> (manifest: LakeManifest?, problem: String?) {
        guard let bytes = try fileSystem.contentsIfPresent(manifestPath, limit: 1 << 30, "export manifest") else { return (nil, nil) }
        do {
            return (try LakeManifest.decode(bytes, path: manifestPath), nil)
        } catch {
            return (nil, "\(error)")
        }
    }

    /// Entries of `path`, nil when it is not a directory.
    func entries(_ path: String) -> [String]? { try? fileSystem.contentsOfDirectory(path) }

    /// The file's size, nil when it cannot be opened.
    func fileSize(_ path: String) -> Int64? {
        guard let f = try? fileSystem.open(path, mode: .read) else { return nil }
        defer { try? fileSystem.close(f) }
        return try? fileSystem.size(f)
    }

    /// Paths (relative to the directory) that are not the export's: anything but the
    /// manifest, its lock and staging area, and the files `partitions` names.
    func foreignEntries(_ partitions: [String: LakeManifest.Partition]) -> [String] {
        var foreign: [String] = []
        for name in entries(directory) ?? [] {
            if name == LakeManifest.fileName || name == Self.lockName || name == Self.stagingName { continue }
            if name.hasPrefix("day="), let day = Optional(String(name.dropFirst(4))), partitions[day] != nil,
               let inside = entries("\(directory)/\(name)") {
                for f in inside where f != "part-0.parquet" { foreign.append("\(name)/\(f)") }
                continue
            }
            foreign.append(name)
        }
        return foreign
    }
}
