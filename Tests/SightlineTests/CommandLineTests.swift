import Testing
import Glibc
@testable import Sightline

/// The CLI end to end, as a user runs it: exit status and what it prints.
@Suite struct CommandLineTests {
    static var binary: String { String(CrashTests.writerPath.dropLast("-crash-writer".count)) }

    /// Runs the CLI; returns (exit status, standard output + standard error).
    static func run(_ arguments: [String]) throws -> (Int32, String) {
        try ChildProcess(binary, arguments, captureStandardError: true).finish()
    }

    @Test func sampleWritesVerifiesAndLooksUpAPlate() throws {
        let dir = temporaryDirectory("cli")
        defer { removeTree(dir) }
        let (status, output) = try Self.run(["sample", "--rows", "30000", "--segment-rows", "10000", "--directory", dir])
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
        let (status, output) = try Self.run(["measure", "--workload", "tracks", "--rows", "20000", "--repetitions", "1", "--json", "\(dir)/m.json"])
        #expect(status == 0, "\(output)")
        #expect(output.contains("bytes/sighting") && output.contains("decode time+lat+lon"), "\(output)")
        let json = String(decoding: try readFile("\(dir)/m.json"), as: UTF8.self)
        #expect(json.contains("\"bytesPerSighting\"") && json.contains("\"rows\" : 20000"), "\(json)")
    }

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
        let store = try Store(directory: "\(dir)/store", options: StoreOptions())
        let rows = try store.snapshot().allSightings().sorted { $0.plate.text < $1.plate.text }
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
        let rows = try Store(directory: "\(dir)/store", options: StoreOptions()).snapshot().allSightings()
        #expect(rows.count == 2)
        #expect(rows.contains { $0.plate.text == "AB12" && $0.time == 1_717_228_800_000 })  // 10:00+02:00 = 08:00Z
        #expect(rows.contains { $0.region?.text == "NSW" && $0.image == "x/y" })
    }

    @Test func strictIngestStoresNothingFromAFileWithABadRow() throws {
        let dir = temporaryDirectory("cli-strict")
        defer { removeTree(dir) }
        try writeFile("\(dir)/in.csv", Array(Self.csv.utf8))
        let (status, output) = try Self.run(["ingest", "\(dir)/store", "\(dir)/in.csv", "--strict"])
        #expect(status != 0 && output.contains("in.csv:4:") && output.contains("--strict"), "\(output)")
        #expect(try Store(directory: "\(dir)/store", options: StoreOptions()).snapshot().rowCount == 0)
        let (missing, text) = try Self.run(["ingest", "\(dir)/store", "\(dir)/nope.csv"])
        #expect(missing != 0 && text.contains("nope.csv"), "\(text)")
    }

    @Test func badArgumentsFailWithAMessage() throws {
        let (status, output) = try Self.run(["measure", "--compression", "gzip", "--rows", "10"])
        #expect(status != 0 && output.contains("unknown compression"), "\(output)")
    }
}
