import HTTP

/// Every client-visible failure: one type, one JSON shape
/// `{"error": {"code": "...", "message": "..."}}`, the right status.
struct APIError: Error, Equatable {
    let status: Int
    let code: String
    let message: String
    var headers: [(String, String)] = []
    /// The request field at fault, for OpenAI-style errors.
    var param: String?

    static func == (a: APIError, b: APIError) -> Bool {
        a.status == b.status && a.code == b.code && a.message == b.message
    }

    static func badRequest(_ message: String, code: String = "invalid_request", param: String? = nil) -> APIError {
        APIError(status: 400, code: code, message: message, param: param)
    }

    static func notFound(_ path: String) -> APIError {
        APIError(status: 404, code: "not_found", message: "no route for \(path); routes are GET /, POST /generate, GET /health, GET /model, GET /metrics, POST /tokenize, POST /detokenize, POST /v1/completions, POST /v1/chat/completions, GET /v1/models")
    }

    static func methodNotAllowed(_ method: String, path: String, allowed: [String]) -> APIError {
        APIError(status: 405, code: "method_not_allowed",
                 message: "\(method) is not allowed on \(path); use \(allowed.joined(separator: " or "))",
                 headers: [("Allow", allowed.joined(separator: ", "))])
    }

    static func payloadTooLarge(limit: Int) -> APIError {
        APIError(status: 413, code: "payload_too_large",
                 message: "the request body exceeds \(limit) bytes (max_body_bytes)")
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

    /// The same error in OpenAI's shape: `{"error": {"message", "type", "param", "code"}}`.
    var openAIResponse: HTTPResponse {
        let type = switch status {
        case 400, 404, 405, 413, 415: "invalid_request_error"
        case 401: "authentication_error"
        default: "server_error"
        }
        let body = OpenAIError(error: .init(message: message, type: type, param: param, code: code))
        return .full(status: status, headers: [("Content-Type", "application/json")] + headers, body: JSONCoding.encode(body))
    }
}

struct OpenAIError: Encodable {
    struct Detail: Encodable {
        let message: String
        let type: String
        let param: String?
        let code: String

        /// By hand, so that a missing `param` appears as null, as OpenAI sends it.
        func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(message, forKey: .message)
            try container.encode(type, forKey: .type)
            try container.encode(param, forKey: .param)
            try container.encode(code, forKey: .code)
        }
        enum CodingKeys: CodingKey { case message, type, param, code }
    }
    let error: Detail
}
