import ArgumentParser
import Sightline

@main
struct SightlineCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sightline",
        abstract: "A storage engine for vehicle sightings (licence-plate reads).",
        groupedSubcommands: [
            CommandGroup(name: "Loading", subcommands: [IngestCommand.self]),
            CommandGroup(name: "Queries", subcommands: [HistoryCommand.self, AreaCommand.self, HeatmapCommand.self, ExplainCommand.self]),
            CommandGroup(name: "Investigation", subcommands: [SearchCommand.self, IntersectCommand.self, ConvoyCommand.self, FrequentCommand.self]),
            CommandGroup(name: "Alerts", subcommands: [HotlistCommand.self, GeofenceCommand.self, AlertsCommand.self]),
            CommandGroup(name: "Accountability", subcommands: [AuditCommand.self, AccessCommand.self, CamerasCommand.self, PolicyCommand.self, RetentionCommand.self, HoldCommand.self]),
            CommandGroup(name: "Administration", subcommands: [InitCommand.self, CompactCommand.self, PurgeCommand.self, FlushCommand.self, StatsCommand.self, VerifyCommand.self, GuardrailsCommand.self]),
            CommandGroup(name: "Lake", subcommands: [ExportCommand.self]),
            CommandGroup(name: "Development and benchmarks", subcommands: [
                GenerateCommand.self, BenchCommand.self, QueryBenchCommand.self, IngestBenchCommand.self, AlertBenchCommand.self,
                MeasureCommand.self, SampleCommand.self, InspectCommand.self,
            ]),
        ]
    )

    /// Parses and runs like ArgumentParser's own `main`, except that an error thrown while a
    /// subcommand runs is reported with that subcommand's usage, not the root's.
    static func main() {
        var command: any ParsableCommand
        do {
            command = try parseAsRoot()
        } catch {
            exit(withError: error)
        }
        do {
            try command.run()
        } catch let error where error is ExitCode || error is CleanExit || type(of: command)._commandName == "help" {
            exit(withError: error)  // exit codes, --help and `sightline help` as ArgumentParser does them
        } catch {
            let failing = type(of: command)
            let text = "Error: \(message(for: error))\nUsage: \(usageString(for: failing))\n"
                + "  See '\(commandPath(to: failing)) --help' for more.\n"
            FileHandle.standardError.write(Data(text.utf8))
            exit(withError: ExitCode(exitCode(for: error).rawValue))
        }
    }
}

/// The words that run `command` (`sightline hotlist add`), found by walking the tree of
/// subcommands from the root.
func commandPath(to command: any ParsableCommand.Type) -> String {
    func find(_ node: any ParsableCommand.Type, _ path: [String]) -> [String]? {
        let here = path + [node._commandName]
        if ObjectIdentifier(node) == ObjectIdentifier(command) { return here }
        for child in node.configuration.subcommands {
            if let found = find(child, here) { return found }
        }
        return nil
    }
    return (find(SightlineCommand.self, []) ?? ["sightline", command._commandName]).joined(separator: " ")
}

/// Wraps library errors so ArgumentParser prints them plainly and exits non-zero.
struct CommandFailure: Error, CustomStringConvertible {
    let description: String
    /// The library error underneath, when there is one.
    let error: any Error
    init(_ error: any Error) {
        self.error = error
        if case SightlineError.accessRefused = error {
            description = "\(error) (give --purpose, and --case where the store requires one)"
        } else {
            description = "\(error)"
        }
    }
}

func seconds(_ d: Duration) -> Double {
    Double(d.components.seconds) + Double(d.components.attoseconds) * 1e-18
}

func formatRate(_ rows: Int, _ d: Duration) -> String {
    let r = Double(rows) / max(seconds(d), 1e-9)
    return r >= 1e6 ? String(format: "%.2f M rows/s", r / 1e6) : String(format: "%.0f rows/s", r)
}

func formatBytes(_ n: Int) -> String {
    let d = Double(n)
    if d >= 1_073_741_824 { return String(format: "%.2f GiB", d / 1_073_741_824) }
    if d >= 1_048_576 { return String(format: "%.2f MiB", d / 1_048_576) }
    if d >= 1024 { return String(format: "%.1f KiB", d / 1024) }
    return "\(n) B"
}

#if canImport(Glibc)
import Glibc
#endif
import Foundation
