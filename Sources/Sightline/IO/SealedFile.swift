import Crypto

/// Authenticated encryption of a whole file in fixed-size chunks, AES-256-GCM (swift-crypto):
/// the format of sealed segments and of the whole small files (`RULES`, `HOLDS`) of a store
/// that encrypts at rest (Docs/format.md, "Sealed files").
///
/// Layout: `header (48) | chunk 0 | chunk 1 | … | chunk n-1`; the header is
/// `magic "SLSEALED" (8) | version u32 | chunkSize u32 | keyID (16) | salt (16)`, and chunk
/// `i` is the AES-256-GCM ciphertext of plaintext bytes `[i·chunkSize, (i+1)·chunkSize)`
/// followed by its 16-byte tag. Each file has its own key, derived with HKDF-SHA256 from the
/// data key (found by `keyID`) and the file's random `salt`, so a data key may seal many files
/// and no (key, nonce) pair repeats; the nonce is the chunk index. The authenticated data of
/// chunk `i` is the header, `i` and whether it is the last chunk, so a chunk moved, copied
/// from another file, or a file cut at a chunk boundary fails to open. The last chunk may be
/// short (or empty, for an empty file).
enum SealedFile {
    static let magic: [UInt8] = Array("SLSEALED".utf8)
    static let version: UInt32 = 1
    static let headerSize = 48
    static let tagSize = 16
    /// Plaintext bytes per chunk by default: 16 KiB (0.1 % of tags; a random read decrypts at
    /// most one chunk more than it needs on each side).
    static let defaultChunkSize = 16 << 10

    /// The header of a sealed file.
    struct Header: Equatable {
        var chunkSize: Int
        /// Names the data key in the keyring.
        var keyID: [UInt8]
        var salt: [UInt8]

        var bytes: [UInt8] {
            var w = ByteWriter()
            w.append(contentsOf: SealedFile.magic)
            w.append(littleEndian: SealedFile.version)
            w.append(littleEndian: UInt32(chunkSize))
            w.append(contentsOf: keyID)
            w.append(contentsOf: salt)
            return w.bytes
        }

        /// Parses the first `headerSize` bytes of the file at `path`.
        static func parse(_ bytes: [UInt8], path: String) throws(SightlineError) -> Header {
            guard bytes.count >= SealedFile.headerSize, Array(bytes[0..<8]) == SealedFile.magic else {
                throw .corruptFile(path: path, offset: 0, reason: "not a sealed file (bad magic)")
            }
            func u32(_ at: Int) -> UInt32 { (0..<4).reduce(UInt32(0)) { $0 | UInt32(bytes[at + $1]) << (8 * UInt32($1)) } }
            let version = u32(8)
            guard version == SealedFile.version else { throw .unsupportedFormat(path: path, version: Int(version)) }
            let chunkSize = Int(u32(12))
            guard chunkSize >= 64, chunkSize <= 1 << 24 else { throw .corruptFile(path: path, offset: 12, reason: "chunk size \(chunkSize)") }
            return Header(chunkSize: chunkSize, keyID: Array(bytes[16..<32]), salt: Array(bytes[32..<48]))
        }
    }

    /// The file key of `header` under `dataKey` (32 bytes).
    static func fileKey(_ dataKey: SymmetricKey, _ header: Header) -> SymmetricKey {
        HKDF<SHA256>.deriveKey(inputKeyMaterial: dataKey, salt: header.salt, info: Array("sightline sealed file v1".utf8), outputByteCount: 32)
    }

    static func nonce(_ index: Int) -> AES.GCM.Nonce {
        var bytes = [UInt8](repeating: 0, count: 12)
        for i in 0..<8 { bytes[i] = UInt8(truncatingIfNeeded: UInt64(index) >> (8 * UInt64(i))) }
        return try! AES.GCM.Nonce(data: bytes)  // 12 bytes: always valid
    }

    static func authenticatedData(_ header: [UInt8], _ index: Int, last: Bool) -> [UInt8] {
        var w = ByteWriter()
        w.append(contentsOf: header)
        w.append(littleEndian: UInt64(index))
        w.append(UInt8(last ? 1 : 0))
        return w.bytes
    }

    static let missingKeyReason = "its data key "

    /// Whether `error` says a sealed file's data key is not in the keyring.
    static func isMissingKey(_ error: SightlineError) -> Bool {
        if case .corruptFile(_, _, let reason) = error { return reason.hasPrefix(missingKeyReason) }
        return false
    }

    /// The plaintext size of a sealed file of `fileSize` bytes with `chunkSize` chunks.
    static func plaintextSize(fileSize: Int64, chunkSize: Int, path: String) throws(SightlineError) -> Int64 {
        let body = fileSize - Int64(headerSize)
        let sealed = Int64(chunkSize + tagSize)
        guard body >= Int64(tagSize) else { throw .corruptFile(path: path, offset: fileSize, reason: "sealed file ends before its last chunk") }
        let full = body / sealed, rest = body % sealed
        if rest == 0 { return full * Int64(chunkSize) }  // the last chunk is full
        guard rest >= Int64(tagSize) else { throw .corruptFile(path: path, offset: fileSize, reason: "sealed file cut inside a chunk tag") }
        return full * Int64(chunkSize) + rest - Int64(tagSize)
    }
}

/// Seals a stream of bytes into a sealed file: bytes go in through `append`, the header
/// and whole sealed chunks out through the `output` each call is given, as chunks fill;
/// `finish` seals the last (possibly short or empty) chunk. One heap buffer of a chunk, reused.
struct SealedFileWriter {
    private let header: [UInt8]
    private let key: SymmetricKey
    private let chunkSize: Int
    private var pending: [UInt8] = []
    private var index = 0
    private var headerWritten = false
    /// Plaintext bytes appended so far.
    private(set) var plaintextBytes = 0

    /// `keyID` (16 bytes) names `dataKey` in the keyring.
    init(dataKey: SymmetricKey, keyID: [UInt8], chunkSize: Int = SealedFile.defaultChunkSize) {
        precondition(keyID.count == 16 && chunkSize >= 64)
        var salt = [UInt8](repeating: 0, count: 16)
        var g = SystemRandomNumberGenerator()
        for i in 0..<16 { salt[i] = UInt8.random(in: 0...255, using: &g) }
        let h = SealedFile.Header(chunkSize: chunkSize, keyID: keyID, salt: salt)
        header = h.bytes
        key = SealedFile.fileKey(dataKey, h)
        self.chunkSize = chunkSize
        pending.reserveCapacity(chunkSize)
    }

    /// Adds plaintext bytes.
    mutating func append(_ bytes: UnsafeRawBufferPointer, output: (UnsafeRawBufferPointer) throws(SightlineError) -> Void) throws(SightlineError) {
        plaintextBytes += bytes.count
        var at = 0
        while at < bytes.count {
            // A chunk is sealed only when more bytes follow it: the last one is sealed by `finish`.
            if pending.count == chunkSize { try seal(last: false, output) }
            let n = min(chunkSize - pending.count, bytes.count - at)
            pending.append(contentsOf: UnsafeRawBufferPointer(rebasing: bytes[at..<(at + n)]))
            at += n
        }
    }

    /// Seals the last chunk.
    mutating func finish(output: (UnsafeRawBufferPointer) throws(SightlineError) -> Void) throws(SightlineError) {
        try seal(last: true, output)
    }

    /// The sealed file's size for `plaintext` bytes in chunks of `chunkSize`.
    static func sealedSize(plaintext: Int, chunkSize: Int = SealedFile.defaultChunkSize) -> Int {
        SealedFile.headerSize + plaintext + SealedFile.tagSize * max(1, (plaintext + chunkSize - 1) / chunkSize)
    }

    private mutating func seal(last: Bool, _ output: (UnsafeRawBufferPointer) throws(SightlineError) -> Void) throws(SightlineError) {
        if !headerWritten {
            try header.withUnsafeBytesTyped { (raw: UnsafeRawBufferPointer) throws(SightlineError) in try output(raw) }
            headerWritten = true
        }
        let box: AES.GCM.SealedBox
        do {
            box = try AES.GCM.seal(pending, using: key, nonce: SealedFile.nonce(index),
                                   authenticating: SealedFile.authenticatedData(header, index, last: last))
        } catch {
            throw .invalidArgument("sealing chunk \(index) failed: \(error)")
        }
        let sealed = Array(box.ciphertext) + Array(box.tag)
        try sealed.withUnsafeBytesTyped { (raw: UnsafeRawBufferPointer) throws(SightlineError) in try output(raw) }
        pending.removeAll(keepingCapacity: true)
        index += 1
    }
}

/// Reads plaintext ranges of a sealed file through the `FileSystem` seam, opening (and
/// authenticating) every chunk a range touches; a chunk that fails is `corruptFile` naming
/// the file and the chunk's offset, never wrong bytes.
struct SealedFileReader: Sendable {
    let path: String
    let header: SealedFile.Header
    /// The plaintext's size.
    let size: Int64
    private let headerBytes: [UInt8]
    private let key: SymmetricKey
    private let chunkCount: Int
    /// This open file's id in `SealedChunkCache.shared` (its owner calls `remove(file:)` when it goes).
    let fileID = SealedChunkCache.shared.newFileID()

    /// Opens the sealed file `file` (of `fileSize` bytes) with the data key that `dataKey`
    /// finds for its key id (nil: the key is gone — destroyed or never there).
    init(file: OpenFile, fileSize: Int64, fileSystem: any FileSystem,
         dataKey: ([UInt8]) throws(SightlineError) -> SymmetricKey?) throws(SightlineError) {
        path = file.path
        guard fileSize >= Int64(SealedFile.headerSize) else { throw .corruptFile(path: path, offset: 0, reason: "sealed file shorter than its header") }
        var bytes = [UInt8](repeating: 0, count: SealedFile.headerSize)
        try bytes.withUnsafeMutableBytesTyped { (raw: UnsafeMutableRawBufferPointer) throws(SightlineError) in try fileSystem.readExactly(file, into: raw, at: 0) }
        header = try SealedFile.Header.parse(bytes, path: path)
        headerBytes = bytes
        size = try SealedFile.plaintextSize(fileSize: fileSize, chunkSize: header.chunkSize, path: path)
        guard let dataKey = try dataKey(header.keyID) else { throw SealedFile.missingKey(header.keyID, path: path) }
        key = SealedFile.fileKey(dataKey, header)
        // The writer seals the last chunk at `finish`: an empty file has one empty chunk,
        // and no file ends with an empty chunk after a full one.
        let c = Int64(header.chunkSize)
        chunkCount = max(1, Int((size + c - 1) / c))
    }

    /// Reads `raw.count` plaintext bytes at `offset` into `raw`.
    func read(_ file: OpenFile, into raw: UnsafeMutableRawBufferPointer, at offset: Int64, fileSystem: any FileSystem) throws(SightlineError) {
        guard offset >= 0, offset + Int64(raw.count) <= size else {
            throw .corruptFile(path: path, offset: offset, reason: "range past the end of the sealed file's \(size) bytes")
        }
        guard raw.count > 0 else { return }
        let c = header.chunkSize
        let first = Int(offset / Int64(c)), last = Int((offset + Int64(raw.count) - 1) / Int64(c))
        var sealed: [UInt8] = []
        var written = 0
        let cache = SealedChunkCache.shared
        for index in first...last {
            let plainStart = Int64(index) * Int64(c)
            let plainLength = Int(min(Int64(c), size - plainStart))
            let from = index == first ? Int(offset - plainStart) : 0
            let to = index == last ? Int(offset + Int64(raw.count) - plainStart) : plainLength
            let target = UnsafeMutableRawBufferPointer(rebasing: raw[written..<(written + to - from)])
            if cache.copy(file: fileID, index: index, range: from..<to, into: target) {
                written += to - from
                continue
            }
            if sealed.isEmpty { sealed = [UInt8](repeating: 0, count: c + SealedFile.tagSize) }
            let at = Int64(SealedFile.headerSize) + Int64(index) * Int64(c + SealedFile.tagSize)
            let sealedLength = plainLength + SealedFile.tagSize
            try sealed.withUnsafeMutableBytesTyped { (buffer: UnsafeMutableRawBufferPointer) throws(SightlineError) in
                try fileSystem.readExactly(file, into: UnsafeMutableRawBufferPointer(rebasing: buffer[0..<sealedLength]), at: at)
            }
            let plain = try open(sealed, length: plainLength, index: index, at: at)
            plain.withUnsafeBytes { p in target.copyMemory(from: UnsafeRawBufferPointer(rebasing: p[from..<to])) }
            cache.insert(file: fileID, index: index, plain)
            written += to - from
        }
    }

    private func open(_ sealed: [UInt8], length: Int, index: Int, at offset: Int64) throws(SightlineError) -> [UInt8] {
        try SealedFile.openChunk(sealed[0..<(length + SealedFile.tagSize)], length: length, index: index, last: index == chunkCount - 1,
                                 key: key, header: headerBytes, path: path, offset: offset)
    }
}
