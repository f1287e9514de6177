import ArgumentParser
import Sightline

/// `sightline-server token add|revoke|list`: issuing and revoking the service's credentials.
struct TokenCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "token", abstract: "Issue, revoke and list bearer tokens.",
                                                    subcommands: [TokenAddCommand.self, TokenRevokeCommand.self, TokenListCommand.self])
}

struct TokenAddCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "add",
        abstract: "Issue a token: printed once, alone on one line; the file keeps only its SHA-256 (mode 0600).")
    @Option(help: "The token file (created when missing).") var tokens: String
    @Option(help: "Who the token identifies (recorded in every audit record of its requests).") var requester: String
    @Option(help: "The requester's agency (the sharing policy applies to it).") var agency: String
    @Option(help: "ingest, read, investigate, alerts, admin, audit; comma-separated.") var roles: String
    @Option(help: "When the token stops working (RFC 3339 or epoch ms).") var expires: String?

    func run() throws {
        let parsedRoles: Set<Role>
        do { parsedRoles = try Role.parseList(roles) } catch { throw ValidationError("--roles \(roles): \(error)") }
        for (name, value) in [("--requester", requester), ("--agency", agency)] where value.contains("\t") || value.contains("\n") || value.isEmpty {
            throw ValidationError("\(name): not empty, no tabs or line breaks")
        }
        let expiry = try expires.map { text throws -> Int64 in
            guard let t = Timestamp.milliseconds(text) else { throw ValidationError("--expires \(text): not RFC 3339 or epoch ms") }
            return t
        }
        var file = try TokenFile.read(tokens, missingIsEmpty: true)
        let token = TokenFile.newToken()
        file.entries.append(.init(hash: TokenFile.hash(token), identity: Identity(requester: requester, agency: agency, roles: parsedRoles, expires: expiry)))
        try file.write(tokens)
        print(token)
    }
}

struct TokenRevokeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "revoke",
        abstract: "Revoke every token of a requester; a running server refuses them from its next request.")
    @Option(help: "The token file.") var tokens: String
    @Option(help: "The requester whose tokens to revoke.") var requester: String

    func run() throws {
        var file = try TokenFile.read(tokens)
        let before = file.entries.count
        file.entries.removeAll { $0.identity.requester == requester }
        guard file.entries.count < before else { throw ValidationError("no token of \(requester) in \(tokens)") }
        try file.write(tokens)
        print("revoked \(before - file.entries.count) token(s) of \(requester)")
    }
}

struct TokenListCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "list", abstract: "List issued tokens: requester,agency,roles,expires (never a token).")
    @Option(help: "The token file.") var tokens: String

    func run() throws {
        print("requester,agency,roles,expires")
        for e in try TokenFile.read(tokens).entries {
            print("\(e.identity.requester),\(e.identity.agency),\"\(Role.text(e.identity.roles))\",\(e.identity.expires.map(Timestamp.rfc3339) ?? "")")
        }
    }
}
