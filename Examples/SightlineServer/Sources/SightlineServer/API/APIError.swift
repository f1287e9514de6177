import Hummingbird
import Sightline

/// An error answer: `{"error": CODE, "message": TEXT}` (and `"rejected"` for a body with bad
/// lines), with its status. Every failure of a `/v1` route is one of these.
struct APIError: HTTPResponseError {
    let status: HTTPResponse.Status
    let code: String
    let message: String
    /// Extra members of the JSON object, already encoded (`"rejected":[…]`).
    var extra: String = ""
    var headers: HTTPFields = [:]

    func response(from request: Request, context: some RequestContext) throws -> Response {
        var fields = headers
        fields[.contentType] = "application/json"
        let body = "{\"error\":\(JSON.string(code)),\"message\":\(JSON.string(message))\(extra.isEmpty ? "" : "," + extra)}\n"
        return Response(status: status, headers: fields, body: .init(byteBuffer: ByteBuffer(string: body)))
    }

    /// 400: a parameter is missing or malformed; the message names it.
    static func badParameter(_ name: String, _ why: String) -> APIError {
        APIError(status: .badRequest, code: "bad_parameter", message: "\(name): \(why)")
    }
    static func badBody(_ why: String) -> APIError { APIError(status: .badRequest, code: "bad_body", message: why) }
    static let unauthorized = APIError(status: .unauthorized, code: "unauthorized",
                                       message: "send Authorization: Bearer TOKEN with a token issued by `sightline-server token add`",
                                       headers: [.wwwAuthenticate: "Bearer realm=\"sightline\""])
    static func forbidden(_ why: String) -> APIError { APIError(status: .forbidden, code: "forbidden", message: why) }
    static func notFound(_ what: String) -> APIError { APIError(status: .notFound, code: "not_found", message: what) }
    static func tooLarge(_ limit: Int, _ detail: String = "") -> APIError {
        APIError(status: .contentTooLarge, code: "body_too_large", message: "body over \(limit) bytes" + detail)
    }

    /// The answer for a store error: refusals 403, bad arguments 400, the rest the server's trouble (503).
    static func from(_ error: SightlineError) -> APIError {
        switch error {
        case .accessRefused(let reason):
            return APIError(status: .forbidden, code: "access_refused", message: "\(reason) (send X-Sightline-Purpose, and X-Sightline-Case where required)")
        case .investigationRefused:
            return APIError(status: .forbidden, code: "investigation_refused", message: "\(error)")
        case .invalidArgument, .invalidPlate, .invalidInput, .invalidDocument, .invalidField, .invalidPageToken:
            return APIError(status: .badRequest, code: "bad_request", message: "\(error)")
        case .legalHold:
            return APIError(status: .conflict, code: "legal_hold", message: "\(error)")
        case .deadlineExceeded:
            return APIError(status: .serviceUnavailable, code: "deadline_exceeded", message: "the query ran past its deadline; narrow it")
        default:
            return APIError(status: .serviceUnavailable, code: "store_unavailable", message: "\(error)")
        }
    }
}
