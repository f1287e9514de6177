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
    static func runAndKill(log: String, milliseconds: Int) throws -> (acknowledged: [UInt64], killedRunning: Bool) {
        try runAndKill(arguments: ["log", log], milliseconds: milliseconds)
    }

    /// The writer is given `milliseconds` to work, then SIGKILLed (a deliberate wait: the
    /// kill must land at a random moment of its work). `killedRunning` is false when it had
    /// exited by itself — a writer that fails instead of writing until killed.
    static func runAndKill(arguments: [String], milliseconds: Int) throws -> (acknowledged: [UInt64], killedRunning: Bool) {
        let child = try ChildProcess(writerPath, arguments)
        usleep(UInt32(milliseconds * 1000))
        let (text, killedRunning) = child.kill9WithStatus()
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false).dropLast()  // the last piece is incomplete or empty
        return (lines.compactMap { line in line.hasPrefix("ACK ") ? UInt64(line.dropFirst(4)) : nil }, killedRunning)
    }

    @Test func everyAcknowledgedBatchSurvivesSIGKILL() throws {
        #expect(access(Self.writerPath, X_OK) == 0, "crash writer not built at \(Self.writerPath)")
        let dir = temporaryDirectory("crash")
        defer { removeTree(dir) }
        let log = "\(dir)/crash.log"
        let seed = testSeed()
        var g = SplitMix64(seed: seed)
        var acknowledged = Set<UInt64>()
        let rounds = Self.kills(25)
        for round in 0..<rounds {
            let (acks, killedRunning) = try Self.runAndKill(log: log, milliseconds: 2 + Int(g.next() % 100))
            // Each writer must still be writing when killed: one that exited had failed.
            #expect(killedRunning, "round \(round) (SIGHTLINE_TEST_SEED=\(seed)): the writer exited before the kill")
            acknowledged.formUnion(acks)
            // Killed before it even created the log: correct only if it acknowledged nothing.
            guard access(log, F_OK) == 0 else {
                #expect(acknowledged.isEmpty, "round \(round) (SIGHTLINE_TEST_SEED=\(seed)): \(acknowledged.count) batches acknowledged but no log")
                continue
            }
            let records = try CrashWriterEntryPoints.records(path: log)
            let sequences = records.map(\.0)
            #expect(sequences == Array(0..<UInt64(records.count)), "round \(round) (SIGHTLINE_TEST_SEED=\(seed)): sequences not contiguous")
            for s in acknowledged {
                guard s < UInt64(records.count) else {
                    Issue.record("round \(round) (SIGHTLINE_TEST_SEED=\(seed)): acknowledged sequence \(s) missing (log holds \(records.count))")
                    continue
                }
                #expect(records[Int(s)].1 == CrashWriterEntryPoints.batch(for: s), "round \(round) (SIGHTLINE_TEST_SEED=\(seed)): record \(s) differs")
            }
        }
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
        let seed = testSeed()
        var g = SplitMix64(seed: seed)
        var acknowledged: [UInt64] = []
        var options = quietStoreOptions()
        options.newStoreAccess = .none  // as the writer makes it (it may be killed before it does, and this open makes it)
        options.secret = CrashWriterEntryPoints.testSecret
        let rounds = Self.kills(20)
        for round in 0..<rounds {
            let first = UInt64(round) * 1_000_000
            let (acks, killedRunning) = try Self.runAndKill(arguments: ["store", dir, String(first)], milliseconds: 5 + Int(g.next() % 120))
            #expect(killedRunning, "round \(round) (SIGHTLINE_TEST_SEED=\(seed)): the writer exited before the kill")
            acknowledged += acks
            let store = try Store(directory: dir, options: options)
            let got = keys(try store.snapshot().allSightings())
            var missing = 0
            for n in acknowledged {
                for s in CrashWriterEntryPoints.batch(for: n).sightings where got[RowKey(plate: s.plate, time: s.time, camera: s.camera)] != 1 { missing += 1 }
            }
            #expect(missing == 0, "round \(round) (SIGHTLINE_TEST_SEED=\(seed)): \(missing) acknowledged rows missing or duplicated")
            #expect(got.values.allSatisfy { $0 == 1 }, "round \(round) (SIGHTLINE_TEST_SEED=\(seed)): a row is stored twice")
            try store.close()  // releases the lock for the next writer at once
        }
        #expect(acknowledged.count >= rounds / 2, "only \(acknowledged.count) batches acknowledged in \(rounds) runs")
    }

    /// SIGKILL while rows and their alerts are being written (a world geofence: every stored
    /// row raises one alert). After each reopen the alert log holds exactly one alert per
    /// stored row — every acknowledged row's included — none for a row not stored, and its
    /// sequences run 1, 2, 3… without a gap.
    @Test func everyStoredRowHasExactlyOneAlertAfterSIGKILL() throws {
        let dir = temporaryDirectory("crash-alerts")
        defer { removeTree(dir) }
        let seed = testSeed()
        var g = SplitMix64(seed: seed)
        var acknowledged: [UInt64] = []
        let log = CapturedLog()
        var options = quietStoreOptions(log: log)
        options.newStoreAccess = .none  // as the writer makes it (it may be killed before it does, and this open makes it)
        options.secret = CrashWriterEntryPoints.testSecret
        let rounds = Self.kills(20)
        for round in 0..<rounds {
            let first = UInt64(round) * 1_000_000
            let (acks, _) = try Self.runAndKill(arguments: ["alerts", dir, String(first)], milliseconds: 5 + Int(g.next() % 120))
            acknowledged += acks
            let store = try Store(directory: dir, options: options)
            let got = keys(try store.snapshot().allSightings())
            let alerts = try store.alerts()
            #expect(alerts.map(\.sequence) == Array(stride(from: UInt64(1), through: UInt64(alerts.count), by: 1)),
                    "round \(round) (SIGHTLINE_TEST_SEED=\(seed)): alert sequences have a gap")
            var alerted: [RowKey: Int] = [:]
            for a in alerts { alerted[RowKey(plate: a.sighting.plate, time: a.sighting.time, camera: a.sighting.camera), default: 0] += 1 }
            #expect(alerted.count == got.count && alerted.allSatisfy { got[$0.key] != nil && $0.value == 1 },
                    "round \(round) (SIGHTLINE_TEST_SEED=\(seed)): \(alerts.count) alerts for \(got.count) stored rows")
            var missing = 0
            for n in acknowledged {
                for s in CrashWriterEntryPoints.batch(for: n).sightings where alerted[RowKey(plate: s.plate, time: s.time, camera: s.camera)] != 1 { missing += 1 }
            }
            #expect(missing == 0, "round \(round) (SIGHTLINE_TEST_SEED=\(seed)): \(missing) acknowledged rows without exactly one alert")
            try store.close()
        }
        #expect(acknowledged.count >= rounds / 2, "only \(acknowledged.count) batches acknowledged in \(rounds) runs")
        report("alert crash test: \(log.messages(.notice).filter { $0.contains("recovered alerts") }.count) of \(rounds) reopens recovered alerts")
    }

    /// SIGKILL of two processes reading one store, each read audited: after each kill the
    /// log's chain is whole, its sequences have no gap, and every read whose answer was
    /// acknowledged has exactly one record (no acknowledged answer without its record).
    @Test func everyAcknowledgedReadHasItsAuditRecordAfterSIGKILL() throws {
        let dir = temporaryDirectory("crash-audit")
        defer { removeTree(dir) }
        let seed = testSeed()
        var g = SplitMix64(seed: seed)
        var options = quietStoreOptions()
        options.newStoreAccess = .none  // as the writer makes it (it may be killed before it does, and this open makes it)
        options.secret = CrashWriterEntryPoints.testSecret
        let store = try Store(directory: dir, options: options)
        try store.append(CrashWriterEntryPoints.batch(for: 0))
        try store.close()
        var acknowledged: [String: Set<UInt64>] = ["A": [], "B": []]
        let rounds = Self.kills(12)
        for round in 0..<rounds {
            let first = String(UInt64(round) * 1_000_000)
            let a = try ChildProcess(Self.writerPath, ["read", dir, "A", first])
            let b = try ChildProcess(Self.writerPath, ["read", dir, "B", first])
            usleep(UInt32((5 + Int(g.next() % 150)) * 1000))
            for (who, child) in [("A", a), ("B", b)] {
                let (text, _) = child.kill9WithStatus()
                for line in text.split(separator: "\n", omittingEmptySubsequences: false).dropLast() where line.hasPrefix("ACK ") {
                    if let n = UInt64(line.dropFirst(4)) { acknowledged[who]!.insert(n) }
                }
            }
            let verification = try AuditLog.verify(directory: dir)
            #expect(verification.isSound, "round \(round) (SIGHTLINE_TEST_SEED=\(seed)): \(verification.problem ?? "")")
            let records = try AuditLog.records(directory: dir)
            #expect(records.map(\.sequence) == Array(stride(from: UInt64(1), through: UInt64(records.count), by: 1)))
            var recorded: [String: [UInt64: Int]] = [:]
            for r in records where r.operation == "query" && r.outcome == .answered {
                if let n = UInt64(r.access.purpose.dropFirst(5)) { recorded[r.access.requester, default: [:]][n, default: 0] += 1 }
            }
            for (who, reads) in acknowledged {
                let missing = reads.filter { recorded[who]?[$0] != 1 }
                #expect(missing.isEmpty, "round \(round) (SIGHTLINE_TEST_SEED=\(seed)): \(who)'s acknowledged reads \(missing.sorted().prefix(5)) have no single record")
            }
            #expect(recorded.values.allSatisfy { $0.values.allSatisfy { $0 == 1 } }, "a read recorded twice")
        }
        let total = acknowledged.values.reduce(0) { $0 + $1.count }
        #expect(total >= rounds, "only \(total) reads acknowledged in \(rounds) rounds")
    }
}
