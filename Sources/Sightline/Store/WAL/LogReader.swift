/// Reads a write-ahead log: every complete, checksummed record in order, and where the valid
/// part ends. A record that is incomplete, fails its checksum, or breaks the sequence ends
/// the valid part: appends are sequential, so only the tail can be torn, and a store
/// recovering from a crash keeps the valid prefix and cuts the rest.
package struct LogReader {
    /// One recovered record.
    package struct Record {
        package var sequence: UInt64
        package var batch: SightingBatch
    }

    /// What a read found.
    package struct Contents {
        package var records: [Record]
        /// Bytes of header and valid records; recovery truncates the file here.
        package var validLength: Int64
        /// Why reading stopped before the end of the file, if it did.
        var tail: SightlineError?
    }

    /// Reads the log at `path`. Throws only when the header itself is unreadable or corrupt
    /// (then nothing in the file can be trusted); a bad tail is reported in `tail`.
    package static func read(_ path: String, fileSystem: any FileSystem) throws(SightlineError) -> Contents {
        try read(path, fileSystem: fileSystem, from: 0, expecting: nil)
    }

    /// Reads the records that start at byte `offset` (0: the whole log, header checked; else
    /// the end of the valid part an earlier read returned, to read only what was appended
    /// since). `expecting` is the sequence the first record must have, when known. Never
    /// writes: a reader of a log another process appends to sees a torn tail as the end.
    package static func read(_ path: String, fileSystem: any FileSystem, from offset: Int64,
                             expecting: UInt64?) throws(SightlineError) -> Contents {
        let file = try fileSystem.open(path, mode: .read)
        defer { try? fileSystem.close(file) }
        let size = try fileSystem.size(file)
        guard size >= offset else {
            throw .corruptFile(path: path, offset: size, reason: "log shrank from \(offset) to \(size) bytes")
        }
        var bytes = [UInt8](repeating: 0, count: Int(size - offset))
        try bytes.withUnsafeMutableBytesTyped { (raw: UnsafeMutableRawBufferPointer) throws(SightlineError) in
            try fileSystem.readExactly(file, into: raw, at: offset)
        }
        return try bytes.withUnsafeBytesTyped { (raw: UnsafeRawBufferPointer) throws(SightlineError) -> Contents in
            var reader = ByteReader(raw, fileOffset: offset, path: path)
            if offset == 0 {
                guard raw.count >= LogFormat.headerSize, Array(raw[0..<8]) == LogFormat.magic else {
                    throw reader.corrupt("not a Sightline write-ahead log (bad magic)")
                }
                let crc = raw.loadUnaligned(fromByteOffset: 12, as: UInt32.self).littleEndian
                guard crc == CRC32C.checksum(UnsafeRawBufferPointer(rebasing: raw[0..<12])) else {
                    throw reader.corrupt("log header checksum mismatch", at: 12)
                }
                let version = raw.loadUnaligned(fromByteOffset: 8, as: UInt32.self).littleEndian
                guard version == LogFormat.version else { throw .unsupportedFormat(path: path, version: Int(version)) }
                _ = try reader.readBytes(LogFormat.headerSize, "header")
            }

            var contents = Contents(records: [], validLength: max(offset, Int64(LogFormat.headerSize)), tail: nil)
            var expectedSequence = expecting
            while !reader.isAtEnd {
                let start = reader.position
                guard reader.remaining >= LogFormat.recordHeaderSize else {
                    contents.tail = reader.corrupt("torn record header (\(reader.remaining) bytes)", at: start)
                    break
                }
                let length = Int(try reader.read(UInt32.self))
                let crc = try reader.read(UInt32.self)
                guard length <= LogFormat.maximumPayload, reader.remaining >= 8 + length else {
                    contents.tail = reader.corrupt("torn or oversized record (\(length) payload bytes, \(reader.remaining) left)", at: start)
                    break
                }
                let covered = UnsafeRawBufferPointer(rebasing: raw[(start + 8)..<(start + 16 + length)])
                guard CRC32C.checksum(covered) == crc else {
                    contents.tail = reader.corrupt("record checksum mismatch", at: start)
                    break
                }
                let sequence = try reader.read(UInt64.self)
                // The last sequence there can be: nothing may follow it (and counting on
                // from it would overflow).
                guard sequence < .max else {
                    contents.tail = reader.corrupt("record sequence \(sequence) is the largest there can be", at: start)
                    break
                }
                if let expectedSequence, sequence != expectedSequence {
                    contents.tail = reader.corrupt("record sequence \(sequence), expected \(expectedSequence)", at: start)
                    break
                }
                var payload = ByteReader(try reader.readBytes(length, "payload"), fileOffset: offset + Int64(start + 16), path: path)
                let batch: SightingBatch
                do throws(SightlineError) {
                    batch = try BatchCodec.decode(&payload)
                    guard payload.isAtEnd else { throw payload.corrupt("\(payload.remaining) bytes after the batch") }
                } catch {
                    contents.tail = error
                    break
                }
                contents.records.append(Record(sequence: sequence, batch: batch))
                contents.validLength = offset + Int64(reader.position)
                expectedSequence = sequence + 1
            }
            return contents
        }
    }
}
