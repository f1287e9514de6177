import ArgumentParser
import Foundation
import Sightline
import SightlineCommandLine

/// Options every query takes: time range, filters, output.
struct QueryOptions: ParsableArguments {
    @OptionGroup var access: AccessArguments
    @Option(help: "From this time, inclusive (epoch ms or RFC 3339).") var from: String?
    @Option(help: "To this time, exclusive (epoch ms or RFC 3339).") var to: String?
    @Option(help: "Only this camera id (repeatable).") var camera: [UInt32] = []
    @Option(help: "Only this region (1–3 letters).") var region: String?
    @Option(help: "Only rows with at least this confidence (0–100).") var minConfidence: UInt8 = 0
    @Option(help: "At most this many rows.") var limit: Int?
    @Option(help: "Start after this page token (printed by --stats when --limit cut the answer).") var after: String?
    @Option(help: "Output: csv, ndjson or table.") var format: OutputFormat = .csv
    @Flag(help: "Times as epoch milliseconds instead of RFC 3339.") var epochMs = false
    @Flag(help: "Print the query's statistics (rows, blocks, bytes, time) to standard error.") var stats = false

    enum OutputFormat: String, ExpressibleByArgument { case csv, ndjson, table }

    func time() throws -> TimeRange {
        try TimeRange(from: parseTime(from, "from"), to: parseTime(to, "to"))
    }

    func filters() throws -> QueryFilters {
        QueryFilters(cameras: camera.isEmpty ? nil : Set(camera), region: try region.map { try Region($0) },
                     minimumConfidence: minConfidence, limit: limit)
    }
}

/// The region options of area queries and heat maps.
struct AreaOptions: ParsableArguments {
    @Option(help: "Box: south,west,north,east in degrees (west > east crosses the antimeridian).") var bbox: String?
    @Option(help: "Circle: lat,lon,metres.") var circle: String?
    @Option(help: "Polygon: \"lat lon;lat lon;...\" (at least 3 vertices).") var polygon: String?

    func area() throws -> Area {
        let given = [bbox, circle, polygon].compactMap { $0 }
        guard given.count == 1 else { throw ValidationError("give exactly one of --bbox, --circle, --polygon") }
        let area: Area
        do {
            if let bbox { area = try Area(parsingBox: bbox) }
            else if let circle { area = try Area(parsingCircle: circle) }
            else { area = try Area(parsingPolygon: polygon!) }
        } catch {
            guard case .invalidArgument(let message) = error else { throw error }
            throw ValidationError(message)
        }
        return try area.validated()
    }
}

/// Runs a maintenance request through the library's `StoreMaintenance`: at the store's owner
/// when another process holds it, else here; library errors become the CLI's failures.
func maintain<R>(_ store: String, create: Bool = false, _ body: (StoreMaintenance) throws(SightlineError) -> R) throws -> R {
    do { return try body(StoreMaintenance(directory: store, options: cliStoreOptions(), createIfMissing: create)) } catch {
        throw CommandFailure(error)
    }
}

func printRows(_ rows: [Sighting], _ options: QueryOptions, header: Bool = true) {
    var out = ""
    func time(_ t: Int64) -> String { options.epochMs ? String(t) : Timestamp.rfc3339(t) }
    func csvField(_ s: String) -> String {
        s.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" }) ? "\"" + s.replacingOccurrences(of: "\"", with: "\"\"") + "\"" : s
    }
    func json(_ s: String) -> String {
        var r = "\""
        for u in s.unicodeScalars {
            switch u {
            case "\"": r += "\\\""
            case "\\": r += "\\\\"
            case _ where u.value < 0x20: r += String(format: "\\u%04x", u.value)
            default: r.unicodeScalars.append(u)
            }
        }
        return r + "\""
    }
    switch options.format {
    case .csv:
        if header { out += "plate,time,lat,lon,camera,confidence,region,image\n" }
        for r in rows {
            out += "\(r.plate),\(time(r.time)),\(coordinateText(r.latitudeE7)),\(coordinateText(r.longitudeE7)),\(r.camera),\(r.confidence),\(r.region.map { "\($0)" } ?? ""),\(csvField(r.image ?? ""))\n"
        }
    case .ndjson:
        for r in rows {
            let t = options.epochMs ? String(r.time) : json(Timestamp.rfc3339(r.time))
            out += "{\"plate\":\(json(r.plate.description)),\"time\":\(t),\"lat\":\(coordinateText(r.latitudeE7)),\"lon\":\(coordinateText(r.longitudeE7)),\"camera\":\(r.camera),\"confidence\":\(r.confidence)"
            if let region = r.region { out += ",\"region\":\(json(region.description))" }
            if let image = r.image { out += ",\"image\":\(json(image))" }
            out += "}\n"
        }
    case .table:
        func pad(_ s: String, _ w: Int) -> String { s.count >= w ? s : s + String(repeating: " ", count: w - s.count) }
        if header { out += pad("PLATE", 11) + pad("TIME", 25) + pad("LAT", 13) + pad("LON", 14) + pad("CAMERA", 11) + pad("CONF", 5) + pad("REGION", 7) + "IMAGE\n" }
        for r in rows {
            out += pad(r.plate.description, 11) + pad(time(r.time), 25) + pad(coordinateText(r.latitudeE7), 13) + pad(coordinateText(r.longitudeE7), 14)
                + pad(String(r.camera), 11) + pad(String(r.confidence), 5) + pad(r.region?.description ?? "", 7) + (r.image ?? "") + "\n"
        }
    }
    FileHandle.standardOutput.write(Data(out.utf8))
}

/// The area query the options describe; invalid ones are usage errors.
func areaQuery(_ region: AreaOptions, _ options: QueryOptions) throws -> Query {
    do {
        return try Query(.area(try region.area()), time: try options.time(), filters: try options.filters())
    } catch let e as SightlineError {
        throw ValidationError("\(e)")
    }
}

/// Runs a history or area query on the store and prints its rows (or count) and statistics.
/// Rows stream: each batch of the cursor is printed as soon as it is final, so the first
/// rows appear before the answer is complete and memory does not grow with it.
func runQuery(_ query: Query, store: String, count: Bool, _ options: QueryOptions) throws {
    // A plate's history, or an area in one box, asks a live owner for the unflushed rows it
    // needs instead of decoding the owner's whole write-ahead log here.
    let snapshot: StoreSnapshot
    do {
        switch query.kind {
        case .history(let plate):
            snapshot = try openReadOnly(store).snapshot(access: options.access.context, plate: plate)
        case .area(let area) where area.coveringBoxes.count == 1:
            snapshot = try openReadOnly(store).snapshot(access: options.access.context, box: area.coveringBoxes[0])
        default:
            snapshot = try openSnapshot(store, options.access)
        }
    } catch let failure as CommandFailure { throw failure } catch { throw CommandFailure(error) }
    do {
        if count {
            let result = try snapshot.count(query)
            print(result.count)
            if options.stats { printStatistics(result.statistics, rows: result.count) }
            return
        }
        let token = try options.after.map { text throws(SightlineError) -> QueryPageToken in
            guard let token = QueryPageToken(text) else { throw .invalidPageToken("--after \(text) is not a page token") }
            return token
        }
        let clock = ContinuousClock()
        let started = clock.now
        let cursor = try snapshot.cursor(query, after: token, options: CursorOptions(batchRows: 1024))
        printRows([], options)  // the header, at once
        while let batch = try cursor.next() { printRows(batch, options, header: false) }
        if options.stats {
            var statistics = cursor.statistics
            statistics.execution = clock.now - started
            printStatistics(statistics, rows: cursor.rowsReturned)
            if let next = cursor.pageToken, query.filters.limit == cursor.rowsReturned {
                FileHandle.standardError.write(Data("next page: --after \(next)\n".utf8))
            }
        }
    } catch { throw CommandFailure(error) }
}

func printStatistics(_ s: QueryStatistics, rows: Int) {
    let line = String(format: "%d rows; read %d blocks of %d segments, %@, %d rows examined; plan %.1f µs, execute %.3f ms, merge %.3f ms\n",
                      rows, s.blocksRead, s.segmentsRead, formatBytes(s.bytesRead), s.rowsExamined,
                      seconds(s.planning) * 1e6, seconds(s.execution) * 1e3, seconds(s.merge) * 1e3)
    FileHandle.standardError.write(Data(line.utf8))
}

struct HistoryCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "history", abstract: "Every sighting of a plate, in time order.")
    @Argument(help: "Store directory.") var store: String
    @Argument(help: "The plate.") var plate: String
    @OptionGroup var options: QueryOptions
    @Flag(help: "Print only the number of sightings.") var count = false

    func query() throws -> Query {
        do { return try Query(.history(try Plate(plate)), time: try options.time(), filters: try options.filters()) } catch let e as SightlineError { throw ValidationError("\(e)") }
    }

    func run() throws { try runQuery(try query(), store: store, count: count, options) }
}

struct AreaCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "area", abstract: "Every sighting inside a region, by time, plate, camera.")
    @Argument(help: "Store directory.") var store: String
    @OptionGroup var region: AreaOptions
    @OptionGroup var options: QueryOptions
    @Flag(help: "Print only the number of sightings.") var count = false

    func query() throws -> Query { try areaQuery(region, options) }

    func run() throws { try runQuery(try query(), store: store, count: count, options) }
}

struct HeatmapCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "heatmap", abstract: "Sightings in a region per geohash cell, hour of day or day.")
    @Argument(help: "Store directory.") var store: String
    @OptionGroup var region: AreaOptions
    @OptionGroup var options: QueryOptions
    @Option(help: "Geohash precision of the cells (1–12).") var precision: Int?
    @Option(help: "Group by hour (of day, UTC) or day.") var by: Grouping?

    enum Grouping: String, ExpressibleByArgument { case hour, day }

    func run() throws {
        guard (precision == nil) != (by == nil) else { throw ValidationError("give exactly one of --precision, --by") }
        let grouping: HeatmapGrouping = precision.map { .geohash(precision: $0) } ?? (by == .hour ? .hourOfDay : .day)
        let query = try areaQuery(region, options)
        let snapshot = try openSnapshot(store, options.access)
        do {
            print(precision != nil ? "geohash,count" : "\(by!.rawValue),count")
            for cell in try snapshot.heatmap(query, by: grouping) { print("\(cell.key),\(cell.count)") }
        } catch { throw CommandFailure(error) }
    }
}

struct ExplainCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "explain",
        abstract: "Show the plan of a query: per segment, the chosen access path and the alternatives with their estimates; for investigative queries, what they may expose.",
        discussion: """
            Usage: sightline explain [--analyze] STORE KIND ARGUMENTS, KIND one of history, area, search, \
            intersect, convoy, frequent, with the arguments of that command (e.g. explain S convoy PLATE --within 60).
            """)
    @Flag(help: "Run the query and add actual rows, blocks, bytes and time.") var analyze = false
    @Argument(help: "Store directory.") var store: String
    @Argument(help: "history, area, search, intersect, convoy or frequent.") var kind: String
    @Argument(parsing: .captureForPassthrough, help: "The query's arguments.") var rest: [String] = []

    func run() throws {
        let query: Query, access: AccessArguments
        switch kind {
        case "history": let c = try HistoryCommand.parse([store] + rest); (query, access) = (try c.query(), c.options.access)
        case "area": let c = try AreaCommand.parse([store] + rest); (query, access) = (try c.query(), c.options.access)
        case "search": let c = try SearchCommand.parse([store] + rest); (query, access) = (try c.query(), c.options.access)
        case "intersect", "convoy", "frequent": return try explainInvestigation()
        default: throw ValidationError("explain takes history, area, search, intersect, convoy or frequent, not \(kind)")
        }
        let snapshot = try openSnapshot(store, access)
        let plan = try snapshot.plan(query)
        print("query: \(query.kind)  time [\(query.time.from.map(String.init) ?? "-∞"), \(query.time.to.map(String.init) ?? "+∞"))")
        printPlan(plan, indent: "")
        if case .search = query.kind {
            let bound = plan.exposureBound
            print("exposure: at most \(bound.plates) distinct plates, at most \(bound.sightings) sightings (bounds from the indexes, before running)")
            print("guardrails: \(snapshot.investigationLimits)")
        }
        if analyze {
            let result = try snapshot.run(query)
            let s = result.statistics
            print(String(format: "actual: %d blocks, %d rows examined, %@ read, %d rows matched", s.blocksRead, s.rowsExamined, formatBytes(s.bytesRead), s.rowsMatched))
            print(String(format: "time: plan %.1f µs, read+filter %.3f ms, merge+order %.3f ms", seconds(s.planning) * 1e6, seconds(s.execution) * 1e3, seconds(s.merge) * 1e3))
        }
    }

    /// intersect, convoy, frequent: each stage's plan, the exposure bound and the guardrails;
    /// with --analyze, the answer's size and time.
    func explainInvestigation() throws {
        let access: AccessArguments
        switch kind {
        case "intersect": access = try IntersectCommand.parse([store] + rest).output.access
        case "convoy": access = try ConvoyCommand.parse([store] + rest).output.access
        default: access = try FrequentCommand.parse([store] + rest).output.access
        }
        let snapshot = try openSnapshot(store, access)
        let plan: InvestigationPlan
        let execute: () throws -> Int
        do {
            switch kind {
            case "intersect":
                let command = try IntersectCommand.parse([store] + rest)
                let windows = try command.parsedWindows()
                plan = try snapshot.explainIntersect(windows, minimum: command.minimum)
                execute = { try snapshot.intersect(windows, minimum: command.minimum).count }
            case "convoy":
                let command = try ConvoyCommand.parse([store] + rest)
                let (target, time) = try plateAndTime(command.plate, from: command.from, to: command.to)
                plan = try snapshot.explainConvoy(target, within: .seconds(command.within), time: time)
                execute = { try snapshot.convoy(target, within: .seconds(command.within), minimumCameras: command.minCameras, time: time).count }
            default:
                let command = try FrequentCommand.parse([store] + rest)
                let (target, time) = try plateAndTime(command.plate, from: command.from, to: command.to)
                plan = try snapshot.explainFrequent(target, time: time)
                execute = { try snapshot.frequentLocations(target, precision: command.precision, top: command.top, time: time).count }
            }
        } catch SightlineError.invalidArgument(let message) { throw ValidationError(message) }
        print("query: \(kind), \(plan.stages.count) stage\(plan.stages.count == 1 ? "" : "s")")
        for (i, stage) in plan.stages.enumerated() {
            let q = stage.plan.query
            print("stage \(i + 1): \(stage.name) — \(q.kind)  time [\(q.time.from.map(String.init) ?? "-∞"), \(q.time.to.map(String.init) ?? "+∞"))")
            printPlan(stage.plan, indent: "  ")
        }
        let bound = plan.exposureBound
        print("exposure: at most \(bound.plates) distinct plates, at most \(bound.sightings) sightings (\(plan.exposureNote); bounds from the indexes, before running)")
        print("guardrails: \(snapshot.investigationLimits)")
        if analyze {
            let clock = ContinuousClock()
            let t0 = clock.now
            let rows = try execute()
            print(String(format: "actual: %d result rows in %.3f ms", rows, seconds(clock.now - t0) * 1e3))
        }
    }

    /// One plan: segments by path, each read segment's alternatives, the totals.
    func printPlan(_ plan: QueryPlan, indent: String) {
        var chosenCounts: [String: Int] = [:]
        var skipCounts: [String: Int] = Dictionary(uniqueKeysWithValues: plan.skippedSegments.map { ($0.key.rawValue, $0.value) })
        for s in plan.segments {
            if let c = s.chosen { chosenCounts[c.path.rawValue, default: 0] += 1 } else { skipCounts[s.skipped?.rawValue ?? "?", default: 0] += 1 }
        }
        print(indent + "segments: \(plan.segments.count + plan.skippedSegments.values.reduce(0, +)) — " + (chosenCounts.sorted { $0.key < $1.key }.map { "\($0.value) by \($0.key)" }
              + skipCounts.sorted { $0.key < $1.key }.map { "\($0.value) skipped (\($0.key))" }).joined(separator: ", "))
        for s in plan.segments where s.chosen != nil {
            print(indent + "  \(s.segment) (\(s.segmentRows) rows):")
            for (i, e) in s.alternatives.enumerated() {
                print(indent + String(format: "    %@ %-24@ %6d blocks %10d rows %@ ~%.0f matches", i == 0 ? "→" : " ", e.path.rawValue as NSString,
                                      e.blockCount, e.rows, formatBytes(e.bytes).padding(toLength: 11, withPad: " ", startingAt: 0) as NSString, e.matches))
            }
        }
        print(indent + "in memory: \(plan.memoryRows) rows, checked one by one")
        print(indent + String(format: "estimate: %d blocks, %d rows, %@ read; planning %.1f µs", plan.estimatedBlocks, plan.estimatedRows,
                              formatBytes(plan.estimatedBytes), seconds(plan.planningTime) * 1e6))
    }
}
