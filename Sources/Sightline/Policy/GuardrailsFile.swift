#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The store's investigation limits on disk: `GUARDRAILS`, four text lines, replaced whole
/// (write-temp, fsync, rename, fsync directory) so a reader sees the old or the new file:
///
///     sightline guardrails v1
///     maximumTimeSpanMs <integer | ->
///     maximumPlates <integer | ->
///     crc32c <8 hex digits: CRC32C of the three lines above, newlines included>
///
/// No file means no limits. A damaged file is `corruptFile`: an investigator is refused
/// rather than given an unguarded store. Docs/format.md draws it.
enum GuardrailsFile {
    static let fileName = "GUARDRAILS"
    static let header = "sightline guardrails v1"

    static func encode(_ limits: InvestigationLimits) -> [UInt8] {
        let body = "\(header)\nmaximumTimeSpanMs \(limits.maximumTimeSpan.map { String($0.milliseconds) } ?? "-")\n"
            + "maximumPlates \(limits.maximumPlates.map(String.init) ?? "-")\n"
        let crc = Array(body.utf8).withUnsafeBytes { CRC32C.checksum($0) }
        let hex = String(crc, radix: 16)
        return Array((body + "crc32c \(String(repeating: "0", count: 8 - hex.count))\(hex)\n").utf8)
    }

    static func decode(_ bytes: [UInt8], path: String) throws(SightlineError) -> InvestigationLimits {
        func corrupt(_ reason: String) -> SightlineError { .corruptFile(path: path, offset: 0, reason: reason) }
        let lines = String(decoding: bytes, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        guard lines.count == 5, lines[4].isEmpty, lines[0] == header else { throw corrupt("not a guardrails file") }
        let body = lines[0...2].joined(separator: "\n") + "\n"
        guard lines[3].hasPrefix("crc32c "), UInt32(lines[3].dropFirst(7), radix: 16) == Array(body.utf8).withUnsafeBytes({ CRC32C.checksum($0) }) else {
            throw corrupt("guardrails checksum mismatch")
        }
        func value(_ line: String, _ key: String) throws(SightlineError) -> Int64? {
            guard line.hasPrefix(key + " ") else { throw corrupt("expected \(key)") }
            let text = line.dropFirst(key.count + 1)
            if text == "-" { return nil }
            guard let v = Int64(text), v > 0 else { throw corrupt("\(key) \(text)") }
            return v
        }
        return InvestigationLimits(maximumTimeSpan: try value(lines[1], "maximumTimeSpanMs").map { .milliseconds($0) },
                                   maximumPlates: try value(lines[2], "maximumPlates").map { Int($0) })
    }

    static func read(directory: String, fileSystem: any FileSystem) throws(SightlineError) -> InvestigationLimits {
        let path = "\(directory)/\(fileName)"
        guard let bytes = try fileSystem.contentsIfPresent(path, limit: 4096, "guardrails file") else { return .off }
        return try decode(bytes, path: path)
    }

    static func write(_ limits: InvestigationLimits, directory: String, fileSystem: any FileSystem) throws(SightlineError) {
        try fileSystem.replaceAtomically("\(directory)/\(fileName)", with: encode(limits))
    }
}
