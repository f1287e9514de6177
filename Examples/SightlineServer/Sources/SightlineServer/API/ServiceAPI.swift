import Hummingbird
import Logging
import Sightline

/// Who is asking, for one request: the credential's identity, and the purpose and case the
/// request states (`X-Sightline-Purpose`, `X-Sightline-Case`). `X-Sightline-Requester` and
/// `X-Sightline-Agency` are ignored: the requester and agency are the credential's.
struct Caller: Sendable {
    let identity: Identity
    let access: AccessContext

    init(_ identity: Identity, _ request: Request) {
        self.identity = identity
        func header(_ name: String) -> String? { request.header(name) }
        let caseNumber = header("X-Sightline-Case")
        access = AccessContext(requester: identity.requester, agency: identity.agency, purpose: header("X-Sightline-Purpose") ?? "",
                               caseNumber: caseNumber?.isEmpty == false ? caseNumber : nil)
    }
}

extension Request {
    /// The value of header `name` (any case).
    func header(_ name: String) -> String? {
        let lower = name.lowercased()
        return headers.first { $0.name.canonicalName == lower }?.value
    }
}

/// One route of the API, as registered and as `/openapi.json` must describe it.
struct RouteEntry: Sendable, Hashable {
    let method: String
    /// OpenAPI form: `/v1/plates/{plate}/sightings`.
    let path: String
    /// The role it needs; nil: none (public, or `/metrics`' own check).
    let role: Role?
}

/// The `/v1` API over one store: every route is registered through `add`, which
/// authenticates the request, checks the route's role (a refusal is audited in the store's
/// log under the credential's identity, then answered 403) and records the route for the
/// OpenAPI check.
struct ServiceAPI: Sendable {
    let store: AsyncStore
    let authenticator: Authenticator
    let limits: Limits
    let logger: Logger
    /// Where the store's keys are (the audit log's head for `audit/verify`).
    let keyring: Keyring

    struct Limits: Sendable {
        /// Largest request body accepted (413 above).
        var maximumBody = 64 << 20
        /// Rows per page by default, and at most.
        var defaultPage = 1000, maximumPage = 10_000
        /// How long one query may run.
        var queryDeadline: Duration = .seconds(10)
    }

    /// The registered routes, in registration order.
    final class Table: @unchecked Sendable { var routes: [RouteEntry] = [] }
    let table = Table()

    typealias Handler = @Sendable (Request, BasicRequestContext, Caller) async throws -> Response

    func add(_ router: Router<BasicRequestContext>, _ method: HTTPRequest.Method, _ path: String, role: Role, _ handler: @escaping Handler) {
        table.routes.append(RouteEntry(method: method.rawValue, path: path, role: role))
        let api = self
        router.on(RouterPath(Self.hummingbirdPath(path)), method: method) { request, context in
            let caller = try await api.authorize(request, role: role, operation: "\(method.rawValue) \(path)")
            return try await handler(request, context, caller)
        }
    }

    /// The caller of `request` if its credential has `role`: 401 without a known credential,
    /// 403 (audited as a refusal) without the role.
    func authorize(_ request: Request, role: Role, operation: String) async throws(APIError) -> Caller {
        let identity: Identity
        do { identity = try await authenticator.identity(request) } catch { throw .unauthorized }
        let caller = Caller(identity, request)
        guard identity.roles.contains(role) else {
            let reason = "role \(role.rawValue) required; the credential of \(identity.requester) (\(identity.agency)) has \(Role.text(identity.roles))"
            do {
                try store.store.snapshot(access: caller.access).recordRefusal("http", query: operation, reason: reason)
            } catch {
                logger.error("could not audit a refusal", metadata: ["error": "\(error)"])
                throw APIError.from(error)
            }
            throw .forbidden(reason)
        }
        return caller
    }

    /// `{name}` segments as Hummingbird's `:name`.
    static func hummingbirdPath(_ path: String) -> String {
        path.split(separator: "/", omittingEmptySubsequences: false).map { segment in
            segment.hasPrefix("{") && segment.hasSuffix("}") ? ":" + segment.dropFirst().dropLast() : String(segment)
        }.joined(separator: "/")
    }

    /// A JSON answer.
    static func json(_ body: String, status: HTTPResponse.Status = .ok) -> Response {
        Response(status: status, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(string: body)))
    }

    /// The whole body, refused (413) past the limit.
    func body(_ request: Request) async throws -> [UInt8] {
        if let length = request.headers[.contentLength].flatMap({ Int($0) }), length > limits.maximumBody {
            throw APIError.tooLarge(limits.maximumBody)
        }
        var bytes: [UInt8] = []
        for try await buffer in request.body {
            guard bytes.count + buffer.readableBytes <= limits.maximumBody else { throw APIError.tooLarge(limits.maximumBody) }
            bytes += buffer.readableBytesView
        }
        return bytes
    }

    /// Runs a blocking store call on the library's threads, mapping its error to the API's.
    func blocking<T: Sendable>(_ body: @escaping @Sendable (Store) throws -> T) async throws(APIError) -> T {
        do {
            return try await store.perform { (s: Store) throws(SightlineError) -> T in
                do { return try body(s) } catch let error as SightlineError { throw error } catch {
                    throw SightlineError.invalidArgument("\(error)")
                }
            }
        } catch { throw APIError.from(error) }
    }
}
