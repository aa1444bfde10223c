/// A complete HTTP request, body included, as handed to the server's handler.
public struct HTTPRequest: Sendable {
    /// The request method as sent, e.g. `GET` or `POST`.
    public var method: String
    /// The percent-decoded path, without the query string.
    public var path: String
    /// Query parameters, percent-decoded; a name given without `=` maps to `""`.
    /// When a name repeats, the last value wins.
    public var query: [String: String]
    /// Request headers keyed by lower-cased name; repeated headers are joined
    /// with `", "` as RFC 9110 allows.
    public var headers: [String: String]
    /// The request body (at most ``ServerLimits/maxBodyBytes``).
    public var body: [UInt8]
    /// The body was larger than ``ServerLimits/maxBodyBytes`` and was not
    /// kept (`body` is empty). The handler should answer 413; the server
    /// closes the connection after the response, whatever it is, since the
    /// rest of the body was never read.
    public var bodyLimitExceeded: Bool
    /// The client's numeric IP address, without port.
    public var remoteAddress: String
    /// The connection the request came on; lets a slow handler notice that
    /// the client has gone before it answers.
    public var client: ClientConnection

    /// Creates a request; the server does this, tests and callers may too.
    public init(
        method: String,
        path: String,
        query: [String: String] = [:],
        headers: [String: String] = [:],
        body: [UInt8] = [],
        bodyLimitExceeded: Bool = false,
        remoteAddress: String = "",
        client: ClientConnection = .detached
    ) {
        self.method = method
        self.path = path
        self.query = query
        self.headers = headers
        self.body = body
        self.bodyLimitExceeded = bodyLimitExceeded
        self.remoteAddress = remoteAddress
        self.client = client
    }

    /// The value of the header `name` (any case), if present.
    public func header(_ name: String) -> String? {
        headers[name.lowercased()]
    }
}
