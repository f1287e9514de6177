/// The store's single source of truth: which segment files are live and how far the
/// write-ahead log has been made durable in them. Replaced atomically (temporary file, fsync,
/// rename, directory fsync); a file not named here is not part of the store.
///
/// File `MANIFEST`: `magic (8) | version u32 | payloadLength u32 | payload | crc32c u32`,
/// the CRC over everything before it. Payload: `generation u64 | nextSegmentNumber u64 |
/// persistedSequence u64 | segmentCount u32 | segments`, each segment `nameLength u16 | name
/// | rowCount u64 | fileBytes u64 | minTime i64 | maxTime i64`.
struct Manifest: Sendable, Equatable {
    /// One live segment.
    struct Segment: Sendable, Hashable {
        var name: String
        var rowCount: Int
        var fileBytes: Int
        var minTime: Int64
        var maxTime: Int64
    }

    static let fileName = "MANIFEST"
    /// 0x89 "SLMAN" CR LF.
    static let magic: [UInt8] = [0x89, 0x53, 0x4C, 0x4D, 0x41, 0x4E, 0x0D, 0x0A]
    static let version: UInt32 = 1

    /// Incremented by every change: tells which of two manifests is newer.
    var generation: UInt64 = 0
    /// Number for the next segment file name.
    var nextSegmentNumber: UInt64 = 1
    /// Log records with sequence < this are in segments; recovery replays from here.
    var persistedSequence: UInt64 = 0
    var segments: [Segment] = []

    func encoded() -> [UInt8] {
        var payload = ByteWriter()
        payload.append(littleEndian: generation)
        payload.append(littleEndian: nextSegmentNumber)
        payload.append(littleEndian: persistedSequence)
        payload.append(littleEndian: UInt32(segments.count))
        for s in segments {
            let name = Array(s.name.utf8)
            payload.append(littleEndian: UInt16(name.count))
            payload.append(contentsOf: name)
            payload.append(littleEndian: UInt64(s.rowCount))
            payload.append(littleEndian: UInt64(s.fileBytes))
            payload.append(littleEndian: s.minTime)
            payload.append(littleEndian: s.maxTime)
        }
        var out = ByteWriter()
        out.append(contentsOf: Self.magic)
        out.append(littleEndian: Self.version)
        out.append(littleEndian: UInt32(payload.count))
        out.append(contentsOf: payload.bytes)
        out.append(littleEndian: out.bytes.withUnsafeBytes { CRC32C.checksum($0) })
        return out.bytes
    }

    /// Writes the manifest into `directory`, atomically and durably.
    func write(directory: String, fileSystem: any FileSystem) throws(SightlineError) {
        let bytes = encoded()
        try fileSystem.writeAtomically("\(directory)/\(Self.fileName)") { (write: (UnsafeRawBufferPointer) throws(SightlineError) -> Void) throws(SightlineError) in
            try bytes.withUnsafeBytesTyped { (raw: UnsafeRawBufferPointer) throws(SightlineError) in try write(raw) }
        }
    }

    /// Reads and validates the manifest of `directory`.
    static func read(directory: String, fileSystem: any FileSystem) throws(SightlineError) -> Manifest {
        let path = "\(directory)/\(fileName)"
        let file = try fileSystem.open(path, mode: .read)
        defer { try? fileSystem.close(file) }
        let size = try fileSystem.size(file)
        guard size >= 20 && size <= 1 << 30 else {
            throw .corruptFile(path: path, offset: 0, reason: "manifest of \(size) bytes")
        }
        var bytes = [UInt8](repeating: 0, count: Int(size))
        try bytes.withUnsafeMutableBytesTyped { (raw: UnsafeMutableRawBufferPointer) throws(SightlineError) in
            try fileSystem.readExactly(file, into: raw, at: 0)
        }
        return try decode(bytes, path: path)
    }

    static func decode(_ bytes: [UInt8], path: String) throws(SightlineError) -> Manifest {
        try bytes.withUnsafeBytesTyped { (raw: UnsafeRawBufferPointer) throws(SightlineError) -> Manifest in
            var r = ByteReader(raw, fileOffset: 0, path: path)
            guard raw.count >= 20, Array(raw[0..<8]) == magic else { throw r.corrupt("not a Sightline manifest (bad magic)") }
            let crcOffset = raw.count - 4
            let crc = raw.loadUnaligned(fromByteOffset: crcOffset, as: UInt32.self).littleEndian
            guard crc == CRC32C.checksum(UnsafeRawBufferPointer(rebasing: raw[0..<crcOffset])) else {
                throw r.corrupt("manifest checksum mismatch", at: crcOffset)
            }
            _ = try r.readBytes(8, "magic")
            let version = try r.read(UInt32.self)
            guard version == Self.version else { throw .unsupportedFormat(path: path, version: Int(version)) }
            let payloadLength = Int(try r.read(UInt32.self))
            guard payloadLength == raw.count - 20 else { throw r.corrupt("payload of \(payloadLength) bytes in a \(raw.count)-byte manifest") }
            var m = Manifest()
            m.generation = try r.read(UInt64.self)
            m.nextSegmentNumber = try r.read(UInt64.self)
            m.persistedSequence = try r.read(UInt64.self)
            let count = Int(try r.read(UInt32.self))
            for k in 0..<count {
                let at = r.position
                let nameLength = Int(try r.read(UInt16.self))
                let name = String(decoding: try r.readBytes(nameLength, "segment name"), as: UTF8.self)
                guard !name.isEmpty, !name.contains("/"), name != ".", name != ".." else { throw r.corrupt("segment \(k): bad name", at: at) }
                let rows = try r.read(UInt64.self), fileBytes = try r.read(UInt64.self)
                guard rows <= UInt64(Int.max), fileBytes <= UInt64(Int.max) else { throw r.corrupt("segment \(k): sizes out of range", at: at) }
                m.segments.append(Segment(name: name, rowCount: Int(rows), fileBytes: Int(fileBytes),
                                          minTime: try r.read(Int64.self), maxTime: try r.read(Int64.self)))
            }
            guard r.remaining == 4 else { throw r.corrupt("\(r.remaining - 4) bytes after the segment list") }
            guard Set(m.segments.map(\.name)).count == m.segments.count else { throw r.corrupt("a segment is listed twice", at: 20) }
            return m
        }
    }
}
