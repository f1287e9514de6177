import Testing
import Glibc
@_spi(Benchmarks) @testable import Sightline
import SightlineTestSupport
@testable import SightlineWorkload

/// Real crashes: a child process appends to a write-ahead log and is killed with SIGKILL at
/// random moments; after every kill, every batch it acknowledged must be in the log, intact,
/// exactly once, in sequence — and the next child must recover the log and go on.
///
/// `SIGHTLINE_SOAK_KILLS=N` raises the number of kills of each test (Scripts/crash-soak.sh).
@Suite struct CrashTests {
    static func kills(_ defaultCount: Int) -> Int {
        guard let text = getenv("SIGHTLINE_SOAK_KILLS"), let n = Int(String(cString: text)), n > 0 else { return defaultCount }
        return n
    }

    /// The crash writer built next to the test bundle.
    static var writerPath: String {
        let bundle = CommandLine.arguments[0]
        let dir = bundle.contains("/") ? String(bundle[..<bundle.lastIndex(of: "/")!]) : "."
        return "\(dir)/sightline-crash-writer"
    }

    /// Runs the writer on `log` for about `milliseconds`, kills it, returns the sequences it
    /// acknowledged (complete lines only).
    static func runAndKill(log: String, milliseconds: Int) throws -> [UInt64] {
        try runAndKill(arguments: ["log", log], milliseconds: milliseconds)
    }

    static func runAndKill(arguments: [String], milliseconds: Int) throws -> [UInt64] {
        let child = try ChildProcess(writerPath, arguments)
        usleep(UInt32(milliseconds * 1000))
        let text = child.kill9()
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false).dropLast()  // the last piece is incomplete or empty
        return lines.compactMap { line in line.hasPrefix("ACK ") ? UInt64(line.dropFirst(4)) : nil }
    }

    @Test func everyAcknowledgedBatchSurvivesSIGKILL() throws {
        #expect(access(Self.writerPath, X_OK) == 0, "crash writer not built at \(Self.writerPath)")
        let dir = temporaryDirectory("crash")
        defer { removeTree(dir) }
        let log = "\(dir)/crash.log"
        var g = SplitMix64(seed: UInt64(getpid()))
        var acknowledged = Set<UInt64>()
        var kills = 0
        let rounds = Self.kills(25)
        for round in 0..<rounds {
            let acks = try Self.runAndKill(log: log, milliseconds: 2 + Int(g.next() % 100))
            kills += 1
            acknowledged.formUnion(acks)
            // Killed before it even created the log: correct only if it acknowledged nothing.
            guard access(log, F_OK) == 0 else {
                #expect(acknowledged.isEmpty, "round \(round): \(acknowledged.count) batches acknowledged but no log")
                continue
            }
            let records = try CrashWriterEntryPoints.records(path: log)
            let sequences = records.map(\.0)
            #expect(sequences == Array(0..<UInt64(records.count)), "round \(round): sequences not contiguous")
            for s in acknowledged {
                guard s < UInt64(records.count) else {
                    Issue.record("round \(round): acknowledged sequence \(s) missing (log holds \(records.count))")
                    continue
                }
                #expect(records[Int(s)].1 == CrashWriterEntryPoints.batch(for: s), "round \(round): record \(s) differs")
            }
        }
        #expect(kills == rounds)
        // Under load a child may be killed before it starts; the runs as a whole must still
        // have done real work, or the checks above checked nothing.
        #expect(acknowledged.count >= rounds / 5, "the writer acknowledged only \(acknowledged.count) batches in \(rounds) runs")
    }

    /// The same for a whole store: kills land in appends, flushes (segment and manifest
    /// writes) and log rotation. After each kill the store reopens — repairing what the kill
    /// left — and holds every acknowledged row exactly once.
    @Test func everyAcknowledgedRowSurvivesSIGKILLOfAStoreWriter() throws {
        let dir = temporaryDirectory("crash-store")
        defer { removeTree(dir) }
        var g = SplitMix64(seed: UInt64(getpid()) &+ 1)
        var acknowledged: [UInt64] = []
        var options = StoreOptions()
        options.secret = CrashWriterEntryPoints.testSecret
        let rounds = Self.kills(20)
        for round in 0..<rounds {
            let first = UInt64(round) * 1_000_000
            let acks = try Self.runAndKill(arguments: ["store", dir, String(first)], milliseconds: 5 + Int(g.next() % 120))
            acknowledged += acks
            let store = try Store(directory: dir, options: options)
            let got = keys(try store.snapshot().allSightings())
            var missing = 0
            for n in acknowledged {
                for s in CrashWriterEntryPoints.batch(for: n).sightings where got[RowKey(plate: s.plate, time: s.time, camera: s.camera)] != 1 { missing += 1 }
            }
            #expect(missing == 0, "round \(round): \(missing) acknowledged rows missing or duplicated")
            #expect(got.values.allSatisfy { $0 == 1 }, "round \(round): a row is stored twice")
        }
        #expect(acknowledged.count >= rounds / 2, "only \(acknowledged.count) batches acknowledged in \(rounds) runs")
    }
}
