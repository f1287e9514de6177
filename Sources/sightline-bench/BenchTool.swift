import ArgumentParser
import SightlineCommandLine

/// The development and benchmark commands, apart from the user's `sightline`: generators, the
/// size-and-speed measures and the query, ingest and alert benchmarks (Docs/benchmarks.md).
@main
struct BenchTool: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sightline-bench",
        abstract: "Generate sightings and measure Sightline's size and speed (development and benchmarks).",
        discussion: KeyringArgument.help,
        groupedSubcommands: [
            CommandGroup(name: "Data", subcommands: [GenerateCommand.self, SampleCommand.self]),
            CommandGroup(name: "Benchmarks", subcommands: [
                BenchCommand.self, MeasureCommand.self, QueryBenchCommand.self, IngestBenchCommand.self, AlertBenchCommand.self,
            ]),
        ]
    )

    static func main() { CommandRunner.main(BenchTool.self) }
}
