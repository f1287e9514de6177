import Crypto
import Foundation
import Testing
@testable import Sightline

/// The key hierarchy in the keyring: data keys wrapped by a key-encryption key, created and
/// destroyed durably, re-wrapped by a rotation that never touches the data; every step safe
/// against a failure at any file operation.
@Suite struct DataKeysTests {
    static func bytes(_ key: SymmetricKey) -> [UInt8] { key.withUnsafeBytes { Array($0) } }

    /// A store (for its id) and its keyring, in `root`.
    static func store(_ root: String) throws -> (store: String, keyring: Keyring, id: StoreIdentity) {
        var options = storeOptions()
        options.keyring = Keyring(directory: "\(root)/ring")
        try Store(directory: "\(root)/store", options: options).close()
        return ("\(root)/store", options.keyring, try #require(try StoreIdentity.read(directory: "\(root)/store", fileSystem: PosixFileSystem())))
    }

    @Test func keysAreWrappedDurableDestroyedAndRotatedWithoutTouchingData() throws {
        let root = temporaryDirectory("data-keys")
        defer { removeTree(root) }
        let (store, keyring, id) = try Self.store(root)
        let fs = PosixFileSystem()
        let keys = DataKeys(keyring: keyring, storeID: id, fileSystem: fs)
        // The store's own keys (its write-ahead log's, its alert log's) come first.
        let own = try keyring.status(ofStoreAt: store).dataKeyIDs.count
        var made: [([UInt8], [UInt8])] = []
        for _ in 0..<5 { let (kid, key) = try keys.create(); made.append((kid, Self.bytes(key))) }
        // A fresh reader (no cache) unwraps the same keys; no key file holds its key in clear.
        let fresh = DataKeys(keyring: keyring, storeID: id, fileSystem: fs)
        for (kid, key) in made {
            #expect(try fresh.key(kid).map(Self.bytes) == key)
            let file = "\(keyring.entry(id))/keys/\(hexString(kid)).key"
            #expect(try fs.permissions(file) == 0o600)
            #expect(!String(decoding: try readFile(file), as: UTF8.self).contains(hexString(key)))
        }
        #expect(try fs.permissions("\(keyring.entry(id))/keys") == 0o700)
        // A sealed file made with key 0 reads back after a rotation.
        let plain = Array("7ABC123 at 37.77,-122.41".utf8)
        var sealed: [UInt8] = []
        let collect = { (raw: UnsafeRawBufferPointer) throws(SightlineError) in sealed.append(contentsOf: raw) }
        var writer = SealedFileWriter(dataKey: SymmetricKey(data: made[0].1), keyID: made[0].0, chunkSize: 64)
        try plain.withUnsafeBytesTyped { (raw: UnsafeRawBufferPointer) throws(SightlineError) in try writer.append(raw, output: collect) }
        try writer.finish(output: collect)
        try writeFile("\(root)/sealed", sealed)
        let status = try keyring.status(ofStoreAt: store)
        #expect(status.keyEncryptionKeys == ["kek-000001"] && status.dataKeysByKEK == ["kek-000001": own + 5] && status.dataKeyIDs.count == own + 5)
        let rotation = try keyring.rotateKeys(ofStoreAt: store)
        #expect(rotation == KeyRotation(rewrapped: own + 5, keyEncryptionKey: "kek-000002", removed: ["kek-000001"]))
        #expect(try keyring.status(ofStoreAt: store).dataKeysByKEK == ["kek-000002": own + 5])
        let afterRotation = DataKeys(keyring: keyring, storeID: id, fileSystem: fs)
        for (kid, key) in made { #expect(try afterRotation.key(kid).map(Self.bytes) == key) }
        #expect(try SealedFileTests.read("\(root)/sealed", key: try afterRotation.key(made[0].0), keyID: made[0].0, 0, plain.count) == plain)
        // Destroyed: gone for every reader, and the file it sealed no longer opens.
        #expect(try afterRotation.destroy([made[0].0, made[1].0, [UInt8](repeating: 9, count: 16)]) == 2)
        let later = DataKeys(keyring: keyring, storeID: id, fileSystem: fs)
        #expect(try later.key(made[0].0) == nil && later.key(made[1].0) == nil && later.key(made[2].0) != nil)
        #expect(throws: SightlineError.self) { _ = try SealedFileTests.read("\(root)/sealed", key: try later.key(made[0].0), keyID: made[0].0, 0, plain.count) }
        // A key file is bound to its id: copied under another id, it fails to unwrap.
        let entry = keyring.entry(id)
        try writeFile("\(entry)/keys/\(hexString(made[0].0)).key", try readFile("\(entry)/keys/\(hexString(made[2].0)).key"))
        #expect(throws: SightlineError.self) { _ = try DataKeys(keyring: keyring, storeID: id, fileSystem: fs).key(made[0].0) }
    }

    /// A failure at every file operation of a rotation, then of a destruction: afterwards the
    /// keyring opens, every key not destroyed unwraps to its bytes, and the operation retried
    /// completes.
    @Test func aFailureAtAnyStepOfARotationOrDestructionLosesNoKey() throws {
        let root = temporaryDirectory("data-keys-faults")
        defer { removeTree(root) }
        let (store, keyring, id) = try Self.store(root)
        let fs = PosixFileSystem()
        let own = try keyring.status(ofStoreAt: store).dataKeyIDs.count
        var made: [([UInt8], [UInt8])] = []
        let keys = DataKeys(keyring: keyring, storeID: id, fileSystem: fs)
        for _ in 0..<3 { let (kid, key) = try keys.create(); made.append((kid, Self.bytes(key))) }
        // Each rotation runs with the N-th file operation failing, N = 0, 1, … until a run
        // ends before its N-th operation (some failures, such as a close, are shrugged off).
        var failed = 0
        for step in 0..<500 {
            let faulty = FaultInjectingFileSystem(failAt: step)
            do { _ = try keyring.rotateKeys(ofStoreAt: store, fileSystem: faulty) } catch { failed += 1 }
            let check = DataKeys(keyring: keyring, storeID: id, fileSystem: fs)
            for (kid, key) in made { #expect(try check.key(kid).map(Self.bytes) == key, "rotation failing at operation \(step)") }
            if faulty.operations.count <= step { break }
        }
        #expect(failed > 10, "the rotation had only \(failed) operations to fail")
        #expect(try keyring.rotateKeys(ofStoreAt: store).rewrapped == own + 3)
        #expect(try keyring.status(ofStoreAt: store).keyEncryptionKeys.count == 1)
        for step in 0..<500 {
            let faulty = FaultInjectingFileSystem(failAt: step)
            do { _ = try DataKeys(keyring: keyring, storeID: id, fileSystem: faulty).destroy([made[0].0]) } catch {}
            let check = DataKeys(keyring: keyring, storeID: id, fileSystem: fs)
            for (kid, key) in made.dropFirst() { #expect(try check.key(kid).map(Self.bytes) == key, "destruction failing at operation \(step)") }
            if faulty.operations.count <= step { break }
        }
        #expect(try DataKeys(keyring: keyring, storeID: id, fileSystem: fs).key(made[0].0) == nil)
    }

    @Test func theCLIShowsAndRotatesKeys() throws {
        let root = temporaryDirectory("keys-cli")
        defer { removeTree(root) }
        let (store, keyring, id) = try Self.store(root)
        // A new store's keys: its write-ahead log's and its alert log's.
        let own = try keyring.status(ofStoreAt: store).dataKeyIDs.count
        #expect(own == 2)
        let (s1, status) = try CommandLineTests.run(["keys", store, "status", "--keyring", keyring.directory])
        #expect(s1 == 0 && status.contains("store id:            \(id.hex)") && status.contains("plate-key secret:    keyring")
                && status.contains("key-encryption keys: kek-000001") && status.contains("data keys:           \(own) (kek-000001: \(own))"), "\(status)")
        let (s2, rotated) = try CommandLineTests.run(["keys", store, "rotate", "--keyring", keyring.directory])
        #expect(s2 == 0 && rotated == "rotated: \(own) data keys re-wrapped under kek-000002; removed kek-000001\n", "\(rotated)")
        let (_, after) = try CommandLineTests.run(["keys", store, "status", "--keyring", keyring.directory])
        #expect(after.contains("key-encryption keys: kek-000002"), "\(after)")
        // Never a key: no line of the status holds 64 hex digits.
        #expect(!after.split(separator: "\n").contains { $0.utf8.count >= 64 && $0.allSatisfy(\.isHexDigit) })
        // Another keyring: the store's id named, exit non-zero.
        let (s3, wrong) = try CommandLineTests.run(["keys", store, "status", "--keyring", "\(root)/other"])
        #expect(s3 != 0 && wrong.contains(id.hex), "\(wrong)")
        // A store made before keyrings: status says so; rotate refuses.
        var old = storeOptions()
        old.secretSource = .storeDirectory
        old.encryption = .none  // as stores were made before keyrings
        try Store(directory: "\(root)/old", options: old).close()
        let (s4, oldStatus) = try CommandLineTests.run(["keys", "\(root)/old", "status", "--keyring", keyring.directory])
        #expect(s4 == 0 && oldStatus.contains("none (a store made before keyrings)") && oldStatus.contains("store directory"), "\(oldStatus)")
        #expect(try CommandLineTests.run(["keys", "\(root)/old", "rotate", "--keyring", keyring.directory]).0 != 0)
    }
}

/// Key-encryption keys from outside the keyring — a file, the environment, a key-management
/// provider: the keyring then holds only wrapped data keys; a rotation moves every data key
/// from the keyring's own files to the external key and from one external key to the next,
/// and a keyring without the key opens nothing, naming the key it lacks.
@Suite struct ExternalKeyEncryptionKeyTests {
    static func hexKey(_ byte: UInt8) -> String { String(repeating: String(format: "%02x", byte), count: 32) }

    static func options(_ root: String, _ keks: KeyEncryptionKeys) -> StoreOptions {
        var o = storeOptions()
        o.keyring = Keyring(directory: "\(root)/ring", keyEncryptionKeys: keks)
        return o
    }

    static func rows(_ dir: String, _ options: StoreOptions) throws -> Set<RowKey> {
        Set(EncryptionTests.keys(try ReadOnlyStore(directory: dir, options: options).snapshot(access: EncryptionTests.reader).allSightings()))
    }

    @Test func aFileKeyWrapsEveryDataKeyAndRotationsMoveThemBetweenKeys() throws {
        let root = temporaryDirectory("external-kek")
        defer { removeTree(root) }
        try writeFile("\(root)/a.kek", Array((Self.hexKey(0xA1) + "\n").utf8))
        try writeFile("\(root)/b.kek", Array(Self.hexKey(0xB2).utf8))
        let dir = "\(root)/s"
        // Made with the keyring's own KEK files, then moved to the file key by a rotation.
        let store = try Store(directory: dir, options: Self.options(root, .keyring))
        let batches = try EncryptionTests.fill(store, seed: testSeed())
        try store.close()
        let want = Set(batches.flatMap { EncryptionTests.keys($0.sightings) })
        let fileA = Keyring(directory: "\(root)/ring", keyEncryptionKeys: .file("\(root)/a.kek"))
        let moved = try fileA.rotateKeys(ofStoreAt: dir)
        let idA = KeyEncryptionKeys.fingerprintID(hexBytes(Self.hexKey(0xA1))!)
        #expect(moved.keyEncryptionKey == idA && moved.removed == ["kek-000001"] && moved.rewrapped >= 4)
        let id = try #require(try StoreIdentity.read(directory: dir, fileSystem: PosixFileSystem()))
        let entry = Keyring(directory: "\(root)/ring").entry(id)
        #expect(!(try FileManager.default.contentsOfDirectory(atPath: entry)).contains { $0.hasPrefix("kek-") }, "a KEK left in the keyring")
        #expect(try Self.rows(dir, Self.options(root, .file("\(root)/a.kek"))) == want)
        let status = try fileA.status(ofStoreAt: dir)
        #expect(status.keyEncryptionKeys == [idA] && status.dataKeysByKEK == [idA: moved.rewrapped] && status.report.contains("(current from file \(root)/a.kek)"))
        // The keyring alone (no file key) opens nothing, and says which key it lacks.
        #expect(throws: SightlineError.self) { _ = try Self.rows(dir, Self.options(root, .keyring)) }
        do { _ = try Self.rows(dir, Self.options(root, .keyring)) } catch {
            #expect("\(error)".contains(idA) && !"\(error)".contains(Self.hexKey(0xA1)), "\(error)")
        }
        // From file A to file B: without A given as the previous key, nothing is lost.
        #expect(throws: SightlineError.self) { _ = try Keyring(directory: "\(root)/ring", keyEncryptionKeys: .file("\(root)/b.kek")).rotateKeys(ofStoreAt: dir) }
        #expect(try Self.rows(dir, Self.options(root, .file("\(root)/a.kek"))) == want)
        let toB = try Keyring(directory: "\(root)/ring", keyEncryptionKeys: .file("\(root)/b.kek", previous: ["\(root)/a.kek"])).rotateKeys(ofStoreAt: dir)
        #expect(toB.rewrapped == moved.rewrapped && toB.removed.isEmpty)
        #expect(try Self.rows(dir, Self.options(root, .file("\(root)/b.kek"))) == want)
        #expect(throws: SightlineError.self) { _ = try Self.rows(dir, Self.options(root, .file("\(root)/a.kek"))) }
        // A new store made under the file key never writes a KEK file; the CLI takes --kek-file.
        let fresh = try Store(directory: "\(root)/fresh", options: Self.options(root, .file("\(root)/b.kek")))
        _ = try EncryptionTests.fill(fresh, seed: testSeed() &+ 1)
        try fresh.close()
        let freshID = try #require(try StoreIdentity.read(directory: "\(root)/fresh", fileSystem: PosixFileSystem()))
        #expect(!(try FileManager.default.contentsOfDirectory(atPath: Keyring(directory: "\(root)/ring").entry(freshID))).contains { $0.hasPrefix("kek-") })
        let (s1, out) = try CommandLineTests.run(["keys", "\(root)/fresh", "status", "--keyring", "\(root)/ring", "--kek-file", "\(root)/b.kek"])
        #expect(s1 == 0 && out.contains("(current from file \(root)/b.kek)") && !out.contains(Self.hexKey(0xB2)), "\(out)")
        let (s2, _) = try CommandLineTests.run(["verify", "\(root)/fresh", "--keyring", "\(root)/ring"])
        #expect(s2 != 0, "verify without the key-encryption key passed")
        let (s3, _) = try CommandLineTests.run(["verify", "\(root)/fresh", "--keyring", "\(root)/ring", "--kek-file", "\(root)/b.kek"])
        #expect(s3 == 0)
    }

    @Test func aProviderAndTheEnvironmentServeKeys() throws {
        let root = temporaryDirectory("provider-kek")
        defer { removeTree(root) }
        // A key-management service: serves its current key and every earlier one by id.
        let service = Locked<(current: String, keys: [String: [UInt8]])>(("v1", ["v1": [UInt8](repeating: 7, count: 32)]))
        let kms = KeyEncryptionKeys.provider(named: "test-kms") { id in
            service.withLock { s in
                let name = id ?? s.current
                return s.keys[name].map { (name, $0) }
            }
        }
        let dir = "\(root)/s"
        let store = try Store(directory: dir, options: Self.options(root, kms))
        let want = Set(try EncryptionTests.fill(store, seed: testSeed()).flatMap { EncryptionTests.keys($0.sightings) })
        try store.close()
        #expect(try Keyring(directory: "\(root)/ring", keyEncryptionKeys: kms).status(ofStoreAt: dir).keyEncryptionKeys == ["v1"])
        service.withLock { $0.keys["v2"] = [UInt8](repeating: 9, count: 32); $0.current = "v2" }
        let rotation = try Keyring(directory: "\(root)/ring", keyEncryptionKeys: kms).rotateKeys(ofStoreAt: dir)
        #expect(rotation.keyEncryptionKey == "v2" && rotation.rewrapped >= 4)
        service.withLock { _ = $0.keys.removeValue(forKey: "v1") }  // retired at the service
        #expect(try Self.rows(dir, Self.options(root, kms)) == want)
        // The environment: a rotation to it cannot unwrap keys under the provider's key —
        // refused, and nothing changed.
        setenv("SIGHTLINE_TEST_KEK", Self.hexKey(0x33), 1)
        defer { unsetenv("SIGHTLINE_TEST_KEK") }
        let env = KeyEncryptionKeys.environment("SIGHTLINE_TEST_KEK")
        #expect(throws: SightlineError.self) { _ = try Keyring(directory: "\(root)/ring", keyEncryptionKeys: env).rotateKeys(ofStoreAt: dir) }
        #expect(try Self.rows(dir, Self.options(root, kms)) == want)
        // A store made under the environment's key opens with it, and names it by its fingerprint.
        let made = try Store(directory: "\(root)/e", options: Self.options(root, env))
        let wantE = Set(try EncryptionTests.fill(made, seed: testSeed() &+ 2).flatMap { EncryptionTests.keys($0.sightings) })
        try made.close()
        #expect(try Self.rows("\(root)/e", Self.options(root, env)) == wantE)
        #expect(try Keyring(directory: "\(root)/ring", keyEncryptionKeys: env).status(ofStoreAt: "\(root)/e").keyEncryptionKeys
                == [KeyEncryptionKeys.fingerprintID(hexBytes(Self.hexKey(0x33))!)])
        // A bad key is refused with a reason, never used.
        setenv("SIGHTLINE_TEST_KEK", "not hex", 1)
        #expect(throws: SightlineError.self) { _ = try Keyring(directory: "\(root)/ring", keyEncryptionKeys: .environment("SIGHTLINE_TEST_KEK")).rotateKeys(ofStoreAt: dir) }
    }
}
