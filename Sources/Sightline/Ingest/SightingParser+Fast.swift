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
        return parseGeneralCSVLine(line, number: number, into: &batch)
    }

    /// Appends a clean CSV line (`roles` from `fastRoles`) to `batch`; false, appending
    /// nothing, when the line needs the general parser (`parseGeneralCSVLine`). Static and
    /// over raw buffers, so a loop calling it per line touches no reference.
    @inline(__always)
    package static func appendFastRow(_ line: UnsafeRawBufferPointer, roles: UnsafeBufferPointer<UInt8>,
                                      into batch: inout SightingBatch) -> Bool {
        guard let row = fastRow(line, roles: roles) else { return false }
        let image = row.imageCount == 0 ? nil
            : String(decoding: UnsafeRawBufferPointer(rebasing: line[row.imageStart..<(row.imageStart + row.imageCount)]), as: UTF8.self)
        batch.appendUnchecked(plate: row.plate, time: row.time, latitudeE7: row.lat, longitudeE7: row.lon,
                              camera: row.camera, confidence: row.confidence, regionCode: row.region, image: image)
        return true
    }

    /// Parses one CSV line the general way (quotes, every error named) into `batch`;
    /// returns the rejection, if any.
    package func parseGeneralCSVLine(_ line: UnsafeRawBufferPointer, number: Int, into batch: inout SightingBatch) -> RejectedRow? {
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
