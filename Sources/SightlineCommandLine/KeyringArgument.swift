import Foundation

/// `--keyring DIR` and `--kek-file PATH`, which every command of both tools takes: where
/// stores keep their key material, outside their directories, and where the key that wraps
/// it comes from. Taken out of the arguments before they are parsed and passed on as
/// `SIGHTLINE_KEYRING` / `SIGHTLINE_KEK_FILE`, which the library's default keyring
/// (`Keyring.standard`) reads — so a command, the stores it opens and the processes it
/// starts all use the same keys.
package enum KeyringArgument {
    /// What `--help` says about them.
    package static let help = """
        Every command takes --keyring DIR (or SIGHTLINE_KEYRING=DIR): the keyring that holds \
        the stores' key material, outside them (default: ~/.local/share/sightline/keyring, \
        created 0700). A store made before keyrings opens as before. --kek-file PATH (or \
        SIGHTLINE_KEK_FILE; SIGHTLINE_KEK holds the key itself) takes the key-encryption key \
        that wraps the stores' data keys from outside the keyring (64 hex digits); \
        SIGHTLINE_KEK_PREVIOUS_FILE names the earlier one during a rotation.
        """

    /// The options taken out, and the variables they set.
    static let options = [("--keyring", "SIGHTLINE_KEYRING"), ("--kek-file", "SIGHTLINE_KEK_FILE")]

    /// `arguments` without `--keyring DIR` / `--keyring=DIR` and `--kek-file PATH` (before a
    /// `--`), having set `SIGHTLINE_KEYRING` / `SIGHTLINE_KEK_FILE`; nil when one has no value.
    package static func extract(_ arguments: [String]) -> [String]? {
        var rest: [String] = []
        var i = 0
        scan: while i < arguments.count {
            let a = arguments[i]
            if a == "--" { rest += arguments[i...]; break }
            for (option, variable) in options {
                if a == option {
                    guard i + 1 < arguments.count, !arguments[i + 1].isEmpty else { return nil }
                    setenv(variable, arguments[i + 1], 1)
                    i += 2
                    continue scan
                }
                if a.hasPrefix(option + "=") {
                    let value = String(a.dropFirst(option.count + 1))
                    guard !value.isEmpty else { return nil }
                    setenv(variable, value, 1)
                    i += 1
                    continue scan
                }
            }
            rest.append(a)
            i += 1
        }
        return rest
    }
}
