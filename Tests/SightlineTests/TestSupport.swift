import Synchronization
import Foundation
import Testing
@_spi(Benchmarks) @testable import Sightline

let testSecret = PlateKeySecret(k0: 0x0706_0504_0302_0100, k1: 0x0F0E_0D0C_0B0A_0908)
let testHasher = PlateHasher(secret: testSecret)

/// Sorts sightings the way a segment stores them, so decoded rows can be compared with input.
func segmentOrder(_ rows: [Sighting], hasher: PlateHasher = testHasher) -> [Sighting] {
    rows.sorted { a, b in
        let ka = hasher.key(a.plate), kb = hasher.key(b.plate)
        if ka != kb { return ka < kb }
        if a.plate.low != b.plate.low { return a.plate.low < b.plate.low }
        let ha = UInt32(a.plate.high) | UInt32(a.plate.count) << 16, hb = UInt32(b.plate.high) | UInt32(b.plate.count) << 16
        if ha != hb { return ha < hb }
        if a.time != b.time { return a.time < b.time }
        return a.camera < b.camera
    }
}

/// Compares as multisets, tolerant of the order of rows equal in (plate, time, camera).
func sameRows(_ a: [Sighting], _ b: [Sighting]) -> Bool {
    a.count == b.count && Dictionary(a.map { ($0, 1) }, uniquingKeysWith: +) == Dictionary(b.map { ($0, 1) }, uniquingKeysWith: +)
}

func roundTrip(_ batch: SightingBatch, options: SegmentOptions = SegmentOptions()) throws -> [Sighting] {
    let bytes = try SegmentEncoder(hasher: testHasher, options: options).encode(batch)
    return try SegmentReader(bytes: bytes, hasher: testHasher).allSightings()
}

/// Runs `body(i)` for i in 0..<count, each on its own thread, and waits for all; returns the
/// errors thrown.
func runOnThreads(_ count: Int, _ body: @escaping @Sendable (Int) throws -> Void) -> [String] {
    let errors = Mutex<[String]>([])
    let group = DispatchGroup()
    for i in 0..<count {
        group.enter()
        Thread.detachNewThread {
            do { try body(i) } catch { errors.withLock { $0.append("\(error)") } }
            group.leave()
        }
    }
    group.wait()
    return errors.withLock { $0 }
}
