/// The camera registry and the sharing policy on disk: `CAMERAS` and `POLICY`, tab-separated
/// text lines ending in a CRC32C line, replaced whole (write-temp, fsync, rename, fsync
/// directory). No file: no cameras, no policy (everyone reads everything). A damaged file is
/// `corruptFile`: reads are refused rather than shown unfiltered. Docs/format.md draws them.
/// `body` (lines, newline-terminated) followed by its CRC32C line.
func withChecksumLine(_ body: String) -> [UInt8] {
    Array((body + "crc32c \(hex8(Array(body.utf8).withUnsafeBytes { CRC32C.checksum($0) }))\n").utf8)
}

enum CamerasFile {
    static let fileName = "CAMERAS"
    static let header = "sightline cameras v1"

    static func encode(_ r: CameraRegistry) -> [UInt8] {
        var body = "\(header)\ndefault\t" + (r.defaultOwner.map { "\($0.agency)\t\($0.jurisdiction)" } ?? "-") + "\n"
        for c in r.sorted {
            body += "camera\t\(c.camera)\t\(c.agency)\t\(c.jurisdiction)\t\(c.kind)\t\(c.latitude.map { "\($0)" } ?? "-")\t\(c.longitude.map { "\($0)" } ?? "-")\t\(c.name)\n"
        }
        return withChecksumLine(body)
    }

    static func decode(_ bytes: [UInt8], path: String) throws(SightlineError) -> CameraRegistry {
        let lines = try checkedLines(bytes, header: header, path: path)
        var registry = CameraRegistry()
        for (i, line) in lines.enumerated() {
            let f = line.split(separator: "\t", omittingEmptySubsequences: false).map(String.init)
            if i == 0 {
                guard f.first == "default" else { throw .corruptFile(path: path, offset: 0, reason: "expected the default owner") }
                if f.count == 3 { registry.defaultOwner = CameraRegistry.Owner(agency: f[1], jurisdiction: f[2]) }
                continue
            }
            guard f.count == 8, f[0] == "camera", let id = UInt32(f[1]) else { throw .corruptFile(path: path, offset: 0, reason: "bad camera line \(i + 2)") }
            registry.cameras[id] = RegisteredCamera(camera: id, agency: f[2], jurisdiction: f[3], kind: f[4], latitude: Double(f[5]),
                                                    longitude: Double(f[6]), name: f[7])
        }
        return registry
    }

    static func read(directory: String, fileSystem: any FileSystem) throws(SightlineError) -> CameraRegistry {
        let path = "\(directory)/\(fileName)"
        guard let bytes = try fileSystem.contentsIfPresent(path, limit: 64 << 20, "camera registry") else { return CameraRegistry() }
        return try decode(bytes, path: path)
    }
}

enum PolicyFile {
    static let fileName = "POLICY"
    static let header = "sightline policy v1"

    static func encode(_ p: SharingPolicy) -> [UInt8] {
        var body = "\(header)\ndefault \(p.defaultAllows ? "allow" : "deny")\n"
        for r in p.rules { body += "rule\t\(r.owner)\t\(r.allow.joined(separator: ","))\t\(r.deny.joined(separator: ","))\n" }
        return withChecksumLine(body)
    }

    static func decode(_ bytes: [UInt8], path: String) throws(SightlineError) -> SharingPolicy {
        let lines = try checkedLines(bytes, header: header, path: path)
        guard let first = lines.first, first == "default allow" || first == "default deny" else {
            throw .corruptFile(path: path, offset: 0, reason: "expected default allow or default deny")
        }
        var policy = SharingPolicy(defaultAllows: first == "default allow")
        for (i, line) in lines.dropFirst().enumerated() {
            let f = line.split(separator: "\t", omittingEmptySubsequences: false).map(String.init)
            guard f.count == 4, f[0] == "rule" else { throw .corruptFile(path: path, offset: 0, reason: "bad rule line \(i + 3)") }
            func names(_ s: String) -> [String] { s.split(separator: ",").map(String.init) }
            policy.rules.append(SharingRule(owner: f[1], allow: names(f[2]), deny: names(f[3])))
        }
        return policy
    }

    static func read(directory: String, fileSystem: any FileSystem) throws(SightlineError) -> SharingPolicy {
        let path = "\(directory)/\(fileName)"
        guard let bytes = try fileSystem.contentsIfPresent(path, limit: 16 << 20, "sharing policy") else { return .open }
        return try decode(bytes, path: path)
    }
}

/// The lines between `header` and the CRC line, the CRC checked (the text files `ACCESS`,
/// `CAMERAS`, `POLICY`, `HOLDS`).
///
/// No writer puts a carriage return in these files (`checkPolicyName` keeps names free of
/// them), so one is damage: left in, a name ending in "\r" before its line's "\n" would read
/// back as a different name, since Swift takes "\r\n" as one `Character`. Lines are split
/// on the newline byte for the same reason.
func checkedLines(_ bytes: [UInt8], header: String, path: String) throws(SightlineError) -> [String] {
    if let cr = bytes.firstIndex(of: 0x0D) {
        throw .corruptFile(path: path, offset: Int64(cr), reason: "a carriage return (these files hold none)")
    }
    var lines = bytes.split(separator: 0x0A, omittingEmptySubsequences: false).map { String(decoding: $0, as: UTF8.self) }
    guard lines.count >= 3, lines.removeLast().isEmpty, lines[0] == header, let crcLine = lines.popLast(), crcLine.hasPrefix("crc32c ") else {
        throw .corruptFile(path: path, offset: 0, reason: "not a \(header) file")
    }
    let body = lines.joined(separator: "\n") + "\n"
    // Compared as text: a flipped bit that only changes a hex digit's case is damage too.
    guard crcLine.dropFirst(7) == hex8(Array(body.utf8).withUnsafeBytes({ CRC32C.checksum($0) })) else {
        throw .corruptFile(path: path, offset: 0, reason: "checksum mismatch")
    }
    return Array(lines.dropFirst())
}

/// Names kept in these files may not hold the separators.
func checkPolicyName(_ name: String, _ what: String) throws(SightlineError) {
    guard !name.contains(where: { $0 == "\t" || $0 == "\n" || $0 == "\r" || $0 == "," }) else {
        throw .invalidArgument("\(what) \"\(name)\" holds a tab, comma or line break")
    }
}
