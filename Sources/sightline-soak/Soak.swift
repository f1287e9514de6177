import Foundation
import Logging
import Sightline
import SightlineTestSupport
import SightlineWorkload

/// One soak run: a writer process driven through `SoakWriter`'s commands and SIGKILLed at
/// random, an in-process reader and read-only CLI processes querying all the while, every
/// answer checked against `SoakOracle`; a full check after every restart and at the end,
/// then the files themselves: segments and logs hold nothing purged or expired, `verify`
/// passes, the audit chain verifies, every stored hotlisted row raised an alert.
final class Soak: @unchecked Sendable {
    let directory: String, minutes: Double, seed: UInt64, cli: String, soakBinary: String
    let oracle = SoakOracle()
    let origin: Int64
    let access = AccessContext(requester: "soak-reader", agency: "SOAK", purpose: "chaos soak check")

    private let lock = NSLock()
    private var writer: Process?
    private var writerIn: FileHandle?
    private var writerOut: LineReader?
    private var running = true
    private var violations: [String] = []
    private var counts: [String: Int] = [:]

    init(directory: String, minutes: Double, seed: UInt64, cli: String, soakBinary: String) {
        self.directory = directory
        self.minutes = minutes
        self.seed = seed
        self.cli = cli
        self.soakBinary = soakBinary
        origin = StoreOptions.systemTime() - 30_000
    }

    func count(_ what: String, _ n: Int = 1) { lock.lock(); counts[what, default: 0] += n; lock.unlock() }
    /// A counter's value; under the lock, as the reader threads insert keys (and so
    /// reallocate the dictionary) while the main thread reads.
    func counted(_ what: String) -> Int { lock.lock(); defer { lock.unlock() }; return counts[what] ?? 0 }
    var isRunning: Bool { lock.lock(); defer { lock.unlock() }; return running && violations.isEmpty }
    var hasViolations: Bool { lock.lock(); defer { lock.unlock() }; return !violations.isEmpty }

    func violation(_ message: String) {
        lock.lock(); violations.append(message); lock.unlock()
        FileHandle.standardError.write(Data("VIOLATION: \(message)\n".utf8))
    }

    // MARK: the run

    func run() -> Bool {
        signal(SIGPIPE, SIG_IGN)
        try? FileManager.default.removeItem(atPath: directory)
        let started = Date()
        let deadline = started.addingTimeInterval(minutes * 60)
        guard startWriter() else { violation("the first writer did not start"); return report(started) }
        let done = DispatchGroup()
        let threads: [@Sendable () -> Void] = [{ self.killer() }, { self.inProcessReader() }, { self.cliReader() }]
        for body in threads {
            done.enter()
            Thread.detachNewThread { body(); done.leave() }
        }
        var n = 0
        let pace = Double(SoakWorkload.batchMilliseconds) / 1000
        while Date() < deadline && isRunning {
            let due = started.addingTimeInterval(Double(n) * pace)
            if due > Date() { Thread.sleep(until: due) }
            let rows = SoakWorkload.batch(n, seed: seed, origin: origin)
            perform(.batch(n), rows: rows, command: "B \(n)")
            count("batches"); count("rows sent", rows.count)
            if let plate = SoakWorkload.purge(after: n, seed: seed) { perform(.purge(plate), rows: [], command: "P \(plate.text)"); count("purges") }
            if SoakWorkload.compacts(after: n) { perform(.compact, rows: [], command: "C"); count("compactions") }
            n += 1
        }
        lock.lock(); running = false; lock.unlock()
        done.wait()
        stopWriter()
        finalChecks()
        return report(started)
    }

    /// Sends op until it is acknowledged, restarting the writer each time it was killed.
    private func perform(_ op: SoakOracle.Op, rows: [Sighting], command: String) {
        let j = oracle.add(op, rows: rows)
        // Until acknowledged — also after the deadline (the op is in the oracle as sent) —
        // unless a violation has ended the run.
        while !hasViolations {
            oracle.markSent(j)
            lock.lock(); let input = writerIn, output = writerOut; lock.unlock()
            var reply: String?
            if let input, let output, (try? input.write(contentsOf: Data("\(command)\n".utf8))) != nil {
                reply = output.readLine()
            }
            if reply == "OK" { oracle.markAcknowledged(j); return }
            if let reply, reply.hasPrefix("ERR") { violation("writer failed on '\(command)': \(reply)"); lock.lock(); running = false; lock.unlock(); return }
            // Killed (or dying): start a new writer, check everything, then send the op again.
            guard restartWriter() else { return }
            fullCheck("after restart \(counted("restarts"))")
        }
    }

    private func startWriter() -> Bool {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: soakBinary)
        p.arguments = ["writer", directory, String(seed), String(origin)]
        let input = Pipe(), output = Pipe()
        p.standardInput = input
        p.standardOutput = output
        do { try p.run() } catch { violation("cannot start the writer: \(error)"); return false }
        let reader = LineReader(output.fileHandleForReading.fileDescriptor)
        lock.lock(); writer = p; writerIn = input.fileHandleForWriting; writerOut = reader; lock.unlock()
        let first = reader.readLine()
        if first == "READY" { return true }
        if let first, first.hasPrefix("ERR") { violation("the writer could not open the store: \(first)") }
        return false
    }

    private func restartWriter() -> Bool {
        for _ in 0..<50 {
            lock.lock(); let old = writer; lock.unlock()
            old?.waitUntilExit()
            try? writerIn?.close()
            count("restarts")
            if startWriter() { return true }
            if hasViolations { return false }
        }
        violation("the writer did not come back after 50 starts")
        return false
    }

    private func stopWriter() {
        lock.lock(); let input = writerIn, output = writerOut, p = writer; lock.unlock()
        _ = try? input?.write(contentsOf: Data("Q\n".utf8))
        _ = output?.readLine()
        p?.waitUntilExit()
        if let p, p.terminationReason == .exit && p.terminationStatus != 0 { violation("the writer exited with \(p.terminationStatus) on close") }
    }

    /// SIGKILLs the writer at random moments: 0.3 to 5 s apart.
    private func killer() {
        var g = SplitMix64(seed: seed ^ 0x4B11)
        while isRunning {
            Thread.sleep(forTimeInterval: 0.3 + g.unit() * 4.7)
            lock.lock()
            if running, let p = writer, p.isRunning { kill(p.processIdentifier, SIGKILL); counts["kills", default: 0] += 1 }
            lock.unlock()
        }
    }

    // MARK: readers

    private func inProcessReader() {
        var g = SplitMix64(seed: seed ^ 0x5EAD)
        var options = StoreOptions()
        options.logger.logLevel = .critical
        var store: ReadOnlyStore?
        while isRunning {
            if store == nil { store = try? ReadOnlyStore(directory: directory, options: options) }
            guard let reader = store else { Thread.sleep(forTimeInterval: 0.05); continue }
            let v0 = oracle.begin()
            do {
                let snapshot = try reader.snapshot(access: access)
                switch g.next() % 20 {
                case 0..<7:
                    let (plate, time) = randomHistory(&g)
                    let rows = try snapshot.run(try Query(.history(plate), time: time)).rows
                    checkRows("history \(plate)", rows, oracle.end(v0), plate: plate, ordered: true) { $0.plate == plate && time.holds($0.time) }
                    count("checked history")
                case 7..<12:
                    let (area, time) = randomArea(&g)
                    let rows = try snapshot.run(try Query(.area(area), time: time)).rows
                    checkRows("area \(area)", rows, oracle.end(v0), plate: nil, ordered: true) { area.contains(latitudeE7: $0.latitudeE7, longitudeE7: $0.longitudeE7) && time.holds($0.time) }
                    count("checked area")
                case 12..<14:
                    let text = randomPattern(&g)
                    let pattern = try PlatePattern(text)
                    let rows = try snapshot.run(try Query(.search(pattern, within: nil))).rows
                    checkRows("search \(text)", rows, oracle.end(v0), plate: nil, ordered: true) { pattern.matches($0.plate) }
                    count("checked search")
                case 14..<17:
                    let (area, time) = randomArea(&g)
                    let n = try snapshot.count(try Query(.area(area), time: time)).count
                    checkCount("count \(area)", n, oracle.end(v0)) { area.contains(latitudeE7: $0.latitudeE7, longitudeE7: $0.longitudeE7) && time.holds($0.time) }
                    count("checked count")
                default:
                    let (area, time) = randomArea(&g)
                    let cells = try snapshot.heatmap(try Query(.area(area), time: time), by: .hourOfDay)
                    let v = oracle.end(v0)
                    for hour in 0..<24 {
                        let key = hour < 10 ? "0\(hour)" : "\(hour)"
                        let n = cells.first { $0.key == key }?.count ?? 0
                        checkCount("heat map hour \(key) of \(area)", n, v) {
                            area.contains(latitudeE7: $0.latitudeE7, longitudeE7: $0.longitudeE7) && time.holds($0.time) && Int(($0.time / 3_600_000) % 24) == hour
                        }
                    }
                    count("checked heat map")
                }
            } catch {
                violation("in-process read failed: \(error)")
            }
        }
    }

    /// Histories and areas through the CLI: separate read-only processes, as operators run them.
    private func cliReader() {
        var g = SplitMix64(seed: seed ^ 0xC11)
        while isRunning {
            Thread.sleep(forTimeInterval: 0.5 + g.unit())
            guard FileManager.default.fileExists(atPath: "\(directory)/MANIFEST") else { continue }
            let v0 = oracle.begin()
            if g.next() % 2 == 0 {
                let (plate, _) = randomHistory(&g)
                guard let rows = runCLI(["history", directory, plate.text]) else { continue }
                checkKeys("cli history \(plate)", rows, oracle.end(v0), plate: plate) { $0.plate == plate }
                count("checked cli history")
            } else {
                let (area, _) = randomArea(&g)
                guard case .box(let s, let w, let n, let e) = area, let rows = runCLI(["area", directory, "--bbox", "\(s),\(w),\(n),\(e)"]) else { continue }
                checkKeys("cli area \(area)", rows, oracle.end(v0), plate: nil) { area.contains(latitudeE7: $0.latitudeE7, longitudeE7: $0.longitudeE7) }
                count("checked cli area")
            }
        }
    }

    /// Runs the CLI; the (plate, time, camera) of each CSV row, or nil (a violation) when it failed.
    private func runCLI(_ arguments: [String]) -> [RowID]? {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: cli)
        p.arguments = arguments + ["--epoch-ms", "--purpose", "chaos soak check", "--requester", "soak-cli"]
        let out = Pipe(), err = Pipe()
        p.standardOutput = out
        p.standardError = err
        do { try p.run() } catch { violation("cannot run \(cli): \(error)"); return nil }
        let data = out.fileHandleForReading.readDataToEndOfFile()
        let errors = err.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        guard p.terminationStatus == 0 else {
            violation("sightline \(arguments.joined(separator: " ")) exited \(p.terminationStatus): \(String(decoding: errors, as: UTF8.self))")
            return nil
        }
        var rows: [RowID] = []
        for line in String(decoding: data, as: UTF8.self).split(separator: "\n").dropFirst() {
            let f = line.split(separator: ",", omittingEmptySubsequences: false)
            guard f.count >= 5, let plate = try? Plate(String(f[0])), let time = Int64(f[1]), let camera = UInt32(f[4]) else {
                violation("unreadable CLI row: \(line)"); return nil
            }
            rows.append(RowID(plate: plate, time: time, camera: camera))
        }
        return rows
    }

    // MARK: checks

    /// Rows of an answer against the oracle: each written, not purged or expired, matching,
    /// once; every row that must be there is; in time order when `ordered`.
    func checkRows(_ what: String, _ answer: [Sighting], _ v: SoakOracle.View, plate: Plate?, ordered: Bool,
                   where matches: (Sighting) -> Bool) {
        var seen = Set<RowID>()
        var previous = Int64.min
        for row in answer {
            let id = RowID(row)
            guard seen.insert(id).inserted else { violation("\(what): row \(id) returned twice"); return }
            guard let p = oracle.presence(id, in: v) else { violation("\(what): row \(id) was never written"); return }
            guard p.row == row else { violation("\(what): row \(id) returned as \(row), written as \(p.row)"); return }
            guard p.may else { violation("\(what): row \(id) returned but purged or expired"); return }
            guard matches(row) else { violation("\(what): row \(id) does not match the query"); return }
            if ordered && row.time < previous { violation("\(what): rows out of time order"); return }
            previous = row.time
        }
        for e in oracle.rows(in: v, plate: plate, where: matches) where e.must && !seen.contains(e.id) {
            violation("\(what): acknowledged row \(e.id) missing (\(answer.count) rows returned)")
            return
        }
    }

    /// Keys only (CLI output): each may be there, once; every must-be-there row is.
    func checkKeys(_ what: String, _ answer: [RowID], _ v: SoakOracle.View, plate: Plate?, where matches: (Sighting) -> Bool) {
        var seen = Set<RowID>()
        for id in answer {
            guard seen.insert(id).inserted else { violation("\(what): row \(id) returned twice"); return }
            guard let p = oracle.presence(id, in: v), p.may, matches(p.row) else { violation("\(what): row \(id) should not be there"); return }
        }
        for e in oracle.rows(in: v, plate: plate, where: matches) where e.must && !seen.contains(e.id) {
            violation("\(what): acknowledged row \(e.id) missing"); return
        }
    }

    func checkCount(_ what: String, _ n: Int, _ v: SoakOracle.View, where matches: (Sighting) -> Bool) {
        let rows = oracle.rows(in: v, where: matches)
        let must = rows.filter(\.must).count, may = rows.filter(\.may).count
        if n < must || n > may { violation("\(what): counted \(n), the oracle says \(must) to \(may)") }
    }

    /// Everything the store shows (through a read-only open, as any reader would see it).
    func fullCheck(_ what: String) {
        var options = StoreOptions()
        options.logger.logLevel = .critical
        let v0 = oracle.begin()
        do {
            let reader = try ReadOnlyStore(directory: directory, options: options)
            let everything = try Query(.area(.box(south: -90, west: -180, north: 90, east: 180)))
            let rows = try reader.snapshot(access: access).run(everything).rows
            checkRows("full check \(what)", rows, oracle.end(v0), plate: nil, ordered: true) { _ in true }
            count("full checks")
        } catch {
            violation("full check \(what) failed: \(error)")
        }
    }

    /// At the end: retention enforced by the owner; every file checked.
    private func finalChecks() {
        fullCheck("at the end")
        var options = SoakWriter.options()
        options.compaction = nil
        let enforcedAt = StoreOptions.systemTime()
        var alerts: [Alert] = []
        var hasher: PlateHasher?
        do {
            let store = try Store(directory: directory, options: options)
            _ = try store.enforceRetention()
            alerts = try store.alerts()
            hasher = store.hasher
            try store.close()
        } catch {
            violation("the final open as owner failed: \(error)")
            return
        }
        // The files: segments and logs hold no purged row, no row expired at enforcement.
        var v = oracle.end(oracle.begin())
        v.acknowledged = oracle.acknowledged
        v.clockBefore = enforcedAt
        var onDisk = Set<RowID>()
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        for name in names.sorted() where name.hasSuffix(".sls") {
            do {
                let segment = try SegmentReader(storeSegment: "\(directory)/\(name)")
                try segment.verify()
                for row in try segment.allSightings() {
                    let id = RowID(row)
                    guard onDisk.insert(id).inserted else { violation("\(name): row \(id) stored twice"); break }
                    guard let p = oracle.presence(id, in: v), p.may else { violation("\(name): holds \(id), purged or expired"); break }
                }
            } catch {
                violation("segment \(name): \(error)")
            }
            count("segments checked on disk")
        }
        for name in names where name.hasPrefix("log-") {
            let contents: LogReader.Contents
            do {
                contents = try LogReader.read("\(directory)/\(name)", fileSystem: PosixFileSystem(),
                                              dataKey: try Store.dataKeyLookup(directory: directory))
            } catch {
                violation("log \(name): \(error)")
                continue
            }
            for record in contents.records {
                for i in 0..<record.batch.count {
                    let id = RowID(record.batch[i])
                    if let p = oracle.presence(id, in: v), !p.may, !(id.time < enforcedAt - oracle.retention) {
                        violation("\(name): the log still holds purged row \(id)")
                    }
                }
            }
        }
        // `sightline verify`, in its own process.
        let p = Process()
        p.executableURL = URL(fileURLWithPath: cli)
        p.arguments = ["verify", directory]
        p.standardOutput = FileHandle.nullDevice
        if (try? p.run()) == nil { violation("cannot run sightline verify") } else {
            p.waitUntilExit()
            if p.terminationStatus != 0 { violation("sightline verify \(directory) exited \(p.terminationStatus)") }
        }
        // The audit chain, and a record for every checked in-process read.
        do {
            let audit = try AuditLog.verify(directory: directory)
            if let problem = audit.problem { violation("audit log: \(problem)") }
            lock.lock(); let reads = ["history", "area", "search", "count", "heat map"].reduce(0) { $0 + (counts["checked \($1)"] ?? 0) }; lock.unlock()
            if audit.records < reads { violation("audit log holds \(audit.records) records for \(reads) audited reads") }
            count("audit records", audit.records)
        } catch {
            violation("audit log: \(error)")
        }
        // Alerts: sequences rising from 1 (a purge or retention run redacts the alerts of the
        // rows it deleted, leaving gaps), each of a hot row that was written, every stored hot
        // row alerted.
        if alerts.first.map({ $0.sequence < 1 }) == true || zip(alerts, alerts.dropFirst()).contains(where: { $0.sequence >= $1.sequence }) {
            violation("alert sequences do not rise from 1")
        }
        let hot = Set(SoakWorkload.hotPlates)
        var alerted = Set<RowID>()
        for a in alerts {
            let id = RowID(a.sighting)
            alerted.insert(id)
            if !hot.contains(id.plate) || oracle.presence(id, in: v) == nil { violation("alert \(a.sequence) for \(id), not a written hotlisted row"); break }
        }
        let final = oracle.end(oracle.begin())
        for e in oracle.rows(in: final, where: { hot.contains($0.plate) }) where e.must && !alerted.contains(e.id) {
            violation("stored hotlisted row \(e.id) raised no alert"); break
        }
        count("alerts", alerts.count)
    }

    private func report(_ started: Date) -> Bool {
        lock.lock(); defer { lock.unlock() }
        let elapsed = Date().timeIntervalSince(started)
        print("soak: \(String(format: "%.1f", elapsed / 60)) minutes, seed \(seed), store \(directory)")
        for key in counts.keys.sorted() { print("  \(key): \(counts[key]!)") }
        print("  distinct rows written: \(oracle.rowCount)")
        if violations.isEmpty { print("soak: every check held") } else { print("soak: \(violations.count) violations (first: \(violations[0]))") }
        return violations.isEmpty
    }

    // MARK: random queries

    private func randomPlate(_ g: inout SplitMix64) -> Plate {
        let u = g.unit()
        return SoakWorkload.plate(Int(u * u * Double(SoakWorkload.plateCount)))
    }

    private func randomTime(_ g: inout SplitMix64) -> TimeRange {
        guard g.next() % 2 == 0 else { return .all }
        let now = StoreOptions.systemTime()
        let from = now - 60_000 - Int64(g.next() % 900_000)
        return (try? TimeRange(from: from, to: from + 30_000 + Int64(g.next() % 600_000))) ?? .all
    }

    private func randomHistory(_ g: inout SplitMix64) -> (Plate, TimeRange) { (randomPlate(&g), randomTime(&g)) }

    private func randomArea(_ g: inout SplitMix64) -> (Area, TimeRange) {
        let size = 0.01 + g.unit() * 0.15
        let s = 37.28 + g.unit() * 0.45, w = -122.52 + g.unit() * 0.55
        return (.box(south: s, west: w, north: s + size, east: w + size), randomTime(&g))
    }

    private func randomPattern(_ g: inout SplitMix64) -> String {
        var text = Array(randomPlate(&g).text)
        switch g.next() % 3 {
        case 0: text[2 + Int(g.next() % 3)] = "?"
        case 1: text = Array(text[0..<4]) + ["*"]
        default: text = ["*"] + Array(text[3...])
        }
        return String(text)
    }
}

/// Lines from a file descriptor, blocking; nil at end of file.
final class LineReader: @unchecked Sendable {
    let fd: Int32
    private var buffer: [UInt8] = []

    init(_ fd: Int32) { self.fd = fd }

    func readLine() -> String? {
        while true {
            if let newline = buffer.firstIndex(of: 0x0A) {
                let line = String(decoding: buffer[..<newline], as: UTF8.self)
                buffer.removeSubrange(...newline)
                return line
            }
            var chunk = [UInt8](repeating: 0, count: 4096)
            let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { return nil }
            buffer += chunk[..<n]
        }
    }
}
