/// Where the next page of a query's answer starts: just after a row, in the query's order
/// (keyset pagination, so pages taken from different snapshots neither repeat nor skip
/// rows). Opaque to clients; its text form is `v1.<query fingerprint>.<time>.<camera>.<plate>`.
///
/// It carries the last row's plate, as the page did: treat it like the rows themselves.
public struct QueryPageToken: Sendable, Hashable, LosslessStringConvertible {
    /// A stable hash of the query (kind, area, times, filters; not the limit).
    let queryFingerprint: UInt64
    let time: Int64
    let camera: UInt32
    let plate: Plate

    init(queryFingerprint: UInt64, after row: Sighting) {
        self.queryFingerprint = queryFingerprint
        time = row.time
        camera = row.camera
        plate = row.plate
    }

    /// The token's text.
    public var description: String {
        "v1.\(String(queryFingerprint, radix: 16)).\(time).\(camera).\(plate)"
    }

    /// Parses a token's text; nil when malformed.
    public init?(_ description: String) {
        let parts = description.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 5, parts[0] == "v1", let fingerprint = UInt64(parts[1], radix: 16),
              let time = Int64(parts[2]), let camera = UInt32(parts[3]),
              let plate = try? Plate(String(parts[4])), plate.description == parts[4] else { return nil }
        queryFingerprint = fingerprint
        self.time = time
        self.camera = camera
        self.plate = plate
    }

    /// Whether `row` comes after the token's row in the query's order (the row key
    /// — plate, time, camera — identifies a row).
    func precedes(_ row: Sighting, history: Bool) -> Bool {
        if row.time != time { return row.time > time }
        if history {
            if row.camera != camera { return row.camera > camera }
            return row.plate > plate
        }
        if row.plate != plate { return row.plate > plate }
        return row.camera > camera
    }
}

extension Query {
    /// The canonical text of an area (part of the fingerprint).
    static func describe(_ area: Area) -> String {
        switch area {
        case .box(let s, let w, let n, let e): return "box \(s) \(w) \(n) \(e)"
        case .circle(let lat, let lon, let metres): return "circle \(lat) \(lon) \(metres)"
        case .polygon(let ring): return "polygon" + ring.map { " \($0.latitude),\($0.longitude)" }.joined()
        }
    }

    /// A stable 64-bit hash of what the query asks (FNV-1a over a canonical text: the same in
    /// every process and release of this format; cameras sorted; the limit left out so a
    /// client may change its page size).
    var fingerprint: UInt64 {
        var text = ""
        switch kind {
        case .history(let plate): text += "history \(plate)"
        case .area(let area): text += Self.describe(area)
        case .search(let pattern, let area): text += "search \(pattern.text) \(pattern.equivalence?.classes.joined(separator: "|") ?? "exact") \(area.map(Self.describe) ?? "everywhere")"
        }
        text += " time \(time.from.map(String.init) ?? "-") \(time.to.map(String.init) ?? "-")"
        text += " cameras \(filters.cameras.map { $0.sorted().map(String.init).joined(separator: ",") } ?? "*")"
        text += " region \(filters.region.map { String($0.code) } ?? "*") confidence \(filters.minimumConfidence)"
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in text.utf8 {
            hash ^= UInt64(byte)
            hash = hash &* 0x100_0000_01b3  // FNV prime; wrapping by definition
        }
        return hash
    }
}
