import ArgumentParser
import Foundation
import Sightline
import SightlineCommandLine

/// Times as the query commands print them: RFC 3339, or epoch ms with `--epoch-ms`.
func formatTime(_ t: Int64, epochMs: Bool) -> String { epochMs ? String(t) : Timestamp.rfc3339(t) }

/// Writes CSV lines to standard output in one write.
func printLines(_ lines: [String]) {
    FileHandle.standardOutput.write(Data((lines.joined(separator: "\n") + "\n").utf8))
}

/// A time option's value (epoch ms or RFC 3339); nil when not given.
func parseTime(_ text: String?, _ name: String) throws -> Int64? {
    guard let text else { return nil }
    guard let t = Timestamp.milliseconds(text) else { throw ValidationError("--\(name) \(text): not epoch milliseconds or RFC 3339") }
    return t
}

/// A plate argument and `--from`/`--to` options; bad values are usage errors.
func plateAndTime(_ plate: String, from: String?, to: String?) throws -> (Plate, TimeRange) {
    do {
        return (try Plate(plate), try TimeRange(from: try parseTime(from, "from"), to: try parseTime(to, "to")))
    } catch let e as SightlineError { throw ValidationError("\(e)") }
}

struct SearchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "search",
        abstract: "Sightings of plates matching a partial plate (? one character, * any run), optionally OCR-equivalent.")
    @Argument(help: "Store directory.") var store: String
    @Argument(help: "Pattern: plate characters, ? and *; normalized like plates.") var pattern: String
    @Flag(help: "Characters a reader confuses match one another (0 O Q D, 1 I L, 2 Z, 5 S, 8 B, 6 G).") var equivalent = false
    @Flag(help: "One line per matching plate: plate,sightings,first,last (by sightings, then plate).") var plates = false
    @Option(help: "Box: south,west,north,east (optional area).") var bbox: String?
    @Option(help: "Circle: lat,lon,metres (optional area).") var circle: String?
    @Option(help: "Polygon: \"lat lon;lat lon;...\" (optional area).") var polygon: String?
    @OptionGroup var options: QueryOptions

    func query() throws -> Query {
        let area: Area? = bbox == nil && circle == nil && polygon == nil ? nil
            : try AreaOptions.parse(([bbox.map { ["--bbox", $0] }, circle.map { ["--circle", $0] }, polygon.map { ["--polygon", $0] }]
                                     .compactMap { $0 }).flatMap { $0 }).area()
        do {
            let p = try PlatePattern(pattern, equivalence: equivalent ? .default : nil)
            return try Query(.search(p, within: area), time: try options.time(), filters: try options.filters())
        } catch let e as SightlineError { throw ValidationError("\(e)") }
    }

    func run() throws {
        let query = try query()
        guard plates else { return try runQuery(query, store: store, count: false, options) }
        let snapshot = try openSnapshot(store, options.access)
        do {
            let rows = try snapshot.searchPlates(query)
            printRecords(["plate", "sightings", "first", "last"],
                         rows.map { [.text($0.plate.text), .number($0.sightings), .time($0.first), .time($0.last)] }, options)
        } catch { throw CommandFailure(error) }
    }
}

struct IntersectCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "intersect",
        abstract: "Plates seen in at least K of several places and times: plate,windows,sightings.")
    @Argument(help: "Store directory.") var store: String
    @Option(name: .customLong("window"), help: "S,W,N,E,FROM,TO: a box and a half-open time range (repeat; times RFC 3339 or epoch ms).")
    var windows: [String] = []
    @Option(name: .customLong("min"), help: "Windows a plate must be seen in (default: all).") var minimum: Int?
    @Option(help: "At most this many plates.") var limit: Int?
    @OptionGroup var output: OutputOptions

    /// The `--window` options, parsed; bad ones are usage errors.
    func parsedWindows() throws -> [IntersectionWindow] {
        guard !windows.isEmpty else { throw ValidationError("give at least one --window S,W,N,E,FROM,TO") }
        return try windows.map { text throws -> IntersectionWindow in
            let f = text.split(separator: ",", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
            guard f.count == 6, let s = Double(f[0]), let w = Double(f[1]), let n = Double(f[2]), let e = Double(f[3]) else {
                throw ValidationError("--window \(text): expected S,W,N,E,FROM,TO")
            }
            do {
                return try IntersectionWindow(area: .box(south: s, west: w, north: n, east: e),
                                              time: TimeRange(from: try parseTime(f[4], "window from"), to: try parseTime(f[5], "window to")))
            } catch let e as SightlineError { throw ValidationError("--window \(text): \(e)") }
        }
    }

    func run() throws {
        let parsed = try parsedWindows()
        let snapshot = try openSnapshot(store, output.access)
        do {
            let rows = try snapshot.intersect(parsed, minimum: minimum, filters: QueryFilters(limit: limit))
            printRecords(["plate", "windows", "sightings"], rows.map { [.text($0.plate.text), .number($0.windows), .number($0.sightings)] }, output)
        } catch SightlineError.invalidArgument(let message) { throw ValidationError(message) } catch { throw CommandFailure(error) }
    }
}

struct ConvoyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "convoy",
        abstract: "Plates seen at the same cameras within SECONDS of a plate: plate,cameras,sightings.")
    @Argument(help: "Store directory.") var store: String
    @Argument(help: "The plate.") var plate: String
    @Option(help: "Seconds before and after each of the plate's sightings.") var within: Int
    @Option(help: "Distinct cameras a companion must share (default 2).") var minCameras = 2
    @Option(help: "From this time, inclusive (epoch ms or RFC 3339).") var from: String?
    @Option(help: "To this time, exclusive.") var to: String?
    @Option(help: "At most this many plates.") var limit: Int?
    @OptionGroup var output: OutputOptions

    func run() throws {
        guard within >= 0 else { throw ValidationError("--within must not be negative") }
        let (target, time) = try plateAndTime(plate, from: from, to: to)
        let snapshot = try openSnapshot(store, output.access)
        do {
            let rows = try snapshot.convoy(target, within: .seconds(within), minimumCameras: minCameras, time: time, limit: limit)
            printRecords(["plate", "cameras", "sightings"], rows.map { [.text($0.plate.text), .number($0.cameras), .number($0.sightings)] }, output)
        } catch SightlineError.invalidArgument(let message) { throw ValidationError(message) } catch { throw CommandFailure(error) }
    }
}

struct FrequentCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "frequent",
        abstract: "Where a plate is seen most, by geohash cell: cell,sightings,first,last.")
    @Argument(help: "Store directory.") var store: String
    @Argument(help: "The plate.") var plate: String
    @Option(help: "Geohash precision 1–12.") var precision = 7
    @Option(help: "At most this many cells.") var top = 10
    @Option(help: "Only sightings whose UTC hour is in H1-H2 (wraps past midnight when H1 > H2), e.g. 22-6.") var hours: String?
    @Option(help: "From this time, inclusive (epoch ms or RFC 3339).") var from: String?
    @Option(help: "To this time, exclusive.") var to: String?
    @OptionGroup var output: OutputOptions

    func run() throws {
        let (target, time) = try plateAndTime(plate, from: from, to: to)
        let window = try hours.map { text throws -> (from: Int, to: Int) in
            do {
                let w = try HourWindow(parsing: text)
                return (w.from, w.to)
            } catch { throw ValidationError("--\(error)") }
        }
        let snapshot = try openSnapshot(store, output.access)
        do {
            let rows = try snapshot.frequentLocations(target, precision: precision, top: top, hours: window, time: time)
            printRecords(["cell", "sightings", "first", "last"],
                         rows.map { [.text($0.cell), .number($0.sightings), .time($0.first), .time($0.last)] }, output)
        } catch SightlineError.invalidArgument(let message) { throw ValidationError(message) } catch { throw CommandFailure(error) }
    }
}
