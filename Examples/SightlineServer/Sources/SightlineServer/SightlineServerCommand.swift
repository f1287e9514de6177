import ArgumentParser

/// `sightline-server`: the reference HTTP service over one Sightline store.
///
///     sightline-server [serve] --store DIR --tokens FILE [--port 8080] [--keyring DIR] [--tls-cert PEM --tls-key PEM]
///     sightline-server token add --tokens FILE --requester NAME --agency AGENCY --roles ROLE[,ROLE…] [--expires T]
///     sightline-server token revoke --tokens FILE --requester NAME
@main
struct SightlineServerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sightline-server",
        abstract: "The Sightline reference service: the whole engine over a versioned HTTP API, with identities from credentials.",
        subcommands: [ServeCommand.self, TokenCommand.self],
        defaultSubcommand: ServeCommand.self)
}
