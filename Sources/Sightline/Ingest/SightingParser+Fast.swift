#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The CSV fast path: fields are parsed from the line's bytes straight into a batch's
/// columns, with no strings and no dictionaries. A line it cannot take whole — quotes, an
/// exponent, anything invalid — goes to the general parser, which also words the rejection,
/// so both paths accept and reject exactly the same lines.
extension SightingParser {
    /// Column roles by field position, from the header (read it first): what
    /// `parseCSVLine` needs to find each field.
    package var fastRoles: [UInt8] {
        let order = Self.required + Self.optional
        var roles: [UInt8] = []
        for (name, i) in columns.sorted(by: { $0.value < $1.value }) {
            while roles.count < i { roles.append(255) }
            roles.append(UInt8(order.firstIndex(of: name)!))
        }
        return roles
    }

    /// Parses one CSV line into `batch`; returns the rejection, if any.
    package func parseCSVLine(_ line: UnsafeRawBufferPointer, number: Int, roles: [UInt8],
                             into batch: inout SightingBatch) -> RejectedRow? {
        if roles.withUnsafeBufferPointer({ Self.appendFastRow(line, roles: $0, into: &batch) }) { return nil }
        return parseGeneralLine(line, number: number, into: &batch)
    }

    /// Appends a clean CSV line (`roles` from `fastRoles`) to `batch`; false, appending
    /// nothing, when the line needs the general parser (`parseGeneralLine`). Static and
    /// over raw buffers, so a loop calling it per line touches no reference.
    @inline(__always)
    package static func appendFastRow(_ line: UnsafeRawBufferPointer, roles: UnsafeBufferPointer<UInt8>,
                                      into batch: inout SightingBatch) -> Bool {
        guard let row = fastRow(line, roles: roles) else { return false }
        append(row, of: line, into: &batch)
        return true
    }

    @inline(__always)
    static func append(_ row: FastRow, of line: UnsafeRawBufferPointer, into batch: inout SightingBatch) {
        let image = row.imageCount == 0 ? nil
            : String(decoding: UnsafeRawBufferPointer(rebasing: line[row.imageStart..<(row.imageStart + row.imageCount)]), as: UTF8.self)
        batch.appendUnchecked(plate: row.plate, time: row.time, latitudeE7: row.lat, longitudeE7: row.lon,
                              camera: row.camera, confidence: row.confidence, regionCode: row.region, image: image)
    }

    /// Parses one NDJSON line into `batch`; returns the rejection, if any.
    package func parseNDJSONLine(_ line: UnsafeRawBufferPointer, number: Int, into batch: inout SightingBatch) -> RejectedRow? {
        if Self.appendFastNDJSONRow(line, into: &batch) { return nil }
        return parseGeneralLine(line, number: number, into: &batch)
    }

    /// Appends a plain NDJSON line to `batch`: one flat object whose strings hold no escapes
    /// and whose other values are plain decimals (`-?[0-9]+(.[0-9]+)?`) or `null`, each key
    /// once. False, appending nothing, for anything else (escapes, `true`, exponents,
    /// nesting, a repeated key, bad syntax): the general parser takes those, so both paths
    /// accept and reject the same lines.
    @inline(__always)
    package static func appendFastNDJSONRow(_ line: UnsafeRawBufferPointer, into batch: inout SightingBatch) -> Bool {
        guard let row = fastNDJSONRow(line) else { return false }
        append(row, of: line, into: &batch)
        return true
    }

    static func fastNDJSONRow(_ b: UnsafeRawBufferPointer) -> FastRow? {
        @inline(__always) func isSpace(_ c: UInt8) -> Bool { c == 0x20 || c == 0x09 || c == 0x0D || c == 0x0A }
        var row = FastRow()
        var seen: UInt8 = 0, present: UInt8 = 0
        let n = b.count
        var i = 0
        while i < n && isSpace(b[i]) { i += 1 }
        guard i < n && b[i] == 0x7B else { return nil }
        i += 1
        while true {
            while i < n && isSpace(b[i]) { i += 1 }
            // The key: a string without escapes.
            guard i < n && b[i] == 0x22 else { return nil }
            i += 1
            let keyStart = i
            while i < n && b[i] != 0x22 { if b[i] == 0x5C { return nil }; i += 1 }
            guard i < n else { return nil }
            let role = ndjsonRole(UnsafeRawBufferPointer(rebasing: b[keyStart..<i]))
            i += 1
            while i < n && isSpace(b[i]) { i += 1 }
            guard i < n && b[i] == 0x3A else { return nil }
            i += 1
            while i < n && isSpace(b[i]) { i += 1 }
            guard i < n else { return nil }
            if role != 255 {
                guard present & (1 << role) == 0 else { return nil }  // a repeated key: the general parser's rules
                present |= 1 << role
            }
            let start: Int, value: UnsafeRawBufferPointer
            if b[i] == 0x22 {
                i += 1
                start = i
                while i < n && b[i] != 0x22 { if b[i] == 0x5C { return nil }; i += 1 }
                guard i < n else { return nil }
                value = UnsafeRawBufferPointer(rebasing: b[start..<i])
                i += 1
            } else {
                // A bare value ends where the general parser's does: at a comma, brace or space.
                start = i
                while i < n && b[i] != 0x2C && b[i] != 0x7D && b[i] != 0x20 { i += 1 }
                let token = UnsafeRawBufferPointer(rebasing: b[start..<i])
                if token.count == 4 && token[0] == 0x6E && token[1] == 0x75 && token[2] == 0x6C && token[3] == 0x6C {  // null: absent
                    value = UnsafeRawBufferPointer(rebasing: b[start..<start])
                } else {
                    guard isPlainDecimal(token) else { return nil }
                    value = token
                }
            }
            if role != 255 && !value.isEmpty {
                guard parseField(value, role: role, into: &row) else { return nil }
                if role == 7 { row.imageStart = start }
                seen |= 1 << role
            }
            while i < n && isSpace(b[i]) { i += 1 }
            guard i < n else { return nil }
            if b[i] == 0x2C { i += 1; continue }
            guard b[i] == 0x7D else { return nil }
            i += 1
            while i < n && isSpace(b[i]) { i += 1 }
            guard i == n else { return nil }
            return seen & 0x3F == 0x3F ? row : nil
        }
    }

    /// The role of an NDJSON key (as in `fastRoles`), 255 for a key the parser ignores.
    @inline(__always)
    static func ndjsonRole(_ key: UnsafeRawBufferPointer) -> UInt8 {
        func equals(_ name: StaticString) -> Bool {
            name.utf8CodeUnitCount == key.count && memcmp(name.utf8Start, key.baseAddress!, key.count) == 0
        }
        guard !key.isEmpty else { return 255 }
        switch key[0] {
        case 0x70: return equals("plate") ? 0 : 255
        case 0x74: return equals("time") ? 1 : 255
        case 0x6C: return equals("lat") ? 2 : equals("lon") ? 3 : 255
        case 0x63: return equals("camera") ? 4 : equals("confidence") ? 5 : 255
        case 0x72: return equals("region") ? 6 : 255
        case 0x69: return equals("image") ? 7 : 255
        default: return 255
        }
    }

    /// `-?[0-9]+(\.[0-9]+)?`: a bare value the general parser also takes (as `Double` does).
    @inline(__always)
    static func isPlainDecimal(_ t: UnsafeRawBufferPointer) -> Bool {
        var i = 0
        if i < t.count && t[i] == 0x2D { i += 1 }
        let digitsStart = i
        while i < t.count && t[i] &- 0x30 < 10 { i += 1 }
        guard i > digitsStart else { return false }
        if i == t.count { return true }
        guard t[i] == 0x2E else { return false }
        i += 1
        let fractionStart = i
        while i < t.count && t[i] &- 0x30 < 10 { i += 1 }
        return i > fractionStart && i == t.count
    }

    /// Parses one line of either format the general way (quotes, escapes, every error
    /// named) into `batch`; returns the rejection, if any.
    package func parseGeneralLine(_ line: UnsafeRawBufferPointer, number: Int, into batch: inout SightingBatch) -> RejectedRow? {
        switch parse(Substring(String(decoding: line, as: UTF8.self)), number: number) {
        case .success(let s):
            batch.append(s)
            return nil
        case .failure(let rejected):
            return rejected
        }
    }

    /// A parsed row, trivially copyable (no reference inside: returning one costs no
    /// retain or release); the image is a range of the line, made a `String` only when present.
    struct FastRow {
        var plate = Plate(uncheckedLow: 0, high: 0, count: 0)
        var time: Int64 = 0, lat: Int32 = 0, lon: Int32 = 0, camera: UInt32 = 0, confidence: UInt8 = 0
        var region: UInt32 = 0
        var imageStart = 0, imageCount = 0
    }

    /// nil unless every field parses cleanly and every required field is present.
    static func fastRow(_ b: UnsafeRawBufferPointer, roles: UnsafeBufferPointer<UInt8>) -> FastRow? {
        var row = FastRow()
        var seen: UInt8 = 0
        var start = 0, field = 0
        var end = b.count
        if end > 0 && b[end - 1] == 0x0D { end -= 1 }
        var i = 0
        while i <= end {
            if i == end || b[i] == 0x2C {
                if field < roles.count && roles[field] != 255 {
                    let f = UnsafeRawBufferPointer(rebasing: b[start..<i])
                    let role = roles[field]
                    guard parseField(f, role: role, into: &row) else { return nil }
                    if role == 7 { row.imageStart = start }
                    if !f.isEmpty { seen |= 1 << role }
                }
                field += 1
                start = i + 1
            } else if b[i] == 0x22 {
                return nil  // quoted fields: the general parser
            }
            i += 1
        }
        return seen & 0x3F == 0x3F ? row : nil
    }

    @inline(__always)
    static func parseField(_ f: UnsafeRawBufferPointer, role: UInt8, into row: inout FastRow) -> Bool {
        switch role {
        case 0:  // plate
            var low: UInt64 = 0, high: UInt16 = 0, n = 0
            for var c in f {
                if c == 0x20 || c == 0x2D { continue }
                if c >= 0x61 && c <= 0x7A { c -= 0x20 }
                guard (c >= 0x41 && c <= 0x5A) || (c >= 0x30 && c <= 0x39), n < Plate.maximumLength else { return false }
                if n < 8 { low |= UInt64(c) << UInt64(8 * n) } else { high |= UInt16(c) << UInt16(8 * (n - 8)) }
                n += 1
            }
            guard n > 0 else { return false }
            row.plate = Plate(uncheckedLow: low, high: high, count: UInt8(n))
        case 1:  // time
            if let t = integer(f), Timestamp.range.contains(t) { row.time = t } else if let t = Timestamp.parse(f) { row.time = t } else { return false }
        case 2, 3:  // lat, lon
            guard let v = fixedPoint7(f) else { return false }
            let limit: Int64 = role == 2 ? 900_000_000 : 1_800_000_000
            guard v >= -limit && v <= limit else { return false }
            if role == 2 { row.lat = Int32(v) } else { row.lon = Int32(v) }
        case 4:  // camera
            guard let v = integer(f), v >= 0, v <= Int64(UInt32.max) else { return false }
            row.camera = UInt32(v)
        case 5:  // confidence
            guard let v = integer(f), v >= 0, v <= 100 else { return false }
            row.confidence = UInt8(v)
        case 6:  // region
            guard !f.isEmpty else { return true }
            var code: UInt32 = 0, n = 0
            for var c in f {
                if c >= 0x61 && c <= 0x7A { c -= 0x20 }
                guard c >= 0x41 && c <= 0x5A, n < 3 else { return false }
                code |= UInt32(c) << UInt32(8 * n)
                n += 1
            }
            row.region = code
        case 7:  // image
            guard !f.isEmpty else { return true }
            guard f.count <= Sighting.maximumImageLength else { return false }
            // ASCII only: an invalid UTF-8 byte becomes a 3-byte U+FFFD in the `String`, which
            // could pass the length limit here and fail it there. The general parser decides.
            for c in f where c >= 0x80 { return false }
            row.imageCount = f.count
        default:
            break
        }
        return true
    }

    /// A decimal integer (optional minus), at most 18 digits; nil otherwise.
    @inline(__always)
    static func integer(_ f: UnsafeRawBufferPointer) -> Int64? {
        var i = 0
        let negative = !f.isEmpty && f[0] == 0x2D
        if negative { i = 1 }
        guard i < f.count, f.count - i <= 18 else { return nil }
        var v: Int64 = 0
        while i < f.count {
            let d = f[i] &- 0x30
            guard d < 10 else { return nil }
            v = v * 10 + Int64(d)
            i += 1
        }
        return negative ? -v : v
    }

    /// A plain decimal (no exponent, at most 7 decimals) in units of 1e-7: exact, and so
    /// equal to `(Double(text) * 1e7).rounded()`. Longer fractions go to the general parser,
    /// whose binary rounding at half-way points this would not reproduce.
    @inline(__always)
    static func fixedPoint7(_ f: UnsafeRawBufferPointer) -> Int64? {
        var i = 0
        var negative = false
        if i < f.count && (f[i] == 0x2D || f[i] == 0x2B) { negative = f[i] == 0x2D; i += 1 }
        var whole: Int64 = 0, digits = 0
        while i < f.count && f[i] &- 0x30 < 10 {
            guard digits < 4 else { return nil }
            whole = whole * 10 + Int64(f[i] - 0x30)
            digits += 1
            i += 1
        }
        var fraction: Int64 = 0, fractionDigits = 0
        if i < f.count && f[i] == 0x2E {
            i += 1
            while i < f.count && f[i] &- 0x30 < 10 {
                guard fractionDigits < 7 else { return nil }
                fraction = fraction * 10 + Int64(f[i] - 0x30)
                fractionDigits += 1
                i += 1
            }
        }
        guard i == f.count, digits + fractionDigits > 0 else { return nil }
        for _ in fractionDigits..<7 { fraction *= 10 }
        let v = whole * 10_000_000 + fraction
        return negative ? -v : v
    }
}
