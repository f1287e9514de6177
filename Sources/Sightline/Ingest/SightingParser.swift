/// A row of input that could not become a sighting.
public struct RejectedRow: Error, Sendable, Hashable, CustomStringConvertible {
    /// The input's name (a path, or `-` for standard input).
    public var source: String
    /// 1-based line number.
    public var line: Int
    /// Why it was rejected.
    public var reason: String
    /// The line as read.
    public var text: String

    /// `file:line: reason`.
    public var description: String { "\(source):\(line): \(reason)" }
}

/// Turns lines of CSV (with a header naming the columns, in any order) or NDJSON (one object
/// a line) into sightings. Fields: `plate`, `time` (epoch milliseconds or RFC 3339), `lat`,
/// `lon` (degrees), `camera`, `confidence` (0–100), and optionally `region` and `image`.
public struct SightingParser: Sendable {
    /// The input formats.
    public enum Format: String, Sendable, CaseIterable {
        /// Comma-separated values with a header line naming the columns.
        case csv
        /// One JSON object per line.
        case ndjson
    }

    static let required = ["plate", "time", "lat", "lon", "camera", "confidence"]
    static let optional = ["region", "image"]

    /// The input's name, for rejections.
    public let source: String
    /// The format.
    public let format: Format
    /// CSV: field index of each known column (from the header).
    var columns: [String: Int] = [:]
    /// CSV: the fast path's role of each field (from the header).
    var roles: [UInt8] = []

    /// A parser for `format`. For CSV, call `readHeader` with the first line.
    public init(source: String, format: Format) {
        self.source = source
        self.format = format
    }

    /// Reads the CSV header. Unknown columns are ignored; a missing required one is an error.
    /// A leading byte-order mark (spreadsheets' "CSV UTF-8") is skipped.
    public mutating func readHeader(_ line: Substring) throws(SightlineError) {
        let line = line.hasPrefix("\u{FEFF}") ? line.dropFirst() : line
        let names = Self.splitCSV(line)?.map { $0.trimmingWhitespace().lowercased() } ?? []
        for (i, name) in names.enumerated() where Self.required.contains(name) || Self.optional.contains(name) {
            columns[name] = i
        }
        let missing = Self.required.filter { columns[$0] == nil }
        guard missing.isEmpty else {
            throw .invalidArgument("\(source):1: the CSV header lacks \(missing.joined(separator: ", ")) (it needs \(Self.required.joined(separator: ",")))")
        }
        roles = fastRoles
    }

    /// Parses one data line's bytes (without its newline; a trailing "\r" is ignored) straight
    /// into `batch`, and returns the rejection, if any. Plain lines take a fast path that
    /// builds no strings or dictionaries; the rest go through `parse(_:number:)`, and both
    /// accept and reject exactly the same lines. CSV needs `readHeader` first.
    public func append(line: UnsafeRawBufferPointer, number: Int, to batch: inout SightingBatch) -> RejectedRow? {
        switch format {
        case .csv:
            return parseCSVLine(line, number: number, roles: roles, into: &batch)
        case .ndjson:
            return parseNDJSONLine(line, number: number, into: &batch)
        }
    }

    /// Parses one data line (`number` is its 1-based line number).
    public func parse(_ line: Substring, number: Int) -> Result<Sighting, RejectedRow> {
        func reject(_ reason: String) -> Result<Sighting, RejectedRow> {
            rowsRejectedCounter.increment()
            return .failure(RejectedRow(source: source, line: number, reason: reason, text: String(line)))
        }
        let fields: [String: String]
        switch format {
        case .csv:
            guard let values = Self.splitCSV(line) else { return reject("unbalanced quotes") }
            var f: [String: String] = [:]
            for (name, i) in columns where i < values.count { f[name] = values[i] }
            fields = f
        case .ndjson:
            guard let object = Self.parseFlatJSON(line) else { return reject("not a JSON object of strings and numbers") }
            fields = object
        }
        for name in Self.required where (fields[name] ?? "").trimmingWhitespace().isEmpty {
            return reject("missing \(name)")
        }
        let plate: Plate
        do { plate = try Plate(fields["plate"]!) } catch { return reject("\(error)") }
        guard let time = Timestamp.parse(Substring(fields["time"]!.trimmingWhitespace()).utf8) else {
            return reject("time \"\(fields["time"]!)\" is neither epoch milliseconds nor RFC 3339")
        }
        guard let lat = Double(fields["lat"]!.trimmingWhitespace()), let lon = Double(fields["lon"]!.trimmingWhitespace()) else {
            return reject("lat/lon \"\(fields["lat"]!)\", \"\(fields["lon"]!)\" are not numbers")
        }
        guard let camera = UInt32(fields["camera"]!.trimmingWhitespace()) else { return reject("camera \"\(fields["camera"]!)\" is not an id 0…4294967295") }
        guard let confidence = Int(fields["confidence"]!.trimmingWhitespace()), (0...100).contains(confidence) else {
            return reject("confidence \"\(fields["confidence"]!)\" is not 0…100")
        }
        var region: Region?
        if let r = fields["region"]?.trimmingWhitespace(), !r.isEmpty {
            do { region = try Region(r) } catch { return reject("\(error)") }
        }
        let image = fields["image"].flatMap { $0.isEmpty ? nil : $0 }
        do {
            return .success(try Sighting(plate: plate, time: time, latitude: lat, longitude: lon, camera: camera,
                                         confidence: UInt8(confidence), region: region, image: image))
        } catch {
            return reject("\(error)")
        }
    }

    /// Splits a CSV line: commas, fields optionally in double quotes with "" for a quote.
    static func splitCSV(_ line: Substring) -> [String]? {
        var fields: [String] = []
        var current: [UInt8] = []
        var quoted = false
        var wasQuoted = false
        var chars = Array(line.utf8)
        if chars.last == 0x0D { chars.removeLast() }  // CRLF
        var i = 0
        while i < chars.count {
            let c = chars[i]
            if quoted {
                if c == 0x22 {
                    if i + 1 < chars.count && chars[i + 1] == 0x22 { current.append(0x22); i += 1 } else { quoted = false }
                } else {
                    current.append(c)
                }
            } else if c == 0x22 && current.isEmpty && !wasQuoted {
                quoted = true
                wasQuoted = true
            } else if c == 0x2C {
                fields.append(String(decoding: current, as: UTF8.self))
                current.removeAll(keepingCapacity: true)
                wasQuoted = false
            } else {
                current.append(c)
            }
            i += 1
        }
        guard !quoted else { return nil }
        fields.append(String(decoding: current, as: UTF8.self))
        return fields
    }

    /// Parses `{"key": value, …}` where values are strings, numbers, true/false or null
    /// (null = absent). Nested values make the line unparsable.
    static func parseFlatJSON(_ line: Substring) -> [String: String]? {
        let b = Array(line.utf8)
        var i = 0
        func skipSpace() { while i < b.count && (b[i] == 0x20 || b[i] == 0x09 || b[i] == 0x0D || b[i] == 0x0A) { i += 1 } }
        func string() -> String? {
            guard i < b.count && b[i] == 0x22 else { return nil }
            i += 1
            var out: [UInt8] = []
            while i < b.count && b[i] != 0x22 {
                if b[i] == 0x5C {
                    i += 1
                    guard i < b.count else { return nil }
                    switch b[i] {
                    case 0x22, 0x5C, 0x2F: out.append(b[i])
                    case 0x6E: out.append(0x0A)
                    case 0x74: out.append(0x09)
                    case 0x72: out.append(0x0D)
                    case 0x62: out.append(0x08)
                    case 0x66: out.append(0x0C)
                    case 0x75:
                        guard i + 4 < b.count, let v = UInt32(String(decoding: b[(i + 1)...(i + 4)], as: UTF8.self), radix: 16),
                              let scalar = Unicode.Scalar(v) else { return nil }
                        out.append(contentsOf: Array(String(Character(scalar)).utf8))
                        i += 4
                    default: return nil
                    }
                } else {
                    out.append(b[i])
                }
                i += 1
            }
            guard i < b.count else { return nil }
            i += 1
            return String(decoding: out, as: UTF8.self)
        }
        skipSpace()
        guard i < b.count && b[i] == 0x7B else { return nil }
        i += 1
        var object: [String: String] = [:]
        skipSpace()
        if i < b.count && b[i] == 0x7D { i += 1; skipSpace(); return i == b.count ? object : nil }
        while true {
            skipSpace()
            guard let key = string() else { return nil }
            skipSpace()
            guard i < b.count && b[i] == 0x3A else { return nil }
            i += 1
            skipSpace()
            guard i < b.count else { return nil }
            if b[i] == 0x22 {
                guard let v = string() else { return nil }
                object[key] = v
            } else {
                let start = i
                while i < b.count && b[i] != 0x2C && b[i] != 0x7D && b[i] != 0x20 { i += 1 }
                let token = String(decoding: b[start..<i], as: UTF8.self)
                if token == "null" { /* absent */ } else if token == "true" || token == "false" || Double(token) != nil {
                    object[key] = token
                } else {
                    return nil
                }
            }
            skipSpace()
            guard i < b.count else { return nil }
            if b[i] == 0x2C { i += 1; continue }
            guard b[i] == 0x7D else { return nil }
            i += 1
            skipSpace()
            return i == b.count ? object : nil
        }
    }
}

extension String {
    func trimmingWhitespace() -> String {
        var s = Substring(self)
        while let f = s.first, f == " " || f == "\t" { s.removeFirst() }
        while let l = s.last, l == " " || l == "\t" || l == "\r" { s.removeLast() }
        return String(s)
    }
}
