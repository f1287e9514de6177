import ArgumentParser
import Sightline

@main
struct SightlineCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sightline",
        abstract: "A storage engine for vehicle sightings (licence-plate reads).",
        subcommands: [IngestCommand.self, GenerateCommand.self, BenchCommand.self, HistoryCommand.self, AreaCommand.self, HeatmapCommand.self, ExplainCommand.self,
                      QueryBenchCommand.self, CompactCommand.self, PurgeCommand.self, StatsCommand.self, VerifyCommand.self,
                      IngestBenchCommand.self, SampleCommand.self, MeasureCommand.self, InspectCommand.self]
    )
}

/// Wraps library errors so ArgumentParser prints them plainly and exits non-zero.
struct CommandFailure: Error, CustomStringConvertible {
    let description: String
    init(_ error: any Error) { description = "\(error)" }
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
