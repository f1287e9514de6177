#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Hotlist files as agencies exchange them: CSV with a header naming the columns, in any
/// order — `plate`, `list`, `reason`, and optionally `expires` (RFC 3339 or epoch ms; empty
/// for never), `mode` (`exact`, `equivalent`, `pattern`; empty for exact) and `priority`.
///
/// The whole file is read and checked before anything is applied: the first bad line is
/// reported as `invalidInput(source:line:reason:)` and no entry of the file is used.
public enum HotlistFile {
    /// The entries of CSV `text`; `source` names it in errors. `requireReason`: a file to add
    /// needs the `reason` column; one to remove entries needs only `plate` and `list`.
    public static func parse(_ text: String, source: String, requireReason: Bool = true) throws(SightlineError) -> [HotlistEntry] {
        // "\r\n" is one Character in Swift: splitting on "\n" alone would leave a file saved
        // with Windows line endings (spreadsheet exports) as a single line.
        // A byte-order mark (spreadsheets' "CSV UTF-8") is not part of the first column's name.
        let text = text.hasPrefix("\u{FEFF}") ? text.dropFirst() : Substring(text)
        var lines = text.split(omittingEmptySubsequences: false, whereSeparator: { $0 == "\n" || $0 == "\r\n" })
        if lines.last?.isEmpty == true { lines.removeLast() }
        guard let headerLine = lines.first else { throw .invalidInput(source: source, line: 1, reason: "empty file: expected a header plate,list,reason[,expires][,mode]") }
        let names = (SightingParser.splitCSV(headerLine.trimmingCharacters(in: "\r")) ?? []).map { $0.trimmingWhitespace().lowercased() }
        var column: [String: Int] = [:]
        for (i, name) in names.enumerated() {
            guard ["plate", "list", "reason", "expires", "mode", "priority"].contains(name) else {
                throw .invalidInput(source: source, line: 1, reason: "unknown column \"\(name)\" (plate, list, reason, expires, mode, priority)")
            }
            guard column.updateValue(i, forKey: name) == nil else { throw .invalidInput(source: source, line: 1, reason: "column \(name) twice") }
        }
        for required in requireReason ? ["plate", "list", "reason"] : ["plate", "list"] where column[required] == nil {
            throw .invalidInput(source: source, line: 1, reason: "missing column \(required) (header: plate,list,reason[,expires][,mode])")
        }
        var entries: [HotlistEntry] = []
        for (k, raw) in lines.enumerated().dropFirst() {
            let number = k + 1
            let line = raw.trimmingCharacters(in: "\r")
            if line.allSatisfy({ $0 == " " || $0 == "\t" }) { continue }
            guard let fields = SightingParser.splitCSV(line) else { throw .invalidInput(source: source, line: number, reason: "unbalanced quotes") }
            guard fields.count == names.count else {
                throw .invalidInput(source: source, line: number, reason: "\(fields.count) fields, the header has \(names.count)")
            }
            func field(_ name: String) -> String? { column[name].map { fields[$0].trimmingWhitespace() } }
            let modeText = field("mode") ?? ""
            guard let mode = modeText.isEmpty ? .exact : MatchMode(rawValue: modeText.lowercased()) else {
                throw .invalidInput(source: source, line: number, reason: "unknown mode \"\(modeText)\" (exact, equivalent, pattern)")
            }
            var expires: Int64?
            if let text = field("expires"), !text.isEmpty {
                guard let t = Timestamp.milliseconds(text) else {
                    throw .invalidInput(source: source, line: number, reason: "bad expiry \"\(text)\": RFC 3339 or epoch milliseconds")
                }
                expires = t
            }
            var priority: Int?
            if let text = field("priority"), !text.isEmpty {
                guard let p = Int(text) else { throw .invalidInput(source: source, line: number, reason: "bad priority \"\(text)\"") }
                priority = p
            }
            do throws(SightlineError) {
                entries.append(try HotlistEntry(plate: field("plate") ?? "", list: field("list") ?? "", reason: field("reason") ?? "",
                                                expires: expires, priority: priority, mode: mode))
            } catch {
                let reason: String
                switch error {
                case .invalidPlate(let plate, let why): reason = "bad plate \"\(plate)\": \(why)"
                case .invalidArgument(let why): reason = mode == .pattern ? "bad pattern: \(why)" : why
                default: reason = "\(error)"
                }
                throw .invalidInput(source: source, line: number, reason: reason)
            }
        }
        return entries
    }

    /// The entries of the file at `path` (see `parse`).
    public static func read(_ path: String, requireReason: Bool = true, fileSystem: any FileSystem = PosixFileSystem()) throws(SightlineError) -> [HotlistEntry] {
        guard let bytes = try fileSystem.contentsIfPresent(path) else { throw .io(operation: "open", path: path, errno: ENOENT) }
        return try parse(String(decoding: bytes, as: UTF8.self), source: path, requireReason: requireReason)
    }

    /// The CSV `hotlist list` prints: `plate,list,reason,expires,mode,priority` (expires in
    /// epoch ms, empty for never), one line per entry, ordered by list, plate, mode.
    public static func csv(_ entries: [HotlistEntry]) -> String {
        func quoted(_ s: String) -> String {
            s.contains(where: { $0 == "," || $0 == "\"" }) ? "\"" + s.split(separator: "\"", omittingEmptySubsequences: false).joined(separator: "\"\"") + "\"" : s
        }
        var out = "plate,list,reason,expires,mode,priority\n"
        for e in entries {
            out += "\(e.plate),\(quoted(e.list)),\(quoted(e.reason)),\(e.expires.map(String.init) ?? ""),\(e.mode.rawValue),\(e.priority.map(String.init) ?? "")\n"
        }
        return out
    }
}
