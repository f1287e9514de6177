import ArgumentParser
import Foundation
import Sightline
import SightlineCommandLine

/// Runs a rule change here (opening the store as its owner) or through the owner's control
/// socket (`StoreMaintenance`); prints the owner's summary. A bad rules file is a usage error.
func changeRules(_ store: String, create: Bool = false, _ body: (StoreMaintenance) throws(SightlineError) -> String) throws {
    do {
        print(try maintain(store, create: create, body))
    } catch let failure as CommandFailure {
        if case .invalidInput = failure.error as? SightlineError { throw ValidationError(failure.description) }
        throw failure
    }
}

struct HotlistCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "hotlist",
        abstract: "Manage the store's hotlists (plates checked against every read) and check them against the history.",
        subcommands: [HotlistAddCommand.self, HotlistRemoveCommand.self, HotlistListCommand.self, HotlistCheckCommand.self])
}

struct HotlistAddCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "add",
        abstract: "Add the entries of a CSV file (header plate,list,reason[,expires][,mode][,priority]); an entry with the same plate, list and mode is replaced.",
        discussion: "The whole file is checked first: a bad line (plate, pattern, expiry, mode) is reported with its number and nothing is added.")
    @Argument(help: "Store directory.") var store: String
    @Argument(help: "Hotlist CSV file.") var file: String
    @Option(help: "Also check the stored history from this time (RFC 3339 or epoch ms); hits are logged as historical alerts.")
    var retroactiveFrom: String?
    @OptionGroup var access: AccessArguments

    func run() throws {
        // The whole file is checked before the store is touched; a bad one is a usage error.
        do { _ = try HotlistFile.read(file) } catch { throw ValidationError("\(error)") }
        let from = try parseTime(retroactiveFrom, "retroactive-from")
        let context = access.context
        try changeRules(store, create: true) { m throws(SightlineError) in try m.addHotlistEntries(file: file, retroactiveFrom: from, by: context) }
    }
}

struct HotlistRemoveCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "remove",
        abstract: "Remove the entries of a CSV file (columns plate, list and optionally mode; other columns ignored).")
    @Argument(help: "Store directory.") var store: String
    @Argument(help: "Hotlist CSV file.") var file: String

    func run() throws {
        do { _ = try HotlistFile.read(file, requireReason: false) } catch { throw ValidationError("\(error)") }
        try changeRules(store) { m throws(SightlineError) in try m.removeHotlistEntries(file: file) }
    }
}

struct HotlistListCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "list",
        abstract: "Print the hotlist entries as CSV plate,list,reason,expires,mode,priority (expires in epoch ms), by list, plate, mode.")
    @Argument(help: "Store directory.") var store: String

    func run() throws {
        do {
            FileHandle.standardOutput.write(Data(HotlistFile.csv(try RuleSet.stored(in: store).hotlist).utf8))
        } catch { throw CommandFailure(error) }
    }
}

struct HotlistCheckCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "check",
        abstract: "Check a hotlist file against the stored history: plate,time,lat,lon,camera,confidence,list,mode ordered by time, plate, camera, list.")
    @Argument(help: "Store directory.") var store: String
    @Argument(help: "Hotlist CSV file.") var file: String
    @Option(help: "From this time, inclusive (epoch ms or RFC 3339).") var from: String?
    @Option(help: "To this time, exclusive.") var to: String?
    @OptionGroup var output: OutputOptions

    func run() throws {
        let entries: [HotlistEntry]
        do { entries = try HotlistFile.read(file) } catch { throw ValidationError("\(error)") }
        let time: TimeRange
        do { time = try TimeRange(from: try parseTime(from, "from"), to: try parseTime(to, "to")) } catch let e as SightlineError { throw ValidationError("\(e)") }
        do {
            var rules = RuleSet()
            rules.equivalence = try RuleSet.stored(in: store).equivalence
            rules.add(entries)
            let hits = try openSnapshot(store, output.access).checkRules(rules, time: time)
            printRecords(["plate", "time", "lat", "lon", "camera", "confidence", "list", "mode"], hits.map { a -> [RecordField] in
                let s = a.sighting
                return [.text(s.plate.text), .time(s.time), .decimal(coordinateText(s.latitudeE7)), .decimal(coordinateText(s.longitudeE7)),
                        .number(Int(s.camera)), .number(Int(s.confidence)), .text(a.list), .text(a.match.rawValue)]
            }, output)
        } catch { throw CommandFailure(error) }
    }
}

struct GeofenceCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "geofence",
        abstract: "Manage the store's geofences (areas watched for every read).",
        subcommands: [GeofenceAddCommand.self, GeofenceRemoveCommand.self, GeofenceListCommand.self])
}

struct GeofenceAddCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "add", abstract: "Add or replace a geofence.")
    @Argument(help: "Store directory.") var store: String
    @Argument(help: "The geofence's name (no spaces).") var name: String
    @OptionGroup var region: AreaOptions
    @Option(name: .customLong("camera"), help: "Only reads of this camera (repeat).") var cameras: [UInt32] = []
    @Option(help: "Only reads at these UTC hours, H1-H2 (wraps past midnight when H1 > H2).") var hours: String?
    @Option(help: "Also check the stored history from this time; hits are logged as historical alerts.") var retroactiveFrom: String?

    func run() throws {
        let fence: Geofence
        do {
            fence = try Geofence(name: name, area: try region.area(), cameras: cameras.isEmpty ? nil : Set(cameras),
                                 hours: try hours.map { text throws(SightlineError) in try HourWindow(parsing: text) })
        } catch let e as SightlineError { throw ValidationError("\(e)") }
        let from = try parseTime(retroactiveFrom, "retroactive-from")
        try changeRules(store, create: true) { m throws(SightlineError) in try m.addGeofence(fence, retroactiveFrom: from) }
    }
}

struct GeofenceRemoveCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "remove", abstract: "Remove a geofence.")
    @Argument(help: "Store directory.") var store: String
    @Argument(help: "The geofence's name.") var name: String

    func run() throws {
        try changeRules(store) { m throws(SightlineError) in try m.removeGeofence(named: name) }
    }
}

struct GeofenceListCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "list", abstract: "Print the geofences: name,area,cameras,hours.")
    @Argument(help: "Store directory.") var store: String

    func run() throws {
        do {
            var out = "name,area,cameras,hours\n"
            for g in try RuleSet.stored(in: store).allGeofences {
                out += "\(g.name),\"\(g.areaText)\",\(g.cameras.map { $0.sorted().map(String.init).joined(separator: " ") } ?? ""),\(g.hours.map(\.description) ?? "")\n"
            }
            FileHandle.standardOutput.write(Data(out.utf8))
        } catch { throw CommandFailure(error) }
    }
}

struct AlertsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "alerts",
        abstract: "Print the alert log as NDJSON (sequence, rule, list, mode, plate, time in epoch ms, lat, lon, camera, confidence).",
        discussion: """
            --after SEQ starts after that sequence; --consumer NAME starts after what NAME acknowledged and \
            acknowledges each alert once printed (so a restarted consumer gets each alert once). --follow keeps \
            waiting for new alerts, also while another process owns the store.
            """)
    @Argument(help: "Store directory.") var store: String
    @Option(help: "Print alerts with a sequence above this.") var after: UInt64?
    @Option(help: "A consumer's name: resume after its acknowledged sequence, acknowledge as printed.") var consumer: String?
    @Flag(help: "Keep printing new alerts as they are logged (until interrupted).") var follow = false
    @OptionGroup var access: AccessArguments

    func run() throws {
        let readOnly = try openReadOnly(store)
        do {
            let start = try after ?? consumer.map { try AlertTail.acknowledged(directory: store, consumer: $0) } ?? 0
            var tail = try AlertTail(store: readOnly, after: start, access: access.context)
            repeat {
                let alerts = try tail.poll()
                if alerts.isEmpty {
                    if follow { usleep(2_000) }
                    continue
                }
                FileHandle.standardOutput.write(Data(alerts.map { $0.json + "\n" }.joined().utf8))
                if let consumer { try AlertTail.acknowledge(directory: store, consumer: consumer, through: alerts.last!.sequence) }
            } while follow
        } catch { throw CommandFailure(error) }
    }
}
