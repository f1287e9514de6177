import ArgumentParser
import Sightline

/// Options shared by the commands that write to a store.
struct StoreArguments: ParsableArguments {
    @Option(help: "Rows buffered before a segment is written.") var bufferRows = 2_000_000
    @Option(help: "every-batch, periodic or none (see Docs/format.md).") var durability = "every-batch"

    /// The library options these arguments describe.
    func storeOptions() throws -> StoreOptions {
        var options = StoreOptions()
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
