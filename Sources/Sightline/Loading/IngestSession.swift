/// Why the parsing side of an ingest stops (the drivers add the source's and the task's causes).
enum IngestFailure: Error {
    case header(SightlineError)
    case strict(RejectedRow)
}

/// One source's parse: byte-order mark, format detection, the CSV header, then each line into
/// the current batch (plain lines through the fast parser, the rest through the general one),
/// bad lines to the rejects callback. Full batches wait in ``ready`` for the driver to append,
/// each with the line and byte its last row came from.
struct IngestSession {
    struct Ready {
        var batch: SightingBatch
        var lastLine: Int
        var endOffset: Int
    }

    let source: String
    let batchRows: Int
    let strict: Bool
    private let forcedFormat: SightingParser.Format?
    private let nameSaysNDJSON: Bool
    private let nameIsOpaque: Bool
    private var parser: SightingParser
    private var formatKnown = false
    private var isCSV = true
    private var headerRead = false
    /// The header's column roles, in a raw buffer: the per-line call then retains nothing.
    private var roles = UnsafeMutableBufferPointer<UInt8>(start: nil, count: 0)
    private(set) var batch: SightingBatch
    private var held: [Ready] = []  // strict: nothing is appended until the source is clean
    private(set) var ready: [Ready] = []
    private var spares: [SightingBatch] = []
    var rowsRead = 0, rejected = 0, bytes = 0
    private var lastLine = 0

    init(source: String, options: IngestOptions) {
        self.source = source
        batchRows = max(1, options.batchRows)
        strict = options.strict
        forcedFormat = options.format
        let lower = source.lowercased()
        nameSaysNDJSON = lower.hasSuffix(".ndjson") || lower.hasSuffix(".jsonl") || lower.hasSuffix(".json")
        nameIsOpaque = source == "-" || !lower.contains(".")
        parser = SightingParser(source: source, format: .csv)
        batch = SightingBatch(capacity: min(batchRows, 1 << 20))
    }

    /// Frees the header roles; the driver calls it once, when the session ends.
    mutating func release() {
        roles.deallocate()
        roles = UnsafeMutableBufferPointer(start: nil, count: 0)
    }

    /// Takes one line (without its newline).
    @inline(__always)
    mutating func consume(_ line: UnsafeRawBufferPointer, number: Int, consumed: Int,
                          rejectedRow: (RejectedRow) -> Void) throws(IngestFailure) {
        bytes = consumed
        // Spreadsheets save "CSV UTF-8" with a byte-order mark before the header.
        let bytes = number == 1 && line.starts(with: [0xEF, 0xBB, 0xBF]) ? UnsafeRawBufferPointer(rebasing: line[3...]) : line
        if bytes.allSatisfy({ $0 == 0x20 || $0 == 0x09 || $0 == 0x0D }) { return }
        if !formatKnown { detectFormat(bytes) }
        if isCSV && !headerRead {
            do { try parser.readHeader(Substring(String(decoding: bytes, as: UTF8.self))) } catch { throw .header(error) }
            let fastRoles = parser.fastRoles
            roles = .allocate(capacity: fastRoles.count)
            _ = roles.initialize(from: fastRoles)
            headerRead = true
            lastLine = number
            return
        }
        rowsRead += 1
        let rejection: RejectedRow?
        if isCSV {
            rejection = SightingParser.appendFastRow(bytes, roles: UnsafeBufferPointer(roles), into: &batch)
                ? nil : parser.parseGeneralLine(bytes, number: number, into: &batch)
        } else {
            rejection = parser.parseNDJSONLine(bytes, number: number, into: &batch)
        }
        lastLine = number
        if let rejection {
            rejected += 1
            if strict { throw .strict(rejection) }
            rejectedRow(rejection)
        } else if batch.count >= batchRows {
            seal()
        }
    }

    private mutating func detectFormat(_ bytes: UnsafeRawBufferPointer) {
        let firstByte = bytes.first { $0 != 0x20 && $0 != 0x09 }
        let detected: SightingParser.Format = forcedFormat
            ?? (nameSaysNDJSON ? .ndjson : nameIsOpaque && firstByte == UInt8(ascii: "{") ? .ndjson : .csv)
        parser = SightingParser(source: source, format: detected)
        isCSV = detected == .csv
        formatKnown = true
    }

    /// Moves the current batch to ``ready`` (or, strict, to the held rows).
    mutating func seal() {
        guard !batch.isEmpty else { return }
        let done = Ready(batch: batch, lastLine: lastLine, endOffset: bytes)
        batch = spares.popLast() ?? SightingBatch(capacity: min(batchRows, 1 << 20))
        if strict { held.append(done) } else { ready.append(done) }
    }

    /// The end of the source: the last batch, and under strict the held ones, become ready.
    mutating func finish(lines: Int, consumed: Int) {
        bytes = consumed
        lastLine = lines
        seal()
        if strict {
            ready += held
            held = []
        }
        if var last = ready.popLast() {
            last.lastLine = lines  // trailing blank lines are acknowledged with the last rows
            last.endOffset = consumed
            ready.append(last)
        }
    }

    /// The ready batches, handed to the driver.
    mutating func takeReady() -> [Ready] {
        defer { ready.removeAll(keepingCapacity: true) }
        return ready
    }

    /// An emptied batch from the appender, reused as the next one's storage.
    mutating func reuse(_ spare: SightingBatch) {
        if spares.count < 2 { spares.append(spare) }
    }
}
