/// The store's access requirement on disk: `ACCESS`, three text lines, replaced whole
/// (write-temp, fsync, rename, fsync directory):
///
///     sightline access v1
///     require <none | purpose | purpose+case>
///     crc32c <8 hex digits: CRC32C of the two lines above, newlines included>
///
/// No file means `none`. A damaged file is `corruptFile`: reads are refused rather than let
/// through unrequired. Docs/format.md draws it.
enum AccessFile {
    static let fileName = "ACCESS"
    static let header = "sightline access v1"

    static func encode(_ requirement: AccessRequirement) -> [UInt8] {
        withChecksumLine("\(header)\nrequire \(requirement.rawValue)\n")
    }

    static func decode(_ bytes: [UInt8], path: String) throws(SightlineError) -> AccessRequirement {
        let lines = try checkedLines(bytes, header: header, path: path)
        guard lines.count == 1, lines[0].hasPrefix("require "), let requirement = AccessRequirement(rawValue: String(lines[0].dropFirst(8))) else {
            throw .corruptFile(path: path, offset: 0, reason: "expected require none, purpose or purpose+case")
        }
        return requirement
    }

    static func read(directory: String, fileSystem: any FileSystem) throws(SightlineError) -> AccessRequirement {
        let path = "\(directory)/\(fileName)"
        guard let bytes = try fileSystem.contentsIfPresent(path, limit: 4096, "access file") else { return .none }
        return try decode(bytes, path: path)
    }

    static func write(_ requirement: AccessRequirement, directory: String, fileSystem: any FileSystem) throws(SightlineError) {
        try fileSystem.replaceAtomically("\(directory)/\(fileName)", with: encode(requirement))
    }
}

/// `value` as 8 lowercase hex digits.
func hex8(_ value: UInt32) -> String {
    let hex = String(value, radix: 16)
    return String(repeating: "0", count: 8 - hex.count) + hex
}
