import Testing
import Foundation
import Glibc
@_spi(Benchmarks) @testable import Sightline
@testable import SightlineWorkload

/// The owner's control socket: the CLI's maintenance commands reach a store another process
/// owns; refusals and missing owners are clear errors.
///
/// Another uid cannot be tested here (the suite runs as one user, and switching needs root
/// and a second account): the check is `SO_PEERCRED` uid == the owner's euid, plus mode 0600
/// on the socket file, which this suite asserts.
@Suite struct ControlChannelTests {
    static func ownerOptions() -> StoreOptions {
        var o = storeOptions(bufferRows: 1_000_000)
        o.controlChannel = true
        o.segment = SegmentOptions(blockRows: 256, spatialBlockRows: 256, compression: .none)
        return o
    }

    @Test func requestsReachTheOwnerAndTheSocketIsPrivate() throws {
        let dir = temporaryDirectory("control")
        defer { removeTree(dir) }
        let owner = try Store(directory: dir, options: Self.ownerOptions())
        var info = stat()
        #expect(stat("\(dir)/control.sock", &info) == 0 && info.st_mode & 0o777 == 0o600 && StoreControl.hasSocket(dir))
        let batches = distinctBatches(3, rows: 200, seed: 71)
        for b in batches { try owner.append(b); try owner.flush() }
        try owner.append(distinctBatches(1, rows: 50, seed: 72)[0])
        #expect(try StoreControl.send(.flush, to: dir) == .flushed)
        #expect(owner.snapshot().memory.allSatisfy { $0.isEmpty })
        guard case .statistics(let report) = try StoreControl.send(.statistics, to: dir) else { Issue.record("no statistics"); return }
        #expect(report == (try owner.statistics().report))
        guard case .rewrite(let compacted) = try StoreControl.send(.compact(CompactionOptions(partitioning: .day, targetRows: 10_000)), to: dir) else {
            Issue.record("no summary"); return
        }
        #expect(compacted.rowsRead == compacted.rowsWritten && compacted.rowsRead > 0)
        let plate = batches[0].plates[0]
        let expected = try owner.snapshot().run(Query(.history(plate))).rows.count
        let officer = AccessContext(requester: "clerk 7", agency: "DMV", purpose: "erasure request", caseNumber: "ER-12")
        guard case .rewrite(let purged) = try StoreControl.send(.purge(plate, .all, access: officer), to: dir) else { Issue.record("no summary"); return }
        #expect(purged.rowsDeleted == expected && purged.deletionID != nil)
        #expect(try owner.snapshot().run(Query(.history(plate))).rows.isEmpty)
        // The purge's audit record carries the requester's context across the socket.
        let purge = try AuditLog.records(directory: dir).last { $0.operation == "purge" }
        #expect(purge?.access == officer && purge?.rows == Int64(expected))
        // The access requirement travels too, and binds the owner's own snapshots at once.
        _ = try StoreControl.send(.setAccessRequirement(.purpose), to: dir)
        #expect(owner.accessRequirement == .purpose)
        #expect(throws: SightlineError.self) { try owner.snapshot().run(Query(.history(plate))) }
        #expect(try ControlWire.decodeRequest(ControlWire.encode(.purge(plate, .all))) == .purge(plate, .all))
        // Every policy change carries its context across the socket.
        let retention = RetentionPolicy(defaultPeriod: .seconds(86_400 * 90), rules: [.init(owner: "jurisdiction:NH", keep: .seconds(180), hits: .seconds(86_400 * 365))])
        let registry = CameraRegistry(cameras: [RegisteredCamera(camera: 7, agency: "NHSP", jurisdiction: "NH")])
        for request: ControlRequest in [.setRetentionPolicy(retention, access: officer), .enforceRetention, .setCameraRegistry(registry, access: officer),
                                        .setSharingPolicy(SharingPolicy(defaultAllows: false), access: officer), .setAccessRequirement(.purposeAndCase, access: officer)] {
            #expect(try ControlWire.decodeRequest(ControlWire.encode(request)) == request, "\(request)")
        }
        _ = try StoreControl.send(.setRetentionPolicy(retention, access: officer), to: dir)
        #expect(owner.retentionPolicy == retention)
        #expect(try AuditLog.records(directory: dir).last.map { $0.operation == "retention-policy" && $0.access == officer } == true)
        // The owner reports its errors; the request is refused, nothing changes.
        #expect(throws: SightlineError.controlFailed(path: "\(dir)/control.sock", reason: "the owner refused: targetRows must be at least 1")) {
            try StoreControl.send(.compact(CompactionOptions(partitioning: .day, targetRows: 0)), to: dir)
        }
        try owner.close()
        #expect(!StoreControl.hasSocket(dir))
        #expect(throws: SightlineError.controlFailed(path: "\(dir)/control.sock",
                                                    reason: "no owner is listening (the owner is gone or runs without a control channel)")) {
            try StoreControl.send(.flush, to: dir)
        }
    }

    /// A socket file left by a killed owner: clients are told no owner listens; the next
    /// owner replaces it.
    @Test func aStaleSocketIsReportedAndReplaced() throws {
        let dir = temporaryDirectory("control-stale")
        defer { removeTree(dir) }
        try Store(directory: dir, options: storeOptions()).close()
        // What a SIGKILLed owner leaves: a bound socket file nobody listens on.
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        var address = ControlServer.address("\(dir)/control.sock")
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        close(fd)
        #expect(bound == 0 && StoreControl.hasSocket(dir))
        #expect(throws: SightlineError.controlFailed(path: "\(dir)/control.sock",
                                                    reason: "no owner is listening (the owner is gone or runs without a control channel)")) {
            try StoreControl.send(.statistics, to: dir)
        }
        let owner = try Store(directory: dir, options: Self.ownerOptions())
        #expect(try StoreControl.send(.flush, to: dir) == .flushed)
        try owner.close()
    }

    /// `sightline purge|compact|flush|stats` on a store another process owns go through its
    /// socket; a purge during ingest leaves no byte of the plate on disk when it returns.
    @Test func theCommandLineReachesARunningOwner() throws {
        let dir = temporaryDirectory("control-cli")
        defer { removeTree(dir) }
        let owner = try Store(directory: dir, options: Self.ownerOptions())
        let batches = distinctBatches(6, rows: 300, seed: 73)
        let plate = batches[0].plates.first { $0.count >= 6 } ?? batches[0].plates[0]
        for b in batches.prefix(3) { try owner.append(b) }
        try owner.flush()
        try owner.append(batches[3])  // only in the log
        // Ingest keeps going in this process while the CLI asks for the purge.
        let ingesting = Locked(true)
        let failures = Locked<[String]>([])
        let finished = DispatchSemaphore(value: 0)
        let writer = Thread {
            defer { finished.signal() }
            for b in batches.dropFirst(4) where ingesting.withLock({ $0 }) {
                var kept = SightingBatch()
                for s in b.sightings where s.plate != plate { kept.append(s) }
                do { _ = try owner.append(kept) } catch { failures.withLock { $0.append("\(error)") } }
            }
        }
        writer.start()
        let (status, output) = try CommandLineTests.run(["purge", dir, plate.description])
        #expect(status == 0 && output.contains("deleted"), "\(output)")
        let text = Array(plate.description.utf8)
        for (name, bytes) in try allBytes(dir) {
            #expect(!contains(bytes, text), "\(name) still holds the plate's text")
        }
        ingesting.withLock { $0 = false }
        finished.wait()  // joined: every append of the writer has returned
        #expect(failures.withLock { $0 }.isEmpty, "appends during the purge failed: \(failures.withLock { $0 })")
        let (s2, flushed) = try CommandLineTests.run(["flush", dir])
        #expect(s2 == 0 && flushed.contains("flushed"), "\(flushed)")
        let (s3, stats) = try CommandLineTests.run(["stats", dir])
        #expect(s3 == 0 && stats.hasPrefix("segments:") && stats.contains("0 in memory"), "\(stats)")
        let (s4, compacted) = try CommandLineTests.run(["compact", dir])
        #expect(s4 == 0 && compacted.hasPrefix("rewrote"), "\(compacted)")
        try owner.close()
        // No owner: the commands open the store themselves, as before.
        let (s5, again) = try CommandLineTests.run(["compact", dir])
        #expect(s5 == 0 && again.hasPrefix("rewrote"), "\(again)")
    }

    /// The library's maintenance API does the same work in-process (no owner) and at a
    /// running owner, and says the same.
    @Test func storeMaintenanceRunsHereOrAtTheOwner() throws {
        let dir = temporaryDirectory("control-maintenance")
        defer { removeTree(dir) }
        let batches = distinctBatches(4, rows: 300, seed: 91)
        let plate = batches[0].plates[0]
        let all = batches.flatMap(\.sightings)
        var options = Self.ownerOptions()
        options.controlChannel = false
        let maintenance = StoreMaintenance(directory: dir, options: options)
        #expect(throws: SightlineError.self) { try maintenance.flush() }  // no store there yet
        for ownerRuns in [false, true] {
            removeTree(dir)
            let owner = try Store(directory: dir, options: Self.ownerOptions())
            for b in batches { try owner.append(b) }
            if !ownerRuns { try owner.close() }
            let policy = SharingPolicy(defaultAllows: true, rules: [SharingRule(owner: "A", deny: ["B"])])
            try maintenance.setSharingPolicy(policy)
            try maintenance.flush()
            let purged = try maintenance.purge(plate)
            #expect(purged.rowsDeleted == all.filter { $0.plate == plate }.count, "owner running: \(ownerRuns)")
            let id = try maintenance.placeLegalHold(try LegalHold(caseNumber: "C-1", plate: batches[1].plates[0]))
            #expect(try maintenance.releaseLegalHold("C-1") == [id], "owner running: \(ownerRuns)")
            #expect(try maintenance.statisticsReport().hasPrefix("segments:"))
            if ownerRuns {
                #expect(owner.sharingPolicy == policy)
                #expect(sameRows(try owner.snapshot().allSightings(), all.filter { $0.plate != plate }))
                try owner.close()
            }
            let reopened = try ReadOnlyStore(directory: dir, options: options)
            #expect(try reopened.sharingPolicy == policy, "owner running: \(ownerRuns)")
            #expect(sameRows(try reopened.snapshot().allSightings(), all.filter { $0.plate != plate }), "owner running: \(ownerRuns)")
        }
    }
}
