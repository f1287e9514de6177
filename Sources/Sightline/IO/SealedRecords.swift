import Crypto

/// Sealing for the files that are not segments (Docs/format.md, "Sealed logs and small
/// files"): whole small files (`RULES`, `HOLDS`) in the sealed-file format, and the records
/// of the append-only logs (write-ahead logs, `ALERTS`) one by one.
extension SealedFile {
    /// `plaintext` as a whole sealed file under `dataKey` (named `keyID`).
    static func seal(_ plaintext: [UInt8], keyID: [UInt8], dataKey: SymmetricKey) throws(SightlineError) -> [UInt8] {
        var writer = SealedFileWriter(dataKey: dataKey, keyID: keyID)
        var out: [UInt8] = []
        out.reserveCapacity(SealedFileWriter.sealedSize(plaintext: plaintext.count))
        try plaintext.withUnsafeBytesTyped { (raw: UnsafeRawBufferPointer) throws(SightlineError) in
            try writer.append(raw) { (sealed: UnsafeRawBufferPointer) throws(SightlineError) in out.append(contentsOf: sealed) }
        }
        try writer.finish { (sealed: UnsafeRawBufferPointer) throws(SightlineError) in out.append(contentsOf: sealed) }
        return out
    }

    /// Whether `bytes` begin as a sealed file does.
    static func isSealed(_ bytes: [UInt8]) -> Bool { bytes.starts(with: magic) }

    /// The plaintext of the whole sealed file `bytes` (read from `path`); every chunk is
    /// authenticated, a failure is `corruptFile` naming the chunk's offset.
    static func open(_ bytes: [UInt8], path: String, dataKey: ([UInt8]) throws(SightlineError) -> SymmetricKey?) throws(SightlineError) -> [UInt8] {
        let header = try Header.parse(Array(bytes.prefix(headerSize)), path: path)
        let size = Int(try plaintextSize(fileSize: Int64(bytes.count), chunkSize: header.chunkSize, path: path))
        guard let data = try dataKey(header.keyID) else { throw missingKey(header.keyID, path: path) }
        let key = fileKey(data, header)
        let c = header.chunkSize
        let chunks = max(1, (size + c - 1) / c)
        let headerBytes = Array(bytes[0..<headerSize])
        var plain: [UInt8] = []
        plain.reserveCapacity(size)
        for index in 0..<chunks {
            let length = min(c, size - index * c)
            let at = headerSize + index * (c + tagSize)
            plain += try openChunk(bytes[at..<(at + length + tagSize)], length: length, index: index, last: index == chunks - 1,
                                   key: key, header: headerBytes, path: path, offset: Int64(at))
        }
        return plain
    }

    /// Opens chunk `index` (`length` plaintext bytes, then its tag) of a sealed file.
    static func openChunk(_ sealed: ArraySlice<UInt8>, length: Int, index: Int, last: Bool, key: SymmetricKey,
                          header: [UInt8], path: String, offset: Int64) throws(SightlineError) -> [UInt8] {
        let start = sealed.startIndex
        do {
            let box = try AES.GCM.SealedBox(nonce: nonce(index), ciphertext: sealed[start..<(start + length)],
                                            tag: sealed[(start + length)..<(start + length + tagSize)])
            return Array(try AES.GCM.open(box, using: key, authenticating: authenticatedData(header, index, last: last)))
        } catch {
            throw .corruptFile(path: path, offset: offset, reason: "sealed chunk \(index) fails authentication (damaged, moved or cut)")
        }
    }

    /// The error for a file whose data key `keyID` the keyring does not hold.
    static func missingKey(_ keyID: [UInt8], path: String) -> SightlineError {
        .corruptFile(path: path, offset: 0, reason: missingKeyReason + "\(hexString(keyID)) is not in the keyring (destroyed by a deletion, or the wrong keyring)")
    }
}

/// Seals and opens the records of one append-only log file (a write-ahead log, `ALERTS`)
/// under the file's own key: HKDF-SHA256 of the data key and the salt in the file's header,
/// as for sealed files. A sealed payload is `nonce (12) | ciphertext | tag (16)` with a fresh
/// random nonce, so a record rewritten after a crash cut the tail never reuses one; the
/// authenticated data is the record's sequence, so a record moved or replayed under another
/// sequence fails to open.
struct RecordSealer: Sendable {
    static let overhead = 12 + SealedFile.tagSize

    let keyID: [UInt8]
    let salt: [UInt8]
    private let key: SymmetricKey

    /// A sealer for a new file: a fresh salt.
    init(keyID: [UInt8], dataKey: SymmetricKey) {
        var g = SystemRandomNumberGenerator()
        self.init(keyID: keyID, salt: (0..<16).map { _ in UInt8.random(in: 0...255, using: &g) }, dataKey: dataKey)
    }

    /// The sealer of an existing file, from its header's fields.
    init(keyID: [UInt8], salt: [UInt8], dataKey: SymmetricKey) {
        precondition(keyID.count == 16 && salt.count == 16)
        self.keyID = keyID
        self.salt = salt
        key = HKDF<SHA256>.deriveKey(inputKeyMaterial: dataKey, salt: salt, info: Array("sightline sealed log v1".utf8), outputByteCount: 32)
    }

    /// The sealer for the header fields at the start of `fields` (`keyID | salt`) of the file
    /// at `path`, its data key found by `dataKey`.
    static func opening(_ fields: UnsafeRawBufferPointer, path: String, dataKey: ([UInt8]) throws(SightlineError) -> SymmetricKey?) throws(SightlineError) -> RecordSealer {
        let keyID = Array(fields[0..<16]), salt = Array(fields[16..<32])
        guard let data = try dataKey(keyID) else { throw SealedFile.missingKey(keyID, path: path) }
        return RecordSealer(keyID: keyID, salt: salt, dataKey: data)
    }

    /// The header of a record log (a write-ahead log, `ALERTS`): `magic | version u32 |
    /// [keyID | salt] | crc32c u32` — version `clear` and no key fields without a sealer,
    /// version `sealed` with them.
    static func logHeader(magic: [UInt8], clear: UInt32, sealed: UInt32, sealer: RecordSealer?) -> [UInt8] {
        var w = ByteWriter()
        w.append(contentsOf: magic)
        w.append(littleEndian: sealer == nil ? clear : sealed)
        if let sealer {
            w.append(contentsOf: sealer.keyID)
            w.append(contentsOf: sealer.salt)
        }
        w.append(littleEndian: w.bytes.withUnsafeBytes { CRC32C.checksum($0) })
        return w.bytes
    }

    /// Appends `payload` sealed for the record `sequence` to `w`.
    func seal(_ payload: UnsafeRawBufferPointer, sequence: UInt64, into w: inout ByteWriter) throws(SightlineError) {
        do {
            let box = try AES.GCM.seal(payload, using: key, nonce: AES.GCM.Nonce(), authenticating: Self.authenticatedData(sequence))
            box.nonce.withUnsafeBytes { w.append(contentsOf: $0) }
            box.ciphertext.withUnsafeBytes { w.append(contentsOf: $0) }
            box.tag.withUnsafeBytes { w.append(contentsOf: $0) }
        } catch {
            throw .invalidArgument("sealing record \(sequence) failed: \(error)")
        }
    }

    /// The payload of the sealed record `sequence` (`sealed` read at `offset` of `path`).
    func open(_ sealed: UnsafeRawBufferPointer, sequence: UInt64, path: String, offset: Int64) throws(SightlineError) -> [UInt8] {
        guard sealed.count >= Self.overhead else {
            throw .corruptFile(path: path, offset: offset, reason: "sealed record of \(sealed.count) bytes")
        }
        do {
            let box = try AES.GCM.SealedBox(nonce: AES.GCM.Nonce(data: sealed[0..<12]), ciphertext: sealed[12..<(sealed.count - 16)],
                                            tag: sealed[(sealed.count - 16)...])
            return Array(try AES.GCM.open(box, using: key, authenticating: Self.authenticatedData(sequence)))
        } catch {
            throw .corruptFile(path: path, offset: offset, reason: "sealed record \(sequence) fails authentication (damaged or moved)")
        }
    }

    private static func authenticatedData(_ sequence: UInt64) -> [UInt8] {
        withUnsafeBytes(of: sequence.littleEndian) { Array($0) }
    }
}
