import Testing
@_spi(Benchmarks) @testable import Sightline
@testable import SightlineWorkload

@Suite struct IngestParserTests {
    /// Both CSV paths agree on every line: the same sighting, or a rejection.
    @Test func fastAndGeneralPathsAgree() throws {
        var parser = SightingParser(source: "t.csv", format: .csv)
        try parser.readHeader("confidence,plate,extra,time,lat,lon,camera,region,image")
        let roles = parser.fastRoles
        var g = SplitMix64(seed: 5)
        let pieces: [[String]] = [
            ["90", "0", "100", "101", "-1", "050", "+7", " 9", "x", ""],                                  // confidence
            ["ABC123", "abc-123", "A B", "ABCDEFGHIJK", "--", "Ä1", "7", ""],                              // plate
            ["", "junk"],                                                                                  // extra
            ["1717228800000", "-5", "2024-06-01T08:00:00Z", "2024-06-01T08:00:00.5+01:30", "5-3", "1e3", ""],  // time
            ["37.5", "-90", "90.0000001", "37.12345675", ".5", "5.", "+1.25", "1e1", "37.1234567", "-0.0000001", "x", ""],  // lat
            ["-122.1", "180", "-180.0", "180.0000001", "0", "12.34567890", ""],                           // lon
            ["7", "4294967295", "4294967296", "-1", "007", ""],                                            // camera
            ["CA", "nsw", "C1", "ABCD", "", " "],                                                          // region
            ["", "s3://b/k.jpg", String(repeating: "x", count: 1025)],                                     // image
        ]
        var accepted = 0, rejected = 0
        for number in 1...20_000 {
            // Mostly the first (valid) piece of each column, so both outcomes are common.
            var fields = pieces.map { g.next() % 10 < 7 ? $0[0] : $0[Int(g.next() % UInt64($0.count))] }
            if g.next() % 10 == 0 { fields.removeLast(Int(g.next() % 4)) }  // short lines
            let line = fields.joined(separator: ",")
            var fastBatch = SightingBatch()
            let fast = Array(line.utf8).withUnsafeBytes { parser.parseCSVLine($0, number: number, roles: roles, into: &fastBatch) }
            let general = parser.parse(Substring(line), number: number)
            switch general {
            case .success(let s):
                #expect(fast == nil && fastBatch.count == 1 && fastBatch[0] == s, "line \(number): \(line)")
                accepted += 1
            case .failure(let r):
                #expect(fast == r && fastBatch.isEmpty, "line \(number): \(line)")
                rejected += 1
            }
        }
        #expect(accepted > 500 && rejected > 500, "\(accepted) accepted, \(rejected) rejected")
        // An image of invalid UTF-8 that fits the limit in bytes but not once each byte is a
        // U+FFFD: the general parser refuses it, so the fast path must too.
        let invalid = Array("90,ABC123,,1717228800000,37.5,-122.1,7,CA,".utf8) + [UInt8](repeating: 0xFF, count: 400)
        var batch = SightingBatch()
        let fast = invalid.withUnsafeBytes { parser.parseCSVLine($0, number: 1, roles: roles, into: &batch) }
        guard case .failure = parser.parse(Substring(String(decoding: invalid, as: UTF8.self)), number: 1) else {
            Issue.record("the general parser took a 1,200-byte image")
            return
        }
        #expect(fast != nil && batch.isEmpty)
    }

    /// Both NDJSON paths agree on every line: the same sighting, or a rejection; and the fast
    /// path takes the plain lines writers produce.
    @Test func ndjsonFastAndGeneralPathsAgree() throws {
        let parser = SightingParser(source: "t.ndjson", format: .ndjson)
        var g = SplitMix64(seed: 11)
        // Values as they appear after the key: quoted, bare, null, escaped, malformed.
        let pieces: [(String, [String])] = [
            ("plate", [#""ABC123""#, #""abc-123""#, "123", #""A\u0042C""#, #""""#, "null", #""Ä1""#, "ABC", #""ABCDEFGHIJK""#]),
            ("time", ["1717228800000", #""2024-06-01T08:00:00Z""#, #""1717228800000""#, "1e3", "-5", "true", "17172288000001", #""x""#]),
            ("lat", ["37.5", #""37.5""#, "-90", "90.0000001", "37.12345675", ".5", "5.", "1e1", "null", "-0.0000001"]),
            ("lon", ["-122.1", "180", "-180.0", "180.0000001", #""0""#, "12.34567890", "[1]"]),
            ("camera", ["7", #""7""#, "4294967295", "4294967296", "-1", "007", "7.0", "false", "-0"]),
            ("confidence", ["90", "100", "101", #""50""#, "-1", "050", "9.5"]),
            ("region", [#""CA""#, #""nsw""#, "null", #""""#, #""ABCD""#, #""C1""#, "12"]),
            ("image", [#""s3://b/k.jpg""#, "null", #""""#, #""a\/b""#, "12", #""\#(String(repeating: "x", count: 1025))""#, #""é""#]),
            ("extra", [#""junk""#, "1", "null", #"{"a":1}"#, "true", "x1"]),
        ]
        var accepted = 0, rejected = 0, fastTaken = 0
        for number in 1...20_000 {
            var fields = pieces.map { (key, values) in (key, g.next() % 10 < 7 ? values[0] : values[Int(g.next() % UInt64(values.count))]) }
            if g.next() % 10 == 0 { fields.remove(at: Int(g.next() % UInt64(fields.count))) }  // a field missing
            if g.next() % 20 == 0 { fields.append(fields[Int(g.next() % UInt64(fields.count))]) }  // a key twice
            if g.next() % 4 == 0 { fields.shuffle(using: &g) }
            let spaced = g.next() % 5 == 0
            var line = "{" + fields.map { "\"\($0.0)\":\(spaced ? " " : "")\($0.1)" }.joined(separator: spaced ? ", " : ",") + "}"
            switch g.next() % 40 {
            case 0: line += " x"          // trailing garbage
            case 1: line.removeLast()     // unclosed
            case 2: line = " " + line + "\r"
            default: break
            }
            var batch = SightingBatch()
            let taken = Array(line.utf8).withUnsafeBytes { SightingParser.appendFastNDJSONRow($0, into: &batch) }
            var viaAppend = SightingBatch()
            let appended = Array(line.utf8).withUnsafeBytes { parser.append(line: $0, number: number, to: &viaAppend) }
            switch parser.parse(Substring(line), number: number) {
            case .success(let s):
                if taken { #expect(batch.count == 1 && batch[0] == s, "line \(number): \(line)"); fastTaken += 1 }
                #expect(appended == nil && viaAppend.count == 1 && viaAppend[0] == s, "line \(number): \(line)")
                accepted += 1
            case .failure(let r):
                #expect(!taken && batch.isEmpty, "line \(number): the fast path accepts what the general parser rejects: \(line)")
                #expect(appended == r && viaAppend.isEmpty, "line \(number): \(line)")
                rejected += 1
            }
        }
        #expect(accepted > 500 && rejected > 500 && fastTaken > accepted / 2, "\(accepted) accepted (\(fastTaken) by the fast path), \(rejected) rejected")
        // A writer's plain line takes the fast path.
        var batch = SightingBatch()
        let plain = #"{"plate":"AB12","time":1717228800000,"lat":52.5,"lon":13.4,"camera":3,"confidence":88,"region":"BE","image":"s3://x/1.jpg"}"#
        #expect(Array(plain.utf8).withUnsafeBytes { SightingParser.appendFastNDJSONRow($0, into: &batch) })
        #expect(batch.count == 1 && batch[0].image == "s3://x/1.jpg" && batch[0].region?.text == "BE" && batch[0].latitudeE7 == 525_000_000)
    }

    @Test func timestamps() {
        func parse(_ s: String) -> Int64? { Timestamp.parse(Substring(s).utf8) }
        #expect(parse("1970-01-01T00:00:00Z") == 0)
        #expect(parse("2024-06-01T08:00:00.123Z") == 1_717_228_800_123)
        #expect(parse("2024-06-01T10:00:00+02:00") == 1_717_228_800_000)
        #expect(parse("2024-06-01T08:00:00.123456789Z") == 1_717_228_800_123)
        #expect(parse("2024-02-29T00:00:00Z") == 1_709_164_800_000)
        #expect(parse("1969-12-31T23:59:59.999Z") == -1)
        #expect(parse("1717228800000") == 1_717_228_800_000)
        for bad in ["2024-13-01T00:00:00Z", "2024-06-01 08:00", "2024-06-01T08:00:00", "2024-06-01T08:00:00.Z", "yesterday", ""] {
            #expect(parse(bad) == nil, "\(bad)")
        }
    }
}
