import Foundation
import Testing
import Glibc
@_spi(Benchmarks) @testable import Sightline

/// The CLI end to end, as a user runs it: exit status and what it prints.
@Suite struct CommandLineTests {
    static var binary: String { String(CrashTests.writerPath.dropLast("-crash-writer".count)) }

    /// Runs the CLI; returns (exit status, standard output + standard error).
    static func run(_ arguments: [String]) throws -> (Int32, String) {
        try ChildProcess(binary, arguments, captureStandardError: true).finish()
    }

    /// The development and benchmark tool, built beside the CLI.
    static var benchBinary: String { binary + "-bench" }

    /// Runs `sightline-bench`; returns (exit status, standard output + standard error).
    static func bench(_ arguments: [String]) throws -> (Int32, String) {
        try ChildProcess(benchBinary, arguments, captureStandardError: true).finish()
    }

    @Test func sampleWritesVerifiesAndLooksUpAPlate() throws {
        let dir = temporaryDirectory("cli")
        defer { removeTree(dir) }
        let (status, output) = try Self.bench(["sample", "--rows", "30000", "--segment-rows", "10000", "--directory", dir])
        #expect(status == 0, "\(output)")
        #expect(output.contains("wrote       3 segments"), "\(output)")
        #expect(output.contains("verified    30000 rows"), "\(output)")
        #expect(output.contains("history"), "\(output)")

        let (inspected, report) = try Self.run(["inspect", "\(dir)/000000.sls"])
        #expect(inspected == 0 && report.contains("10000 rows") && report.contains("verified"), "\(report)")

        let (wrong, message) = try Self.run(["inspect", "\(dir)/000000.sls", "--secret", String(repeating: "ab", count: 16)])
        #expect(wrong != 0 && message.contains("different plate key secret"), "\(message)")

        let (missing, text) = try Self.run(["inspect", "\(dir)/nope.sls", "--secret", String(repeating: "ab", count: 16)])
        #expect(missing != 0 && text.contains("nope.sls"), "\(text)")
    }

    @Test func measureReportsSizeAndSpeedAsJSON() throws {
        let dir = temporaryDirectory("cli-measure")
        defer { removeTree(dir) }
        let (status, output) = try Self.bench(["measure", "--workload", "tracks", "--rows", "20000", "--repetitions", "1", "--json", "\(dir)/m.json"])
        #expect(status == 0, "\(output)")
        #expect(output.contains("bytes/sighting") && output.contains("decode time+lat+lon"), "\(output)")
        let json = String(decoding: try readFile("\(dir)/m.json"), as: UTF8.self)
        #expect(json.contains("\"bytesPerSighting\"") && json.contains("\"rows\" : 20000"), "\(json)")
    }

    /// `sightline access STORE --require none`: the explicit opt-out, for tests of the query
    /// commands themselves (stores are made requiring a purpose).
    static func optOutOfPurpose(_ store: String) throws {
        let (status, output) = try run(["access", store, "--require", "none"])
        #expect(status == 0, "\(output)")
    }

    /// Who the tests read as (stores the CLI makes require a purpose).
    static let tester = AccessContext(requester: "tester", purpose: "test")

    static let csv = """
        time,plate,lat,lon,camera,confidence,region,image
        2024-06-01T08:00:00.123Z,abc-123,37.5,-122.1,7,90,CA,"s3://b/a,1.jpg"
        1717228800000,XYZ9,37.51,-122.11,8,95,,
        1717228800000,BAD!,37.5,-122.1,7,90,,
        1717228800000,XYZ8,91,-122.1,7,90,,
        1717228800000,XYZ7,37,-122.1,7,101,,
        yesterday,XYZ6,37,-122.1,7,50,,
        1717228800000,XYZ5,37,-122.1
        1717228800000,XYZ4,37,-122.1,x,50,,
        1717228800000,XYZ3,37,-122.1,7,50,CALIF,

        """

    @Test func ingestStoresGoodRowsAndReportsEachBadOneByLine() throws {
        let dir = temporaryDirectory("cli-ingest")
        defer { removeTree(dir) }
        try writeFile("\(dir)/in.csv", Array(Self.csv.utf8))
        let (status, output) = try Self.run(["ingest", "\(dir)/store", "\(dir)/in.csv", "--rejects", "\(dir)/rejects.txt"])
        #expect(status == 0, "\(output)")
        #expect(output.contains("stored 2 rows, skipped 0 duplicates, rejected 7 rows"), "\(output)")
        let rejects = String(decoding: try readFile("\(dir)/rejects.txt"), as: UTF8.self)
        for (line, reason) in [(4, "invalid plate"), (5, "latitude"), (6, "confidence"), (7, "time \"yesterday\""),
                               (8, "missing camera"), (9, "camera \"x\""), (10, "region")] {
            #expect(rejects.contains("\(dir)/in.csv:\(line): ") && rejects.contains(reason), "line \(line): \(reason)\n\(rejects)")
        }
        let store = try Store(directory: "\(dir)/store", options: quietStoreOptions())
        let rows = try store.snapshot(access: Self.tester).allSightings().sorted { $0.plate.text < $1.plate.text }
        #expect(rows.map(\.plate.text) == ["ABC123", "XYZ9"])
        #expect(rows[0].time == 1_717_228_800_123 && rows[0].region?.text == "CA" && rows[0].image == "s3://b/a,1.jpg")
        #expect(rows[1].region == nil && rows[1].image == nil && rows[1].confidence == 95)
    }

    @Test func ingestReadsNDJSONAndSkipsWhatIsAlreadyStored() throws {
        let dir = temporaryDirectory("cli-ndjson")
        defer { removeTree(dir) }
        let ndjson = """
            {"plate": "AB12", "time": "2024-06-01T10:00:00+02:00", "lat": 52.5, "lon": 13.4, "camera": 3, "confidence": 88, "region": null}
            {"plate":"CD34","time":1717228800000,"lat":-33.9,"lon":151.2,"camera":4,"confidence":70,"region":"NSW","image":"x\\/y"}
            {"plate": "EF56", "time": 1}
            not json
            """
        try writeFile("\(dir)/in.ndjson", Array(ndjson.utf8))
        let (status, output) = try Self.run(["ingest", "\(dir)/store", "\(dir)/in.ndjson"])
        #expect(status == 0 && output.contains("stored 2 rows, skipped 0 duplicates, rejected 2 rows"), "\(output)")
        let (again, second) = try Self.run(["ingest", "\(dir)/store", "\(dir)/in.ndjson"])
        #expect(again == 0 && second.contains("stored 0 rows, skipped 2 duplicates"), "\(second)")
        let rows = try Store(directory: "\(dir)/store", options: quietStoreOptions()).snapshot(access: Self.tester).allSightings()
        #expect(rows.count == 2)
        #expect(rows.contains { $0.plate.text == "AB12" && $0.time == 1_717_228_800_000 })  // 10:00+02:00 = 08:00Z
        #expect(rows.contains { $0.region?.text == "NSW" && $0.image == "x/y" })
    }

    /// Files as spreadsheets save them: a byte-order mark first, lines ending in CRLF.
    @Test func ingestReadsFilesWithAByteOrderMarkAndWindowsLineEndings() throws {
        let dir = temporaryDirectory("cli-bom")
        defer { removeTree(dir) }
        let bom: [UInt8] = [0xEF, 0xBB, 0xBF]
        try writeFile("\(dir)/in.csv", bom + Array("plate,time,lat,lon,camera,confidence\r\nAB12,2024-06-01T10:00:00Z,52.5,13.4,3,88\r\n".utf8))
        try writeFile("\(dir)/in.ndjson", bom + Array(#"{"plate":"CD34","time":1717228800000,"lat":-33.9,"lon":151.2,"camera":4,"confidence":70}"#.utf8) + [0x0D, 0x0A])
        let (status, output) = try Self.run(["ingest", "\(dir)/store", "\(dir)/in.csv", "\(dir)/in.ndjson"])
        #expect(status == 0 && output.contains("stored 2 rows, skipped 0 duplicates, rejected 0 rows"), "\(output)")
        let rows = try Store(directory: "\(dir)/store", options: quietStoreOptions()).snapshot(access: Self.tester).allSightings()
        #expect(Set(rows.map(\.plate.text)) == ["AB12", "CD34"] && rows.contains { $0.plate.text == "AB12" && $0.confidence == 88 })
    }

    @Test func strictIngestStoresNothingFromAFileWithABadRow() throws {
        let dir = temporaryDirectory("cli-strict")
        defer { removeTree(dir) }
        try writeFile("\(dir)/in.csv", Array(Self.csv.utf8))
        let (status, output) = try Self.run(["ingest", "\(dir)/store", "\(dir)/in.csv", "--strict"])
        #expect(status != 0 && output.contains("in.csv:4:") && output.contains("--strict"), "\(output)")
        #expect(try Store(directory: "\(dir)/store", options: quietStoreOptions()).snapshot().rowCount == 0)
        let (missing, text) = try Self.run(["ingest", "\(dir)/store", "\(dir)/nope.csv"])
        #expect(missing != 0 && text.contains("nope.csv"), "\(text)")
        // Inputs are checked first: a missing file does not leave a new, empty store behind.
        let (absent, message) = try Self.run(["ingest", "\(dir)/new-store", "\(dir)/in.csv", "\(dir)/nope.csv"])
        #expect(absent != 0 && message.contains("nope.csv"), "\(message)")
        #expect(access("\(dir)/new-store", F_OK) != 0, "ingest created a store before finding its input missing")
    }

    @Test func badArgumentsFailWithAMessage() throws {
        let (status, output) = try Self.bench(["measure", "--compression", "gzip", "--rows", "10"])
        #expect(status != 0 && output.contains("unknown compression"), "\(output)")
    }

    /// An error raised while a subcommand runs shows that subcommand's usage, not the root's.
    @Test func errorsShowTheFailingSubcommandsUsage() throws {
        let dir = temporaryDirectory("cli-usage")
        defer { removeTree(dir) }
        let (status, output) = try Self.run(["area", "\(dir)/store", "--bbox", "1,2"])
        #expect(status == 64, "\(output)")
        #expect(output.contains("Error: --bbox 1,2: expected 4 numbers"), "\(output)")
        #expect(output.contains("Usage: sightline area "), "\(output)")
        #expect(!output.contains("USAGE: sightline <subcommand>"), "\(output)")
        let (failed, text) = try Self.run(["stats", "\(dir)/none"])
        #expect(failed == 1 && text.contains("Usage: sightline stats "), "\(text)")
        #expect(text.contains("See 'sightline stats --help'"), "\(text)")
        // A nested subcommand is named by its whole path.
        let (nested, message) = try Self.run(["hotlist", "add", "\(dir)/none", "\(dir)/missing.csv"])
        #expect(nested != 0 && message.contains("Usage: sightline hotlist add "), "\(message)")
        #expect(message.contains("See 'sightline hotlist add --help'"), "\(message)")
    }

    /// Help lists the commands by purpose; the benchmarks live in `sightline-bench`.
    @Test func helpGroupsTheCommands() throws {
        let (status, output) = try Self.run(["--help"])
        #expect(status == 0, "\(output)")
        for group in ["LOADING SUBCOMMANDS", "QUERIES SUBCOMMANDS", "ADMINISTRATION SUBCOMMANDS"] {
            #expect(output.contains(group), "\(output)")
        }
        let queries = output.range(of: "QUERIES SUBCOMMANDS")!, administration = output.range(of: "ADMINISTRATION SUBCOMMANDS")!
        #expect(output[queries.upperBound..<administration.lowerBound].contains("history"))
        #expect(output[administration.upperBound...].contains("inspect"))
        let benchmarks = ["generate", "bench", "measure", "query-bench", "ingest-bench", "alert-bench", "sample"]
        let commands = Set(output.split(separator: "\n").compactMap { $0.hasPrefix("  ") ? $0.split(separator: " ").first.map(String.init) : nil })
        for name in benchmarks {
            #expect(!commands.contains(name), "sightline --help lists \(name)")
            #expect(try Self.run([name, "--rows", "1"]).0 == 64, "sightline \(name) still runs")
        }
        let (benchStatus, benchHelp) = try Self.bench(["--help"])
        #expect(benchStatus == 0, "\(benchHelp)")
        for name in benchmarks { #expect(benchHelp.contains("  \(name) "), "sightline-bench --help lacks \(name): \(benchHelp)") }
    }

    /// `compact --retain` reads periods as retention files do (one grammar: `Period`).
    @Test func compactRetainTakesTheRetentionFilesPeriods() throws {
        let dir = temporaryDirectory("cli-retain")
        defer { removeTree(dir) }
        #expect(try Self.bench(["generate", "--rows", "3000", "-o", "\(dir)/rows.csv"]).0 == 0)
        #expect(try Self.run(["init", "\(dir)/s", "--require", "none"]).0 == 0)
        #expect(try Self.run(["ingest", "\(dir)/s", "\(dir)/rows.csv"]).0 == 0)
        let (kept, keptText) = try Self.run(["compact", "\(dir)/s", "--retain", "200y"])
        #expect(kept == 0 && keptText.contains("deleted 0 rows"), "\(keptText)")
        let (bad, badText) = try Self.run(["compact", "\(dir)/s", "--retain", "2x"])
        #expect(bad != 0 && badText.contains("2x"), "\(badText)")
        let (gone, goneText) = try Self.run(["compact", "\(dir)/s", "--retain", "18mo"])  // the rows are from 2024
        #expect(gone == 0 && goneText.contains("deleted 3000 rows"), "\(goneText)")
    }

    /// Southern latitudes and western longitudes start with a minus sign; they are values,
    /// written with or without `=`, in every option that takes coordinates or times.
    @Test func negativeCoordinatesAreValuesNotFlags() throws {
        let dir = temporaryDirectory("cli-south")
        defer { removeTree(dir) }
        try Data("""
            plate,time,lat,lon,camera,confidence
            SYD1,1717228800000,-33.85,151.2,5,90
            SYD2,1717228800000,-33.95,151.2,5,90
            LIM1,1717228800000,-12.05,-77.04,6,90

            """.utf8).write(to: URL(fileURLWithPath: "\(dir)/in.csv"))
        #expect(try Self.run(["init", "\(dir)/s", "--require", "none"]).0 == 0)
        #expect(try Self.run(["ingest", "\(dir)/s", "\(dir)/in.csv"]).0 == 0)
        let (status, rows) = try Self.run(["area", "\(dir)/s", "--bbox", "-33.9,151.1,-33.8,151.3"])
        #expect(status == 0 && rows.contains("SYD1") && !rows.contains("SYD2") && !rows.contains("LIM1"), "\(rows)")
        let (circled, count) = try Self.run(["area", "\(dir)/s", "--circle", "-33.85,151.2,500", "--count"])
        #expect(circled == 0 && count.trimmingCharacters(in: .whitespacesAndNewlines) == "1", "\(count)")
        let (west, lima) = try Self.run(["area", "\(dir)/s", "--bbox=-12.1,-77.1,-12.0,-77.0"])
        #expect(west == 0 && lima.contains("LIM1") && !lima.contains("SYD"), "\(lima)")
        let (before, none) = try Self.run(["history", "\(dir)/s", "SYD1", "--from", "-1000", "--to", "-1"])
        #expect(before == 0 && !none.contains("SYD1"), "\(none)")
    }

    /// The benchmark end to end at a small size, so it never rots: generate + ingest, bytes,
    /// the query mix, the JSON report.
    @Test func benchRunsEndToEndAtASmallSize() throws {
        let dir = temporaryDirectory("cli-bench")
        defer { removeTree(dir) }
        let (status, output) = try Self.bench(["bench", "\(dir)/store", "--rows", "200000", "--queries", "10", "--json", "\(dir)/bench.json"])
        #expect(status == 0, "\(output)")
        let report = try String(contentsOfFile: "\(dir)/bench.json", encoding: .utf8)
        for key in ["bytesPerSighting", "appendRowsPerSecond", "peakRSSBytes", "history, all time", "area 1 km², 24 h", "heat map 25 km², 24 h", "p99Ms"] {
            #expect(report.contains(key), "report lacks \(key)")
        }
        #expect(output.contains("bytes/sighting"), "\(output)")
    }

    @Test func queryCommandsAnswerAndExplain() throws {
        let dir = temporaryDirectory("cli-query")
        defer { removeTree(dir) }
        let (generated, log) = try Self.bench(["generate", "--rows", "20000", "--store", "\(dir)/s"])
        #expect(generated == 0, "\(log)")
        // `generate --store` makes a store like any other: reads state a purpose.
        let (refused, why) = try Self.run(["area", "\(dir)/s", "--bbox", "37.3,-122.5,37.8,-121.7", "--limit", "5"])
        #expect(refused != 0 && why.contains("purpose"), "\(why)")
        try Self.optOutOfPurpose("\(dir)/s")
        let (s1, csv) = try Self.run(["area", "\(dir)/s", "--bbox", "37.3,-122.5,37.8,-121.7", "--limit", "5"])
        #expect(s1 == 0 && csv.hasPrefix("plate,time,lat,lon,camera,confidence,region,image\n"), "\(csv)")
        let lines = csv.split(separator: "\n")
        #expect(lines.count == 6, "\(csv)")
        let plate = String(lines[1].split(separator: ",")[0])
        let fields = lines[1].split(separator: ",", omittingEmptySubsequences: false)
        #expect(fields[1].hasSuffix("Z") && fields[2].split(separator: ".")[1].count == 7, "\(lines[1])")
        let (s2, history) = try Self.run(["history", "\(dir)/s", plate, "--format", "ndjson", "--epoch-ms"])
        #expect(s2 == 0 && history.contains("\"plate\":\"\(plate)\""), "\(history)")
        let (s3, count) = try Self.run(["area", "\(dir)/s", "--circle", "37.55,-122.1,3000", "--count"])
        #expect(s3 == 0 && Int(count.trimmingCharacters(in: .whitespacesAndNewlines)) != nil, "\(count)")
        let (s4, heat) = try Self.run(["heatmap", "\(dir)/s", "--bbox", "37.3,-122.5,37.8,-121.7", "--by", "hour"])
        #expect(s4 == 0 && heat.hasPrefix("hour,count\n"), "\(heat)")
        let (s5, plan) = try Self.run(["explain", "--analyze", "\(dir)/s", "history", plate])
        #expect(s5 == 0 && plan.contains("plate filter + key run") && plan.contains("actual:"), "\(plan)")
        for bad in [["area", "\(dir)/s", "--bbox", "10,0,5,1"], ["area", "\(dir)/s", "--circle", "0,0,0"],
                    ["area", "\(dir)/s", "--polygon", "1 1;2 2"], ["history", "\(dir)/s", plate, "--from", "5", "--to", "5"],
                    ["history", "\(dir)/nowhere", plate]] {
            let (status, message) = try Self.run(bad)
            #expect(status != 0 && !message.isEmpty, "\(bad): \(message)")
        }
    }

    /// The query commands open read-only: they answer while another process owns the store,
    /// and see its acknowledged rows that no segment holds yet.
    @Test func queryCommandsWorkWhileAnotherProcessOwnsTheStore() throws {
        let dir = temporaryDirectory("cli-live")
        defer { removeTree(dir) }
        let owner = try Store(directory: dir, options: storeOptions(bufferRows: 1_000_000))
        let batch = distinctBatches(1, rows: 200, seed: 5)[0]
        try owner.append(batch)  // in the log only: no flush
        let plate = batch.plates[0]
        let (s1, history) = try Self.run(["history", dir, plate.description, "--epoch-ms"])
        let expected = batch.sightings.filter { $0.plate == plate }.count
        #expect(s1 == 0 && history.split(separator: "\n").count == 1 + expected, "\(history)")
        let (s2, stats) = try Self.run(["stats", dir])
        #expect(s2 == 0 && stats.contains("0 in segments, \(batch.count) in memory"), "\(stats)")
        try owner.close()
    }

    /// search, intersect, convoy and frequent print exactly the columns the issue specifies,
    /// in its orders, agreeing with the library.
    @Test func investigativeCommandsPrintTheirColumns() throws {
        let dir = temporaryDirectory("cli-investigate")
        defer { removeTree(dir) }
        let (generated, log) = try Self.bench(["generate", "--rows", "20000", "--store", "\(dir)/s"])
        #expect(generated == 0, "\(log)")
        try Self.optOutOfPurpose("\(dir)/s")
        let snapshot = try ReadOnlyStore(directory: "\(dir)/s").snapshot()
        let rows = try snapshot.allSightings()
        let counts = Dictionary(rows.map { ($0.plate, 1) }, uniquingKeysWith: +)
        let plate = counts.max { ($0.value, $1.key) < ($1.value, $0.key) }!.key
        let pattern = String(plate.text.prefix(3)) + "*"
        let (s1, search) = try Self.run(["search", "\(dir)/s", pattern.lowercased(), "--epoch-ms"])
        let want = try snapshot.run(Query(.search(PlatePattern(pattern), within: nil))).rows
        #expect(s1 == 0 && search.hasPrefix("plate,time,lat,lon,camera,confidence,region,image\n"), "\(search.prefix(300))")
        #expect(search.split(separator: "\n").count == want.count + 1)
        let (s2, plates) = try Self.run(["search", "\(dir)/s", pattern, "--plates", "--epoch-ms"])
        let summary = try snapshot.searchPlates(Query(.search(PlatePattern(pattern), within: nil)))
        #expect(s2 == 0 && plates == (["plate,sightings,first,last"] + summary.map { "\($0.plate),\($0.sightings),\($0.first),\($0.last)" }).joined(separator: "\n") + "\n")
        let (s3, intersect) = try Self.run(["intersect", "\(dir)/s", "--window", "37.3,-122.5,37.8,-121.7,2024-06-01T00:00:00Z,2024-06-02T00:00:00Z",
                                            "--window", "37.3,-122.5,37.8,-121.7,2024-06-02T00:00:00Z,2024-06-03T00:00:00Z"])
        #expect(s3 == 0 && intersect.hasPrefix("plate,windows,sightings\n"), "\(intersect.prefix(300))")
        let (s4, convoy) = try Self.run(["convoy", "\(dir)/s", plate.text, "--within", "300", "--min-cameras", "1"])
        let companions = try snapshot.convoy(plate, within: .seconds(300), minimumCameras: 1)
        #expect(s4 == 0 && convoy == (["plate,cameras,sightings"] + companions.map { "\($0.plate),\($0.cameras),\($0.sightings)" }).joined(separator: "\n") + "\n")
        let (s5, frequent) = try Self.run(["frequent", "\(dir)/s", plate.text, "--precision", "6", "--top", "3", "--hours", "22-6", "--epoch-ms"])
        let cells = try snapshot.frequentLocations(plate, precision: 6, top: 3, hours: (22, 6))
        #expect(s5 == 0 && frequent == (["cell,sightings,first,last"] + cells.map { "\($0.cell),\($0.sightings),\($0.first),\($0.last)" }).joined(separator: "\n") + "\n")
        let (s6, plan) = try Self.run(["explain", "\(dir)/s", "search", pattern])
        #expect(s6 == 0 && plan.contains("query: search"), "\(plan)")
        // explain for the other investigations: their stages and exposure bound, and the
        // bound holds the answer (--analyze runs it).
        let (e1, convoyPlan) = try Self.run(["explain", "--analyze", "\(dir)/s", "convoy", plate.text, "--within", "300", "--min-cameras", "1"])
        let convoyBound = try snapshot.explainConvoy(plate, within: .seconds(300)).exposureBound
        #expect(e1 == 0 && convoyPlan.contains("query: convoy, 2 stages") && convoyPlan.contains("stage 2: companions at the plate's")
                && convoyPlan.contains("camera index") && convoyPlan.contains("exposure: at most \(convoyBound.plates) distinct plates")
                && convoyPlan.contains("actual: \(companions.count) result rows"), "\(convoyPlan)")
        #expect(companions.count <= convoyBound.plates && companions.reduce(0) { $0 + $1.sightings } <= convoyBound.sightings)
        let (e2, intersectPlan) = try Self.run(["explain", "\(dir)/s", "intersect", "--window", "37.3,-122.5,37.8,-121.7,2024-06-01T00:00:00Z,2024-06-02T00:00:00Z",
                                                "--window", "37.3,-122.5,37.8,-121.7,2024-06-02T00:00:00Z,2024-06-03T00:00:00Z", "--min", "1"])
        #expect(e2 == 0 && intersectPlan.contains("query: intersect, 2 stages") && intersectPlan.contains("stage 2: window 2")
                && intersectPlan.contains("plates seen in at least 1 of 2 windows"), "\(intersectPlan)")
        let (e3, frequentPlan) = try Self.run(["explain", "\(dir)/s", "frequent", plate.text])
        #expect(e3 == 0 && frequentPlan.contains("stage 1: the plate's history") && frequentPlan.contains("exposure: at most 1 distinct plates"), "\(frequentPlan)")
        #expect(try snapshot.explainFrequent(plate).exposureBound.sightings >= counts[plate]!)
        #expect(try Self.run(["explain", "\(dir)/s", "convoy", plate.text, "--within", "-5"]).0 != 0)
        for bad in [["search", "\(dir)/s", "AB#"], ["intersect", "\(dir)/s"], ["intersect", "\(dir)/s", "--window", "1,2,3"],
                    ["intersect", "\(dir)/s", "--window", "0,0,1,1,5,5"], ["convoy", "\(dir)/s", plate.text, "--within", "-1"],
                    ["frequent", "\(dir)/s", plate.text, "--hours", "5"], ["frequent", "\(dir)/s", plate.text, "--precision", "13"]] {
            let (status, message) = try Self.run(bad)
            #expect(status != 0 && !message.isEmpty, "\(bad): \(message)")
        }
        // --format for the summaries: NDJSON objects with the columns as keys, a padded table.
        let (s7, ndjson) = try Self.run(["convoy", "\(dir)/s", plate.text, "--within", "300", "--min-cameras", "1", "--format", "ndjson"])
        #expect(s7 == 0 && ndjson == companions.map { "{\"plate\":\"\($0.plate)\",\"cameras\":\($0.cameras),\"sightings\":\($0.sightings)}\n" }.joined())
        let (s8, table) = try Self.run(["search", "\(dir)/s", pattern, "--plates", "--format", "table", "--epoch-ms"])
        let tableLines = table.split(separator: "\n")
        #expect(s8 == 0 && tableLines.count == summary.count + 1 && tableLines[0].hasPrefix("PLATE") && tableLines[0].contains("SIGHTINGS"))
        let (s9, frequentJSON) = try Self.run(["frequent", "\(dir)/s", plate.text, "--top", "1", "--format", "ndjson"])
        let top = try snapshot.frequentLocations(plate, top: 1)[0]
        #expect(s9 == 0 && frequentJSON == "{\"cell\":\"\(top.cell)\",\"sightings\":\(top.sightings),\"first\":\"\(Timestamp.rfc3339(top.first))\",\"last\":\"\(Timestamp.rfc3339(top.last))\"}\n")

        // Guardrails: off until set; set, shown by stats and explain, enforced; then off again.
        #expect(try Self.run(["guardrails", "\(dir)/s"]).1 == "guardrails:  off (investigative queries)\n")
        let (g1, set) = try Self.run(["guardrails", "\(dir)/s", "--max-span", "12h", "--max-plates", "1"])
        #expect(g1 == 0 && set.contains("max span 12 hours, max plates 1"), "\(set)")
        #expect(try Self.run(["stats", "\(dir)/s"]).1.contains("guardrails:  max span 12 hours, max plates 1"))
        let (g2, refused) = try Self.run(["search", "\(dir)/s", pattern, "--plates"])
        #expect(g2 != 0 && refused.contains("refused by the store's guardrails") && refused.contains("12 hours"), "\(refused)")
        let (g3, explained) = try Self.run(["explain", "\(dir)/s", "search", pattern])
        #expect(g3 == 0 && explained.contains("exposure: at most") && explained.contains("guardrails: max span 12 hours"), "\(explained)")
        #expect(try Self.run(["guardrails", "\(dir)/s", "--max-span", "off", "--max-plates", "off"]).0 == 0)
        #expect(try Self.run(["search", "\(dir)/s", pattern, "--plates"]).0 == 0)
        #expect(try Self.run(["guardrails", "\(dir)/s", "--max-plates", "zero"]).0 != 0)
    }

    /// hotlist add/remove/list/check, geofence add/list/remove, ingest --alerts and alerts
    /// --after/--consumer: the columns and fields the issue specifies; bad rule files rejected
    /// with their line, nothing applied.
    @Test func hotlistAndAlertCommandsKeepTheirContracts() throws {
        let dir = temporaryDirectory("cli-alerts")
        defer { removeTree(dir) }
        #expect(try Self.bench(["generate", "--rows", "5000", "-o", "\(dir)/rows.csv"]).0 == 0)
        let rows = try String(contentsOfFile: "\(dir)/rows.csv", encoding: .utf8).split(separator: "\n").dropFirst().map { $0.split(separator: ",").map(String.init) }
        let (p1, p2) = (rows[0][0], rows[40][0])
        try "mode,plate,list,reason,expires\n,\(p1),stolen,stolen car,\nequivalent,\(p2),warrant,\"FTA, court 3\",2099-01-01T00:00:00Z\npattern,\(p1.prefix(3))*,amber,partial,\n"
            .write(toFile: "\(dir)/hot.csv", atomically: true, encoding: .utf8)
        let (s1, added) = try Self.run(["hotlist", "add", "\(dir)/s", "\(dir)/hot.csv"])  // creates the store
        #expect(s1 == 0 && added.contains("added 3 hotlist entries"), "\(added)")
        let (s2, listed) = try Self.run(["hotlist", "list", "\(dir)/s"])
        #expect(s2 == 0 && listed.hasPrefix("plate,list,reason,expires,mode,priority\n") && listed.contains("\(p2),warrant,\"FTA, court 3\",4070908800000,equivalent,"), "\(listed)")
        #expect(try Self.run(["geofence", "add", "\(dir)/s", "depot", "--circle", "\(rows[5][2]),\(rows[5][3]),200", "--hours", "0-24"]).0 == 0)
        #expect(try Self.run(["geofence", "list", "\(dir)/s"]).1.contains("depot,\"circle:"))
        // Bad files: the line and the reason; nothing added.
        for (text, reason) in [("plate,list,reason\nAB1,x,y\nAB#1,x,y\n", "3: bad plate"), ("plate,list,reason,mode\nAB1,x,y,fuzzy\n", "2: unknown mode"),
                               ("plate,list,reason,expires\nAB1,x,y,tomorrow\n", "2: bad expiry"), ("plate,list,reason,mode\nA**[,x,y,pattern\n", "2: bad pattern"),
                               ("plate,reason\nAB1,y\n", "1: missing column list")] {
            try text.write(toFile: "\(dir)/bad.csv", atomically: true, encoding: .utf8)
            let (status, message) = try Self.run(["hotlist", "add", "\(dir)/s", "\(dir)/bad.csv"])
            #expect(status != 0 && message.contains("bad.csv:\(reason)"), "\(text): \(message)")
        }
        #expect(try Self.run(["hotlist", "list", "\(dir)/s"]).1 == listed)
        // Ingest with --alerts: one NDJSON line per alert, the fields named by the issue.
        let (s3, ingested) = try Self.run(["ingest", "\(dir)/s", "\(dir)/rows.csv", "--alerts", "\(dir)/alerts.ndjson"])
        #expect(s3 == 0 && ingested.contains("raised"), "\(ingested)")
        let lines = try String(contentsOfFile: "\(dir)/alerts.ndjson", encoding: .utf8).split(separator: "\n")
        let want = rows.filter { $0[0] == p1 }.count * 2 + rows.filter { $0[0] == p2 }.count
        #expect(lines.count >= want && want > 0, "\(lines.count) alerts, at least \(want) expected")
        let first = try JSONSerialization.jsonObject(with: Data(lines[0].utf8)) as! [String: Any]
        #expect(Set(first.keys) == ["sequence", "rule", "list", "mode", "plate", "time", "lat", "lon", "camera", "confidence"])
        #expect(first["sequence"] as? Int == 1 && first["time"] is Int)
        // The log: --after, and a consumer that resumes after what it acknowledged.
        let (s4, log) = try Self.run(["alerts", "\(dir)/s", "--purpose", "test"])
        #expect(s4 == 0 && log.split(separator: "\n") == lines)
        #expect(try Self.run(["alerts", "\(dir)/s", "--after", "2", "--purpose", "test"]).1.split(separator: "\n") == Array(lines.dropFirst(2)))
        #expect(try Self.run(["alerts", "\(dir)/s", "--consumer", "desk", "--purpose", "test"]).1.split(separator: "\n").count == lines.count)
        #expect(try Self.run(["alerts", "\(dir)/s", "--consumer", "desk", "--purpose", "test"]).1.isEmpty)
        // Reading alerts is reading sightings: audited, one record per batch printed.
        let audited = try Self.run(["audit", "\(dir)/s", "--format", "csv"]).1.split(separator: "\n").filter { $0.contains(",alerts,alerts after=") }
        #expect(audited.count == 3 && audited[0].contains(",\(lines.count),"), "\(audited)")
        // Retroactive check: CSV columns, ordered by time, plate, camera, list.
        let (s5, hits) = try Self.run(["hotlist", "check", "\(dir)/s", "\(dir)/hot.csv", "--epoch-ms", "--purpose", "test"])
        let hitLines = hits.split(separator: "\n")
        #expect(s5 == 0 && hitLines.first == "plate,time,lat,lon,camera,confidence,list,mode" && hitLines.count - 1 >= want, "\(hits.prefix(300))")
        let keys = hitLines.dropFirst().map { $0.split(separator: ",").map(String.init) }.map { (Int64($0[1])!, $0[0], Int($0[4])!, $0[6]) }
        #expect(keys.elementsEqual(keys.sorted { ($0.0, $0.1, $0.2, $0.3) < ($1.0, $1.1, $1.2, $1.3) }, by: ==))
        // Remove: no more alerts for those entries.
        #expect(try Self.run(["hotlist", "remove", "\(dir)/s", "\(dir)/hot.csv"]).1.contains("removed 3 hotlist entries"))
        #expect(try Self.run(["geofence", "remove", "\(dir)/s", "depot"]).0 == 0)
        #expect(try Self.run(["hotlist", "list", "\(dir)/s"]).1 == "plate,list,reason,expires,mode,priority\n")
    }

    @Test func maintenanceCommandsCompactPurgeAndReport() throws {
        let dir = temporaryDirectory("cli-maint")
        defer { removeTree(dir) }
        #expect(try Self.bench(["generate", "--rows", "30000", "--batch-rows", "2000", "--store", "\(dir)/s"]).0 == 0)
        try Self.optOutOfPurpose("\(dir)/s")
        let (s1, compacted) = try Self.run(["compact", "\(dir)/s", "--target-rows", "20000"])
        #expect(s1 == 0 && compacted.contains("rewrote"), "\(compacted)")
        let (_, csv) = try Self.run(["area", "\(dir)/s", "--bbox", "37.3,-122.5,37.8,-121.7", "--limit", "1"])
        let plate = String(csv.split(separator: "\n")[1].split(separator: ",")[0])
        let (s2, purged) = try Self.run(["purge", "\(dir)/s", plate])
        #expect(s2 == 0 && purged.contains("deletion record"), "\(purged)")
        let (_, after) = try Self.run(["history", "\(dir)/s", plate, "--count"])
        #expect(after.trimmingCharacters(in: .whitespacesAndNewlines) == "0", "\(after)")
        let (s3, stats) = try Self.run(["stats", "\(dir)/s"])
        #expect(s3 == 0 && stats.contains("1 purge records"), "\(stats)")
        let (s4, verdict) = try Self.run(["verify", "\(dir)/s"])
        #expect(s4 == 0 && verdict.contains("sound"), "\(verdict)")
        // A flipped byte in a segment: verify names it and fails.
        let segment = try PosixFileSystem().contentsOfDirectory("\(dir)/s").first { $0.hasSuffix(".sls") }!
        let path = "\(dir)/s/\(segment)"
        var bytes = try readFile(path)
        bytes[bytes.count / 2] ^= 0x40
        try writeFile(path, bytes)
        let (s5, broken) = try Self.run(["verify", "\(dir)/s"])
        #expect(s5 == 1 && broken.contains(segment), "\(broken)")
    }

    /// Accountable access through the CLI: a store made by `init` refuses reads without a
    /// purpose; each read is audited with its context; verify and anchor; the camera
    /// registry and the sharing policy filter what an agency sees.
    @Test func accessAuditAndPolicyCommandsKeepTheirContracts() throws {
        let dir = temporaryDirectory("cli-access")
        defer { removeTree(dir) }
        let store = "\(dir)/s"
        #expect(try Self.run(["init", store]).0 == 0)
        #expect(try Self.bench(["generate", "--rows", "3000", "-o", "\(dir)/rows.csv"]).0 == 0)
        #expect(try Self.run(["ingest", store, "\(dir)/rows.csv"]).0 == 0)
        let rows = try String(contentsOfFile: "\(dir)/rows.csv", encoding: .utf8).split(separator: "\n").dropFirst().map { $0.split(separator: ",").map(String.init) }
        let plate = rows[0][0], camera = rows[0][4]
        let (refused, message) = try Self.run(["history", store, plate])
        #expect(refused != 0 && message.contains("access refused"), "\(message)")
        let (alertsRefused, alertsMessage) = try Self.run(["alerts", store])
        #expect(alertsRefused != 0 && alertsMessage.contains("access refused"), "\(alertsMessage)")
        #expect(try Self.run(["alerts", store, "--purpose", "watch desk"]).0 == 0)
        let (answered, history) = try Self.run(["history", store, plate, "--purpose", "stolen vehicle", "--case", "24-7", "--agency", "SFPD", "--requester", "det.ramos"])
        #expect(answered == 0 && history.contains(plate))
        let (s1, audit) = try Self.run(["audit", store, "--format", "csv"])
        let lines = audit.split(separator: "\n").map(String.init)
        #expect(s1 == 0 && lines.first == "sequence,time,requester,agency,purpose,case,operation,query,rows,plates,outcome,detail", "\(audit)")
        #expect(lines.contains { $0.contains(",det.ramos,SFPD,stolen vehicle,24-7,cursor,") && $0.hasSuffix(",answered,") })
        #expect(lines.contains { $0.contains(",refused,") } && !audit.contains(plate), "the audit log names plates only by keyed hash")
        #expect(try Self.run(["audit", store, "--plate", plate, "--format", "ndjson"]).1.split(separator: "\n").count == 2)
        #expect(try Self.run(["audit", "verify", store]).0 == 0)
        #expect(try Self.run(["audit", "anchor", store, "\(dir)/anchor"]).0 == 0)
        #expect(try Self.run(["audit", "verify", store, "--anchor", "\(dir)/anchor"]).0 == 0)
        // Cut the last record: verify with the anchor fails, naming it.
        let log = try Data(contentsOf: URL(fileURLWithPath: "\(store)/AUDIT"))
        try log.prefix(log.count - 10).write(to: URL(fileURLWithPath: "\(store)/AUDIT"))
        let (cut, cutMessage) = try Self.run(["audit", "verify", store, "--anchor", "\(dir)/anchor"])
        #expect(cut == 1 && cutMessage.contains("cut off"), "\(cutMessage)")
        try log.write(to: URL(fileURLWithPath: "\(store)/AUDIT"))
        // Registry and policy: another state's agency does not see this camera's rows.
        try "camera,agency,jurisdiction\n\(camera),SFPD,CA\n".write(toFile: "\(dir)/cams.csv", atomically: true, encoding: .utf8)
        try #"{"default": "allow", "rules": [{"owner": "jurisdiction:CA", "allow": ["jurisdiction:CA"], "deny": ["FBI"]}]}"#
            .write(toFile: "\(dir)/policy.json", atomically: true, encoding: .utf8)
        #expect(try Self.run(["cameras", store, "load", "\(dir)/cams.csv"]).0 == 0)
        #expect(try Self.run(["cameras", store, "list"]).1.contains("\(camera),SFPD,CA"))
        #expect(try Self.run(["policy", store, "set", "\(dir)/policy.json"]).0 == 0)
        #expect(try Self.run(["policy", store, "show"]).1.contains("jurisdiction:CA"))
        func count(_ agency: String) throws -> Int {
            let (status, text) = try Self.run(["area", store, "--bbox=-90,-180,90,180", "--count", "--purpose", "audit test", "--agency", agency])
            #expect(status == 0, "\(text)")
            return Int(text.split(separator: "\n").first ?? "") ?? -1
        }
        let onCamera = rows.filter { $0[4] == camera }.count
        #expect(try count("SFPD") == rows.count && count("FBI") == rows.count - onCamera, "the FBI must not see camera \(camera)'s \(onCamera) rows")
        try "camera,agency\n1,X\n".write(toFile: "\(dir)/bad.csv", atomically: true, encoding: .utf8)
        let (bad, badMessage) = try Self.run(["cameras", store, "load", "\(dir)/bad.csv"])
        #expect(bad != 0 && badMessage.contains("bad.csv:1:"), "\(badMessage)")
        // Retention per owner: SFPD keeps a day (the sample's rows are older), others forever.
        try #"{"default": null, "rules": [{"owner": "SFPD", "keep": "1d", "hits": "2y"}]}"#.write(toFile: "\(dir)/retention.json", atomically: true, encoding: .utf8)
        let (set, setText) = try Self.run(["retention", store, "set", "\(dir)/retention.json", "--requester", "dpo"])
        #expect(set == 0 && setText.contains("1 rules"), "\(setText)")
        let shown = try Self.run(["retention", store, "show"]).1
        #expect(shown.contains("\"owner\" : \"SFPD\"") && shown.contains("\"keep\" : \"1d\"") && shown.contains("\"hits\" : \"2y\""), "\(shown)")
        #expect(try count("SFPD") == rows.count - onCamera, "SFPD's rows past a day are gone from answers")
        let (enforced, enforceText) = try Self.run(["retention", store, "enforce"])
        #expect(enforced == 0 && enforceText.contains("deleted \(onCamera) rows"), "\(enforceText)")
        let operations = try Self.run(["audit", store, "--format", "csv"]).1
        #expect(operations.contains(",dpo,,,,retention-policy,") && operations.contains(",retention,retention per-owner"), "\(operations)")
        try #"{"rules": [{"owner": "SFPD", "keep": "soon"}]}"#.write(toFile: "\(dir)/bad.json", atomically: true, encoding: .utf8)
        let (badRetention, badRetentionText) = try Self.run(["retention", store, "set", "\(dir)/bad.json"])
        #expect(badRetention != 0 && badRetentionText.contains("soon"), "\(badRetentionText)")
    }
}
