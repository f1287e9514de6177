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
