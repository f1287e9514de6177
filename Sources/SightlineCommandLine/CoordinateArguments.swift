/// Southern latitudes, western longitudes and times before 1970 start with a minus sign, which
/// ArgumentParser takes for a flag: `--bbox -33.9,151.1,-33.8,151.3` failed with "Missing value
/// for '--bbox <bbox>'". No option of ours is named with a digit, so an argument that starts with
/// `-` and then a digit or a point is a value, never an option: when it follows an option written
/// without `=`, it is joined to it (`--bbox=-33.9,…`), which ArgumentParser parses as a value.
package enum CoordinateArguments {
    package static func protect(_ arguments: [String]) -> [String] {
        var result: [String] = []
        result.reserveCapacity(arguments.count)
        var terminated = false
        for argument in arguments {
            if !terminated, isNegativeNumber(argument), let previous = result.last, isOptionName(previous) {
                result[result.count - 1] = previous + "=" + argument
                continue
            }
            if argument == "--" { terminated = true }
            result.append(argument)
        }
        return result
    }

    static func isNegativeNumber(_ argument: String) -> Bool {
        let utf8 = argument.utf8
        guard utf8.count >= 2, utf8.first == UInt8(ascii: "-") else { return false }
        let second = utf8[utf8.index(after: utf8.startIndex)]
        return (second >= UInt8(ascii: "0") && second <= UInt8(ascii: "9")) || second == UInt8(ascii: ".")
    }

    /// `--name` (no `=value`) or `-x`: an option that may be waiting for its value.
    static func isOptionName(_ argument: String) -> Bool {
        guard !argument.contains("="), argument != "--", !isNegativeNumber(argument) else { return false }
        if argument.hasPrefix("--") { return argument.count > 2 }
        return argument.hasPrefix("-") && argument.count == 2
    }
}
