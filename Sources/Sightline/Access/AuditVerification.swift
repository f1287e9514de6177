/// Reading and checking a store's audit log (`AUDIT`) from any process.
public enum AuditLog {
    /// Every record of the log of the store at `directory`, in order (none when it has no
    /// log yet). A torn last record is left out; a damaged one is `corruptFile`.
    public static func records(directory: String, fileSystem: any FileSystem = PosixFileSystem()) throws(SightlineError) -> [AuditRecord] {
        try entries(directory: directory, fileSystem: fileSystem).entries.map(\.record)
    }

    static func entries(directory: String, fileSystem: any FileSystem) throws(SightlineError) -> (entries: [AuditLogFormat.Entry], tornBytes: Int) {
        let path = "\(directory)/\(AuditLogFormat.fileName)"
        guard let bytes = try fileSystem.contentsIfPresent(path, limit: .max, "audit log"), !bytes.isEmpty else { return ([], 0) }
        return try bytes.withUnsafeBytesTyped { (raw: UnsafeRawBufferPointer) throws(SightlineError) in
            try AuditLogFormat.checkHeader(raw, path: path)
            var out: [AuditLogFormat.Entry] = []
            var offset = AuditLogFormat.headerSize
            while let e = try AuditLogFormat.entry(raw, at: offset, path: path) {
                out.append(e)
                offset += e.length
            }
            return (out, raw.count - offset)
        }
    }

    /// Checks the chain of the log at `directory`: every record's hash against its contents,
    /// every record's link against the record before it, sequences 1, 2, 3, … without a gap;
    /// with `anchor`, that the log still holds the anchored records unchanged. Names the
    /// first record that was altered, removed, reordered or inserted, or the cut-off tail.
    /// Without an anchor, the head the store's entry in `keyring` last recorded is the
    /// anchor (a tail cut off, or the log replaced by an older copy, is found without one),
    /// and each restore from a backup it recorded is named in the notes.
    public static func verify(directory: String, anchor: AuditAnchor? = nil, keyring: Keyring = .standard,
                              fileSystem: any FileSystem = PosixFileSystem()) throws(SightlineError) -> AuditVerification {
        var anchor = anchor
        var keyringNotes: [String] = []
        if anchor == nil, let headPath = AuditHeadFile.path(directory: directory, keyring: keyring, fileSystem: fileSystem) {
            switch AuditHeadFile.read(headPath, fileSystem: fileSystem) {
            case .success(let recorded): anchor = recorded
            case .failure(let error): keyringNotes.append("the keyring's record of the head is unreadable (\(error)); checked without it")
            }
            for r in AuditHeadFile.restores(entry: directoryOf(headPath), fileSystem: fileSystem) {
                keyringNotes.append("restored at \(Timestamp.rfc3339(r.time)) from backup generation \(r.generation): the log went back from \(r.from.records) records to \(r.to.records - 1), then the restore was recorded")
            }
        }
        var result = try verifyChain(directory: directory, anchor: anchor, fileSystem: fileSystem)
        result.notes += keyringNotes
        return result
    }

    private static func verifyChain(directory: String, anchor: AuditAnchor?,
                                    fileSystem: any FileSystem) throws(SightlineError) -> AuditVerification {
        let entries: [AuditLogFormat.Entry], torn: Int
        do throws(SightlineError) {
            (entries, torn) = try Self.entries(directory: directory, fileSystem: fileSystem)
        } catch {
            guard case .corruptFile(_, let offset, let reason) = error else { throw error }
            return AuditVerification(records: 0, head: "", problem: "record at byte \(offset) is damaged: \(reason)")
        }
        var result = AuditVerification(records: entries.count, head: entries.last.map { hexString($0.hash) } ?? hexString(AuditLogFormat.genesis))
        if torn > 0 { result.notes.append("the last \(torn) bytes are a record cut short by a crash (no answer depended on it); the next append removes them") }
        func fail(_ message: String) -> AuditVerification { var r = result; r.problem = message; return r }
        var previousHash = AuditLogFormat.genesis
        for (i, e) in entries.enumerated() {
            let expected = UInt64(i + 1), seq = e.record.sequence
            let at = "at byte \(e.offset)"
            if seq > expected {
                if entries[(i + 1)...].contains(where: { $0.record.sequence == expected }) {
                    return fail("record \(expected) was moved: record \(seq) \(at) stands where it belongs (reordered)")
                }
                return fail(seq == expected + 1 ? "record \(expected) was removed (record \(seq) \(at) follows record \(expected - 1))"
                                                : "records \(expected)–\(seq - 1) were removed (record \(seq) \(at) follows record \(expected - 1))")
            }
            if seq < expected {
                if i >= 2 && e.previous == entries[i - 2].hash && seq == entries[i - 1].record.sequence {
                    return fail("the record at byte \(entries[i - 1].offset) (claiming sequence \(seq)) was inserted: record \(seq) \(at) links past it")
                }
                return fail("record \(seq) \(at) is out of order or inserted (record \(expected) was expected)")
            }
            let own = e.body.withUnsafeBytes { AuditLogFormat.hash(previous: e.previous, body: $0) }
            if own != e.hash { return fail("record \(seq) \(at) was altered: its hash does not match its contents") }
            if e.previous != previousHash {
                if i == 0 { return fail("record 1 \(at) was altered or inserted: it does not start the chain") }
                return fail("record \(seq - 1) at byte \(entries[i - 1].offset) was altered: record \(seq)'s link no longer matches it")
            }
            previousHash = e.hash
        }
        if let anchor {
            if anchor.records > entries.count {
                return fail(entries.count == 0 ? "the log is empty but the anchor holds \(anchor.records) records: the log was cut off or replaced"
                            : "the log ends at record \(entries.count) but the anchor holds \(anchor.records): records \(entries.count + 1)–\(anchor.records) were cut off")
            }
            if anchor.records > 0 && hexString(entries[anchor.records - 1].hash) != anchor.head {
                return fail("record \(anchor.records) differs from the anchored one: the chain up to it was rewritten")
            }
        }
        return result
    }

    /// An anchor for the log's current head (take it with `sightline audit anchor` and keep
    /// it outside the store: it is what catches a cut-off tail).
    public static func anchor(directory: String, fileSystem: any FileSystem = PosixFileSystem()) throws(SightlineError) -> AuditAnchor {
        let entries = try Self.entries(directory: directory, fileSystem: fileSystem).entries
        return AuditAnchor(records: entries.count, head: entries.last.map { hexString($0.hash) } ?? hexString(AuditLogFormat.genesis))
    }
}

/// What `AuditLog.verify` found.
public struct AuditVerification: Sendable, Hashable {
    /// Whole records in the log.
    public var records: Int
    /// Hash of the last record (hex), the chain's head.
    public var head: String
    /// The first problem, or nil when the chain is whole.
    public var problem: String?
    /// Remarks that are not tampering (a torn tail from a crash).
    public var notes: [String] = []
    /// Whether the chain is whole (and matches the anchor, when one was given).
    public var isSound: Bool { problem == nil }
}

/// The audit log's head at some moment: its record count and the last record's hash. Kept
/// outside the store (a file only the auditor can write), it detects a log cut back to
/// before it. Text form: `sightline audit anchor v1`, `records N`, `head <64 hex>`.
public struct AuditAnchor: Sendable, Hashable {
    /// Records in the log when the anchor was taken.
    public var records: Int
    /// The hash of record `records` (hex).
    public var head: String

    /// An anchor from its parts.
    public init(records: Int, head: String) {
        self.records = records
        self.head = head
    }

    /// The anchor's file text.
    public var text: String { "sightline audit anchor v1\nrecords \(records)\nhead \(head)\n" }

    /// Parses an anchor file's text (lines may end in "\n" or "\r\n": anchors are kept away
    /// from the store, often on other systems).
    public init(text: String, source: String) throws(SightlineError) {
        let lines = text.split(whereSeparator: { $0 == "\n" || $0 == "\r\n" }).map(String.init)
        guard lines.count == 3, lines[0] == "sightline audit anchor v1", lines[1].hasPrefix("records "),
              let n = Int(lines[1].dropFirst(8)), n >= 0, lines[2].hasPrefix("head "), lines[2].count == 5 + 64 else {
            throw .invalidInput(source: source, line: 1, reason: "not an audit anchor (sightline audit anchor v1, records N, head HEX)")
        }
        records = n
        head = String(lines[2].dropFirst(5))
    }
}
