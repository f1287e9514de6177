import Crypto

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
    package static func read(_ path: String, fileSystem: any FileSystem,
                             dataKey: ([UInt8]) throws(SightlineError) -> SymmetricKey? = { _ in nil }) throws(SightlineError) -> Contents {
        try read(path, fileSystem: fileSystem, from: 0, expecting: nil, dataKey: dataKey)
    }

    /// Reads the records that start at byte `offset` (0: the whole log, header checked; else
    /// the end of the valid part an earlier read returned, to read only what was appended
    /// since). `expecting` is the sequence the first record must have, when known. Never
    /// writes: a reader of a log another process appends to sees a torn tail as the end.
    /// A sealed (version-2) log's records are opened with the data key `dataKey` finds for
    /// the id in its header; a record whose checksum holds but fails to open is damage (or
    /// tampering), reported as `corruptFile` with its offset, never read as a torn tail.
    package static func read(_ path: String, fileSystem: any FileSystem, from offset: Int64, expecting: UInt64?,
                             dataKey: ([UInt8]) throws(SightlineError) -> SymmetricKey? = { _ in nil }) throws(SightlineError) -> Contents {
        let file = try fileSystem.open(path, mode: .read)
        defer { try? fileSystem.close(file) }
        let size = try fileSystem.size(file)
        guard size >= offset else {
            throw .corruptFile(path: path, offset: size, reason: "log shrank from \(offset) to \(size) bytes")
        }
        // The header, always: a sealed log's names its key.
        var header = [UInt8](repeating: 0, count: Int(min(size, Int64(LogFormat.sealedHeaderSize))))
        try header.withUnsafeMutableBytesTyped { (raw: UnsafeMutableRawBufferPointer) throws(SightlineError) in
            try fileSystem.readExactly(file, into: raw, at: 0)
        }
        let (headerSize, sealer) = try header.withUnsafeBytesTyped { (raw: UnsafeRawBufferPointer) throws(SightlineError) -> (Int, RecordSealer?) in
            let reader = ByteReader(raw, fileOffset: 0, path: path)
            guard raw.count >= LogFormat.headerSize, Array(raw[0..<8]) == LogFormat.magic else {
                throw reader.corrupt("not a Sightline write-ahead log (bad magic)")
            }
            let version = raw.loadUnaligned(fromByteOffset: 8, as: UInt32.self).littleEndian
            let size = version == LogFormat.sealedVersion ? LogFormat.sealedHeaderSize : LogFormat.headerSize
            guard raw.count >= size else { throw reader.corrupt("log header cut at \(raw.count) bytes") }
            let crc = raw.loadUnaligned(fromByteOffset: size - 4, as: UInt32.self).littleEndian
            guard crc == CRC32C.checksum(UnsafeRawBufferPointer(rebasing: raw[0..<(size - 4)])) else {
                throw reader.corrupt("log header checksum mismatch", at: size - 4)
            }
            switch version {
            case LogFormat.version: return (size, nil)
            case LogFormat.sealedVersion:
                return (size, try RecordSealer.opening(UnsafeRawBufferPointer(rebasing: raw[12..<44]), path: path, dataKey: dataKey))
            default: throw .unsupportedFormat(path: path, version: Int(version))
            }
        }
        let start = max(offset, Int64(headerSize))
        var bytes = [UInt8](repeating: 0, count: Int(max(0, size - start)))
        try bytes.withUnsafeMutableBytesTyped { (raw: UnsafeMutableRawBufferPointer) throws(SightlineError) in
            try fileSystem.readExactly(file, into: raw, at: start)
        }
        return try bytes.withUnsafeBytesTyped { (raw: UnsafeRawBufferPointer) throws(SightlineError) -> Contents in
            var reader = ByteReader(raw, fileOffset: start, path: path)
            var contents = Contents(records: [], validLength: start, tail: nil)
            var expectedSequence = expecting
            while !reader.isAtEnd {
                let recordStart = reader.position
                guard reader.remaining >= LogFormat.recordHeaderSize else {
                    contents.tail = reader.corrupt("torn record header (\(reader.remaining) bytes)", at: recordStart)
                    break
                }
                let length = Int(try reader.read(UInt32.self))
                let crc = try reader.read(UInt32.self)
                guard length <= LogFormat.maximumPayload, reader.remaining >= 8 + length else {
                    contents.tail = reader.corrupt("torn or oversized record (\(length) payload bytes, \(reader.remaining) left)", at: recordStart)
                    break
                }
                let covered = UnsafeRawBufferPointer(rebasing: raw[(recordStart + 8)..<(recordStart + 16 + length)])
                guard CRC32C.checksum(covered) == crc else {
                    contents.tail = reader.corrupt("record checksum mismatch", at: recordStart)
                    break
                }
                let sequence = try reader.read(UInt64.self)
                // The last sequence there can be: nothing may follow it (and counting on
                // from it would overflow).
                guard sequence < .max else {
                    contents.tail = reader.corrupt("record sequence \(sequence) is the largest there can be", at: recordStart)
                    break
                }
                if let expectedSequence, sequence != expectedSequence {
                    contents.tail = reader.corrupt("record sequence \(sequence), expected \(expectedSequence)", at: recordStart)
                    break
                }
                let stored = try reader.readBytes(length, "payload")
                let payloadOffset = start + Int64(recordStart + 16)
                let batch: SightingBatch
                do throws(SightlineError) {
                    // A whole batch and nothing after it, from the payload as stored or as opened.
                    func decode(_ raw: UnsafeRawBufferPointer) throws(SightlineError) -> SightingBatch {
                        var payload = ByteReader(raw, fileOffset: payloadOffset, path: path)
                        let batch = try BatchCodec.decode(&payload)
                        guard payload.isAtEnd else { throw payload.corrupt("\(payload.remaining) bytes after the batch") }
                        return batch
                    }
                    if let sealer {
                        batch = try sealer.open(stored, sequence: sequence, path: path, offset: payloadOffset).withUnsafeBytesTyped(decode)
                    } else {
                        batch = try decode(stored)
                    }
                } catch {
                    // The checksum held: the record is whole, so this is damage, not a torn tail.
                    if sealer != nil { throw error }
                    contents.tail = error
                    break
                }
                contents.records.append(Record(sequence: sequence, batch: batch))
                contents.validLength = start + Int64(reader.position)
                expectedSequence = sequence + 1
            }
            return contents
        }
    }
}
