import JSON

/// What a handler answers, as a value: a status, headers and a body that is
/// either complete or streamed with chunked transfer encoding.
///
/// Being a plain value, a response can be built by a route and then amended
/// in one place (extra headers, a hook when its body ends) before it is sent.
///
/// `Content-Length` and `Transfer-Encoding` are managed by the server; such
/// headers given here are ignored, as are headers libmicrohttpd rejects (e.g.
/// values containing line breaks). A status outside 100...999 is sent as 500.
public struct HTTPResponse: Sendable {
    /// The body of a response.
    public enum Body: Sendable {
        /// A body known in full; sent with `Content-Length`.
        case bytes([UInt8])
        /// A body produced while it is being sent. The status line and headers
        /// go out at once; the producer then runs exactly once, on a thread of
        /// its own (so it may block), and writes the body through the
        /// ``ResponseBodyWriter``. The body ends when the producer calls
        /// ``ResponseBodyWriter/finish()`` or returns.
        case stream(@Sendable (ResponseBodyWriter) -> Void)
        /// A body the connection's thread pulls as the client can take it
        /// (see ``PulledBody``), sent like a stream with chunked encoding.
        case pull(any PulledBody)
    }

    public var status: Int
    public var headers: [(String, String)]
    public var body: Body

    public init(status: Int, headers: [(String, String)] = [], body: Body) {
        self.status = status
        self.headers = headers
        self.body = body
    }

    /// A response whose body is known.
    public static func full(status: Int, headers: [(String, String)], body: [UInt8]) -> HTTPResponse {
        HTTPResponse(status: status, headers: headers, body: .bytes(body))
    }

    /// A response whose body `producer` writes while it is being sent.
    public static func stream(
        status: Int,
        headers: [(String, String)],
        producer: @escaping @Sendable (ResponseBodyWriter) -> Void
    ) -> HTTPResponse {
        HTTPResponse(status: status, headers: headers, body: .stream(producer))
    }

    /// The same response with `extra` headers after its own.
    public func addingHeaders(_ extra: [(String, String)]) -> HTTPResponse {
        var response = self
        response.headers += extra
        return response
    }

    /// The same response, calling `action` once its body has been produced:
    /// at once for a complete body, after the producer returns for a stream,
    /// once the response is over for a pulled body.
    /// Lets one place log and count every response, streams included.
    public func whenBodyProduced(_ action: @escaping @Sendable () -> Void) -> HTTPResponse {
        var response = self
        switch body {
        case .bytes:
            action()
        case .stream(let producer):
            response.body = .stream { writer in
                producer(writer)
                writer.finish()
                action()
            }
        case .pull(let body):
            response.body = .pull(ClosingHook(body, action))
        }
        return response
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

/// A pulled body that runs an action once it is closed.
private final class ClosingHook: PulledBody {
    private let body: any PulledBody
    private let action: @Sendable () -> Void

    init(_ body: any PulledBody, _ action: @escaping @Sendable () -> Void) {
        self.body = body
        self.action = action
    }

    func next(maxBytes: Int) -> PulledPiece { body.next(maxBytes: maxBytes) }

    func closed(delivered: Bool) {
        body.closed(delivered: delivered)
        action()
    }
}
