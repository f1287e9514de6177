/// How ``Store/ingest(fileDescriptor:source:options:rejected:progress:)`` and its path and
/// async forms read a source.
public struct IngestOptions: Sendable, Hashable {
    /// CSV or NDJSON; `nil` detects it: by the source name's extension (`.ndjson`, `.jsonl`,
    /// `.json`), else from the first byte (`{`) when the name has no extension to go by (`-`,
    /// an HTTP body), else CSV.
    public var format: SightingParser.Format?
    /// Rows parsed into one append (one log record, one durable acknowledgement).
    public var batchRows: Int = 100_000
    /// Store nothing from a source with a bad row: the first one ends the call with
    /// ``IngestError/Reason/strict(_:)`` and every row is held until the source is clean.
    public var strict = false

    /// The defaults: format detected, 100,000 rows per append, bad rows skipped and reported.
    public init() {}

    /// The given format, batch size and strictness.
    public init(format: SightingParser.Format? = nil, batchRows: Int = 100_000, strict: Bool = false) {
        self.format = format
        self.batchRows = batchRows
        self.strict = strict
    }
}

/// How far an ingest has read, given to its progress callback every 16,384 lines.
public struct IngestProgress: Sendable, Hashable {
    /// Data lines read (the header and blank lines excluded).
    public var rowsRead: Int
    /// Bytes of the source read so far.
    public var bytesRead: Int
    /// The source's size when known (a regular file), for an estimate of the time left.
    public var totalBytes: Int?
}

/// What one ingest did. In an ``IngestError`` it says how far the ingest got: every row on
/// lines up to ``acknowledgedLines`` (bytes up to ``acknowledgedBytes``) is durably stored,
/// a duplicate, or rejected; nothing after that is.
public struct IngestSummary: Sendable, Hashable {
    /// Data lines read and parsed (good and bad).
    public var rowsRead = 0
    /// Rows the store took.
    public var stored = 0
    /// Rows the store already held (skipped).
    public var duplicates = 0
    /// Rows that did not parse (reported to the rejects callback).
    public var rejected = 0
    /// Bytes of the source read.
    public var bytesRead = 0
    /// Source lines (1-based, header included) whose rows are all acknowledged.
    public var acknowledgedLines = 0
    /// Source bytes whose rows are all acknowledged: a retry may resume reading here.
    public var acknowledgedBytes = 0

    /// Nothing read yet.
    public init() {}
}

/// Why an ingest stopped early, and how far it got.
public struct IngestError: Error, Sendable, CustomStringConvertible {
    /// The cause.
    public enum Reason: Sendable {
        /// The store refused or failed an append, or the source could not be read.
        case store(SightlineError)
        /// The CSV header names no usable set of columns (nothing was stored from the source).
        case header(SightlineError)
        /// The byte source itself threw (an HTTP body cut off, …).
        case source(any Error)
        /// The calling task was cancelled.
        case cancelled
        /// ``IngestOptions/strict`` and a bad row: nothing of the source was stored.
        case strict(RejectedRow)
    }

    /// The cause.
    public var reason: Reason
    /// What was acknowledged before the ingest stopped: durable (under the store's
    /// durability setting) and never to be appended again by a resumed ingest.
    public var summary: IngestSummary

    /// An ingest stopped for `reason` after `summary`.
    public init(_ reason: Reason, after summary: IngestSummary) {
        self.reason = reason
        self.summary = summary
    }

    /// The cause, then how far the ingest got.
    public var description: String {
        let cause: String
        switch reason {
        case .store(let error), .header(let error): cause = "\(error)"
        case .source(let error): cause = "the source failed: \(error)"
        case .cancelled: cause = "cancelled"
        case .strict(let row): cause = "\(row) (strict: nothing stored from \(row.source))"
        }
        return "\(cause); acknowledged through line \(summary.acknowledgedLines) (byte \(summary.acknowledgedBytes)): "
            + "\(summary.stored) rows stored, \(summary.duplicates) duplicates"
    }
}
