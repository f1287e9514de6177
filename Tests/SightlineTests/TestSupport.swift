import Synchronization
import Foundation
import Testing
import Logging
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

/// Log entries a store wrote, kept for the test to assert on. Every store a test opens logs
/// here (not to the console), so `swift test` prints test results only; tests that expect
/// an error or a repair check that it was logged.
final class CapturedLog: @unchecked Sendable {
    private let lock = Locked<[(Logger.Level, String)]>([])
    var entries: [(Logger.Level, String)] { lock.withLock { $0 } }
    func add(_ level: Logger.Level, _ message: String) { lock.withLock { $0.append((level, message)) } }

    var logger: Logger {
        Logger(label: "test") { _ in Handler(log: self) }
    }

    struct Handler: LogHandler {
        let log: CapturedLog
        var metadata: Logger.Metadata = [:]
        var logLevel: Logger.Level = .trace
        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { metadata[key] }
            set { metadata[key] = newValue }
        }
        func log(event: LogEvent) { log.add(event.level, "\(event.message)") }
    }
}

extension CapturedLog {
    /// Entries at `level`.
    func messages(_ level: Logger.Level) -> [String] { entries.filter { $0.0 == level }.map(\.1) }
}

/// The keyring of this test process (and of the processes it starts, through
/// `SIGHTLINE_KEYRING`): tests never touch the user's own keyring.
let testKeyring: Keyring = {
    let directory = "/tmp/sightline-tests-\(getpid())-keyring"
    setenv("SIGHTLINE_KEYRING", directory, 1)
    return Keyring(directory: directory)
}()

/// Store options that log into a fresh `CapturedLog` (or `log`) and keep keys in the test
/// keyring, with no other change (the defaults: reads state a purpose).
func quietStoreOptions(log: CapturedLog = CapturedLog()) -> StoreOptions {
    var o = StoreOptions()
    o.keyring = testKeyring
    o.logger = log.logger
    return o
}

/// The options most store tests use: small blocks, the test secret, captured logs.
func storeOptions(bufferRows: Int = 1_000_000, durability: Durability = .everyBatch, log: CapturedLog = CapturedLog()) -> StoreOptions {
    var o = quietStoreOptions(log: log)
    // Engine tests read without stating a purpose: an explicit opt-out of the default
    // (AccessTests and KeyringTests test the defaults themselves).
    o.newStoreAccess = .none
    o.bufferRows = bufferRows
    o.durability = durability
    o.secret = testSecret
    o.segment = SegmentOptions(blockRows: 256)
    return o
}


/// The seed of a randomized test that is not fixed: `SIGHTLINE_TEST_SEED` when set (to
/// replay a failure), else a fresh random one. Name it in every failure message.
func testSeed() -> UInt64 {
    if let text = getenv("SIGHTLINE_TEST_SEED"), let seed = UInt64(String(cString: text)) { return seed }
    return UInt64.random(in: 0...UInt64.max)
}

/// Prints a measured figure (a distribution, a count of fsyncs) only when
/// `SIGHTLINE_TEST_VERBOSE` is set: by default `swift test` prints test results only.
func report(_ line: String) {
    if getenv("SIGHTLINE_TEST_VERBOSE") != nil { print(line) }
}
