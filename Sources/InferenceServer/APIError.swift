import HTTP

/// Every client-visible failure: one type, one JSON shape
/// `{"error": {"code": "...", "message": "..."}}`, the right status.
struct APIError: Error, Equatable {
    let status: Int
    let code: String
    let message: String
    var headers: [(String, String)] = []

    static func == (a: APIError, b: APIError) -> Bool {
        a.status == b.status && a.code == b.code && a.message == b.message
    }

    static func badRequest(_ message: String, code: String = "invalid_request") -> APIError {
        APIError(status: 400, code: code, message: message)
    }

    static func notFound(_ path: String) -> APIError {
        APIError(status: 404, code: "not_found", message: "no route for \(path); routes are POST /generate, GET /health, GET /model")
    }

    static func methodNotAllowed(_ method: String, path: String, allowed: [String]) -> APIError {
        APIError(status: 405, code: "method_not_allowed",
                 message: "\(method) is not allowed on \(path); use \(allowed.joined(separator: " or "))",
                 headers: [("Allow", allowed.joined(separator: ", "))])
    }

    static let unsupportedMediaType = APIError(
        status: 415, code: "unsupported_media_type",
        message: "the body must be JSON sent with Content-Type: application/json (with curl: -H 'Content-Type: application/json')")

    static func queueFull(retryAfterSeconds: Int) -> APIError {
        APIError(status: 503, code: "queue_full",
                 message: "the server is at capacity (all generation slots and queue places are taken); retry later",
                 headers: [("Retry-After", "\(retryAfterSeconds)")])
    }

    static let loading = APIError(status: 503, code: "loading", message: "the model is still loading",
                                  headers: [("Retry-After", "1")])

    static let shuttingDown = APIError(status: 503, code: "shutting_down", message: "the server is shutting down",
                                       headers: [("Retry-After", "5")])

    var response: HTTPResponse {
        .jsonError(status: status, code: code, message: message, headers: headers)
    }
}
