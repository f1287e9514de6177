/// The store's append-only record of deletions (`deletions.log`): every retention run and
/// purge that removed rows, with what, how many, when and which segment files it rewrote.
///
/// Format: `magic "SLDEL\r\n\0" (8)`, then records `length u32 | crc32c u32 | payload`, the
/// CRC over the payload; the payload is one UTF-8 JSON object. A purge record names no plate
/// and no plate key (either would let anyone confirm a guess of the erased plate): it carries
/// a random id the caller gets back, to keep with the request that asked for it.
struct DeletionLog {
    static let fileName = "deletions.log"
    static let magic: [UInt8] = [0x53, 0x4C, 0x44, 0x45, 0x4C, 0x0D, 0x0A, 0x00]

    /// One record, as written.
    struct Record: Sendable, Hashable {
        var json: String
    }

    /// Appends `record` durably (creating the log when missing).
    static func append(_ json: String, directory: String, fileSystem: any FileSystem) throws(SightlineError) {
        let path = "\(directory)/\(fileName)"
        let exists = try fileSystem.contentsOfDirectory(directory).contains(fileName)
        let file = try fileSystem.open(path, mode: exists ? .append : .createExclusive)
        defer { try? fileSystem.close(file) }
        var out = ByteWriter()
        if !exists { out.append(contentsOf: magic) }
        let payload = Array(json.utf8)
        out.append(littleEndian: UInt32(payload.count))
        out.append(littleEndian: payload.withUnsafeBytes { CRC32C.checksum($0) })
        out.append(contentsOf: payload)
        try out.bytes.withUnsafeBytesTyped { (raw: UnsafeRawBufferPointer) throws(SightlineError) in try fileSystem.writeAll(file, raw) }
        try fileSystem.sync(file)
        if !exists { try fileSystem.syncDirectory(directory) }
    }

    /// Every valid record, and the problem with the rest of the file if any (a torn or
    /// corrupt record: what follows it is not trusted).
    static func read(directory: String, fileSystem: any FileSystem) throws(SightlineError) -> (records: [Record], problem: SightlineError?) {
        let path = "\(directory)/\(fileName)"
        guard try fileSystem.contentsOfDirectory(directory).contains(fileName) else { return ([], nil) }
        let file = try fileSystem.open(path, mode: .read)
        defer { try? fileSystem.close(file) }
        let size = Int(try fileSystem.size(file))
        var bytes = [UInt8](repeating: 0, count: size)
        try bytes.withUnsafeMutableBytesTyped { (raw: UnsafeMutableRawBufferPointer) throws(SightlineError) in try fileSystem.readExactly(file, into: raw, at: 0) }
        guard size >= 8, Array(bytes[0..<8]) == magic else {
            return ([], .corruptFile(path: path, offset: 0, reason: "not a deletion log (bad magic)"))
        }
        var records: [Record] = []
        var at = 8
        while at < size {
            guard size - at >= 8 else { return (records, .corruptFile(path: path, offset: Int64(at), reason: "torn record header")) }
            let length = Int(bytes.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: at, as: UInt32.self).littleEndian })
            let crc = bytes.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: at + 4, as: UInt32.self).littleEndian }
            guard length <= size - at - 8 else { return (records, .corruptFile(path: path, offset: Int64(at), reason: "record of \(length) bytes runs past the end")) }
            let payload = bytes[(at + 8)..<(at + 8 + length)]
            guard payload.withUnsafeBytes({ CRC32C.checksum($0) }) == crc else {
                return (records, .corruptFile(path: path, offset: Int64(at), reason: "record checksum mismatch"))
            }
            records.append(Record(json: String(decoding: payload, as: UTF8.self)))
            at += 8 + length
        }
        return (records, nil)
    }
}
