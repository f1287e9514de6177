import ArgumentParser
import Sightline
import SightlineCommandLine

@main
struct SightlineCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sightline",
        abstract: "A storage engine for vehicle sightings (licence-plate reads).",
        discussion: KeyringArgument.help,
        groupedSubcommands: [
            CommandGroup(name: "Loading", subcommands: [IngestCommand.self]),
            CommandGroup(name: "Queries", subcommands: [HistoryCommand.self, AreaCommand.self, HeatmapCommand.self, ExplainCommand.self]),
            CommandGroup(name: "Investigation", subcommands: [SearchCommand.self, IntersectCommand.self, ConvoyCommand.self, FrequentCommand.self]),
            CommandGroup(name: "Alerts", subcommands: [HotlistCommand.self, GeofenceCommand.self, AlertsCommand.self]),
            CommandGroup(name: "Accountability", subcommands: [AuditCommand.self, AccessCommand.self, CamerasCommand.self, PolicyCommand.self, RetentionCommand.self, HoldCommand.self]),
            CommandGroup(name: "Administration", subcommands: [InitCommand.self, CompactCommand.self, PurgeCommand.self, FlushCommand.self, StatsCommand.self, VerifyCommand.self, KeysCommand.self, BackupCommand.self, RestoreCommand.self, GuardrailsCommand.self, InspectCommand.self]),
            CommandGroup(name: "Lake", subcommands: [ExportCommand.self]),
        ]
    )

    static func main() { CommandRunner.main(SightlineCommand.self) }
}

