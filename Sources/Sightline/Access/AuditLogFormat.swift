import Crypto

/// The audit log on disk: `AUDIT`, an 8-byte header then records, each chained to the one
/// before by SHA-256 (Docs/format.md, "Audit log"):
///
///     header   magic "SLAUDIT" (7) | version u8 = 1
///     record   bodyLength u32 | previousHash [32] | body | hash [32] | bodyLength u32 | crc32c u32
///     body     sequence u64 | time i64 | outcome u8 | rows i64 | plates i64 |
///              requester, agency, purpose, case, operation, query, detail (u32 length + UTF-8 each)
///     hash     SHA-256(previousHash ‖ body); the first record's previousHash is 32 zero bytes
///     crc32c   over the record's bytes before it
///
/// The trailing length lets an appender find the last record from the end of the file; the
/// CRC tells a torn or damaged record from a whole one; the hashes tell an edited, removed,
/// reordered or inserted record from the chain the log was written as (`verify`). The last
/// record can be cut off without breaking the chain: an anchor kept outside the store
/// (`AuditAnchor`) catches that.
enum AuditLogFormat {
    static let fileName = "AUDIT"
    static let magic = Array("SLAUDIT".utf8)
    static let version: UInt8 = 1
    static let headerSize = 8
    /// Bytes of a record around its body.
    static let frameSize = 4 + 32 + 32 + 4 + 4
    static let maximumBody = 1 << 20
    static let genesis = [UInt8](repeating: 0, count: 32)

    static func header() -> [UInt8] { magic + [version] }

    static func hash(previous: [UInt8], body: UnsafeRawBufferPointer) -> [UInt8] {
        var h = SHA256()
        h.update(data: previous)
        h.update(bufferPointer: body)
        return Array(h.finalize())
    }

    /// The record's body bytes (`sequence` and `time` as given).
    static func body(_ r: AuditRecord) -> [UInt8] {
        var w = ByteWriter(capacity: 160 + r.query.utf8.count)
        w.append(littleEndian: r.sequence)
        w.append(littleEndian: r.time)
        w.append(UInt8(AuditOutcome.allCases.firstIndex(of: r.outcome)!))
        w.append(littleEndian: r.rows)
        w.append(littleEndian: r.plates)
        for text in [r.access.requester, r.access.agency, r.access.purpose, r.access.caseNumber ?? "", r.operation, r.query, r.detail] {
            let bytes = Array(text.utf8.prefix(maximumBody / 8))
            w.append(littleEndian: UInt32(bytes.count))
            w.append(contentsOf: bytes)
        }
        return w.bytes
    }

    /// A whole record: frame around `body`, chained to `previous`. Returns it and its hash.
    static func record(body: [UInt8], previous: [UInt8]) -> (bytes: [UInt8], hash: [UInt8]) {
        let hash = body.withUnsafeBytes { Self.hash(previous: previous, body: $0) }
        var w = ByteWriter(capacity: frameSize + body.count)
        w.append(littleEndian: UInt32(body.count))
        w.append(contentsOf: previous)
        w.append(contentsOf: body)
        w.append(contentsOf: hash)
        w.append(littleEndian: UInt32(body.count))
        w.append(littleEndian: w.bytes.withUnsafeBytes { CRC32C.checksum($0) })
        return (w.bytes, hash)
    }

    static func decodeBody(_ body: UnsafeRawBufferPointer, fileOffset: Int64, path: String) throws(SightlineError) -> AuditRecord {
        var r = ByteReader(body, fileOffset: fileOffset, path: path)
        let sequence = try r.read(UInt64.self, "sequence")
        let time = try r.read(Int64.self, "time")
        let outcomeCode = Int(try r.readByte("outcome"))
        guard outcomeCode < AuditOutcome.allCases.count else { throw r.corrupt("unknown outcome \(outcomeCode)") }
        let rows = try r.read(Int64.self, "rows")
        let plates = try r.read(Int64.self, "plates")
        var texts: [String] = []
        for what in ["requester", "agency", "purpose", "case", "operation", "query", "detail"] {
            let n = Int(try r.read(UInt32.self, what))
            texts.append(String(decoding: try r.readBytes(n, what), as: UTF8.self))
        }
        return AuditRecord(sequence: sequence, time: time,
                           access: AccessContext(requester: texts[0], agency: texts[1], purpose: texts[2], caseNumber: texts[3]),
                           operation: texts[4], query: texts[5], rows: rows, plates: plates,
                           outcome: AuditOutcome.allCases[outcomeCode], detail: texts[6])
    }

    /// One record as read from the file.
    struct Entry {
        var offset: Int64
        var length: Int
        var previous: [UInt8]
        var hash: [UInt8]
        var body: [UInt8]
        var record: AuditRecord
    }

    /// Parses the whole record at `offset` of `bytes`, or nil when fewer bytes than its frame
    /// remain (a torn tail). Throws `corruptFile` when the record is whole but damaged.
    static func entry(_ bytes: UnsafeRawBufferPointer, at offset: Int, path: String) throws(SightlineError) -> Entry? {
        guard bytes.count - offset >= frameSize else { return nil }
        let bodyLength = Int(bytes.loadUnaligned(fromByteOffset: offset, as: UInt32.self).littleEndian)
        guard bodyLength <= maximumBody else {
            throw .corruptFile(path: path, offset: Int64(offset), reason: "audit record length \(bodyLength) exceeds the limit")
        }
        let length = frameSize + bodyLength
        guard bytes.count - offset >= length else { return nil }
        let record = UnsafeRawBufferPointer(rebasing: bytes[offset..<(offset + length)])
        let crc = record.loadUnaligned(fromByteOffset: length - 4, as: UInt32.self).littleEndian
        guard CRC32C.checksum(UnsafeRawBufferPointer(rebasing: record[0..<(length - 4)])) == crc,
              Int(record.loadUnaligned(fromByteOffset: length - 8, as: UInt32.self).littleEndian) == bodyLength else {
            throw .corruptFile(path: path, offset: Int64(offset), reason: "audit record checksum mismatch")
        }
        let body = UnsafeRawBufferPointer(rebasing: record[36..<(36 + bodyLength)])
        return Entry(offset: Int64(offset), length: length, previous: Array(record[4..<36]),
                     hash: Array(record[(36 + bodyLength)..<(68 + bodyLength)]), body: Array(body),
                     record: try decodeBody(body, fileOffset: Int64(offset + 36), path: path))
    }

    static func checkHeader(_ bytes: UnsafeRawBufferPointer, path: String) throws(SightlineError) {
        guard bytes.count >= headerSize, Array(bytes[0..<7]) == magic else {
            throw .corruptFile(path: path, offset: 0, reason: "not an audit log")
        }
        guard bytes[7] == version else { throw .unsupportedFormat(path: path, version: Int(bytes[7])) }
    }
}


