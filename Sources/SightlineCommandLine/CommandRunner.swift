import ArgumentParser
import Foundation
import Sightline

/// The entry point both executables share: parses and runs like ArgumentParser's own `main`,
/// except that an error thrown while a subcommand runs is reported with that subcommand's
/// usage, not the root's.
package enum CommandRunner {
    package static func main(_ root: any ParsableCommand.Type) {
        var command: any ParsableCommand
        guard let arguments = KeyringArgument.extract(Array(CommandLine.arguments.dropFirst())) else {
            FileHandle.standardError.write(Data("Error: Missing value for '--keyring <dir>' or '--kek-file <path>'\n".utf8))
            root.exit(withError: ExitCode.validationFailure)
        }
        do {
            command = try root.parseAsRoot(CoordinateArguments.protect(arguments))
        } catch {
            root.exit(withError: error)
        }
        do {
            try command.run()
        } catch let error where error is ExitCode || error is CleanExit || type(of: command)._commandName == "help" {
            root.exit(withError: error)  // exit codes, --help and `sightline help` as ArgumentParser does them
        } catch {
            let failing = type(of: command)
            let text = "Error: \(root.message(for: error))\nUsage: \(root.usageString(for: failing))\n"
                + "  See '\(commandPath(to: failing, root: root)) --help' for more.\n"
            FileHandle.standardError.write(Data(text.utf8))
            root.exit(withError: ExitCode(root.exitCode(for: error).rawValue))
        }
    }

    /// The words that run `command` (`sightline hotlist add`), found by walking the tree of
    /// subcommands from the root.
    package static func commandPath(to command: any ParsableCommand.Type, root: any ParsableCommand.Type) -> String {
        func find(_ node: any ParsableCommand.Type, _ path: [String]) -> [String]? {
            let here = path + [node._commandName]
            if ObjectIdentifier(node) == ObjectIdentifier(command) { return here }
            for child in node.configuration.subcommands {
                if let found = find(child, here) { return found }
            }
            return nil
        }
        return (find(root, []) ?? [root._commandName, command._commandName]).joined(separator: " ")
    }
}

/// Wraps library errors so ArgumentParser prints them plainly and exits non-zero.
package struct CommandFailure: Error, CustomStringConvertible {
    package let description: String
    /// The library error underneath, when there is one.
    package let error: any Error
    package init(_ error: any Error) {
        self.error = error
        if case SightlineError.accessRefused = error {
            description = "\(error) (give --purpose, and --case where the store requires one)"
        } else {
            description = "\(error)"
        }
    }
}

/// Seconds in a duration, as a `Double`.
package func seconds(_ d: Duration) -> Double {
    Double(d.components.seconds) + Double(d.components.attoseconds) * 1e-18
}

/// `1.52 M rows/s`, or `812 rows/s` below a million.
package func formatRate(_ rows: Int, _ d: Duration) -> String {
    let r = Double(rows) / max(seconds(d), 1e-9)
    return r >= 1e6 ? String(format: "%.2f M rows/s", r / 1e6) : String(format: "%.0f rows/s", r)
}

/// A byte count in the largest binary unit that keeps it ≥ 1.
package func formatBytes(_ n: Int) -> String {
    let d = Double(n)
    if d >= 1_073_741_824 { return String(format: "%.2f GiB", d / 1_073_741_824) }
    if d >= 1_048_576 { return String(format: "%.2f MiB", d / 1_048_576) }
    if d >= 1024 { return String(format: "%.1f KiB", d / 1024) }
    return "\(n) B"
}
