import Foundation
import Glibc
import Testing
@testable import Sightline

/// Owner-only by default: a new store's directory is 0700 and every file in it 0600 whatever
/// the umask (or 0750/0640/0660 for a store open to its group); anything wider is reported
/// by `stats` and fails `verify`.
@Suite struct FileAccessTests {
    /// Every entry of `dir` with its permission bits (the directory itself as ".").
    static func modes(_ dir: String) throws -> [String: UInt16] {
        let fs = PosixFileSystem()
        var modes = [".": try fs.permissions(dir)]
        for name in try fs.contentsOfDirectory(dir) { modes[name] = try fs.permissions("\(dir)/\(name)") }
        return modes
    }

    /// A store with every kind of file: segments, a log, rules, alerts, holds, audit records.
    static func populate(_ store: Store) throws {
        try store.addGeofence(try Geofence(name: "all", area: .box(south: -90, west: -180, north: 90, east: 180)))
        var b = SightingBatch()
        for i in 0..<50 { b.append(try Sighting(plate: Plate("AB\(i % 7)"), time: Int64(i) * 1000, latitudeE7: 0, longitudeE7: 0, camera: 1, confidence: 90)) }
        try store.append(b)
        try store.flush()
        var more = SightingBatch()
        more.append(try Sighting(plate: Plate("CD1"), time: 99_000, latitudeE7: 0, longitudeE7: 0, camera: 2, confidence: 90))
        try store.append(more)  // stays in the log
        let access = AccessContext(requester: "tester", agency: "test", purpose: "test")
        _ = try store.snapshot(access: access).run(Query(.history(try Plate("AB1"))))
        try store.placeLegalHold(try LegalHold(caseNumber: "case-1", plate: Plate("AB1")), by: access)
        try store.setRetentionPolicy(RetentionPolicy(defaultPeriod: .seconds(86_400 * 3650)))
    }

    @Test func aNewStoreIsOwnerOnlyAndAGroupStoreAdmitsItsGroup() throws {
        let parent = temporaryDirectory("file-access")
        defer { removeTree(parent) }
        for access in FileAccess.allCases {
            let dir = "\(parent)/\(access.rawValue)"
            var options = storeOptions()
            options.fileAccess = access
            let store = try Store(directory: dir, options: options)
            try Self.populate(store)
            let modes = try Self.modes(dir)
            #expect(modes["."] == access.directoryMode)
            #expect(modes.keys.contains { $0.hasSuffix(".sls") } && modes.keys.contains { $0.hasPrefix("log-") }
                    && modes["ALERTS"] != nil && modes["RULES"] != nil && modes["AUDIT"] != nil && modes["HOLDS"] != nil, "\(modes)")
            for (name, mode) in modes where name != "." && name != "control.sock" {
                #expect(mode == (name == "AUDIT" ? access.auditLogMode : access.fileMode), "\(access) \(name): \(String(mode, radix: 8))")
            }
            #expect(try store.statistics().widerThanSetting.isEmpty)
            try store.close()
            #expect(Store.verify(directory: dir).problems.isEmpty)
        }
    }

    @Test func aWiderFileIsReportedByStatsAndFailsVerify() throws {
        let dir = temporaryDirectory("file-access-wide")
        defer { removeTree(dir) }
        let store = try Store(directory: dir, options: storeOptions())
        try Self.populate(store)
        let segment = "\(dir)/\(store.segmentNames[0])"
        try PosixFileSystem().setPermissions(segment, 0o644)
        let wide = try store.statistics().widerThanSetting
        #expect(wide == [FileAccess.Finding(path: segment, mode: 0o644, allowed: 0o600)])
        #expect(try store.statistics().report.contains("permissions: \(segment): mode 0644 is wider than 0600"))
        try store.close()
        #expect(Store.verify(directory: dir).problems.map(\.path) == [segment])
        // The directory too.
        try PosixFileSystem().setPermissions(segment, 0o600)
        try PosixFileSystem().setPermissions(dir, 0o755)
        let problems = Store.verify(directory: dir).problems
        #expect(problems.count == 1 && problems[0].path == dir && problems[0].message.contains("0755"), "\(problems)")
    }

    /// A store made before this setting (directory 0755 under the usual umask) keeps working
    /// as before: its new files follow the umask, not a setting it never had — and `verify`
    /// names what is wider.
    @Test func aStoreInAWideDirectoryKeepsTheUmasksModes() throws {
        let dir = temporaryDirectory("file-access-old")
        defer { removeTree(dir) }
        try Store(directory: dir, options: storeOptions()).close()
        try PosixFileSystem().setPermissions(dir, 0o755)
        let store = try Store(directory: dir, options: storeOptions())
        try Self.populate(store)
        let old = umask(0); umask(old)
        let segment = store.segmentNames[0]
        #expect(try PosixFileSystem().permissions("\(dir)/\(segment)") == 0o644 & ~UInt16(old))
        try store.close()
        #expect(Store.verify(directory: dir).problems.contains { $0.path == dir })
    }

    /// The CLI under a permissive umask: `ingest` into a missing directory makes it 0700 with
    /// 0600 files; `verify` exits 1 naming a file made wider, and `stats` shows it.
    @Test func theCLIMakesOwnerOnlyStoresWhateverTheUmask() throws {
        let dir = temporaryDirectory("file-access-cli")
        defer { removeTree(dir) }
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let csv = "\(dir)/in.csv"
        try writeFile(csv, Array(CommandLineTests.csv.utf8))
        let store = "\(dir)/store"
        let (status, output) = try ChildProcess("/bin/sh", ["-c", "umask 000; exec \"$0\" ingest \"$1\" \"$2\" --rejects /dev/null", CommandLineTests.binary, store, csv],
                                                captureStandardError: true).finish()
        #expect(status == 0, "\(output)")
        let modes = try Self.modes(store)
        #expect(modes["."] == 0o700, "\(modes)")
        for (name, mode) in modes where name != "." { #expect(mode == 0o600, "\(name): \(String(mode, radix: 8))") }
        let (verified, report) = try CommandLineTests.run(["verify", store])
        #expect(verified == 0, "\(report)")
        try PosixFileSystem().setPermissions("\(store)/MANIFEST", 0o664)
        let (failed, text) = try CommandLineTests.run(["verify", store])
        #expect(failed == 1 && text.contains("\(store)/MANIFEST") && text.contains("0664"), "\(text)")
        let (_, stats) = try CommandLineTests.run(["stats", store])
        #expect(stats.contains("permissions: \(store)/MANIFEST: mode 0664 is wider than 0600"), "\(stats)")
    }
}
