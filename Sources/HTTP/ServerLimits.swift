/// Resource limits of an ``HTTPServer``.
///
/// The server runs one thread per connection (see `MHDBridge.swift`), so
/// ``maxConnections`` also bounds the number of server threads.
public struct ServerLimits: Sendable, Equatable {
    /// Most connections open at once; further connections are accepted and
    /// closed at once by libmicrohttpd, without a response.
    public var maxConnections: Int
    /// Most connections open at once from one IP address; 0 means no limit.
    public var maxConnectionsPerIP: Int
    /// Seconds a connection may stay idle (no bytes received or sent) before
    /// it is closed; 0 means never. The time the server itself spends waiting
    /// for the handler or for the next streamed bytes does not count: those
    /// waits probe the client instead (see ``ClientConnection``).
    public var connectionTimeoutSeconds: Int
    /// libmicrohttpd's memory pool per connection, which holds the request
    /// line, the headers and the I/O buffers. Requests whose headers do not
    /// fit are answered by libmicrohttpd with an error status.
    public var memoryLimitPerConnection: Int
    /// Largest request body kept. A larger one is not read (or is read and
    /// thrown away); the handler gets the request with an empty body and
    /// ``HTTPRequest/bodyLimitExceeded`` set, and should answer 413.
    public var maxBodyBytes: Int
    /// Bytes a streamed response may buffer before ``ResponseBodyWriter/write(_:)``
    /// blocks until the client has taken some (back-pressure for slow clients).
    public var maxBufferedStreamBytes: Int
    /// Seconds a connection has to deliver a whole request (headers and
    /// body), counted from the connection's start or from the end of the
    /// previous response on it, and not restarted by each byte: a client
    /// that trickles bytes (slowloris) is cut off once it passes. 0 means no limit.
    public var requestReceiveTimeoutSeconds: Int
    /// Seconds a streamed response may have bytes waiting without the
    /// backlog clearing once; then the stream counts as stalled: writes fail
    /// (``ResponseBodyWriter/hasStalled``) and the connection is closed.
    public var writeTimeoutSeconds: Int

    /// Creates limits; the defaults suit a small API server.
    public init(
        maxConnections: Int = 64,
        maxConnectionsPerIP: Int = 0,
        connectionTimeoutSeconds: Int = 30,
        memoryLimitPerConnection: Int = 64 * 1024,
        maxBodyBytes: Int = 1024 * 1024,
        maxBufferedStreamBytes: Int = 256 * 1024,
        requestReceiveTimeoutSeconds: Int = 15,
        writeTimeoutSeconds: Int = 30
    ) {
        self.maxConnections = maxConnections
        self.maxConnectionsPerIP = maxConnectionsPerIP
        self.connectionTimeoutSeconds = connectionTimeoutSeconds
        self.memoryLimitPerConnection = memoryLimitPerConnection
        self.maxBodyBytes = maxBodyBytes
        self.maxBufferedStreamBytes = maxBufferedStreamBytes
        self.requestReceiveTimeoutSeconds = requestReceiveTimeoutSeconds
        self.writeTimeoutSeconds = writeTimeoutSeconds
    }
}
