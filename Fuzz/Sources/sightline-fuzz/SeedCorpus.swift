// The seed corpora: real files, written by this (fuzz) build so their checksums are what
// the fuzz build computes, from a store that went through every operation that writes one.
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
@_spi(Benchmarks) @testable import Sightline
import SightlineWorkload

enum SeedCorpus {
    static let secret = PlateKeySecret(k0: 0x0706_0504_0302_0100, k1: 0x0F0E_0D0C_0B0A_0908)
    static let hasher = PlateHasher(secret: secret)

    /// A segment of rows spread over the whole world — poles, the antimeridian, a dense
    /// city — for the area queries of the `query-text` target.
    static let world: (snapshot: StoreSnapshot, rows: [Sighting]) = {
        var g = SplitMix64(seed: 15)
        var batch = alprRows(seed: 3, rows: 400)
        for i in 0..<800 {
            let lat = i % 50 == 0 ? (i % 100 == 0 ? 90.0 : -90.0) : g.unit() * 180 - 90
            let lon = i % 40 == 0 ? (i % 80 == 0 ? 180.0 : -180.0) : g.unit() * 360 - 180
            batch.append(try! Sighting(plate: try! Plate("W\(i % 300)X"), time: 1_717_200_000_000 + Int64(g.next() % 86_400_000),
                                       latitude: lat, longitude: lon, camera: UInt32(i % 17), confidence: UInt8(g.next() % 101)))
        }
        let reader = try! SegmentReader(bytes: try! SegmentEncoder(hasher: hasher).encode(batch), hasher: hasher)
        return (StoreSnapshot(segments: [reader], memory: []), try! reader.allSightings())
    }()

    static func alprRows(seed: UInt64, rows: Int) -> SightingBatch {
        var c = ALPRWorkload.Configuration()
        c.seed = seed
        c.fixedCameras = 40
        c.days = 3
        return ALPRWorkload(c).generate(rows: rows)
    }

    /// Writes `directory/TARGET/seed-*` for every target (the store's files are copied
    /// while it is still open, so its log holds unflushed records).
    static func write(into directory: String) throws {
        func put(_ target: String, _ name: String, _ bytes: [UInt8]) {
            mkdir(directory, 0o755)
            mkdir("\(directory)/\(target)", 0o755)
            let path = "\(directory)/\(target)/seed-\(name)"
            guard let f = fopen(path, "wb") else { fatalError("cannot write \(path)") }
            _ = bytes.withUnsafeBytes { fwrite($0.baseAddress, 1, $0.count, f) }
            fclose(f)
        }
        let (store, open) = try storeWithEveryFile()
        defer { try? open.close(); removeTree(store) }
        let fs = PosixFileSystem()
        func file(_ name: String) throws -> [UInt8] {
            guard let bytes = try fs.contentsIfPresent("\(store)/\(name)", limit: .max, name) else { fatalError("the seed store has no \(name)") }
            return bytes
        }
        let names = try fs.contentsOfDirectory(store)
        for name in names where name.hasSuffix(".sls") { put("segment", name, try file(name)) }
        put("segment", "tracks", try SegmentEncoder(hasher: hasher).encode(DenseTrackWorkload(DenseTrackWorkload.Configuration()).generate(rows: 600)))
        // A sealed segment (small chunks, so mutations meet many of them).
        var sealed: [UInt8] = []
        let collect = { (raw: UnsafeRawBufferPointer) throws(SightlineError) in sealed.append(contentsOf: raw) }
        var sealer = SealedFileWriter(dataKey: StoreFileTargets.sealedKey, keyID: StoreFileTargets.sealedKeyID, chunkSize: 256)
        try SegmentEncoder(hasher: hasher).encode(alprRows(seed: 9, rows: 300)).withUnsafeBytesTyped { (raw: UnsafeRawBufferPointer) throws(SightlineError) in
            try sealer.append(raw, output: collect)
        }
        try sealer.finish(output: collect)
        put("sealed", "segment", sealed)
        for name in names where name.hasPrefix("log-") { put("wal", name, try file(name)) }
        put("manifest", "MANIFEST", try file(Manifest.fileName))
        put("deletion-log", "deletions", try file(DeletionLog.fileName))
        put("alert-log", "ALERTS", try file(AlertLogFormat.fileName))
        put("audit-log", "AUDIT", try file(AuditLogFormat.fileName))
        put("rules", "RULES", try file(RulesFile.fileName))
        put("rules", "hotlist", Array("plate,list,reason\n7ABC123,stolen,case 12\nXYZ99,amber,child\n".utf8))
        for (k, name) in [AccessFile.fileName, CamerasFile.fileName, PolicyFile.fileName, RetentionFile.fileName,
                          HoldsFile.fileName, GuardrailsFile.fileName].enumerated() {
            put("policy-files", name, [UInt8(k)] + (try file(name)))
        }

        // The sealed forms (encryption at rest) of the logs, the rules and the holds, under
        // the targets' fixed key.
        let sealing = (id: StoreFileTargets.sealedKeyID, key: StoreFileTargets.sealedKey)
        let sealedLog = "\(store)-sealed.log"
        let log = try LogWriter.create(sealedLog, firstSequence: 1, durability: .none, sealing: sealing, fileSystem: fs)
        try log.append(alprRows(seed: 10, rows: 50))
        try log.append(alprRows(seed: 11, rows: 30))
        try log.sync()
        put("wal", "sealed", try fs.contentsIfPresent(sealedLog, limit: .max, "sealed log")!)
        try fs.remove(sealedLog)
        let recordSealer = RecordSealer(keyID: sealing.id, dataKey: sealing.key)
        var alerts = ByteWriter()
        alerts.append(contentsOf: AlertLogFormat.header(sealer: recordSealer))
        for a in try AlertLogFormat.read("\(store)/\(AlertLogFormat.fileName)", from: 0, after: 0, fileSystem: fs, dataKey: { _ in nil }).alerts {
            try AlertLogFormat.encode(a, into: &alerts, sealer: recordSealer)
        }
        put("alert-log", "sealed", alerts.bytes)
        put("rules", "sealed", try SealedFile.seal(try file(RulesFile.fileName), keyID: sealing.id, dataKey: sealing.key))
        put("policy-files", "HOLDS-sealed", [4] + (try SealedFile.seal(try file(HoldsFile.fileName), keyID: sealing.id, dataKey: sealing.key)))

        let rows = alprRows(seed: 5, rows: 40)
        var csv = TextTargets.standardHeader + "\n", ndjson = ""
        for i in 0..<rows.count {
            let r = rows[i]
            csv += "\(r.plate),\(i % 2 == 0 ? String(r.time) : Timestamp.rfc3339(r.time)),\(r.latitude),\(r.longitude),\(r.camera),\(r.confidence),\(r.region?.text ?? ""),\(i % 5 == 0 ? "s3://i/\(i).jpg" : "")\n"
            ndjson += "{\"plate\":\"\(r.plate)\",\"time\":\(r.time),\"lat\":\(r.latitude),\"lon\":\(r.longitude),\"camera\":\(r.camera),\"confidence\":\(r.confidence)\(r.region.map { ",\"region\":\"\($0.text)\"" } ?? "")}\n"
        }
        put("csv", "standard", Array(csv.utf8))
        put("csv", "reordered", Array("camera,plate,confidence,time,lon,lat\n12,\"7ABC 123\",88,2024-06-01T08:00:00.250Z,-122.4,37.7\n3,ab-12,99,1717200000000,1e-3,-45\n".utf8))
        put("ndjson", "rows", Array(ndjson.utf8))
        let texts: [(UInt8, String)] = [
            (0, "37.70,-122.52,37.83,-122.35"), (0, "-10,170,10,-170"), (1, "37.77,-122.42,500"), (1, "89.99,0,20000"),
            (2, "37.7 -122.5;37.8 -122.5;37.8 -122.3;37.7 -122.3"), (2, "10 170;10 -170;-10 -170;-10 170"),
            (3, "2024-06-01T08:00:00.250Z"), (3, "1717200000000"), (3, "2024-06-01T08:00:00+05:30"),
            (4, "7AB?123"), (4, "*12*"), (4, "O0*"), (5, "22-6"), (5, "8-17"),
            (6, "18mo"), (6, "90d"), (6, "12h"), (7, "7abc-123"), (7, "ÄB 1"),
        ]
        for (k, (selector, text)) in texts.enumerated() { put("query-text", "\(k)", [selector] + Array(text.utf8)) }
        let access = AccessContext(requester: "fuzz", agency: "SFPD", purpose: "seed corpus", caseNumber: "C-1")
        let requests: [ControlRequest] = [
            .flush, .statistics, .enforceRetention, .compact(CompactionOptions()),
            .purge(try Plate("7ABC123"), try TimeRange(from: 1_717_200_000_000, to: nil), access: access, force: true),
            .releaseLegalHold("C-1", access: access), .setAccessRequirement(.purposeAndCase, access: access),
            .setRetentionPolicy(RetentionPolicy(defaultPeriod: .seconds(86_400 * 90), rules: [.init(owner: "SFPD", keep: .seconds(3600))]), access: access),
            .removeGeofence("downtown"), .addHotlistEntries(file: "/tmp/hot.csv", retroactiveFrom: 5),
        ]
        for (k, request) in requests.enumerated() { put("control-request", "\(k)", Array(ControlWire.encode(request).utf8)) }
        try LakeTargets.seeds(put, hasher: hasher)
    }

    /// A small store that went through everything that writes a file: segments, an
    /// unflushed log, hotlists and a geofence (alerts), cameras, a sharing policy, an access
    /// requirement, retention, a legal hold, guardrails, a purge and audited reads.
    static func storeWithEveryFile() throws -> (String, Store) {
        let directory = "\(FuzzScratch.directory.isEmpty ? "/tmp" : FuzzScratch.directory)/seed-store-\(getpid())"
        removeTree(directory)
        var options = StoreOptions()
        options.secret = secret
        // Segments in clear: the `segment` target fuzzes the segment format itself (a sealed
        // segment's bytes would not parse as one); keys in a scratch keyring, not the user's.
        options.encryption = .none
        options.keyring = Keyring(directory: directory + "-keyring")
        options.bufferRows = 300
        options.logger.logLevel = .critical
        let store = try Store(directory: directory, options: options)
        let first = alprRows(seed: 7, rows: 700)
        try store.addHotlistEntries([try HotlistEntry(plate: first[0].plate.text, list: "stolen", reason: "seed")])
        try store.addGeofence(try Geofence(name: "bay", area: .box(south: 37, west: -123, north: 38.5, east: -121)))
        _ = try store.append(first)
        try store.flush()
        let access = AccessContext(requester: "fuzz", agency: "SFPD", purpose: "seed corpus", caseNumber: "C-1")
        try store.setCameraRegistry(CameraRegistry(cameras: [RegisteredCamera(camera: first[0].camera, agency: "SFPD", jurisdiction: "CA")],
                                                   defaultOwner: .init(agency: "OAKPD", jurisdiction: "CA")), by: access)
        try store.setSharingPolicy(SharingPolicy(defaultAllows: false, rules: [SharingRule(owner: "SFPD", allow: ["SFPD", "jurisdiction:CA"])]), by: access)
        try store.setRetentionPolicy(RetentionPolicy(defaultPeriod: .seconds(86_400 * 36_500), rules: [.init(owner: "OAKPD", keep: nil)]), by: access)
        _ = try store.placeLegalHold(LegalHold(caseNumber: "C-1", plate: first[1].plate), by: access)
        try store.setInvestigationLimits(InvestigationLimits(maximumTimeSpan: .seconds(86_400 * 7), maximumPlates: 100), by: access)
        _ = try store.purge(first[first.count - 1].plate, access: access, force: true)
        for i in 0..<3 { _ = try store.snapshot(access: access).run(try Query(.history(first[i * 5].plate))) }
        try store.setAccessRequirement(.purpose, by: access)
        _ = try store.append(alprRows(seed: 8, rows: 120))  // stays in the log: left open, not flushed
        return (directory, store)
    }

    static func removeTree(_ path: String) {
        guard let d = opendir(path) else { return }
        while let entry = readdir(d) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix(while: { $0 != 0 }), as: UTF8.self) }
            if name != "." && name != ".." { unlink("\(path)/\(name)") }
        }
        closedir(d)
        rmdir(path)
    }
}
