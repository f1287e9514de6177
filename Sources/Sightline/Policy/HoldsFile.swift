/// The store's legal holds on disk: `HOLDS`, one tab-separated line per hold between a
/// header and a CRC32C line, replaced whole (write-temp, fsync, rename, fsync directory):
///
///     sightline holds v1
///     hold <TAB> id <TAB> case <TAB> plate:<PLATE> | area:<area text> <TAB> from|- <TAB> to|- <TAB> placedAt <TAB> placedBy
///     crc32c <8 hex digits>
///
/// No file: no holds. A damaged file is `corruptFile` (retention would otherwise delete
/// rows a court ordered kept). A store that seals its files keeps this text sealed (the
/// sealed-file format, a new data key each time it is replaced).
enum HoldsFile {
    static let fileName = "HOLDS"
    static let header = "sightline holds v1"

    static func encode(_ holds: [LegalHold]) -> [UInt8] {
        var body = header + "\n"
        for h in holds {
            let scope = h.plate.map { "plate:\($0.text)" } ?? "area:" + RulesFile.areaText(h.area!)
            body += "hold\t\(h.id)\t\(h.caseNumber)\t\(scope)\t\(h.time.from.map(String.init) ?? "-")\t\(h.time.to.map(String.init) ?? "-")\t\(h.placedAt)\t\(h.placedBy)\n"
        }
        return withChecksumLine(body)
    }

    static func decode(_ bytes: [UInt8], path: String) throws(SightlineError) -> [LegalHold] {
        func corrupt(_ reason: String) -> SightlineError { .corruptFile(path: path, offset: 0, reason: reason) }
        var holds: [LegalHold] = []
        for (i, line) in try checkedLines(bytes, header: header, path: path).enumerated() {
            let f = line.split(separator: "\t", omittingEmptySubsequences: false).map(String.init)
            guard f.count == 8, f[0] == "hold", let placedAt = Int64(f[6]) else { throw corrupt("bad hold line \(i + 2)") }
            func time(_ s: String) throws(SightlineError) -> Int64? {
                if s == "-" { return nil }
                guard let t = Int64(s) else { throw corrupt("bad time on hold line \(i + 2)") }
                return t
            }
            let plate: Plate? = f[3].hasPrefix("plate:") ? try Plate(String(f[3].dropFirst(6))) : nil
            let area: Area? = f[3].hasPrefix("area:") ? try RulesFile.area(String(f[3].dropFirst(5))) : nil
            holds.append(try LegalHold(id: f[1], caseNumber: f[2], plate: plate, area: area,
                                       time: try TimeRange(from: try time(f[4]), to: try time(f[5])), placedAt: placedAt, placedBy: f[7]))
        }
        return holds
    }

    static func read(directory: String, fileSystem: any FileSystem, keys: DataKeys?) throws(SightlineError) -> [LegalHold] {
        let path = "\(directory)/\(fileName)"
        guard let bytes = try fileSystem.contentsIfPresent(path, limit: 64 << 20, "holds file", openedBy: keys) else { return [] }
        return try decode(bytes, path: path)
    }
}
