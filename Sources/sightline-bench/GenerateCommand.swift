import ArgumentParser
import Foundation
import Sightline
import SightlineCommandLine
import SightlineWorkload

/// Writes generated sightings as CSV or NDJSON (or appends them to a store), streaming.
struct GenerateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "generate",
        abstract: "Generate ALPR-like sightings (a live feed) or dense tracks, deterministically for a seed.")

    @Option(help: "Sightings to generate.") var rows = 1_000_000
    @Option(help: "Seed.") var seed: UInt64 = 1
    @Option(help: "alpr (a city's live feed: one day of reads per batch, batches an hour apart) or tracks.") var mode = "alpr"
    @Option(help: "csv or ndjson.") var format = "csv"
    @Option(name: .shortAndLong, help: "Output file (default: standard output).") var output: String?
    @Option(help: "Append to this store instead of writing text.") var store: String?
    @Option(help: "Rows per generated batch.") var batchRows = 100_000

    func run() throws {
        guard ["alpr", "tracks"].contains(mode) else { throw ValidationError("--mode is alpr or tracks") }
        guard ["csv", "ndjson"].contains(format) else { throw ValidationError("--format is csv or ndjson") }
        let target: Store? = try store.map { path in
            var options = cliStoreOptions()
            options.controlChannel = true  // `sightline compact|purge|flush|stats` reach this process
            do { return try Store(directory: path, options: options) } catch { throw CommandFailure(error) }
        }
        var handle: Foundation.FileHandle = .standardOutput
        if let output {
            guard FileManager.default.createFile(atPath: output, contents: nil) else { throw ValidationError("cannot create \(output)") }
            handle = try Foundation.FileHandle(forWritingTo: URL(fileURLWithPath: output))
        }
        if target == nil && format == "csv" { handle.write(Data("plate,time,lat,lon,camera,confidence,region\n".utf8)) }
        var done = 0, batchNumber: UInt64 = 0
        var progress = TerminalProgress(enabled: isatty(2) != 0)
        while done < rows {
            let n = min(batchRows, rows - done)
            let batch: SightingBatch
            if mode == "alpr" {
                batch = ALPRWorkload.liveFeedBatch(number: batchNumber, rows: n, seed: seed)
            } else {
                var c = DenseTrackWorkload.Configuration()
                c.seed = seed &+ batchNumber
                batch = DenseTrackWorkload(c).generate(rows: n)
            }
            if let target {
                do { try target.append(batch) } catch { throw CommandFailure(error) }
            } else {
                handle.write(Data(Self.text(batch, csv: format == "csv").utf8))
            }
            done += n
            batchNumber += 1
            progress.update(rows: done, bytes: 0, total: rows)
        }
        progress.finish()
        if let target { do { try target.flush(); try target.close() } catch { throw CommandFailure(error) } }
        if output != nil { try handle.close() }
    }

    static func coordinate(_ e7: Int32) -> String {
        let m = abs(Int64(e7))
        let fraction = String(m % 10_000_000)
        return "\(e7 < 0 ? "-" : "")\(m / 10_000_000).\(String(repeating: "0", count: 7 - fraction.count))\(fraction)"
    }

    static func text(_ batch: SightingBatch, csv: Bool) -> String {
        var out = ""
        out.reserveCapacity(batch.count * 64)
        for i in 0..<batch.count {
            let region = Region(code: batch.regionCodes[i]).map { "\($0)" } ?? ""
            if csv {
                out += "\(batch.plates[i]),\(batch.times[i]),\(coordinate(batch.latitudesE7[i])),\(coordinate(batch.longitudesE7[i])),\(batch.cameras[i]),\(batch.confidences[i]),\(region)\n"
            } else {
                out += "{\"plate\":\"\(batch.plates[i])\",\"time\":\(batch.times[i]),\"lat\":\(coordinate(batch.latitudesE7[i])),\"lon\":\(coordinate(batch.longitudesE7[i])),\"camera\":\(batch.cameras[i]),\"confidence\":\(batch.confidences[i])"
                out += region.isEmpty ? "}\n" : ",\"region\":\"\(region)\"}\n"
            }
        }
        return out
    }
}
