import ArgumentParser
import Foundation
import Sightline
import SightlineCommandLine

/// `--format` and `--epoch-ms` for the commands that print summaries rather than sightings
/// (search --plates, intersect, convoy, frequent).
struct OutputOptions: ParsableArgumentsWithFormat {
    @OptionGroup var access: AccessArguments
    @Option(help: "Output: csv, ndjson or table.") var format: QueryOptions.OutputFormat = .csv
    @Flag(help: "Times as epoch milliseconds instead of RFC 3339.") var epochMs = false
}

/// Options that carry an output format and a time style.
protocol ParsableArgumentsWithFormat: ParsableArguments {
    var format: QueryOptions.OutputFormat { get }
    var epochMs: Bool { get }
}

extension QueryOptions: ParsableArgumentsWithFormat {}

/// One value of a printed record: text, a number, or a time (printed per `--epoch-ms`).
enum RecordField {
    case text(String)
    case number(Int)
    case time(Int64)
    /// A decimal printed as is (a number in NDJSON), e.g. a coordinate.
    case decimal(String)
}

/// A coordinate in 1e-7 degrees as decimal degrees with seven places.
func coordinateText(_ e7: Int32) -> String {
    let m = abs(Int64(e7))
    let fraction = String(m % 10_000_000)
    return "\(e7 < 0 ? "-" : "")\(m / 10_000_000).\(String(repeating: "0", count: 7 - fraction.count))\(fraction)"
}

/// Prints records with named columns as CSV (a header line, then one line per record),
/// NDJSON (one object per record, keys in column order; times as numbers with `--epoch-ms`,
/// strings otherwise) or a padded table.
func printRecords(_ columns: [String], _ records: [[RecordField]], _ options: some ParsableArgumentsWithFormat) {
    func plain(_ f: RecordField) -> String {
        switch f {
        case .text(let s): s
        case .number(let n): String(n)
        case .time(let t): formatTime(t, epochMs: options.epochMs)
        case .decimal(let d): d
        }
    }
    var lines: [String] = []
    switch options.format {
    case .csv:
        lines.append(columns.joined(separator: ","))
        for r in records { lines.append(r.map { csvField(plain($0)) }.joined(separator: ",")) }
    case .ndjson:
        for r in records {
            let fields = zip(columns, r).map { name, f -> String in
                switch f {
                case .number(let n): "\"\(name)\":\(n)"
                case .decimal(let d): "\"\(name)\":\(d)"
                case .time(let t) where options.epochMs: "\"\(name)\":\(t)"
                default: "\"\(name)\":\"\(plain(f))\""  // plates, cells and RFC 3339 times need no escaping
                }
            }
            lines.append("{" + fields.joined(separator: ",") + "}")
        }
    case .table:
        let texts = records.map { $0.map(plain) }
        let widths = columns.indices.map { c in texts.reduce(columns[c].count) { max($0, $1[c].count) } }
        func line(_ cells: [String]) -> String {
            cells.enumerated().map { c, s in c == cells.count - 1 ? s : s + String(repeating: " ", count: widths[c] - s.count + 2) }.joined()
        }
        lines.append(line(columns.map { $0.uppercased() }))
        for t in texts { lines.append(line(t)) }
    }
    if lines.isEmpty { return }
    printLines(lines)
}

/// `text` as one CSV field: quoted (quotes doubled) when it holds a comma, a quote or a
/// line break (RFC 4180), as is otherwise.
func csvField(_ text: String) -> String {
    guard text.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" }) else { return text }
    return "\"" + text.replacingOccurrences(of: "\"", with: "\"\"") + "\""
}
