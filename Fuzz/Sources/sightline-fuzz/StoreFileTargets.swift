import Crypto
// Targets for the store's binary and checksummed files: each input is one file's bytes.
@_spi(Benchmarks) @testable import Sightline

enum StoreFileTargets {
    static let fileSystem = PosixFileSystem()

    /// Segment bytes: open (header, trailer, footer, block table, indexes), decode every block
    /// of both copies and check the indexes (`verify`). A segment that verifies must answer
    /// queries exactly as a scan of its rows does: a history of its first and last plate and
    /// an area around a row, through the planner, against a brute-force filter.
    static func segment(_ bytes: [UInt8]) {
        guard let reader = try? SegmentReader(bytes: bytes, hasher: SeedCorpus.hasher, label: "fuzz.sls") else { return }
        for b in 0..<reader.blockCount { _ = try? reader.sightings(inBlock: b) }
        guard (try? reader.verify()) != nil, let rows = try? reader.allSightings() else { return }
        fuzzCheck(rows.count == reader.rowCount, "a verified segment decodes \(rows.count) rows, its footer says \(reader.rowCount)")
        guard let first = rows.first, let last = rows.last else { return }
        let snapshot = StoreSnapshot(segments: [reader], memory: [])
        var queries: [Query] = []
        for plate in [first.plate, last.plate] { if let q = try? Query(.history(plate)) { queries.append(q) } }
        let centre = rows[rows.count / 2]
        let area = Area.box(south: max(-90, centre.latitude - 0.01), west: max(-180, centre.longitude - 0.01),
                            north: min(90, centre.latitude + 0.01), east: min(180, centre.longitude + 0.01))
        if let q = try? Query(.area(area), time: TimeRange(from: centre.time - 3_600_000, to: centre.time + 3_600_000)) { queries.append(q) }
        for query in queries {
            let expected = bruteForce(rows, query)
            guard let answer = try? snapshot.run(query) else {
                fuzzCheck(false, "a verified segment failed \(query)")
                return
            }
            fuzzCheck(answer.rows == expected, "\(query): \(answer.rows.count) rows, a scan finds \(expected.count)")
        }
    }

    /// The rows of `rows` a query returns, in its order (the oracle).
    static func bruteForce(_ rows: [Sighting], _ query: Query) -> [Sighting] {
        var history = false
        if case .history = query.kind { history = true }
        return rows.filter {
            query.matches(plate: $0.plate, time: $0.time, latitudeE7: $0.latitudeE7, longitudeE7: $0.longitudeE7,
                          camera: $0.camera, confidence: $0.confidence, regionCode: $0.region?.code ?? 0)
        }.sorted { Query.ordered($0, $1, history: history) }
    }

    /// Write-ahead-log bytes into recovery's reader: every record's batch is validated; the
    /// valid prefix must lie inside the file and re-read to the same records.
    /// The data key of the `sealed` target's seeds (a sealed segment of the seed rows).
    static let sealedKey = SymmetricKey(data: [UInt8](repeating: 0x5A, count: 32))
    static let sealedKeyID = [UInt8](repeating: 0xA5, count: 16)
    /// Finds `sealedKey` by its id, for every target that reads sealed files (segments,
    /// logs, the alert log, rules, holds): their seeds are sealed under it.
    static func sealedKeys(_ id: [UInt8]) throws(SightlineError) -> SymmetricKey? { id == sealedKeyID ? sealedKey : nil }

    /// A sealed file (encryption at rest): a damaged header, size or chunk is an error, and
    /// whatever opens and authenticates is a segment that decodes and verifies — or an error.
    static func sealed(_ bytes: [UInt8]) {
        let path = FuzzScratch.write("fuzz.sealed", bytes)
        guard let reader = try? SegmentReader(path: path, hasher: SeedCorpus.hasher, fileSystem: fileSystem,
                                              dataKey: sealedKeys) else { return }
        guard (try? reader.verify()) != nil, let rows = try? reader.allSightings() else { return }
        fuzzCheck(rows.count == reader.rowCount, "a verified sealed segment decodes \(rows.count) rows, its footer says \(reader.rowCount)")
    }

    static func writeAheadLog(_ bytes: [UInt8]) {
        let path = FuzzScratch.write("fuzz.log", bytes)
        guard let contents = try? LogReader.read(path, fileSystem: fileSystem, dataKey: sealedKeys) else { return }
        fuzzCheck(contents.validLength >= 0 && contents.validLength <= Int64(bytes.count),
                  "valid length \(contents.validLength) outside a \(bytes.count)-byte log")
        for record in contents.records {
            var w = ByteWriter()
            BatchCodec.encode(record.batch, into: &w)
            let again = w.bytes.withUnsafeBytes { raw in
                var r = ByteReader(raw, fileOffset: 0, path: "re-encoded")
                return try? BatchCodec.decode(&r)
            }
            fuzzCheck(again == record.batch, "record \(record.sequence) does not survive a re-encode")
        }
        // Recovery truncates to the valid prefix: that prefix alone must read the same.
        let prefix = FuzzScratch.write("fuzz.log", Array(bytes[..<Int(contents.validLength)]))
        let again = try? LogReader.read(prefix, fileSystem: fileSystem, dataKey: sealedKeys)
        fuzzCheck(again?.records.count == contents.records.count && again?.validLength == contents.validLength,
                  "the valid prefix of a log reads differently")
    }

    /// Manifest bytes: decoded manifests re-encode to what decodes the same.
    static func manifest(_ bytes: [UInt8]) {
        guard let m = try? Manifest.decode(bytes, path: "MANIFEST") else { return }
        fuzzCheck((try? Manifest.decode(m.encoded(), path: "MANIFEST")) == m, "a manifest does not survive a re-encode")
    }

    /// The deletion log (`deletions.log`): records before the first bad one, and the problem.
    static func deletionLog(_ bytes: [UInt8]) {
        FuzzScratch.write(DeletionLog.fileName, bytes)
        _ = try? DeletionLog.read(directory: FuzzScratch.directory, fileSystem: fileSystem)
    }

    /// The alert log (`ALERTS`): every whole record's alert, where the valid part ends.
    static func alertLog(_ bytes: [UInt8]) {
        let path = FuzzScratch.write(AlertLogFormat.fileName, bytes)
        guard let read = try? AlertLogFormat.read(path, from: 0, after: 0, fileSystem: fileSystem, dataKey: sealedKeys) else { return }
        fuzzCheck(read.end >= 0 && read.end <= Int64(bytes.count), "alert log end \(read.end) outside a \(bytes.count)-byte file")
        var previous: UInt64 = 0
        for alert in read.alerts {
            fuzzCheck(alert.sequence > previous, "alert sequences out of order")
            previous = alert.sequence
        }
        // Reading on from the end found must find nothing more.
        if read.end > 0, let more = try? AlertLogFormat.read(path, from: read.end, after: previous, fileSystem: fileSystem, dataKey: sealedKeys) {
            fuzzCheck(more.alerts.isEmpty || read.torn == false, "alerts found past a torn end")
        }
    }

    /// The audit log (`AUDIT`): records, and the chain's verification (which names a
    /// problem rather than throwing for a damaged record).
    static func auditLog(_ bytes: [UInt8]) {
        FuzzScratch.write(AuditLogFormat.fileName, bytes)
        _ = try? AuditLog.records(directory: FuzzScratch.directory, fileSystem: fileSystem)
        _ = try? AuditLog.verify(directory: FuzzScratch.directory, fileSystem: fileSystem)
    }

    /// The rules file (`RULES`, hotlists and geofences) and hotlist text files.
    static func rules(_ input: [UInt8]) {
        // A sealed RULES opens to the text it holds (or fails to authenticate).
        let bytes = SealedFile.isSealed(input) ? ((try? SealedFile.open(input, path: "RULES", dataKey: sealedKeys)) ?? []) : input
        if let rules = try? RulesFile.decode(bytes, path: "RULES") {
            fuzzCheck((try? RulesFile.decode(RulesFile.encode(rules), path: "RULES")) == rules, "rules do not survive a re-encode")
        }
        _ = try? HotlistFile.parse(String(decoding: bytes, as: UTF8.self), source: "fuzz.csv")
        _ = try? HotlistFile.parse(String(decoding: bytes, as: UTF8.self), source: "fuzz.csv", requireReason: false)
    }

    /// The small policy files, the first byte choosing which: ACCESS, CAMERAS, POLICY,
    /// RETENTION, HOLDS, GUARDRAILS. Whatever decodes re-encodes to the same value.
    static func policyFiles(_ input: [UInt8]) {
        guard let selector = input.first else { return }
        // A sealed file (HOLDS, in a store that seals) opens to its text, or fails to.
        let raw = Array(input.dropFirst())
        let bytes = SealedFile.isSealed(raw) ? ((try? SealedFile.open(raw, path: "policy file", dataKey: sealedKeys)) ?? []) : raw
        func roundTrip<T: Equatable>(_ decode: ([UInt8]) throws(SightlineError) -> T, _ encode: (T) -> [UInt8], _ name: String) {
            guard let value = try? decode(bytes) else { return }
            fuzzCheck((try? decode(encode(value))) == value, "\(name) does not survive a re-encode")
        }
        switch selector % 6 {
        case 0: roundTrip({ (b) throws(SightlineError) in try AccessFile.decode(b, path: "ACCESS") }, AccessFile.encode, "ACCESS")
        case 1: roundTrip({ (b) throws(SightlineError) in try CamerasFile.decode(b, path: "CAMERAS") }, CamerasFile.encode, "CAMERAS")
        case 2: roundTrip({ (b) throws(SightlineError) in try PolicyFile.decode(b, path: "POLICY") }, PolicyFile.encode, "POLICY")
        case 3: roundTrip({ (b) throws(SightlineError) in try RetentionFile.decode(b, path: "RETENTION") }, RetentionFile.encode, "RETENTION")
        case 4: roundTrip({ (b) throws(SightlineError) in try HoldsFile.decode(b, path: "HOLDS") }, HoldsFile.encode, "HOLDS")
        default: roundTrip({ (b) throws(SightlineError) in try GuardrailsFile.decode(b, path: "GUARDRAILS") }, GuardrailsFile.encode, "GUARDRAILS")
        }
    }
}
