import Hummingbird
import Prometheus
import Sightline

/// The HTTP API over one store. Every store call is `async` (the library runs the blocking
/// part on its own threads), so NIO's event loops never wait on an fsync or a scan.
struct Routes: Sendable {
    let store: AsyncStore
    let registry: PrometheusCollectorRegistry

    /// Largest body accepted by `POST /sightings`.
    static let maximumBody = 64 << 20
    /// Rows per page by default, and at most.
    static let defaultLimit = 1000, maximumLimit = 10_000

    func add(to router: Router<BasicRequestContext>) {
        router.get("healthz") { _, _ in "ok\n" }
        router.get("metrics") { _, _ in
            Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4"],
                     body: .init(byteBuffer: ByteBuffer(bytes: registry.emitToBuffer())))
        }
        router.post("sightings") { request, _ in try await ingest(request) }
        router.get("plates/:plate/sightings") { request, context in
            guard let text = context.parameters.get("plate") else { throw HTTPError(.badRequest, message: "missing plate") }
            let plate: Plate
            do { plate = try Plate(text) } catch { throw HTTPError(.badRequest, message: "\(error)") }
            return try await page(.history(plate), request)
        }
        router.get("area") { request, _ in
            let q = request.uri.queryParameters
            let area: Area
            if let bbox = q.get("bbox") {
                let v = try numbers(bbox, 4, "bbox")
                area = .box(south: v[0], west: v[1], north: v[2], east: v[3])
            } else if let circle = q.get("circle") {
                let v = try numbers(circle, 3, "circle")
                area = .circle(latitude: v[0], longitude: v[1], metres: v[2])
            } else {
                throw HTTPError(.badRequest, message: "give bbox=S,W,N,E or circle=LAT,LON,METRES")
            }
            return try await page(.area(area), request)
        }
    }

    /// `POST /sightings`: NDJSON (default) or CSV with a header (`Content-Type: text/csv`),
    /// streamed through the library's ingest pipeline (`Store.ingest`): the body is parsed as
    /// it arrives, in batches appended while the next is parsed. Good rows are stored (durable
    /// when the response is sent); rejected lines are listed with their line number and
    /// reason, and make the status 422. Reposting a body is safe: rows already stored are
    /// skipped as duplicates. A body over the limit is refused with 413 before any row is read
    /// when it declares its length; a chunked one that grows past it stops there, and the 413
    /// says how many rows of it were stored.
    func ingest(_ request: Request) async throws -> Response {
        if let length = request.headers[.contentLength].flatMap({ Int($0) }), length > Self.maximumBody {
            throw HTTPError(.contentTooLarge, message: "body over \(Self.maximumBody) bytes")
        }
        let csv = request.headers[.contentType]?.hasPrefix("text/csv") ?? false
        let body = LimitedBody(body: request.body, limit: Self.maximumBody)
        var rejected: [RejectedRow] = []
        let summary: IngestSummary
        do {
            summary = try await store.store.ingest(body, source: "body", options: IngestOptions(format: csv ? .csv : .ndjson),
                                                   rejected: { if rejected.count < 1000 { rejected.append($0) } })
        } catch {
            switch error.reason {
            case .header(let cause):
                throw HTTPError(.badRequest, message: "line 1: \(cause)")
            case .source(let cause) where cause is LimitedBody.TooLarge:
                throw HTTPError(.contentTooLarge, message: "body over \(Self.maximumBody) bytes; "
                                + "\(error.summary.stored) rows of its first \(error.summary.acknowledgedLines) lines stored")
            default:
                // The store is poisoned (disk full, I/O error) or the body was cut off: rows
                // acknowledged before are safe; 503, try again (duplicates are skipped).
                throw HTTPError(.serviceUnavailable, message: "\(error)")
            }
        }
        var json = "{\"stored\":\(summary.stored),\"duplicates\":\(summary.duplicates),\"rejected\":["
        json += rejected.map { "{\"line\":\($0.line),\"reason\":\(quoted($0.reason))}" }.joined(separator: ",")
        json += "]}\n"
        return Response(status: rejected.isEmpty ? .ok : .unprocessableContent, headers: [.contentType: "application/json"],
                        body: .init(byteBuffer: ByteBuffer(string: json)))
    }

    /// One page of a query: `from`, `to` (epoch ms or RFC 3339), `limit` (rows per page),
    /// `page` (the `next` token of the previous page). The body is
    /// `{"sightings":[…],"next":TOKEN|null}`. Who asks and why travel in headers
    /// (`X-Sightline-Requester`, `-Agency`, `-Purpose`, `-Case`): the store audits each page
    /// under them, applies its sharing policy to the agency, and refuses (403) a read
    /// without the purpose it requires.
    func page(_ kind: QueryKind, _ request: Request) async throws -> Response {
        let q = request.uri.queryParameters
        func time(_ name: String) throws -> Int64? {
            guard let text = q.get(name) else { return nil }
            guard let t = Timestamp.milliseconds(text) else { throw HTTPError(.badRequest, message: "\(name)=\(text): not epoch ms or RFC 3339") }
            return t
        }
        let limit = try q.get("limit").map { text -> Int in
            guard let n = Int(text), (1...Self.maximumLimit).contains(n) else {
                throw HTTPError(.badRequest, message: "limit=\(text): 1…\(Self.maximumLimit)")
            }
            return n
        } ?? Self.defaultLimit
        let token = try q.get("page").map { text -> QueryPageToken in
            guard let token = QueryPageToken(text) else { throw HTTPError(.badRequest, message: "page=\(text): not a page token") }
            return token
        }
        let rows: QueryRows
        do {
            let query = try Query(kind, time: try TimeRange(from: try time("from"), to: try time("to")))
            rows = try store.rows(query, after: token, options: CursorOptions(batchRows: limit, deadline: .now + .seconds(10)),
                                  access: Self.access(request))
        } catch SightlineError.accessRefused(let reason) {
            throw HTTPError(.forbidden, message: "access refused: \(reason) (send X-Sightline-Purpose)")
        } catch let error as SightlineError {
            throw HTTPError(.badRequest, message: "\(error)")
        }
        var iterator = rows.makeAsyncIterator()
        let read: Result<[Sighting]?, SightlineError>
        do throws(SightlineError) { read = .success(try await iterator.next()) } catch { read = .failure(error) }
        let batch: [Sighting]
        switch read {
        case .success(let rows): batch = rows ?? []
        case .failure(.deadlineExceeded): throw HTTPError(.serviceUnavailable, message: "the query ran past its deadline; narrow it")
        case .failure(let error): throw HTTPError(.serviceUnavailable, message: "\(error)")  // I/O or a corrupt file: the server's trouble
        }
        var json = "{\"sightings\":["
        json += batch.map(Self.json).joined(separator: ",")
        let next = batch.count == limit ? rows.cursor.pageToken.map { quoted($0.description) } ?? "null" : "null"
        json += "],\"next\":\(next)}\n"
        return Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(string: json)))
    }

    /// The reader's access context from the request's headers.
    static func access(_ request: Request) -> AccessContext {
        func header(_ name: String) -> String { request.headers.first { $0.name.canonicalName == name.lowercased() }?.value ?? "" }
        return AccessContext(requester: header("X-Sightline-Requester"), agency: header("X-Sightline-Agency"),
                             purpose: header("X-Sightline-Purpose"), caseNumber: header("X-Sightline-Case"))
    }

    static func json(_ s: Sighting) -> String {
        var out = "{\"plate\":\"\(s.plate)\",\"time\":\(s.time),\"lat\":\(Double(s.latitudeE7) / 1e7),\"lon\":\(Double(s.longitudeE7) / 1e7)"
        out += ",\"camera\":\(s.camera),\"confidence\":\(s.confidence)"
        if let region = s.region { out += ",\"region\":\"\(region)\"" }
        if let image = s.image { out += ",\"image\":\(quoted(image))" }
        return out + "}"
    }

    func numbers(_ text: String, _ count: Int, _ name: String) throws -> [Double] {
        let values = text.split(separator: ",").compactMap { Double($0) }
        guard values.count == count, text.split(separator: ",").count == count else {
            throw HTTPError(.badRequest, message: "\(name)=\(text): expected \(count) comma-separated numbers")
        }
        return values
    }
}

/// A JSON string literal.
func quoted(_ s: String) -> String {
    var r = "\""
    for u in s.unicodeScalars {
        switch u {
        case "\"": r += "\\\""
        case "\\": r += "\\\\"
        case _ where u.value < 0x20: r += "\\u00" + (u.value < 16 ? "0" : "") + String(u.value, radix: 16)
        default: r.unicodeScalars.append(u)
        }
    }
    return r + "\""
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
