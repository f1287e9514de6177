#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The ingest pipeline: CSV or NDJSON from a byte source into the store, the way
/// `sightline ingest` loads files. Lines are cut from 1 MiB reads (or the chunks given) without
/// a per-line allocation, parsed into batches of ``IngestOptions/batchRows`` rows, and each batch
/// is appended on a second thread while the caller's parses the next (two in flight at most).
/// Bad rows go to `rejected` and are skipped (or, ``IngestOptions/strict``, end the call with
/// nothing stored). When the source, the store or the task fails, every batch appended before it
/// stays stored and the thrown ``IngestError`` says how far the ingest got.
extension Store {
    /// Ingests what `fileDescriptor` reads until end of file (it is not closed).
    ///
    /// - Parameters:
    ///   - fileDescriptor: An open descriptor to read from (a file, a pipe, standard input).
    ///   - source: The name rows are reported under (`FILE:LINE`), and by which the format is
    ///     detected when ``IngestOptions/format`` is `nil`.
    ///   - options: Format, rows per append, strictness.
    ///   - rejected: Called with each bad row, on the calling thread.
    ///   - progress: Called every 16,384 lines, on the calling thread.
    /// - Returns: What was read, stored, skipped and rejected.
    /// - Throws: ``IngestError``, saying why and how far the ingest got.
    public func ingest(fileDescriptor: Int32, source: String, options: IngestOptions = IngestOptions(),
                       rejected: (RejectedRow) -> Void = { _ in },
                       progress: (IngestProgress) -> Void = { _ in }) throws(IngestError) -> IngestSummary {
        var st = stat()
        let total = fstat(fileDescriptor, &st) == 0 && (st.st_mode & S_IFMT) == S_IFREG ? Int(st.st_size) : nil
        var run = IngestRun(store: self, source: source, options: options, total: total)
        defer { run.session.release() }
        var buffer = [UInt8](repeating: 0, count: 1 << 20)
        while true {
            let n = buffer.withUnsafeMutableBytes { read(fileDescriptor, $0.baseAddress, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                let error = SightlineError.io(operation: "read", path: source, errno: errno)
                throw run.stop(IngestError.Reason.store(error))
            }
            if n == 0 { break }
            try run.push(chunk: buffer[0..<n], rejected: rejected, progress: progress)
            try run.submitReady()
        }
        return try run.finish(rejected: rejected)
    }

    /// Ingests the file at `path` (its name is the source rows are reported under).
    public func ingest(path: String, options: IngestOptions = IngestOptions(),
                       rejected: (RejectedRow) -> Void = { _ in },
                       progress: (IngestProgress) -> Void = { _ in }) throws(IngestError) -> IngestSummary {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else {
            throw IngestError(.store(.io(operation: "open", path: path, errno: errno)), after: IngestSummary())
        }
        defer { closeDescriptor(fd) }
        return try ingest(fileDescriptor: fd, source: path, options: options, rejected: rejected, progress: progress)
    }

    /// Ingests a stream of byte chunks (an HTTP request body, a socket), suspending while the
    /// store catches up rather than blocking a thread. Cancelling the task stops the ingest at
    /// the next chunk with ``IngestError/Reason/cancelled``.
    public func ingest<Chunks: AsyncSequence>(
        _ chunks: Chunks, source: String, options: IngestOptions = IngestOptions(),
        rejected: (RejectedRow) -> Void = { _ in },
        progress: (IngestProgress) -> Void = { _ in }
    ) async throws(IngestError) -> IngestSummary where Chunks.Element: Sequence, Chunks.Element.Element == UInt8 {
        var run = IngestRun(store: self, source: source, options: options, total: nil)
        defer { run.session.release() }
        var iterator = chunks.makeAsyncIterator()
        while true {
            if Task.isCancelled { throw await run.stopAsync(.cancelled) }
            let chunk: Chunks.Element?
            do { chunk = try await iterator.next() } catch { throw await run.stopAsync(.source(error)) }
            guard let chunk else { break }
            try run.push(chunk: chunk, rejected: rejected, progress: progress)
            try await run.submitReadyAsync()
        }
        try run.endOfSource(rejected: rejected)
        try await run.submitReadyAsync()
        if let failure = await run.appender.finish() { throw run.stopped(.store(failure)) }
        return run.completed()
    }
}

private func closeDescriptor(_ fd: Int32) { _ = close(fd) }

/// One ingest's parts: the line splitter, the parse session and the appender; the drivers above
/// feed it bytes and submit what it has ready.
struct IngestRun {
    var splitter = LineSplitter()
    var session: IngestSession
    let appender: BatchAppender
    let total: Int?
    private var nextProgress = 0x4000

    init(store: Store, source: String, options: IngestOptions, total: Int?) {
        session = IngestSession(source: source, options: options)
        appender = BatchAppender(store)
        self.total = total
    }

    mutating func push(_ bytes: UnsafeRawBufferPointer, rejected: (RejectedRow) -> Void,
                       progress: (IngestProgress) -> Void) throws(IngestError) {
        do {
            try splitter.push(bytes) { line, number, consumed throws(IngestFailure) in
                try session.consume(line, number: number, consumed: consumed, rejectedRow: rejected)
            }
        } catch {
            throw stop(parsing: error)
        }
        if session.rowsRead >= nextProgress {
            nextProgress = session.rowsRead + 0x4000
            progress(IngestProgress(rowsRead: session.rowsRead, bytesRead: splitter.consumed, totalBytes: total))
        }
    }

    /// Feeds one chunk: in place when its bytes are contiguous (an array, a NIO buffer), else
    /// copied once.
    mutating func push<Bytes: Sequence>(chunk: Bytes, rejected: (RejectedRow) -> Void,
                                        progress: (IngestProgress) -> Void) throws(IngestError) where Bytes.Element == UInt8 {
        var failure: IngestError?
        let inPlace: Void? = chunk.withContiguousStorageIfAvailable { storage in
            do throws(IngestError) { try push(UnsafeRawBufferPointer(storage), rejected: rejected, progress: progress) } catch { failure = error }
        }
        if inPlace == nil {
            Array(chunk).withUnsafeBytes { raw in
                do throws(IngestError) { try push(raw, rejected: rejected, progress: progress) } catch { failure = error }
            }
        }
        if let failure { throw failure }
    }

    /// Appends what is ready, suspending while two appends are in flight.
    mutating func submitReadyAsync() async throws(IngestError) {
        for ready in session.takeReady() {
            do { try await appender.submit(ready) } catch { throw await stopAsync(.store(error)) }
        }
        recycle()
    }

    /// Appends what is ready (blocking while two appends are in flight).
    mutating func submitReady() throws(IngestError) {
        for ready in session.takeReady() {
            do { try appender.submit(ready) } catch { throw stop(IngestError.Reason.store(error)) }
        }
        recycle()
    }

    mutating func recycle() {
        while let spare = appender.recycled() { session.reuse(spare) }
    }

    /// The source's last line and last batch.
    mutating func endOfSource(rejected: (RejectedRow) -> Void) throws(IngestError) {
        do {
            try splitter.finish { line, number, consumed throws(IngestFailure) in
                try session.consume(line, number: number, consumed: consumed, rejectedRow: rejected)
            }
        } catch {
            throw stop(parsing: error)
        }
        session.finish(lines: splitter.number, consumed: splitter.consumed)
    }

    mutating func finish(rejected: (RejectedRow) -> Void) throws(IngestError) -> IngestSummary {
        try endOfSource(rejected: rejected)
        try submitReady()
        if let failure = appender.finish() { throw stopped(.store(failure)) }
        return completed()
    }

    /// Everything read and acknowledged.
    func completed() -> IngestSummary {
        var summary = counted()
        summary.acknowledgedLines = splitter.number
        summary.acknowledgedBytes = splitter.consumed
        return summary
    }

    /// Waits for the appends in flight, then the error for `failure` with how far they got.
    func stop(parsing failure: IngestFailure) -> IngestError {
        switch failure {
        case .header(let error): return stop(IngestError.Reason.header(error))
        case .strict(let row): return stop(IngestError.Reason.strict(row))
        }
    }

    func stop(_ reason: IngestError.Reason) -> IngestError {
        _ = appender.finish()
        return stopped(reason)
    }

    func stopAsync(_ reason: IngestError.Reason) async -> IngestError {
        _ = await appender.finish()
        return stopped(reason)
    }

    /// The error for `reason` once no append is in flight.
    func stopped(_ reason: IngestError.Reason) -> IngestError {
        var summary = counted()
        if case .strict = reason { summary.stored = 0; summary.duplicates = 0 }
        return IngestError(reason, after: summary)
    }

    private func counted() -> IngestSummary {
        var summary = IngestSummary()
        summary.rowsRead = session.rowsRead
        summary.rejected = session.rejected
        summary.bytesRead = splitter.consumed
        appender.record(into: &summary)
        return summary
    }
}
