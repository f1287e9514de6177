import ArgumentParser
import Foundation
import Sightline

/// Options shared by the commands that write to a store.
package struct StoreArguments: ParsableArguments {
    package init() {}
    @Option(help: "Rows buffered before a segment is written.") package var bufferRows = 2_000_000
    @Option(help: "every-batch, periodic or none (see Docs/format.md).") package var durability = "every-batch"

    /// The library options these arguments describe.
    package func storeOptions() throws -> StoreOptions {
        var options = cliStoreOptions()
        options.bufferRows = bufferRows
        switch durability {
        case "every-batch": options.durability = .everyBatch
        case "periodic": options.durability = .periodic(.milliseconds(200))
        case "none": options.durability = Durability.none
        default: throw ValidationError("--durability must be every-batch, periodic or none")
        }
        return options
    }
}

/// Who reads, for whom and why: every command that reads sightings carries it into the
/// store's audit log, and a store that requires a purpose (every store the CLI creates)
/// refuses a read without one.
package struct AccessArguments: ParsableArguments {
    package init() {}
    @Option(help: "Why you read (recorded in the store's audit log; required by stores the CLI creates).") package var purpose: String?
    @Option(help: "Who reads (default: $SIGHTLINE_REQUESTER, else the login name).") package var requester: String?
    @Option(help: "The agency you read for (default: $SIGHTLINE_AGENCY).") package var agency: String?
    @Option(name: .customLong("case"), help: "The case or incident number the read serves.") package var caseNumber: String?

    /// The name of the user running the command (the requester when nothing else says).
    package static var loginName: String {
        guard let entry = getpwuid(getuid()), let name = entry.pointee.pw_name else { return "uid \(getuid())" }
        return String(cString: name)
    }

    /// The context these arguments and the environment describe.
    package var context: AccessContext {
        let environment = ProcessInfo.processInfo.environment
        return AccessContext(requester: requester ?? environment["SIGHTLINE_REQUESTER"] ?? environment["USER"] ?? Self.loginName,
                             agency: agency ?? environment["SIGHTLINE_AGENCY"] ?? "",
                             purpose: purpose ?? "", caseNumber: caseNumber)
    }
}

/// Where the plate-key secret comes from for the CLI: `SIGHTLINE_SECRET_FILE` (a file outside
/// the store, owner-only) or `SIGHTLINE_SECRET` (32 hex digits); else the keyring
/// (`--keyring`, `SIGHTLINE_KEYRING`, or the per-user one) — and a store made before
/// keyrings still reads its own `plate-key.secret`. Stores made with `sightline init
/// --secret-file` need one of the first two.
package func environmentSecretSource() -> PlateKeySecretSource {
    let environment = ProcessInfo.processInfo.environment
    if let path = environment["SIGHTLINE_SECRET_FILE"], !path.isEmpty { return .file(path) }
    if environment["SIGHTLINE_SECRET"] != nil { return .environment("SIGHTLINE_SECRET") }
    return .keyring
}

/// Store options with the environment's secret source.
package func cliStoreOptions() -> StoreOptions {
    var options = StoreOptions()
    options.secretSource = environmentSecretSource()
    return options
}
