/// The store's rules on disk: `RULES`, tab-separated text lines, replaced whole
/// (write-temp, fsync, rename, fsync directory), so a crash leaves the old or the new set:
///
///     sightline rules v1
///     equivalence <classes, comma-separated>
///     effectiveFrom <first log record appended under these rules>
///     H <mode> <list> <plate> <expires ms | -> <priority | -> <reason>      (one per entry)
///     G <name> <area> <cameras, comma-separated | -> <hours H1-H2 | ->      (one per geofence)
///     crc32c <8 hex digits: CRC32C of every line above, newlines included>
///
/// Areas are `box:S,W,N,E`, `circle:LAT,LON,METRES` or `polygon:LAT LON;LAT LON;…`. No file
/// means no rules; a damaged file is `corruptFile` (alerts are never silently off). A store
/// that seals its files keeps this text sealed (the sealed-file format, a new data key each
/// time it is replaced).
/// Docs/format.md draws it.
enum RulesFile {
    static let fileName = "RULES"
    static let header = "sightline rules v1"

    static func encode(_ rules: RuleSet) -> [UInt8] {
        var body = "\(header)\nequivalence \(rules.equivalence.classes.joined(separator: ","))\neffectiveFrom \(rules.effectiveFrom)\n"
        for e in rules.hotlist {
            body += "H\t\(e.mode.rawValue)\t\(e.list)\t\(e.plate)\t\(e.expires.map(String.init) ?? "-")\t\(e.priority.map(String.init) ?? "-")\t\(e.reason)\n"
        }
        for g in rules.allGeofences { body += line(of: g) + "\n" }
        let bytes = Array(body.utf8)
        return bytes + Array((checksumLine(bytes.withUnsafeBytes { CRC32C.checksum($0) }) + "\n").utf8)
    }

    /// `crc32c` and the checksum as 8 lowercase hex digits (compared as text: one form only).
    static func checksumLine(_ crc: UInt32) -> String {
        let hex = String(crc, radix: 16)
        return "crc32c \(String(repeating: "0", count: 8 - hex.count))\(hex)"
    }

    static func decode(_ bytes: [UInt8], path: String) throws(SightlineError) -> RuleSet {
        func corrupt(_ line: Int, _ reason: String) -> SightlineError { .corruptFile(path: path, offset: 0, reason: "line \(line): \(reason)") }
        // The checksum line is the last; it covers every byte before it.
        guard bytes.last == 0x0A, let crcStart = bytes.dropLast().lastIndex(of: 0x0A).map({ $0 + 1 }) else { throw corrupt(0, "not a rules file") }
        let crcLine = String(decoding: bytes[crcStart..<(bytes.count - 1)], as: UTF8.self)
        let crc = bytes[..<crcStart].withUnsafeBytes { CRC32C.checksum(UnsafeRawBufferPointer($0)) }
        guard crcLine == checksumLine(crc) else { throw corrupt(0, "rules checksum mismatch") }
        let lines = String(decoding: bytes[..<crcStart], as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false).dropLast()
        guard lines.count >= 3, lines[0] == header, lines[1].hasPrefix("equivalence ") else { throw corrupt(1, "not a rules file") }
        var rules = RuleSet()
        do throws(SightlineError) {
            rules.equivalence = try OCREquivalence(classes: lines[1].dropFirst(12).split(separator: ",").map(String.init))
        } catch { throw corrupt(2, "\(error)") }
        guard lines[2].hasPrefix("effectiveFrom "), let from = UInt64(lines[2].dropFirst(14)) else { throw corrupt(3, "expected effectiveFrom") }
        rules.effectiveFrom = from
        var entries: [HotlistEntry] = []
        for (k, line) in lines.enumerated().dropFirst(3) {
            let f = line.split(separator: "\t", omittingEmptySubsequences: false).map(String.init)
            do throws(SightlineError) {
                if f.first == "H", f.count == 7, let mode = MatchMode(rawValue: f[1]) {
                    entries.append(try HotlistEntry(plate: f[3], list: f[2], reason: f[6], expires: try optional(f[4]),
                                                    priority: try optional(f[5]).map { Int($0) }, mode: mode))
                } else if f.first == "G" {
                    rules.add(try geofence(line: String(line)))
                } else {
                    throw .invalidArgument("unknown rule line")
                }
            } catch { throw corrupt(k + 1, "\(error)") }
        }
        rules.add(entries)
        return rules
    }

    private static func optional(_ text: String) throws(SightlineError) -> Int64? {
        if text == "-" { return nil }
        guard let v = Int64(text) else { throw .invalidArgument("not an integer: \(text)") }
        return v
    }

    /// A geofence's `G` line (without its newline).
    static func line(of g: Geofence) -> String {
        "G\t\(g.name)\t\(areaText(g.area))\t\(g.cameras.map { $0.sorted().map(String.init).joined(separator: ",") } ?? "-")\t\(g.hours.map(\.description) ?? "-")"
    }

    /// Reads a `G` line.
    static func geofence(line: String) throws(SightlineError) -> Geofence {
        let f = line.split(separator: "\t", omittingEmptySubsequences: false).map(String.init)
        guard f.count == 5, f[0] == "G" else { throw .invalidArgument("not a geofence line") }
        let cameras: Set<UInt32>? = f[3] == "-" ? nil : Set(try f[3].split(separator: ",").map { s throws(SightlineError) -> UInt32 in
            guard let c = UInt32(s) else { throw .invalidArgument("camera \(s)") }
            return c
        })
        let hours: HourWindow? = try f[4] == "-" ? nil : HourWindow(parsing: f[4])
        return try Geofence(name: f[1], area: try area(f[2]), cameras: cameras, hours: hours)
    }

    /// An area as text (full precision: it reads back to the same doubles).
    static func areaText(_ area: Area) -> String {
        switch area {
        case .box(let s, let w, let n, let e): return "box:\(s),\(w),\(n),\(e)"
        case .circle(let lat, let lon, let m): return "circle:\(lat),\(lon),\(m)"
        case .polygon(let ring): return "polygon:" + ring.map { "\($0.latitude) \($0.longitude)" }.joined(separator: ";")
        }
    }

    /// Reads `areaText`'s form.
    static func area(_ text: String) throws(SightlineError) -> Area {
        let parts = text.split(separator: ":", maxSplits: 1).map(String.init)
        guard parts.count == 2 else { throw .invalidArgument("area \(text)") }
        func numbers(_ s: String, _ separator: Character) throws(SightlineError) -> [Double] {
            try s.split(separator: separator).map { t throws(SightlineError) -> Double in
                guard let v = Double(t.trimmingCharacters(in: " ")) else { throw .invalidArgument("area \(text): \(t) is not a number") }
                return v
            }
        }
        switch parts[0] {
        case "box":
            let v = try numbers(parts[1], ",")
            guard v.count == 4 else { throw .invalidArgument("area \(text): a box has 4 numbers") }
            return .box(south: v[0], west: v[1], north: v[2], east: v[3])
        case "circle":
            let v = try numbers(parts[1], ",")
            guard v.count == 3 else { throw .invalidArgument("area \(text): a circle has 3 numbers") }
            return .circle(latitude: v[0], longitude: v[1], metres: v[2])
        case "polygon":
            return .polygon(try parts[1].split(separator: ";").map { vertex throws(SightlineError) -> Area.Vertex in
                let v = try numbers(String(vertex), " ")
                guard v.count == 2 else { throw .invalidArgument("area \(text): a vertex has 2 numbers") }
                return Area.Vertex(latitude: v[0], longitude: v[1])
            })
        default: throw .invalidArgument("area \(text): box, circle or polygon")
        }
    }

    static func read(directory: String, fileSystem: any FileSystem, keys: DataKeys?) throws(SightlineError) -> RuleSet {
        let path = "\(directory)/\(fileName)"
        guard let bytes = try fileSystem.contentsIfPresent(path, limit: 1 << 30, "rules file", openedBy: keys) else { return RuleSet() }
        return try decode(bytes, path: path)
    }

    static func write(_ rules: RuleSet, directory: String, fileSystem: any FileSystem, keys: DataKeys?) throws(SightlineError) {
        try fileSystem.replaceAtomically("\(directory)/\(fileName)", with: encode(rules), sealedBy: keys)
    }
}

extension StringProtocol {
    /// Without leading and trailing `character`s.
    func trimmingCharacters(in character: Character) -> SubSequence {
        var s = self[...]
        while s.first == character { s = s.dropFirst() }
        while s.last == character { s = s.dropLast() }
        return s
    }
}
