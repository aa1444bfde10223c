/// A small HTTP/1.1 server on libmicrohttpd that calls one async handler per
/// request and can stream response bodies with chunked transfer encoding.
///
/// Each connection gets its own thread (see `MHDBridge.swift`), bounded by
/// ``ServerLimits/maxConnections``. The server runs from `init` until
/// ``stop()`` (or until it is deinitialized).
public final class HTTPServer: Sendable {
    /// The port actually bound (useful when 0 was asked for).
    public let port: Int
    /// The host the server listens on, as given.
    public let host: String
    private let daemon: MHDDaemon

    /// Binds `host:port` and starts serving.
    ///
    /// - Parameters:
    ///   - host: a numeric address or host name; `"0.0.0.0"` or `"::"` for all.
    ///   - port: the TCP port, or 0 for an ephemeral one (see ``port``).
    ///   - limits: connection, memory, timeout and body limits.
    ///   - handler: answers each request. It runs in a Task while the
    ///     connection's thread waits; that Task is cancelled if the client
    ///     hangs up before the answer, so a long handler can check
    ///     `Task.isCancelled` or ``HTTPRequest/client``.
    /// - Throws: ``HTTPServerError``, e.g. ``HTTPServerError/portInUse(host:port:)``.
    public init(
        host: String = "127.0.0.1",
        port: Int,
        limits: ServerLimits = ServerLimits(),
        handler: @escaping @Sendable (HTTPRequest) async -> HTTPResponse
    ) throws(HTTPServerError) {
        let socket = try ListenSocket(host: host, port: port)
        // From here on the socket belongs to libmicrohttpd, which closes it in
        // MHD_stop_daemon. If the daemon fails to start, whether it closed the
        // socket is unknown, so it is left alone rather than risk closing a
        // descriptor number that is already reused.
        daemon = try MHDDaemon(listening: socket, context: ServerContext(limits: limits, handler: handler))
        self.host = host
        self.port = socket.port
    }

    /// Stops accepting connections (new ones are refused) while the open
    /// ones, and their streams, go on. Idempotent.
    public func stopAccepting() {
        daemon.stopAccepting()
    }

    /// Waits until every request received so far has been answered in full
    /// (streams included), at most `timeout` seconds; true if all were.
    /// With ``stopAccepting()`` first, this drains the server gracefully.
    public func waitUntilIdle(timeout: Double) -> Bool {
        daemon.waitUntilIdle(timeout: timeout)
    }

    /// Closes every connection and waits for their threads to end. Handlers
    /// still running are cancelled and their answers dropped; stream producers
    /// see their writes fail. Idempotent; also done on deinit.
    public func stop() {
        daemon.stop()
    }
}
