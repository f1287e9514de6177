#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The audit log's chain head as the store's keyring last saw it (Docs/format.md, "Audit
/// log"): `AUDIT-HEAD` in the store's keyring entry, rewritten after every append (under the
/// audit log's lock, so heads never go back), and `AUDIT-RESTORES`, one line per restore of
/// the store from a backup. Kept apart from the store, so `audit verify` finds a tail cut off
/// the log (or the log replaced by an older copy) without a manual anchor, and names a
/// restore instead of reporting it as a cut.
///
///     AUDIT-HEAD:      sightline audit anchor v1 / records N / head <64 hex>   (an AuditAnchor)
///     AUDIT-RESTORES:  restore <epoch ms> generation <n> from <records> <head> to <records> <head>
///
/// `AUDIT-HEAD` is replaced by rename without an fsync: a crash may leave it older than the
/// log (never newer: the record is fsynced first), which only narrows what it detects until
/// the next append. An unreadable head is reported as a note, not trusted.
enum AuditHeadFile {
    static let headName = "AUDIT-HEAD"
    static let restoresName = "AUDIT-RESTORES"

    /// The head's path for the store at `directory` in `keyring`, when the store has an
    /// entry there (nil for a store made before keyrings, or a keyring without its entry).
    static func path(directory: String, keyring: Keyring, fileSystem: any FileSystem) -> String? {
        guard let id = try? StoreIdentity.read(directory: directory, fileSystem: fileSystem) else { return nil }
        let entry = keyring.entry(id)
        guard (try? fileSystem.permissions(entry)) != nil else { return nil }
        return "\(entry)/\(headName)"
    }

    /// Records `records` and `head` (hex) as the head, replacing the file by rename.
    static func advance(_ path: String, records: UInt64, head: String, fileSystem: any FileSystem) throws(SightlineError) {
        let temporary = "\(path).tmp-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        let file = try fileSystem.open(temporary, mode: .createExclusive)
        do {
            try Array(AuditAnchor(records: Int(records), head: head).text.utf8).withUnsafeBytesTyped { (raw: UnsafeRawBufferPointer) throws(SightlineError) in
                try fileSystem.writeAll(file, raw)
            }
            try fileSystem.close(file)
            try fileSystem.rename(temporary, to: path)
        } catch {
            try? fileSystem.close(file)
            try? fileSystem.remove(temporary)
            throw error
        }
    }

    /// The recorded head (nil when none), or the reason it cannot be read.
    static func read(_ path: String, fileSystem: any FileSystem) -> Result<AuditAnchor?, SightlineError> {
        do throws(SightlineError) {
            guard let bytes = try fileSystem.contentsIfPresent(path, limit: 4096, "audit head") else { return .success(nil) }
            return .success(try AuditAnchor(text: String(decoding: bytes, as: UTF8.self), source: path))
        } catch {
            return .failure(error)
        }
    }

    /// One restore, as `AUDIT-RESTORES` keeps it.
    struct Restore: Equatable {
        var time: Int64
        var generation: Int
        var from: AuditAnchor
        var to: AuditAnchor

        var line: String { "restore \(time) generation \(generation) from \(from.records) \(from.head) to \(to.records) \(to.head)" }

        init(time: Int64, generation: Int, from: AuditAnchor, to: AuditAnchor) {
            self.time = time
            self.generation = generation
            self.from = from
            self.to = to
        }

        init?(line: Substring) {
            let f = line.split(separator: " ").map(String.init)
            guard f.count == 10, f[0] == "restore", f[2] == "generation", f[4] == "from", f[7] == "to",
                  let time = Int64(f[1]), let generation = Int(f[3]), let fromRecords = Int(f[5]), let toRecords = Int(f[8]) else { return nil }
            self.init(time: time, generation: generation, from: AuditAnchor(records: fromRecords, head: f[6]), to: AuditAnchor(records: toRecords, head: f[9]))
        }
    }

    /// Appends a restore (fsynced: it explains a head that went back).
    static func recordRestore(_ restore: Restore, entry: String, fileSystem: any FileSystem) throws(SightlineError) {
        let path = "\(entry)/\(restoresName)"
        let file = try fileSystem.open(path, mode: .append)
        defer { try? fileSystem.close(file) }
        try Array((restore.line + "\n").utf8).withUnsafeBytesTyped { (raw: UnsafeRawBufferPointer) throws(SightlineError) in try fileSystem.writeAll(file, raw) }
        try fileSystem.sync(file)
        try fileSystem.syncDirectory(entry)
    }

    /// Every recorded restore, oldest first (lines that do not parse are skipped).
    static func restores(entry: String, fileSystem: any FileSystem) -> [Restore] {
        guard let bytes = try? fileSystem.contentsIfPresent("\(entry)/\(restoresName)", limit: 1 << 20, "audit restores") else { return [] }
        return String(decoding: bytes, as: UTF8.self).split(separator: "\n").compactMap { Restore(line: $0) }
    }
}
