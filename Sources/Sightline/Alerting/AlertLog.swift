#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Crypto

/// The store's alert log, `ALERTS`: alerts appended in sequence order, never rewritten
/// (Docs/format.md, "Alert log").
///
/// `header | record | record | …`; a record is
/// `payloadLength u32 | crc32c u32 | sequence u64 | payload` (the CRC covers the sequence and
/// the payload), as in the write-ahead log. Only the tail can be torn by a crash: the owner
/// truncates a torn last record when it opens the store; a bad record with more bytes after
/// it is corruption and reported, never skipped. Version 1 (in clear): the header is
/// `magic (8) | version u32 | crc32c u32`; version 2 (sealed, a store that seals its files):
/// `magic (8) | version u32 | keyID (16) | salt (16) | crc32c u32` and each payload sealed by a
/// `RecordSealer`, under one data key for the file.
enum AlertLogFormat {
    /// 0x89 "SLALR" CR LF.
    static let magic: [UInt8] = [0x89, 0x53, 0x4C, 0x41, 0x4C, 0x52, 0x0D, 0x0A]
    static let version: UInt32 = 1
    static let sealedVersion: UInt32 = 2
    static let headerSize = 16
    static let sealedHeaderSize = 48
    static let recordHeaderSize = 16
    static let fileName = "ALERTS"
    static let maximumPayload = 1 << 16

    static func header(sealer: RecordSealer? = nil) -> [UInt8] {
        RecordSealer.logHeader(magic: magic, clear: version, sealed: sealedVersion, sealer: sealer)
    }

    /// Parses the header at the start of `bytes` (at least `headerSize` of them): its size
    /// and, for a sealed log, the sealer of its records.
    static func parseHeader(_ bytes: [UInt8], path: String,
                            dataKey: ([UInt8]) throws(SightlineError) -> SymmetricKey?) throws(SightlineError) -> (size: Int, sealer: RecordSealer?) {
        func bad(_ reason: String) -> SightlineError { .corruptFile(path: path, offset: 0, reason: reason) }
        guard bytes.count >= headerSize, bytes.starts(with: magic) else { throw bad("not an alert log (bad header)") }
        let version = bytes.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: 8, as: UInt32.self).littleEndian }
        let size = version == sealedVersion ? sealedHeaderSize : headerSize
        guard version == Self.version || version == sealedVersion else { throw .unsupportedFormat(path: path, version: Int(version)) }
        guard bytes.count >= size else { throw bad("alert log header cut at \(bytes.count) bytes") }
        let crc = bytes.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: size - 4, as: UInt32.self).littleEndian }
        guard crc == bytes.withUnsafeBytes({ CRC32C.checksum(UnsafeRawBufferPointer(rebasing: $0[0..<(size - 4)])) }) else {
            throw bad("not an alert log (bad header)")
        }
        guard version == sealedVersion else { return (size, nil) }
        return (size, try bytes.withUnsafeBytesTyped { (raw: UnsafeRawBufferPointer) throws(SightlineError) -> RecordSealer in
            try RecordSealer.opening(UnsafeRawBufferPointer(rebasing: raw[12..<44]), path: path, dataKey: dataKey)
        })
    }

    /// Appends the record of `a` to `w`, its payload sealed by `sealer` when given.
    static func encode(_ a: Alert, into w: inout ByteWriter, sealer: RecordSealer?) throws(SightlineError) {
        if let sealer {
            var plain = ByteWriter(capacity: 96)
            encodePayload(a, into: &plain)
            return try frame(sequence: a.sequence, sealing: plain.bytes, with: sealer, into: &w)
        }
        let start = w.bytes.count
        w.append(littleEndian: UInt32(0))  // length, patched below
        w.append(littleEndian: UInt32(0))  // crc, patched below
        w.append(littleEndian: a.sequence)
        encodePayload(a, into: &w)
        patchFrame(&w, at: start)
    }

    /// Appends the record `sequence` holding `payload` sealed by `sealer`.
    static func frame(sequence: UInt64, sealing payload: [UInt8], with sealer: RecordSealer, into w: inout ByteWriter) throws(SightlineError) {
        let start = w.bytes.count
        w.append(littleEndian: UInt32(0))
        w.append(littleEndian: UInt32(0))
        w.append(littleEndian: sequence)
        try payload.withUnsafeBytesTyped { (raw: UnsafeRawBufferPointer) throws(SightlineError) in try sealer.seal(raw, sequence: sequence, into: &w) }
        patchFrame(&w, at: start)
    }

    /// Fills in the length and CRC of the record that starts at `start` and ends `w`.
    private static func patchFrame(_ w: inout ByteWriter, at start: Int) {
        let length = w.bytes.count - start - recordHeaderSize
        w.patch(littleEndian: UInt32(length), at: start)
        let crc = w.bytes.withUnsafeBytes { CRC32C.checksum(UnsafeRawBufferPointer(rebasing: $0[(start + 8)...])) }
        w.patch(littleEndian: crc, at: start + 4)
    }

    private static func encodePayload(_ a: Alert, into w: inout ByteWriter) {
        w.append(littleEndian: a.logSequence)
        w.append(UInt8(a.historical ? 1 : 0))
        w.append(UInt8(AlertMatch.allCases.firstIndex(of: a.match)!))
        for text in [a.rule, a.list] {
            let bytes = Array(text.utf8.prefix(Int(UInt16.max)))
            w.append(littleEndian: UInt16(bytes.count))
            w.append(contentsOf: bytes)
        }
        let plate = Array(a.sighting.plate.text.utf8)
        w.append(UInt8(plate.count))
        w.append(contentsOf: plate)
        w.append(littleEndian: a.sighting.time)
        w.append(littleEndian: a.sighting.latitudeE7)
        w.append(littleEndian: a.sighting.longitudeE7)
        w.append(littleEndian: a.sighting.camera)
        w.append(a.sighting.confidence)
    }

    /// Flag bit 1: the alert was redacted by a deletion (a sealed log only): the rest of the
    /// payload is zeros, as long as the alert's was, so every later record keeps its offset.
    static let redactedFlag: UInt8 = 2

    /// The payload of a redacted alert: `logSequence`, the flag, zeros to `length` bytes.
    static func redactedPayload(length: Int, logSequence: UInt64) -> [UInt8] {
        var w = ByteWriter(capacity: length)
        w.append(littleEndian: logSequence)
        w.append(redactedFlag)
        w.append(contentsOf: [UInt8](repeating: 0, count: max(0, length - 9)))
        return w.bytes
    }

    /// The alert of a payload, or nil for a redacted one.
    static func decodePayload(_ r: inout ByteReader, sequence: UInt64) throws(SightlineError) -> Alert? {
        let logSequence = try r.read(UInt64.self, "log sequence")
        let flags = try r.readByte("flags")
        if flags == redactedFlag {
            _ = try r.readBytes(r.remaining, "redacted alert")
            return nil
        }
        let matchIndex = Int(try r.readByte("match"))
        guard flags <= 1, matchIndex < AlertMatch.allCases.count else { throw r.corrupt("alert flags \(flags), match \(matchIndex)") }
        func text(_ what: String) throws(SightlineError) -> String {
            let n = Int(try r.read(UInt16.self, what))
            return String(decoding: try r.readBytes(n, what), as: UTF8.self)
        }
        let rule = try text("rule"), list = try text("list")
        let plateLength = Int(try r.readByte("plate length"))
        let plateText = String(decoding: try r.readBytes(plateLength, "plate"), as: UTF8.self)
        let time = try r.read(Int64.self, "time")
        let lat = try r.read(Int32.self, "latitude"), lon = try r.read(Int32.self, "longitude")
        let camera = try r.read(UInt32.self, "camera")
        let confidence = try r.readByte("confidence")
        guard r.isAtEnd else { throw r.corrupt("\(r.remaining) bytes after the alert") }
        let sighting: Sighting
        do throws(SightlineError) {
            sighting = try Sighting(plate: try Plate(plateText), time: time, latitudeE7: lat, longitudeE7: lon, camera: camera, confidence: confidence)
        } catch { throw r.corrupt("alert \(sequence): \(error)") }
        return Alert(sequence: sequence, rule: rule, list: list, match: AlertMatch.allCases[matchIndex], sighting: sighting,
                     historical: flags == 1, logSequence: logSequence)
    }

    /// The alerts of `path` from byte `offset` (a record boundary, or 0 for the start) with
    /// sequence above `after`: the alerts, the offset after the last whole record, and
    /// whether the bytes after it are a torn (incomplete or unverifiable last) record.
    /// A sealed log's records are opened with the data key `dataKey` finds.
    static func read(_ path: String, from offset: Int64, after: UInt64, fileSystem: any FileSystem,
                     dataKey: ([UInt8]) throws(SightlineError) -> SymmetricKey?) throws(SightlineError)
        -> (alerts: [Alert], end: Int64, lastSequence: UInt64?, torn: Bool, sealer: RecordSealer?) {
        let file: OpenFile
        do {
            file = try fileSystem.open(path, mode: .read)
        } catch {
            if case .io(_, _, let e) = error, e == ENOENT { return ([], 0, nil, false, nil) }
            throw error
        }
        defer { try? fileSystem.close(file) }
        let size = try fileSystem.size(file)
        // The header, always: a sealed log's names its key.
        guard size >= Int64(headerSize) else { return ([], 0, nil, size > 0, nil) }
        var header = [UInt8](repeating: 0, count: Int(min(size, Int64(sealedHeaderSize))))
        try header.withUnsafeMutableBytesTyped { (raw: UnsafeMutableRawBufferPointer) throws(SightlineError) in try fileSystem.readExactly(file, into: raw, at: 0) }
        let parsed: (size: Int, sealer: RecordSealer?)
        do throws(SightlineError) { parsed = try parseHeader(header, path: path, dataKey: dataKey) } catch {
            // Torn while its header was being written (a sealed header is longer).
            if offset == 0, size < Int64(sealedHeaderSize), header.starts(with: magic),
               header.withUnsafeBytes({ $0.loadUnaligned(fromByteOffset: 8, as: UInt32.self).littleEndian }) == sealedVersion {
                return ([], 0, nil, true, nil)
            }
            throw error
        }
        let sealer = parsed.sealer
        let start = max(offset, Int64(parsed.size))
        guard size > start else { return ([], start, nil, false, sealer) }
        var bytes = [UInt8](repeating: 0, count: Int(size - start))
        try bytes.withUnsafeMutableBytesTyped { (raw: UnsafeMutableRawBufferPointer) throws(SightlineError) in try fileSystem.readExactly(file, into: raw, at: start) }
        return try bytes.withUnsafeBytesTyped { (raw: UnsafeRawBufferPointer) throws(SightlineError) -> ([Alert], Int64, UInt64?, Bool, RecordSealer?) in
            var alerts: [Alert] = []
            var position = 0
            var last: UInt64?
            while position < raw.count {
                // A torn tail: what came before it, and where it starts.
                var torn: ([Alert], Int64, UInt64?, Bool, RecordSealer?) { (alerts, start + Int64(position), last, true, sealer) }
                guard raw.count - position >= recordHeaderSize else { return torn }
                var r = ByteReader(UnsafeRawBufferPointer(rebasing: raw[position...]), fileOffset: start + Int64(position), path: path)
                let length = Int(try r.read(UInt32.self))
                let crc = try r.read(UInt32.self)
                guard length <= maximumPayload else {
                    throw .corruptFile(path: path, offset: start + Int64(position), reason: "alert record of \(length) bytes")
                }
                let end = position + recordHeaderSize + length
                guard end <= raw.count else { return torn }
                guard CRC32C.checksum(UnsafeRawBufferPointer(rebasing: raw[(position + 8)..<end])) == crc else {
                    // The last record may be torn; one with records after it is damage.
                    if end == raw.count { return torn }
                    throw .corruptFile(path: path, offset: start + Int64(position), reason: "alert record checksum mismatch")
                }
                let sequence = try r.read(UInt64.self)
                if let last, last == .max || sequence != last + 1 {
                    throw .corruptFile(path: path, offset: start + Int64(position), reason: "alert sequence \(sequence) after \(last)")
                }
                let stored = try r.readBytes(length, "alert")
                let payloadOffset = start + Int64(position + recordHeaderSize)
                let alert: Alert?
                if let sealer {
                    let opened = try sealer.open(stored, sequence: sequence, path: path, offset: payloadOffset)
                    alert = try opened.withUnsafeBytesTyped { (plain: UnsafeRawBufferPointer) throws(SightlineError) -> Alert? in
                        var payload = ByteReader(plain, fileOffset: payloadOffset, path: path)
                        return try decodePayload(&payload, sequence: sequence)
                    }
                } else {
                    var payload = ByteReader(stored, fileOffset: payloadOffset, path: path)
                    alert = try decodePayload(&payload, sequence: sequence)
                }
                if sequence > after, let alert { alerts.append(alert) }
                last = sequence
                position = end
            }
            return (alerts, start + Int64(position), last, false, sealer)
        }
    }
}

/// The owner's side of the alert log: assigns sequences and appends durably (one write and
/// one fsync per call; calls are serialized).
final class AlertLogWriter: Sendable {
    private struct State {
        var file: OpenFile?
        var nextSequence: UInt64
        /// Seals each record's payload (a sealed, version-2 log); nil: in clear.
        var sealer: RecordSealer?
    }
    private let state: Locked<State>
    let path: String
    private let fileSystem: any FileSystem
    /// fsync after each append (false only for a store that never syncs).
    private let sync: Bool

    /// Opens (creating when missing) the log in `directory`; a torn last record is cut off.
    /// A new log is sealed under a data key of its own when `keys` is given (the store
    /// seals); an existing one keeps its version. Returns the writer and every alert of the
    /// log (for recovery).
    static func open(directory: String, sync: Bool, keys: DataKeys?, fileSystem: any FileSystem) throws(SightlineError) -> (AlertLogWriter, [Alert]) {
        let path = "\(directory)/\(AlertLogFormat.fileName)"
        let lookup = DataKeys.lookup(keys)
        var contents = try AlertLogFormat.read(path, from: 0, after: 0, fileSystem: fileSystem, dataKey: lookup)
        let file = try fileSystem.open(path, mode: .append)
        var sealer: RecordSealer?
        do {
            if contents.end == 0 {
                // New, or torn while its header was being written: start over.
                let sealing = try keys?.create()
                defer { if let sealing { keys?.settle(sealing.id) } }
                sealer = sealing.map { RecordSealer(keyID: $0.id, dataKey: $0.key) }
                try fileSystem.truncate(file, to: 0)
                let header = AlertLogFormat.header(sealer: sealer)
                try header.withUnsafeBytesTyped { (raw: UnsafeRawBufferPointer) throws(SightlineError) in try fileSystem.writeAll(file, raw) }
                try fileSystem.sync(file)
                try fileSystem.syncDirectory(directory)
                contents.end = Int64(header.count)
            } else {
                sealer = contents.sealer
            }
            if contents.torn && contents.end > 0 {
                try fileSystem.truncate(file, to: contents.end)
                try fileSystem.sync(file)
            }
        } catch {
            try? fileSystem.close(file)
            throw error
        }
        let writer = AlertLogWriter(path: path, file: file, nextSequence: (contents.lastSequence ?? 0) + 1,
                                    sync: sync, sealer: sealer, fileSystem: fileSystem)
        return (writer, contents.alerts)
    }

    /// Rewrites a version-1 (clear) `ALERTS` in `directory` as a sealed version 2 under a new
    /// data key of `keys`, every alert and sequence kept (a torn tail dropped, as the owner
    /// would): written to a temporary file, fsynced, renamed. Nothing to do for a sealed log
    /// or none. Called at open, before the log is appended to.
    static func seal(directory: String, keys: DataKeys, fileSystem: any FileSystem) throws(SightlineError) {
        let path = "\(directory)/\(AlertLogFormat.fileName)"
        let contents = try AlertLogFormat.read(path, from: 0, after: 0, fileSystem: fileSystem, dataKey: DataKeys.lookup(keys))
        guard contents.end > 0, contents.sealer == nil else { return }
        let (id, key) = try keys.create()
        defer { keys.settle(id) }
        let sealer = RecordSealer(keyID: id, dataKey: key)
        var w = ByteWriter(capacity: Int(contents.end) + contents.alerts.count * RecordSealer.overhead + 64)
        w.append(contentsOf: AlertLogFormat.header(sealer: sealer))
        for alert in contents.alerts { try AlertLogFormat.encode(alert, into: &w, sealer: sealer) }
        try fileSystem.replaceAtomically(path, with: w.bytes)
    }

    private init(path: String, file: OpenFile, nextSequence: UInt64, sync: Bool, sealer: RecordSealer?, fileSystem: any FileSystem) {
        self.path = path
        self.fileSystem = fileSystem
        self.sync = sync
        state = Locked(State(file: file, nextSequence: nextSequence, sealer: sealer))
    }

    /// Redacts the alerts `redacting` picks (their rows were deleted): a sealed log is
    /// rewritten under a new data key of `keys`, each such alert replaced by a redacted record
    /// of the same length (so readers' offsets stay valid), every other record and sequence
    /// kept — written to a temporary file, fsynced, renamed, the directory fsynced — and
    /// appends go on in the new file. The old key is then unused: the deletion's shredding
    /// destroys it, so no earlier copy of the log opens. Returns how many were redacted
    /// (0: nothing rewritten). A log in clear is left as it is.
    func redact(keys: DataKeys, _ redacting: (Alert) -> Bool) throws(SightlineError) -> Int {
        try state.withLock { (s: inout State) throws(SightlineError) -> Int in
            guard s.file != nil else { throw .storeClosed(path: directoryOf(path)) }
            guard let old = s.sealer else { return 0 }
            let bytes = try fileSystem.contentsIfPresent(path, limit: .max, "alert log") ?? []
            guard bytes.count > AlertLogFormat.sealedHeaderSize else { return 0 }
            // Open every record first: nothing to redact, nothing rewritten (and no new key).
            var records: [(sequence: UInt64, plain: [UInt8], redact: Bool)] = []
            var any = false
            try bytes.withUnsafeBytesTyped { (raw: UnsafeRawBufferPointer) throws(SightlineError) in
                var at = AlertLogFormat.sealedHeaderSize
                while raw.count - at >= AlertLogFormat.recordHeaderSize {
                    let length = Int(raw.loadUnaligned(fromByteOffset: at, as: UInt32.self).littleEndian)
                    guard length <= AlertLogFormat.maximumPayload, at + AlertLogFormat.recordHeaderSize + length <= raw.count else { break }
                    let sequence = raw.loadUnaligned(fromByteOffset: at + 8, as: UInt64.self).littleEndian
                    let sealed = UnsafeRawBufferPointer(rebasing: raw[(at + 16)..<(at + 16 + length)])
                    let plain = try old.open(sealed, sequence: sequence, path: path, offset: Int64(at + 16))
                    let alert = try plain.withUnsafeBytesTyped { (p: UnsafeRawBufferPointer) throws(SightlineError) -> Alert? in
                        var r = ByteReader(p, fileOffset: Int64(at + 16), path: path)
                        return try AlertLogFormat.decodePayload(&r, sequence: sequence)
                    }
                    let redact = alert.map(redacting) ?? false
                    any = any || redact
                    records.append((sequence, plain, redact))
                    at += AlertLogFormat.recordHeaderSize + length
                }
            }
            guard any else { return 0 }
            let (id, key) = try keys.create()
            defer { keys.settle(id) }
            let sealer = RecordSealer(keyID: id, dataKey: key)
            var w = ByteWriter(capacity: bytes.count)
            w.append(contentsOf: AlertLogFormat.header(sealer: sealer))
            var redacted = 0
            for (sequence, plain, redact) in records {
                var payload = plain
                if redact {
                    payload = AlertLogFormat.redactedPayload(length: plain.count, logSequence: plain.withUnsafeBytes { $0.loadUnaligned(as: UInt64.self).littleEndian })
                    redacted += 1
                }
                try AlertLogFormat.frame(sequence: sequence, sealing: payload, with: sealer, into: &w)
            }
            try fileSystem.replaceAtomically(path, with: w.bytes)
            // Appends go on in the new file.
            if let file = s.file { try? fileSystem.close(file) }
            s.file = nil
            s.file = try fileSystem.open(path, mode: .append)
            s.sealer = sealer
            return redacted
        }
    }


    /// The sequence the next alert gets.
    var nextSequence: UInt64 { state.withLock { $0.nextSequence } }

    /// Gives `alerts` their sequences, appends them and syncs (unless the store never syncs);
    /// returns them as stored.
    func append(_ alerts: [Alert]) throws(SightlineError) -> [Alert] {
        guard !alerts.isEmpty else { return [] }
        return try state.withLock { (s: inout State) throws(SightlineError) -> [Alert] in
            guard let file = s.file else { throw .storeClosed(path: directoryOf(path)) }
            var stored = alerts
            var w = ByteWriter(capacity: alerts.count * 80)
            for i in stored.indices {
                stored[i].sequence = s.nextSequence + UInt64(i)
                try AlertLogFormat.encode(stored[i], into: &w, sealer: s.sealer)
            }
            do throws(SightlineError) {
                try w.bytes.withUnsafeBytesTyped { (raw: UnsafeRawBufferPointer) throws(SightlineError) in try fileSystem.writeAll(file, raw) }
                if sync { try fileSystem.sync(file) }
            } catch {
                // A partial record may be on disk: refuse more until reopened (recovery cuts it).
                try? fileSystem.close(file)
                s.file = nil
                throw error
            }
            s.nextSequence += UInt64(alerts.count)
            return stored
        }
    }

    func close() {
        state.withLock { s in
            if let f = s.file { try? fileSystem.close(f) }
            s.file = nil
        }
    }
}
