import Foundation

/// `--keyring DIR`, which every command of both tools takes: where stores keep their key
/// material, outside their directories. Taken out of the arguments before they are parsed
/// and passed on as `SIGHTLINE_KEYRING`, which the library's default keyring
/// (`Keyring.standard`) reads — so a command, the stores it opens and the processes it
/// starts all use the same keyring.
package enum KeyringArgument {
    /// What `--help` says about it.
    package static let help = """
        Every command takes --keyring DIR (or SIGHTLINE_KEYRING=DIR): the keyring that holds \
        the stores' key material, outside them (default: ~/.local/share/sightline/keyring, \
        created 0700). A store made before keyrings opens as before.
        """

    /// `arguments` without `--keyring DIR` / `--keyring=DIR` (before a `--`), having set
    /// `SIGHTLINE_KEYRING`; nil when `--keyring` has no value.
    package static func extract(_ arguments: [String]) -> [String]? {
        var rest: [String] = []
        var i = 0
        while i < arguments.count {
            let a = arguments[i]
            if a == "--" { rest += arguments[i...]; break }
            if a == "--keyring" {
                guard i + 1 < arguments.count, !arguments[i + 1].isEmpty else { return nil }
                setenv("SIGHTLINE_KEYRING", arguments[i + 1], 1)
                i += 2
                continue
            }
            if a.hasPrefix("--keyring=") {
                let value = String(a.dropFirst("--keyring=".count))
                guard !value.isEmpty else { return nil }
                setenv("SIGHTLINE_KEYRING", value, 1)
                i += 1
                continue
            }
            rest.append(a)
            i += 1
        }
        return rest
    }
}
