import ArgumentParser
import Foundation
@_spi(Benchmarks) import Sightline
import SightlineCommandLine
import SightlineWorkload

/// The main job on a built-in sample: generate ALPR-like sightings, write them as segments,
/// verify them, and answer a plate history from the segments, with timings.
struct SampleCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sample",
        abstract: "Generate sample sightings, write segments, read them back and look up a plate."
    )

    @Option(help: "Directory for the segment files (created; emptied of old segments).") var directory = "sample-store"
    @Option(help: "Sightings to generate.") var rows: Int = 2_000_000
    @Option(help: "Rows per segment file.") var segmentRows: Int = 500_000
    @Option(help: "Plate to look up (default: the busiest plate of the sample).") var plate: String?

    func run() throws {
        do {
            try sample()
        } catch {
            throw CommandFailure(error)
        }
    }

    func sample() throws {
        let clock = ContinuousClock()
        let fs = PosixFileSystem()
        try fs.createDirectory(directory)
        for name in try fs.contentsOfDirectory(directory) where name.hasSuffix(".sls") {
            try fs.remove("\(directory)/\(name)")
        }
        let secret = PlateKeySecret.random()
        let hasher = PlateHasher(secret: secret)
        // The secret stays with the data (the store will keep it in its directory); without
        // it the segments' plate keys cannot be recomputed.
        try fs.writeAtomically("\(directory)/plate-key.secret") { (write: (UnsafeRawBufferPointer) throws(SightlineError) -> Void) throws(SightlineError) in
            let text = Array((secret.hex + "\n").utf8)
            let result: Result<Void, SightlineError> = text.withUnsafeBytes { raw in Result { () throws(SightlineError) in try write(raw) } }
            try result.get()
        }

        var t0 = clock.now
        let batch = ALPRWorkload().generate(rows: rows)
        print("generated   \(batch.count) ALPR-like sightings (30 days, 2,000 fixed cameras, 200 mobile readers) in \(String(format: "%.2f", seconds(clock.now - t0))) s")

        // Write segments of `segmentRows`, each sorted by plate key.
        t0 = clock.now
        let writer = try SegmentWriter(hasher: hasher)
        var paths: [String] = []
        var totalBytes = 0
        var start = 0
        var part = SightingBatch(capacity: segmentRows)
        while start < batch.count {
            part.removeAll()
            for i in start..<min(batch.count, start + segmentRows) { part.append(batch[i]) }
            let path = "\(directory)/\(String(format: "%06d", paths.count)).sls"
            totalBytes += try writer.write(part, to: path).fileBytes
            paths.append(path)
            start += segmentRows
        }
        let writeTime = clock.now - t0
        print("wrote       \(paths.count) segments, \(formatBytes(totalBytes)) = \(String(format: "%.2f", Double(totalBytes) / Double(batch.count))) bytes/sighting, at \(formatRate(batch.count, writeTime)) (fsynced)")

        // Open and verify every block of every segment.
        t0 = clock.now
        let readers = try paths.map { path throws(SightlineError) in try SegmentReader(path: path, hasher: hasher) }
        let decoder = BlockDecoder()
        var verified = 0
        for r in readers {
            for b in 0..<r.blockCount {
                try decoder.decode(r, block: b, columns: .all)
                verified += decoder.rowCount
            }
        }
        print("verified    \(verified) rows, every checksum, at \(formatRate(verified, clock.now - t0))")

        // A plate history: only blocks whose key range holds the plate's key are decoded.
        let target: Plate
        if let plate { target = try Plate(plate) } else {
            var counts: [Plate: Int] = [:]
            for p in batch.plates { counts[p, default: 0] += 1 }
            target = counts.max { $0.value < $1.value || ($0.value == $1.value && $0.key > $1.key) }!.key
        }
        t0 = clock.now
        let key = hasher.key(target)
        var history: [Sighting] = []
        var blocksRead = 0
        for r in readers where r.rowCount > 0 && r.statistics.minPlateKey <= key && key <= r.statistics.maxPlateKey {
            for b in 0..<r.blockCount {
                let s = r.blockStatistics(b)
                guard s.minPlateKey <= key && key <= s.maxPlateKey else { continue }
                try decoder.decode(r, block: b, columns: .all)
                blocksRead += 1
                var row = 0
                for run in 0..<decoder.runPlates.count {
                    let n = Int(decoder.runLengths[run])
                    if decoder.runKeys[run] == key && decoder.runPlates[run] == target {
                        history += try decoder.sightings()[row..<(row + n)]
                    }
                    row += n
                }
            }
        }
        history.sort { ($0.time, $0.camera) < ($1.time, $1.camera) }
        let lookup = clock.now - t0
        print("history     \(target): \(history.count) sightings from \(blocksRead) blocks in \(String(format: "%.2f", seconds(lookup) * 1000)) ms (block key ranges only; plate index comes with the store)")
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        print("  time                      lat          lon           camera  confidence  region")
        for s in history.prefix(10) {
            let time = formatter.string(from: Date(timeIntervalSince1970: Double(s.time) / 1000))
            print("  \(time)  \(String(format: "%11.7f  %12.7f  %6d  %10d", s.latitude, s.longitude, s.camera, s.confidence))  \(s.region?.text ?? "")")
        }
        if history.count > 10 { print("  … \(history.count - 10) more") }
    }
}
