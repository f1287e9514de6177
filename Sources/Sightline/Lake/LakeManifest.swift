/// What an export directory holds and where it came from: `DIR/_sightline_export`, replaced
/// atomically after every partition written or removed. Text, one record a line, ending in
/// a CRC-32C line over everything before it (Docs/format.md, "Export manifest"). The name
/// starts with `_` so Spark, Hive and Trino skip it when they list the table's files.
struct LakeManifest: Sendable, Equatable {
    static let fileName = "_sightline_export"
    static let magic = "sightline-export 1"

    /// What the files were written with: a change rewrites every partition.
    struct Settings: Sendable, Equatable {
        var order: LakeExportOptions.Order
        var pseudonymous: Bool
        var compression: String
        /// The agency the rows were exported for ("" for none): it decides what the sharing
        /// policy let the export see.
        var agency: String
    }

    /// One exported day.
    struct Partition: Sendable, Equatable {
        /// `YYYY-MM-DD`, UTC.
        var day: String
        var rows: Int
        var rowGroups: Int
        var bytes: Int64
        /// CRC-32C of the whole file.
        var crc: UInt32
        /// A digest of the rows in their export order (`LakeExport.digest`): an export finding
        /// the same rows behind changed sources keeps the file.
        var digest: UInt64
        /// The store's files the rows came from: segment file names whose time range meets
        /// the day, and `wal` for rows not yet in a segment. A rewritten segment (purge,
        /// retention, compaction) has a new name, which makes the day stale.
        var sources: [String]

        /// The file's path inside the export directory.
        var file: String { LakeManifest.file(day: day) }
    }

    var settings: Settings
    var partitions: [String: Partition]

    static func directory(day: String) -> String { "day=\(day)" }
    static func file(day: String) -> String { "day=\(day)/part-0.parquet" }

    func encode() -> [UInt8] {
        var text = "\(Self.magic)\n"
        text += "order \(settings.order.rawValue)\n"
        text += "pseudonymous \(settings.pseudonymous)\n"
        text += "compression \(settings.compression)\n"
        text += "agency \(Self.escape(settings.agency))\n"
        for p in partitions.values.sorted(by: { $0.day < $1.day }) {
            text += "partition \(p.day) rows=\(p.rows) groups=\(p.rowGroups) bytes=\(p.bytes) crc=\(hex8(p.crc)) digest=\(hex16(p.digest)) sources=\(p.sources.joined(separator: ","))\n"
        }
        var bytes = Array(text.utf8)
        bytes += Array("checksum \(hex8(CRC32C.checksum(bytes)))\n".utf8)
        return bytes
    }

    static func decode(_ bytes: [UInt8], path: String) throws(SightlineError) -> LakeManifest {
        func corrupt(_ offset: Int, _ reason: String) -> SightlineError { .corruptFile(path: path, offset: Int64(offset), reason: reason) }
        // The checksum line covers every byte before it.
        guard let last = bytes.dropLast().lastIndex(of: UInt8(ascii: "\n")).map({ $0 + 1 }) ?? (bytes.isEmpty ? nil : 0),
              bytes.last == UInt8(ascii: "\n") else { throw corrupt(0, "export manifest without its checksum line") }
        let checksumLine = String(decoding: bytes[last..<(bytes.count - 1)], as: UTF8.self)
        guard checksumLine.hasPrefix("checksum "), let stated = UInt32(checksumLine.dropFirst(9), radix: 16) else {
            throw corrupt(last, "export manifest without its checksum line")
        }
        let body = Array(bytes[..<last])
        guard CRC32C.checksum(body) == stated else { throw corrupt(last, "export manifest checksum mismatch") }
        var settings = Settings(order: .space, pseudonymous: false, compression: "", agency: "")
        var partitions: [String: Partition] = [:]
        var offset = 0
        // Split on the newline byte: "\r\n" is one `Character`, and must not join two lines.
        for (n, bytes) in body.split(separator: 0x0A, omittingEmptySubsequences: false).enumerated() {
            let line = Substring(String(decoding: bytes, as: UTF8.self))
            defer { offset += bytes.count + 1 }
            if line.isEmpty { continue }
            if n == 0 {
                guard line == magic else { throw corrupt(0, "not a Sightline export manifest (first line \"\(line.prefix(40))\")") }
                continue
            }
            let parts = line.split(separator: " ", maxSplits: 1).map(String.init)
            guard let record = parts.first else { throw corrupt(offset, "a line of only spaces") }
            let value = parts.count > 1 ? parts[1] : ""
            switch record {
            case "order":
                guard let o = LakeExportOptions.Order(rawValue: value) else { throw corrupt(offset, "unknown order \"\(value)\"") }
                settings.order = o
            case "pseudonymous": settings.pseudonymous = value == "true"
            case "compression": settings.compression = value
            case "agency": settings.agency = unescape(value)
            case "partition":
                let fields = value.split(separator: " ").map(String.init)
                guard let day = fields.first else { throw corrupt(offset, "partition line without a day") }
                var kv: [String: String] = [:]
                for f in fields.dropFirst() {
                    guard let eq = f.firstIndex(of: "=") else { throw corrupt(offset, "partition field \"\(f)\" without =") }
                    kv[String(f[..<eq])] = String(f[f.index(after: eq)...])
                }
                guard let rows = kv["rows"].flatMap({ Int($0) }), let groups = kv["groups"].flatMap({ Int($0) }),
                      let size = kv["bytes"].flatMap({ Int64($0) }), let crc = kv["crc"].flatMap({ UInt32($0, radix: 16) }),
                      let digest = kv["digest"].flatMap({ UInt64($0, radix: 16) }), let sources = kv["sources"],
                      Self.isDay(day) else {
                    throw corrupt(offset, "partition line missing or with a bad field")
                }
                partitions[day] = Partition(day: day, rows: rows, rowGroups: groups, bytes: size, crc: crc, digest: digest,
                                            sources: sources.split(separator: ",").map(String.init))
            default: throw corrupt(offset, "unknown record \"\(record.prefix(40))\"")
            }
        }
        return LakeManifest(settings: settings, partitions: partitions)
    }

    /// `YYYY-MM-DD` with digits where digits belong.
    static func isDay(_ text: String) -> Bool {
        let b = Array(text.utf8)
        guard b.count == 10, b[4] == UInt8(ascii: "-"), b[7] == UInt8(ascii: "-") else { return false }
        return b.enumerated().allSatisfy { i, c in i == 4 || i == 7 || (c >= 0x30 && c <= 0x39) }
    }

    /// `%`, space and every control character as `%XX`: no line of the manifest then holds a
    /// carriage return, which would join it to the next ("\r\n" is one `Character`).
    private static func escape(_ s: String) -> String {
        s.unicodeScalars.map { $0 == "%" || $0 == " " || $0.value < 0x20 || $0.value == 0x7F ? "%" + String(hex8($0.value).suffix(2)) : String($0) }.joined()
    }

    /// `%XX` with exactly two hex digits is the byte XX; anything else is itself.
    private static func unescape(_ s: String) -> String {
        func hexValue(_ c: Unicode.Scalar) -> UInt32? {
            switch c.value {
            case 0x30...0x39: c.value - 0x30
            case 0x41...0x46: c.value - 0x41 + 10
            case 0x61...0x66: c.value - 0x61 + 10
            default: nil
            }
        }
        var out = "", it = Array(s.unicodeScalars), i = 0
        while i < it.count {
            if it[i] == "%", i + 2 < it.count, let high = hexValue(it[i + 1]), let low = hexValue(it[i + 2]),
               let scalar = Unicode.Scalar(high << 4 | low) {
                out.unicodeScalars.append(scalar)
                i += 3
            } else {
                out.unicodeScalars.append(it[i])
                i += 1
            }
        }
        return out
    }
}
