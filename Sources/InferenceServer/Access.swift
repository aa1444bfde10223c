import HTTP

/// Who may call the server: an optional API key, and the browser origins
/// allowed to call it cross-origin (CORS).
struct Access: Sendable {
    /// Empty: no key needed.
    let apiKey: String
    /// Origins allowed by CORS; "*" allows any. Empty: no cross-origin access.
    let corsOrigins: [String]

    /// Paths anyone may fetch: the health probe, and the page (which asks for the key itself).
    static let publicPaths: Set<String> = ["/health", "/"]

    /// Nil when `request` may proceed; else the 401 to send.
    func authorize(_ request: HTTPRequest) -> APIError? {
        guard !apiKey.isEmpty, !Self.publicPaths.contains(request.path) else { return nil }
        let header = request.header("authorization") ?? ""
        let scheme = "bearer "  // the scheme name is case-insensitive (RFC 9110)
        guard header.lowercased().hasPrefix(scheme),
              Self.constantTimeEqual(Array(header.utf8.dropFirst(scheme.utf8.count)), Array(apiKey.utf8)) else {
            return APIError(status: 401, code: "unauthorized",
                            message: header.isEmpty ? "this server needs an API key: send Authorization: Bearer <key>"
                                                    : "the API key is not valid",
                            headers: [("WWW-Authenticate", "Bearer")])
        }
        return nil
    }

    /// Compares in time that depends only on the lengths, so the key cannot be
    /// guessed a byte at a time from response times.
    static func constantTimeEqual(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        var difference = a.count == b.count ? 0 : 1
        for i in 0..<max(a.count, b.count) {
            difference |= Int((i < a.count ? a[i] : 0) ^ (i < b.count ? b[i] : 0))
        }
        return difference == 0
    }

    /// CORS headers for a request from `origin`, or nil when that origin is not allowed.
    func corsHeaders(origin: String?) -> [(String, String)]? {
        guard let origin, corsOrigins.contains(origin) || corsOrigins.contains("*") else { return nil }
        return [("Access-Control-Allow-Origin", origin), ("Vary", "Origin"), ("Access-Control-Expose-Headers", "Retry-After")]
    }

    /// The answer to a CORS preflight (OPTIONS with Access-Control-Request-Method):
    /// the headers an allowed origin may send, or the error for any other origin.
    func preflight(_ request: HTTPRequest) -> Result<HTTPResponse, APIError> {
        guard let headers = corsHeaders(origin: request.header("origin")) else {
            return .failure(APIError(status: 403, code: "cors_origin_not_allowed",
                                     message: "cross-origin requests from \(request.header("origin") ?? "this origin") are not allowed; see the cors_origins setting"))
        }
        // Client libraries add headers of their own; an allowed origin may send any.
        let requested = request.header("access-control-request-headers") ?? "Authorization, Content-Type, Accept"
        return .success(.full(status: 204, headers: headers + [
            ("Access-Control-Allow-Methods", "GET, POST, OPTIONS"),
            ("Access-Control-Allow-Headers", requested),
            ("Access-Control-Max-Age", "600"),
        ], body: []))
    }
}
