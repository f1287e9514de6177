import ArgumentParser
import Foundation
import Sightline

extension SightingParser.Format: ExpressibleByArgument {}

/// Loads CSV or NDJSON sightings into a store (created when missing).
struct IngestCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ingest",
        abstract: "Load CSV or NDJSON sightings into a store (created when missing).",
        discussion: """
        CSV needs a header naming plate,time,lat,lon,camera,confidence (and optionally region,image) \
        in any order; NDJSON has one object per line with the same keys. Times are epoch \
        milliseconds or RFC 3339. Bad rows are reported as FILE:LINE: reason and skipped; \
        --strict stores nothing from a file with a bad row.
        """
    )

    @Argument(help: "The store directory.") var store: String
    @Argument(help: "Input files; - or none for standard input.") var files: [String] = []
    @Option(help: "csv or ndjson (default: by extension, .ndjson/.jsonl/.json, or the first byte).") var format: SightingParser.Format?
    @Option(help: "Write every rejected row here, as FILE:LINE: reason<TAB>line.") var rejects: String?
    @Flag(help: "Stop at the first bad row of a file and store nothing from it.") var strict = false
    @Option(help: "Rows per append.") var batchRows = 100_000
    @Option(help: "Also write the alerts this ingest raises here, as NDJSON (sequence, rule, list, mode, plate, time in epoch ms, lat, lon, camera, confidence).")
    var alerts: String?
    @OptionGroup var storeArguments: StoreArguments

    func run() throws {
        var options = try storeArguments.storeOptions()
        options.controlChannel = true  // `sightline compact|purge|flush|stats` reach this ingest
        guard batchRows >= 1 else { throw ValidationError("--batch-rows must be at least 1") }
        // Inputs first: a missing or unreadable file must not leave a new, empty store behind.
        for name in files where name != "-" {
            guard access(name, R_OK) == 0 else { throw CommandFailure(SightlineError.io(operation: "open", path: name, errno: errno)) }
        }
        let target: Store
        do { target = try Store(directory: store, options: options) } catch { throw CommandFailure(error) }

        var rejectsOut: UnsafeMutablePointer<FILE>?
        if let rejects {
            guard let f = fopen(rejects, "w") else { throw CommandFailure(SightlineError.io(operation: "open", path: rejects, errno: errno)) }
            rejectsOut = f
        }
        defer { if let rejectsOut { fclose(rejectsOut) } }

        var alertsOut: AlertFile?
        if let alerts {
            guard let f = fopen(alerts, "w") else { throw CommandFailure(SightlineError.io(operation: "open", path: alerts, errno: errno)) }
            alertsOut = AlertFile(f)
            target.setAlertHandler { [alertsOut] in alertsOut!.write($0) }
        }
        defer { alertsOut?.close() }

        var totals = Totals()
        let start = ContinuousClock.now
        var progress = Progress(enabled: isatty(2) != 0)
        var failed: String?
        for name in files.isEmpty ? ["-"] : files {
            do {
                try ingest(name, into: target, totals: &totals, rejectsOut: rejectsOut, progress: &progress)
            } catch let error as StrictFailure {
                failed = error.description
                break
            } catch {
                progress.finish()
                throw CommandFailure(error)
            }
        }
        do {
            try target.flush()
            try target.close()
        } catch { throw CommandFailure(error) }
        progress.finish()
        let elapsed = seconds(ContinuousClock.now - start)
        let duplicates = totals.duplicates + target.duplicatesDroppedAtFlush
        print("stored \(totals.stored - target.duplicatesDroppedAtFlush) rows, skipped \(duplicates) duplicates, rejected \(totals.rejected) rows, "
              + "in \(String(format: "%.2f", elapsed)) s (\(formatRate(totals.read, ContinuousClock.now - start)) read)")
        if let alertsOut { print("raised \(alertsOut.count) alerts (written to \(alerts!))") }
        if let failed { throw CommandFailure(StrictFailure(description: failed)) }
    }

    /// The `--alerts` file, written by the store's alert handler (on appending threads).
    final class AlertFile: @unchecked Sendable {
        private let lock = NSLock()
        private var file: UnsafeMutablePointer<FILE>?
        private(set) var count = 0
        init(_ file: UnsafeMutablePointer<FILE>) { self.file = file }
        func write(_ alerts: [Alert]) {
            lock.lock(); defer { lock.unlock() }
            guard let file else { return }
            for a in alerts { fputs(a.json + "\n", file) }
            fflush(file)
            count += alerts.count
        }
        func close() {
            lock.lock(); defer { lock.unlock() }
            if let file { fclose(file) }
            file = nil
        }
    }

    struct Totals {
        var read = 0, stored = 0, duplicates = 0, rejected = 0, bytes = 0
    }

    struct StrictFailure: Error, CustomStringConvertible { let description: String }

    private func ingest(_ name: String, into store: Store, totals: inout Totals,
                       rejectsOut: UnsafeMutablePointer<FILE>?, progress: inout Progress) throws {
        let fd: Int32 = name == "-" ? 0 : open(name, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw SightlineError.io(operation: "open", path: name, errno: errno) }
        defer { if fd != 0 { close(fd) } }
        var st = stat()
        let size = fstat(fd, &st) == 0 && (st.st_mode & S_IFMT) == S_IFREG ? Int(st.st_size) : nil
        let lower = name.lowercased()
        // Read once: ArgumentParser's property wrappers instantiate generic metadata on every
        // access, which showed in profiles when read per line.
        let strict = self.strict, batchRows = self.batchRows, format = self.format
        var parser = SightingParser(source: name, format: .csv)
        var formatKnown = false, isCSV = true
        var headerRead = false
        var batch = SightingBatch(capacity: min(batchRows, 1 << 20))
        var held: [SightingBatch] = []  // --strict: nothing is stored until the file is clean
        var shown = 0
        var fileBytes = 0
        // Appends run on their own thread, in order, while this one parses the next batch
        // (the append's duplicate check, log write and fsync overlap the parsing).
        let appender = BatchAppender(store)

        func flushBatch() throws {
            guard !batch.isEmpty else { return }
            if strict {
                held.append(batch)
                batch.removeAll()
            } else {
                try appender.submit(batch)
                batch = appender.recycled() ?? SightingBatch(capacity: min(batchRows, 1 << 20))
            }
        }

        // The header's column roles, in a raw buffer: the per-line call then retains nothing.
        var roles = UnsafeMutableBufferPointer<UInt8>(start: nil, count: 0)
        defer { roles.deallocate() }
        try LineReader.forEachLine(fd: fd, path: name) { line, number, consumed in
            fileBytes = consumed
            // Spreadsheets save "CSV UTF-8" with a byte-order mark before the header.
            let bytes = number == 1 && line.starts(with: [0xEF, 0xBB, 0xBF]) ? UnsafeRawBufferPointer(rebasing: line[3...]) : line
            if bytes.allSatisfy({ $0 == 0x20 || $0 == 0x09 || $0 == 0x0D }) { return }
            if !formatKnown {
                let firstByte = bytes.first { $0 != 0x20 && $0 != 0x09 }
                let detected: SightingParser.Format = format
                    ?? (lower.hasSuffix(".ndjson") || lower.hasSuffix(".jsonl") || lower.hasSuffix(".json") ? .ndjson
                        : name == "-" && firstByte == UInt8(ascii: "{") ? .ndjson : .csv)
                parser = SightingParser(source: name, format: detected)
                isCSV = detected == .csv
                formatKnown = true
            }
            if isCSV && !headerRead {
                try parser.readHeader(Substring(String(decoding: bytes, as: UTF8.self)))
                let fastRoles = parser.fastRoles
                roles = .allocate(capacity: fastRoles.count)
                _ = roles.initialize(from: fastRoles)
                headerRead = true
                return
            }
            totals.read += 1
            let rejection: RejectedRow?
            if isCSV {
                rejection = SightingParser.appendFastRow(bytes, roles: UnsafeBufferPointer(roles), into: &batch)
                    ? nil : parser.parseGeneralLine(bytes, number: number, into: &batch)
            } else {
                rejection = parser.parseNDJSONLine(bytes, number: number, into: &batch)
            }
            if let rejected = rejection {
                totals.rejected += 1
                if strict { throw StrictFailure(description: "\(rejected) (--strict: nothing stored from \(name))") }
                if shown < 5 {
                    progress.clear()
                    FileHandle.standardError.write(Data("rejected \(rejected)\n".utf8))
                    shown += 1
                }
                if let rejectsOut { fputs("\(rejected)\t\(rejected.text)\n", rejectsOut) }
            } else if batch.count >= batchRows {
                try flushBatch()
            }
            if totals.read & 0x3FFF == 0 {
                progress.update(rows: totals.read, bytes: totals.bytes + consumed, total: size.map { totals.bytes + $0 })
            }
        }
        do {
            try flushBatch()
        } catch {
            _ = try? appender.finish()
            throw error
        }
        let appended = try appender.finish()
        totals.stored += appended.stored
        totals.duplicates += appended.duplicates
        for b in held {
            let r = try store.append(b)
            totals.stored += r.stored
            totals.duplicates += r.duplicates
        }
        totals.bytes += fileBytes
    }
}

/// Appends parsed batches to a store on a serial queue, at most two in flight (so memory
/// stays bounded and the parser waits when the store falls behind); the first failure
/// stops later appends and is thrown by the next `submit` or by `finish`.
final class BatchAppender: @unchecked Sendable {
    private let store: Store
    private let queue = DispatchQueue(label: "sightline.ingest.append")
    private let slots = DispatchSemaphore(value: 2)
    private struct State {
        var stored = 0, duplicates = 0
        var failure: (any Error)?
        var spare: [SightingBatch] = []
    }
    private let state = NSLock()
    private var shared = State()

    init(_ store: Store) { self.store = store }

    func submit(_ batch: SightingBatch) throws {
        if let failure = locked({ $0.failure }) { throw failure }
        slots.wait()
        queue.async { [self] in
            defer { slots.signal() }
            guard locked({ $0.failure }) == nil else { return }
            var rows = batch
            do {
                let r = try store.append(rows)
                rows.removeAll()  // in place: the parser reuses its capacity
                locked { s in
                    s.stored += r.stored
                    s.duplicates += r.duplicates
                    s.spare.append(rows)
                }
            } catch {
                locked { $0.failure = $0.failure ?? error }
            }
        }
    }

    /// An emptied batch whose capacity the parser may reuse.
    func recycled() -> SightingBatch? { locked { $0.spare.popLast() } }

    /// Waits for every submitted append; their totals, or the first failure.
    func finish() throws -> (stored: Int, duplicates: Int) {
        queue.sync {}
        let s = locked { $0 }
        if let failure = s.failure { throw failure }
        return (s.stored, s.duplicates)
    }

    private func locked<R>(_ body: (inout State) -> R) -> R {
        state.lock()
        defer { state.unlock() }
        return body(&shared)
    }
}

/// Reads a file descriptor in 1 MiB chunks and calls back once per line (without its
/// newline, as bytes valid only during the call), with its 1-based number and the bytes
/// consumed so far. No allocation per line.
enum LineReader {
    static func forEachLine(fd: Int32, path: String, _ body: (UnsafeRawBufferPointer, Int, Int) throws -> Void) throws {
        var buffer = [UInt8](repeating: 0, count: 1 << 20)
        var pending: [UInt8] = []  // a line split across two reads
        var number = 0
        var consumed = 0
        while true {
            let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                throw SightlineError.io(operation: "read", path: path, errno: errno)
            }
            if n == 0 { break }
            try buffer.withUnsafeBytes { raw in
                var start = 0
                var i = 0
                while i < n {
                    guard let newline = memchr(raw.baseAddress! + i, 0x0A, n - i) else { break }
                    let end = raw.baseAddress!.distance(to: UnsafeRawPointer(newline))
                    number += 1
                    if pending.isEmpty {
                        consumed += end - start + 1
                        try body(UnsafeRawBufferPointer(rebasing: raw[start..<end]), number, consumed)
                    } else {
                        pending.append(contentsOf: raw[start..<end])
                        consumed += pending.count + 1
                        try pending.withUnsafeBytes { try body($0, number, consumed) }
                        pending.removeAll(keepingCapacity: true)
                    }
                    start = end + 1
                    i = start
                }
                pending.append(contentsOf: raw[start..<n])
            }
        }
        if !pending.isEmpty {
            number += 1
            consumed += pending.count
            try pending.withUnsafeBytes { try body($0, number, consumed) }
        }
    }
}

/// A one-line progress display on standard error, when it is a terminal.
struct Progress {
    let enabled: Bool
    private let start = ContinuousClock.now
    private var last = ContinuousClock.now
    private var shown = false

    init(enabled: Bool) { self.enabled = enabled }

    mutating func update(rows: Int, bytes: Int, total: Int?) {
        guard enabled, ContinuousClock.now - last > .milliseconds(200) else { return }
        last = ContinuousClock.now
        let elapsed = max(seconds(last - start), 1e-6)
        var line = "\r\(rows) rows  \(String(format: "%.2f", Double(rows) / elapsed / 1e6)) M rows/s  \(formatBytes(bytes))"
        if let total, total > 0, bytes > 0 {
            let eta = elapsed * Double(total - bytes) / Double(bytes)
            line += " of \(formatBytes(total))  ETA \(String(format: "%.0f", eta)) s"
        }
        FileHandle.standardError.write(Data((line + "   ").utf8))
        shown = true
    }

    mutating func clear() {
        if shown { FileHandle.standardError.write(Data("\r\u{1B}[K".utf8)) }
    }

    mutating func finish() {
        if shown { FileHandle.standardError.write(Data("\n".utf8)); shown = false }
    }
}
