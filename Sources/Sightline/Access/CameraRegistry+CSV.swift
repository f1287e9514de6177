/// The camera registry as operators write it: a CSV file whose header names the columns —
/// `camera`, `agency`, `jurisdiction` required; `kind`, `lat`, `lon`, `name` optional — in any
/// order (`sightline cameras STORE load FILE`).
extension CameraRegistry {
    /// The registry `csv` lists; ``SightlineError/invalidInput(source:line:reason:)`` naming
    /// `source` and the line of the first bad row (a camera listed twice, a field missing, a
    /// coordinate out of range). Blank lines are skipped.
    public init(csv: [UInt8], source: String) throws(SightlineError) {
        func bad(_ line: Int, _ reason: String) -> SightlineError { .invalidInput(source: source, line: line, reason: reason) }
        let text = String(decoding: csv, as: UTF8.self)
        let lines = text.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline)
        func trimmed(_ s: Substring) -> String { String(s).trimmingWhitespace() }
        guard let first = lines.first, !trimmed(first).isEmpty else { throw bad(1, "empty file") }
        let header = first.split(separator: ",").map { trimmed($0).lowercased() }
        func column(_ name: String) -> Int? { header.firstIndex(of: name) }
        guard let ci = column("camera"), let ai = column("agency"), let ji = column("jurisdiction") else {
            throw bad(1, "the header needs camera, agency and jurisdiction")
        }
        var registry = CameraRegistry()
        for (n, line) in lines.enumerated().dropFirst() where !trimmed(line).isEmpty {
            let f = line.split(separator: ",", omittingEmptySubsequences: false).map(trimmed)
            guard f.count == header.count else { throw bad(n + 1, "\(f.count) fields, the header has \(header.count)") }
            guard let id = UInt32(f[ci]) else { throw bad(n + 1, "camera \"\(f[ci])\" is not a camera id") }
            guard !f[ai].isEmpty else { throw bad(n + 1, "no agency") }
            guard registry.cameras[id] == nil else { throw bad(n + 1, "camera \(id) listed twice") }
            func optional(_ name: String) -> String { column(name).map { f[$0] } ?? "" }
            func coordinate(_ name: String, _ limit: Double) throws(SightlineError) -> Double? {
                let t = optional(name)
                if t.isEmpty { return nil }
                guard let v = Double(t), abs(v) <= limit else { throw bad(n + 1, "\(name) \"\(t)\" is not a coordinate") }
                return v
            }
            registry.cameras[id] = RegisteredCamera(camera: id, agency: f[ai], jurisdiction: f[ji], kind: optional("kind"),
                                                    latitude: try coordinate("lat", 90), longitude: try coordinate("lon", 180),
                                                    name: optional("name"))
        }
        self = registry
    }

    /// The registry in the CSV file at `path`, read through `fileSystem`.
    public init(csvFile path: String, fileSystem: any FileSystem = PosixFileSystem()) throws(SightlineError) {
        guard let bytes = try fileSystem.contentsIfPresent(path, limit: 1 << 30, "camera file") else {
            throw .io(operation: "open", path: path, errno: ENOENT)
        }
        try self.init(csv: bytes, source: path)
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
