import Foundation
import Glibc
import Testing
@testable import Sightline

/// Safe defaults for every new store: reads state a purpose, and the key material lives in
/// a keyring outside the store that knows it by the id inside it — so a copy at another path
/// opens with the same keyring, the directory alone holds no key, and stores made before
/// keyrings open as they did.
@Suite struct KeyringTests {
    static func rows() throws -> SightingBatch {
        var b = SightingBatch()
        for i in 0..<40 { b.append(try Sighting(plate: Plate("KR\(i % 5)"), time: Int64(i) * 60_000, latitudeE7: 0, longitudeE7: 0, camera: 3, confidence: 90)) }
        return b
    }

    static let reader = AccessContext(requester: "tester", agency: "test", purpose: "keyring test")

    /// The defaults, with only the keyring pointed at a test directory and the logs captured.
    static func defaults(_ keyring: String) -> StoreOptions {
        var o = StoreOptions()
        o.keyring = Keyring(directory: keyring)
        o.logger = CapturedLog().logger
        return o
    }

    @Test func aDefaultStoreKeepsItsKeyInTheKeyringAndRequiresAPurpose() throws {
        let root = temporaryDirectory("keyring-default")
        defer { removeTree(root) }
        let dir = "\(root)/store", ring = "\(root)/deep/keyring"
        let store = try Store(directory: dir, options: Self.defaults(ring))
        try store.append(try Self.rows())
        try store.flush()
        let names = try PosixFileSystem().contentsOfDirectory(dir)
        #expect(!names.contains("plate-key.secret") && names.contains("STORE-ID") && names.contains("plate-key.check"), "\(names)")
        let id = try #require(try StoreIdentity.read(directory: dir, fileSystem: PosixFileSystem()))
        #expect(try PosixFileSystem().permissions(ring) == 0o700)
        #expect(try PosixFileSystem().permissions("\(ring)/\(id.hex)") == 0o700)
        #expect(try PosixFileSystem().permissions("\(ring)/\(id.hex)/plate-key.secret") == 0o600)
        // No file of the store holds the secret's digits.
        let secretHex = String(decoding: try readFile("\(ring)/\(id.hex)/plate-key.secret").prefix(32), as: UTF8.self)
        for name in names where name != "control.sock" {
            #expect(!String(decoding: try readFile("\(dir)/\(name)"), as: UTF8.self).contains(secretHex), "\(name)")
        }
        // Reads must state a purpose.
        #expect(store.accessRequirement == .purpose)
        #expect(throws: SightlineError.self) { _ = try store.snapshot().run(Query(.history(try Plate("KR1")))) }
        #expect(try store.snapshot(access: Self.reader).run(Query(.history(try Plate("KR1")))).rows.count == 8)
        try store.close()
    }

    @Test func aCopyAtAnotherPathOpensWithTheSameKeyringAndNoOtherKeyringOpensIt() throws {
        let root = temporaryDirectory("keyring-copy")
        defer { removeTree(root) }
        let dir = "\(root)/store", ring = "\(root)/keyring"
        let store = try Store(directory: dir, options: Self.defaults(ring))
        try store.append(try Self.rows())
        try store.close()
        try copyStore(dir, "\(root)/moved")
        let copy = try ReadOnlyStore(directory: "\(root)/moved", options: Self.defaults(ring))
        #expect(try copy.snapshot(access: Self.reader).run(Query(.history(try Plate("KR2")))).rows.count == 8)
        // Another keyring: a clear error naming the store, the keyring and the id.
        let id = try #require(try StoreIdentity.read(directory: dir, fileSystem: PosixFileSystem()))
        #expect(throws: SightlineError.keyMissing(store: "\(root)/moved", keyring: "\(root)/other", storeID: id.hex)) {
            _ = try ReadOnlyStore(directory: "\(root)/moved", options: Self.defaults("\(root)/other"))
        }
        #expect(throws: SightlineError.keyMissing(store: dir, keyring: "\(root)/other", storeID: id.hex)) {
            _ = try Store(directory: dir, options: Self.defaults("\(root)/other"))
        }
        #expect(!Store.verify(directory: dir, keyring: Keyring(directory: "\(root)/other")).isSound)
        #expect(Store.verify(directory: dir, keyring: Keyring(directory: ring)).isSound)
    }

    @Test func aKeyringInsideTheStoreIsRefused() throws {
        let root = temporaryDirectory("keyring-inside")
        defer { removeTree(root) }
        #expect(throws: SightlineError.self) { _ = try Store(directory: "\(root)/store", options: Self.defaults("\(root)/store/keys")) }
        #expect(throws: SightlineError.self) { _ = try Store(directory: "\(root)/store", options: Self.defaults("\(root)/store/./keys/..")) }
    }

    /// A store made before keyrings (secret inside, no access requirement) opens with the new
    /// defaults and answers exactly as before; so does one with its secret in a file.
    @Test func storesMadeBeforeKeyringsOpenAsBefore() throws {
        let root = temporaryDirectory("keyring-old")
        defer { removeTree(root) }
        for (name, source) in [("inside", PlateKeySecretSource.storeDirectory), ("file", .file("\(root)/secret.hex"))] {
            let dir = "\(root)/\(name)"
            var old = Self.defaults("\(root)/unused")
            old.secretSource = source
            old.newStoreAccess = .none
            old.encryption = .none  // as stores were made before keyrings
            let store = try Store(directory: dir, options: old)
            try store.append(try Self.rows())
            let before = try store.snapshot().run(Query(.history(try Plate("KR3")))).rows
            try store.close()
            #expect(!FileManager.default.fileExists(atPath: "\(root)/unused"), "an old-style store wrote to the keyring")
            var now = Self.defaults("\(root)/unused")
            if name == "file" { now.secretSource = source }
            let reopened = try Store(directory: dir, options: now)
            #expect(reopened.accessRequirement == .none)
            #expect(try reopened.snapshot().run(Query(.history(try Plate("KR3")))).rows == before && before.count == 8)
            try reopened.close()
        }
    }

    /// The CLI: `--keyring DIR` on any command (or `SIGHTLINE_KEYRING`); a store made by
    /// `ingest` keeps its keys there and requires a purpose.
    @Test func theCLIFindsTheKeyringByOptionOrEnvironment() throws {
        let root = temporaryDirectory("keyring-cli")
        defer { removeTree(root) }
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        let csv = "\(root)/in.csv", store = "\(root)/store", ring = "\(root)/ring"
        try writeFile(csv, Array(CommandLineTests.csv.utf8))
        let (ingested, output) = try CommandLineTests.run(["ingest", store, csv, "--keyring", ring, "--rejects", "/dev/null"])
        #expect(ingested == 0, "\(output)")
        let id = try #require(try StoreIdentity.read(directory: store, fileSystem: PosixFileSystem()))
        #expect(FileManager.default.fileExists(atPath: "\(ring)/\(id.hex)/plate-key.secret"))
        let (refused, text) = try CommandLineTests.run(["history", store, "ABC123", "--keyring=\(ring)"])
        #expect(refused != 0 && text.contains("purpose"), "\(text)")
        let (answered, rows) = try CommandLineTests.run(["history", store, "ABC123", "--keyring", ring, "--purpose", "test"])
        #expect(answered == 0 && rows.contains("ABC123"), "\(rows)")
        let (viaEnvironment, same) = try ChildProcess("/usr/bin/env", ["SIGHTLINE_KEYRING=\(ring)", CommandLineTests.binary, "history", store, "ABC123", "--purpose", "test"],
                                                      captureStandardError: true).finish()
        #expect(viaEnvironment == 0 && same == rows, "\(same)")
        let (wrong, message) = try CommandLineTests.run(["history", store, "ABC123", "--keyring", "\(root)/other", "--purpose", "test"])
        #expect(wrong != 0 && message.contains("holds no keys for this store") && message.contains(id.hex), "\(message)")
        let (missing, usage) = try CommandLineTests.run(["stats", store, "--keyring"])
        #expect(missing == 64 && usage.contains("--keyring"), "\(usage)")
    }
}
