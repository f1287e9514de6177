import Hummingbird
import Sightline

/// Posting sightings, and the reads that return rows: a plate's history, an area, a search.
extension ServiceAPI {
    func addSightingRoutes(to router: Router<BasicRequestContext>) {
        add(router, .post, "/v1/sightings", role: .ingest) { request, context, _ in
            try Parameters(request, context).only([])
            return try await ingest(request)
        }
        add(router, .get, "/v1/plates/{plate}/sightings", role: .read) { request, context, caller in
            let p = Parameters(request, context)
            try p.only(["from", "to", "limit", "page", "count"])
            return try await rows(.history(try p.plate()), p, caller)
        }
        add(router, .get, "/v1/area", role: .read) { request, context, caller in
            let p = Parameters(request, context)
            try p.only(["bbox", "circle", "polygon", "from", "to", "limit", "page", "count"])
            return try await rows(.area(try p.area(required: true)!), p, caller)
        }
        add(router, .get, "/v1/search", role: .investigate) { request, context, caller in
            let p = Parameters(request, context)
            try p.only(["pattern", "equivalent", "plates", "bbox", "circle", "polygon", "from", "to", "limit", "page", "count"])
            guard let text = p["pattern"] else { throw APIError.badParameter("pattern", "missing") }
            let pattern: PlatePattern
            do { pattern = try PlatePattern(text, equivalence: try p.flag("equivalent") ? .default : nil) } catch {
                throw APIError.badParameter("pattern", "\(text): \(error)")
            }
            let kind = QueryKind.search(pattern, within: try p.area(required: false))
            guard try p.flag("plates") else { return try await rows(kind, p, caller) }
            let query = try makeQuery(kind, p)
            let summaries = try await blocking { try $0.snapshot(access: caller.access).searchPlates(query) }
            return Self.json(JSON.object([("plates", JSON.array(summaries.map {
                "{\"plate\":\"\($0.plate.text)\",\"sightings\":\($0.sightings),\"first\":\($0.first),\"last\":\($0.last)}"
            }))]))
        }
    }

    func makeQuery(_ kind: QueryKind, _ p: Parameters) throws(APIError) -> Query {
        let time = try p.timeRange()
        do { return try Query(kind, time: time) } catch { throw .badParameter("query", "\(error)") }
    }

    /// One page of rows — `{"sightings":[ROW…],"next":TOKEN|null}` — or with `count=true`
    /// `{"count":N}`. Each page is read (and audited) on behalf of the caller, filtered by
    /// the sharing policy for the caller's agency.
    func rows(_ kind: QueryKind, _ p: Parameters, _ caller: Caller) async throws -> Response {
        let query = try makeQuery(kind, p)
        if try p.flag("count") {
            guard p["page"] == nil, p["limit"] == nil else { throw APIError.badParameter("count", "not with page or limit") }
            let counted: QueryResult
            do { counted = try await store.count(query, access: caller.access) } catch { throw APIError.from(error) }
            return Self.json("{\"count\":\(counted.count)}\n")
        }
        let limit = try p.int("limit", default: limits.defaultPage, 1...limits.maximumPage)!
        let token = try p["page"].map { text throws(APIError) -> QueryPageToken in
            guard let token = QueryPageToken(text) else { throw .badParameter("page", "\(text): not a page token") }
            return token
        }
        let pages: QueryRows
        do {
            pages = try store.rows(query, after: token, options: CursorOptions(batchRows: limit, deadline: .now + limits.queryDeadline),
                                   access: caller.access)
        } catch { throw APIError.from(error) }
        var iterator = pages.makeAsyncIterator()
        let batch: [Sighting]
        do throws(SightlineError) { batch = try await iterator.next() ?? [] } catch { throw APIError.from(error) }
        var json = "{\"sightings\":["
        json += batch.map(JSON.row).joined(separator: ",")
        let next = batch.count == limit ? pages.cursor.pageToken.map { JSON.string($0.description) } ?? "null" : "null"
        json += "],\"next\":\(next)}\n"
        return Self.json(json)
    }

    /// `POST /v1/sightings`: NDJSON (default) or CSV with a header (`Content-Type: text/csv`),
    /// streamed through the library's ingest pipeline (`Store.ingest`): parsed as it arrives,
    /// in batches appended while the next is parsed. 200 `{"stored","duplicates"}` when every
    /// line is good; 422 with the error shape and `"rejected":[{"line","reason"}]` (the first
    /// 1000) when some are not — the good ones are stored, durable when the answer is sent.
    /// Reposting is safe: stored rows are skipped as duplicates. Over the body limit: 413
    /// before any row is read when the length is declared; a chunked body that grows past it
    /// stops there, and the 413 says how many rows were stored.
    func ingest(_ request: Request) async throws -> Response {
        let limit = limits.maximumBody
        if let length = request.headers[.contentLength].flatMap({ Int($0) }), length > limit { throw APIError.tooLarge(limit) }
        let csv = request.headers[.contentType]?.hasPrefix("text/csv") ?? false
        let body = LimitedBody(body: request.body, limit: limit)
        var rejected: [RejectedRow] = [], total = 0
        let summary: IngestSummary
        do {
            summary = try await store.store.ingest(body, source: "body", options: IngestOptions(format: csv ? .csv : .ndjson),
                                                   rejected: { total += 1; if rejected.count < 1000 { rejected.append($0) } })
        } catch {
            switch error.reason {
            case .header(let cause):
                throw APIError.badBody("line 1: \(cause)")
            case .source(let cause) where cause is LimitedBody.TooLarge:
                throw APIError.tooLarge(limit, "; \(error.summary.stored) rows of its first \(error.summary.acknowledgedLines) lines stored")
            default:
                // The store is poisoned (disk full, I/O error) or the body was cut off: rows
                // acknowledged before are safe; 503, try again (duplicates are skipped).
                throw APIError(status: .serviceUnavailable, code: "ingest_failed", message: "\(error)")
            }
        }
        let counts = "\"stored\":\(summary.stored),\"duplicates\":\(summary.duplicates)"
        let lines = rejected
        guard !lines.isEmpty else { return Self.json("{\(counts)}\n") }
        let list = lines.map { "{\"line\":\($0.line),\"reason\":\(JSON.string($0.reason))}" }.joined(separator: ",")
        throw APIError(status: .unprocessableContent, code: "rejected_lines",
                       message: "\(total) line(s) rejected (first: line \(lines[0].line): \(lines[0].reason)); the good ones are stored",
                       extra: "\(counts),\"rejected\":[\(list)]")
    }
}

/// A request body as byte chunks for `Store.ingest`, failing once it grows past `limit`.
struct LimitedBody: AsyncSequence, Sendable {
    struct TooLarge: Error {}
    let body: RequestBody
    let limit: Int

    struct AsyncIterator: AsyncIteratorProtocol {
        var base: RequestBody.AsyncIterator
        let limit: Int
        var seen = 0
        mutating func next() async throws -> Chunk? {
            guard let buffer = try await base.next() else { return nil }
            seen += buffer.readableBytes
            if seen > limit { throw TooLarge() }
            return Chunk(buffer: buffer)
        }
    }

    func makeAsyncIterator() -> AsyncIterator { AsyncIterator(base: body.makeAsyncIterator(), limit: limit) }

    /// One buffer of the body, read in place by the ingest pipeline (no copy).
    struct Chunk: Sequence {
        let buffer: ByteBuffer
        func makeIterator() -> IndexingIterator<[UInt8]> { Array(buffer.readableBytesView).makeIterator() }
        func withContiguousStorageIfAvailable<R>(_ body: (UnsafeBufferPointer<UInt8>) throws -> R) rethrows -> R? {
            try buffer.withUnsafeReadableBytes { try body($0.bindMemory(to: UInt8.self)) }
        }
    }
}
