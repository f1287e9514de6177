import ArgumentParser
import Foundation
@_spi(Benchmarks) import Sightline
import SightlineCommandLine

/// Prints a segment's structure and checks every checksum.
struct InspectCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "inspect",
        abstract: "Show a segment file's blocks and statistics, and verify every checksum."
    )

    @Argument(help: "Segment file.") var file: String
    @Option(help: "The plate key secret (32 hex digits); default: the store's (its keyring entry, or plate-key.secret beside the file). A sealed segment's data key comes from the keyring.") var secret: String?
    @Flag(help: "List every block.") var blocks = false

    func run() throws {
        do {
            // The store the file is in gives the secret (and a sealed segment's data key); a
            // segment outside any store needs --secret.
            let given = try secret.map { try PlateKeySecret(hex: $0) }
            let reader: SegmentReader
            do {
                reader = try SegmentReader(storeSegment: file, secret: given, secretSource: environmentSecretSource())
            } catch SightlineError.invalidArgument(let why) {
                guard let given else { throw SightlineError.invalidArgument("\(why); give --secret for a segment outside a store") }
                reader = try SegmentReader(path: file, hasher: PlateHasher(secret: given))
            }
            print("\(file): segment v\(reader.formatVersion), \(reader.rowCount) rows in \(reader.blockCount) blocks (≤ \(reader.blockRowLimit) rows each), \(reader.fileSize) bytes")
            if reader.rowCount > 0 {
                let s = reader.statistics
                print("  time \(s.minTime) ... \(s.maxTime) ms; plate keys \(hex(s.minPlateKey)) ... \(hex(s.maxPlateKey))")
                print("  bounds lat \(s.bounds.minLatitudeE7) ... \(s.bounds.maxLatitudeE7), lon \(s.bounds.minLongitudeE7) ... \(s.bounds.maxLongitudeE7) (1e-7 degree)")
            }
            let decoder = BlockDecoder()
            for b in 0..<reader.blockCount {
                try decoder.decode(reader, block: b, columns: .all)
                if blocks {
                    let s = reader.blockStatistics(b)
                    print("  block \(b): \(s.rowCount) rows, time \(s.minTime)...\(s.maxTime), keys \(hex(s.minPlateKey))...\(hex(s.maxPlateKey))")
                }
            }
            print("  verified: every block decodes and every checksum matches")
        } catch {
            throw CommandFailure(error)
        }
    }

    private func hex(_ v: UInt64) -> String {
        let s = String(v, radix: 16)
        return String(repeating: "0", count: 16 - s.count) + s
    }
}
