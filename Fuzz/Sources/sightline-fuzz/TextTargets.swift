// Targets for text from outside: ingest lines, query arguments, control-socket requests.
@_spi(Benchmarks) @testable import Sightline

enum TextTargets {
    static let standardHeader = "plate,time,lat,lon,camera,confidence,region,image"

    /// CSV: the header (the input's first line when its first byte is odd, else the standard
    /// one), then every line through both parsers. The fast path must accept exactly what
    /// the general parser accepts, with the same row; accepted rows are valid sightings.
    static func csv(_ bytes: [UInt8]) {
        let text = String(decoding: bytes, as: UTF8.self)
        var lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        var parser = SightingParser(source: "fuzz.csv", format: .csv)
        let header = (bytes.first ?? 0) & 1 == 1 && !lines.isEmpty ? lines.removeFirst() : Substring(standardHeader)
        guard (try? parser.readHeader(header)) != nil else { return }
        let roles = parser.fastRoles
        for (number, line) in lines.enumerated() {
            let general = parser.parse(line, number: number + 2)
            var batch = SightingBatch()
            let utf8 = Array(line.utf8)
            let rejected = utf8.withUnsafeBytes { parser.parseCSVLine($0, number: number + 2, roles: roles, into: &batch) }
            switch general {
            case .success(let row):
                check(row)
                fuzzCheck(rejected == nil && batch.count == 1 && batch[0] == row,
                          "line \(number + 2): the fast path disagrees with the general parser (\(String(reflecting: line)))")
            case .failure:
                fuzzCheck(rejected != nil && batch.count == 0,
                          "line \(number + 2): the fast path accepts what the general parser rejects (\(String(reflecting: line)))")
            }
        }
    }

    /// NDJSON: every line through both paths. What the fast path takes, the general parser
    /// takes with the same row; `append(line:)` accepts exactly what the general parser
    /// accepts; accepted rows are valid sightings.
    static func ndjson(_ bytes: [UInt8]) {
        let parser = SightingParser(source: "fuzz.ndjson", format: .ndjson)
        for (number, line) in bytes.split(separator: 0x0A).enumerated() {
            let utf8 = Array(line)
            let general = parser.parse(Substring(String(decoding: utf8, as: UTF8.self)), number: number + 1)
            var fast = SightingBatch(), appended = SightingBatch()
            let taken = utf8.withUnsafeBytes { SightingParser.appendFastNDJSONRow($0, into: &fast) }
            let rejected = utf8.withUnsafeBytes { parser.append(line: $0, number: number + 1, to: &appended) }
            switch general {
            case .success(let row):
                check(row)
                fuzzCheck(!taken || (fast.count == 1 && fast[0] == row), "line \(number + 1): the fast path's row differs (\(utf8))")
                fuzzCheck(rejected == nil && appended.count == 1 && appended[0] == row, "line \(number + 1): append(line:) differs (\(utf8))")
            case .failure:
                fuzzCheck(!taken && fast.count == 0, "line \(number + 1): the fast path accepts what the general parser rejects (\(utf8))")
                fuzzCheck(rejected != nil && appended.count == 0, "line \(number + 1): append(line:) accepts a rejected line (\(utf8))")
            }
        }
    }

    /// What every accepted row must satisfy (the store's own validation, redone).
    static func check(_ row: Sighting) {
        let valid = try? Sighting(plate: row.plate, time: row.time, latitudeE7: row.latitudeE7, longitudeE7: row.longitudeE7,
                                  camera: row.camera, confidence: row.confidence, region: row.region, image: row.image)
        fuzzCheck(valid == row && !row.plate.text.isEmpty, "an accepted row is invalid: \(row)")
    }

    /// Query arguments, the first byte choosing the kind: box, circle, polygon (then, when
    /// valid, an area query over a world-wide segment against a scan), time, plate pattern
    /// (plain and OCR-equivalent), hour window, retention period, plate.
    static func queryText(_ input: [UInt8]) {
        guard let selector = input.first else { return }
        let text = String(decoding: input.dropFirst(), as: UTF8.self)
        switch selector % 8 {
        case 0, 1, 2:
            let parsed: Area?
            switch selector % 8 {
            case 0: parsed = try? Area(parsingBox: text)
            case 1: parsed = try? Area(parsingCircle: text)
            default: parsed = try? Area(parsingPolygon: text)
            }
            guard let area = try? parsed?.validated(), let query = try? Query(.area(area)) else { return }
            let world = SeedCorpus.world
            guard let answer = try? world.snapshot.run(query) else { fuzzCheck(false, "a valid area failed: \(area)"); return }
            let expected = StoreFileTargets.bruteForce(world.rows, query)
            fuzzCheck(answer.rows == expected, "\(area): \(answer.rows.count) rows, a scan finds \(expected.count)")
        case 3:
            guard let t = Timestamp.milliseconds(text) else { return }
            fuzzCheck(Timestamp.milliseconds(Timestamp.rfc3339(t)) == t, "time \(t) does not survive RFC 3339")
        case 4:
            for equivalence in [nil, OCREquivalence.default] {
                guard let pattern = try? PlatePattern(text, equivalence: equivalence) else { continue }
                for row in SeedCorpus.world.rows.prefix(64) { _ = pattern.matches(row.plate) }
            }
        case 5:
            _ = try? HourWindow(parsing: text)
        case 6:
            guard let period = try? RetentionPolicy.period(text) else { return }
            fuzzCheck((try? RetentionPolicy.period(RetentionPolicy.text(period))) == period, "period \(period) does not survive its text")
        default:
            guard let plate = try? Plate(text) else { return }
            fuzzCheck((try? Plate(plate.text)) == plate, "plate \(plate) does not survive its text")
        }
    }

    /// A control-socket request line: decoded requests re-encode to the same request.
    static func controlRequest(_ bytes: [UInt8]) {
        let line = String(decoding: bytes, as: UTF8.self)
        guard let request = try? ControlWire.decodeRequest(line) else { return }
        fuzzCheck((try? ControlWire.decodeRequest(ControlWire.encode(request))) == request, "\(request) does not survive a re-encode")
        _ = ControlWire.decodeReply(line)
    }
}
