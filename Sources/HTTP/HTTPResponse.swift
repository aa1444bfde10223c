import JSON

/// What a handler answers: a complete body, or a body streamed with chunked
/// transfer encoding.
///
/// `Content-Length` and `Transfer-Encoding` are managed by the server; such
/// headers given here are ignored, as are headers libmicrohttpd rejects (e.g.
/// values containing line breaks). A status outside 100...999 is sent as 500.
public enum HTTPResponse: Sendable {
    /// A response whose body is known; sent with `Content-Length`.
    case full(status: Int, headers: [(String, String)], body: [UInt8])
    /// A response whose body is produced while it is being sent. The status
    /// line and headers go out at once; `producer` then runs exactly once, on
    /// a thread of its own (so it may block), and writes the body through the
    /// ``ResponseBodyWriter``. The body ends when the producer calls
    /// ``ResponseBodyWriter/finish()`` or returns.
    case stream(
        status: Int,
        headers: [(String, String)],
        producer: @Sendable (ResponseBodyWriter) -> Void
    )

    /// The status code of either case.
    public var status: Int {
        switch self {
        case .full(let status, _, _), .stream(let status, _, _):
            return status
        }
    }

    /// The same response with `extra` headers after its own.
    public func addingHeaders(_ extra: [(String, String)]) -> HTTPResponse {
        guard !extra.isEmpty else { return self }
        switch self {
        case .full(let status, let headers, let body):
            return .full(status: status, headers: headers + extra, body: body)
        case .stream(let status, let headers, let producer):
            return .stream(status: status, headers: headers + extra, producer: producer)
        }
    }

    /// A full response with a UTF-8 text body and the given content type.
    public static func text(
        status: Int,
        _ text: String,
        contentType: String = "text/plain; charset=utf-8",
        headers: [(String, String)] = []
    ) -> HTTPResponse {
        .full(status: status, headers: [("Content-Type", contentType)] + headers, body: Array(text.utf8))
    }

    /// A JSON error response of the form
    /// `{"error":{"code":"...","message":"..."}}`.
    public static func jsonError(
        status: Int,
        code: String,
        message: String,
        headers: [(String, String)] = []
    ) -> HTTPResponse {
        let json = #"{"error":{"code":"# + code.jsonQuoted + #","message":"# + message.jsonQuoted + "}}"
        return .text(status: status, json, contentType: "application/json", headers: headers)
    }
}
