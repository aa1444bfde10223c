import Foundation
import CMicroHTTPD
import Glibc
import Synchronization

// All Unmanaged/pointer bridging between Swift and libmicrohttpd lives here.
//
// Threading model: one thread per connection
// (MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD). Each
// connection's thread runs the access handler, blocks there while the async
// Swift handler runs in a Task (BlockingHandlerCall), and later blocks inside
// the content-reader callback until the stream producer has bytes.
// The alternative, MHD_suspend_connection/MHD_resume_connection on a shared
// polling thread, would save threads but needs a resume hand-off for every
// wait and a content reader that may not block; a model server has few
// concurrent clients, and ServerLimits.maxConnections bounds the threads.
//
// Lifetimes: libmicrohttpd holds three kinds of opaque pointers to Swift objects:
// - the ServerContext (access-handler closure): unretained; MHDDaemon keeps
//   it alive until MHD_stop_daemon has returned and no callback can run;
// - a RequestState per request (req_cls): retained on the first access-handler
//   call, released in the request-completed callback, which libmicrohttpd
//   calls exactly once for every request whose req_cls was set;
// - a StreamSource per stream (content-reader cls): retained when the
//   response is created, released by the content-reader free callback (which
//   closes a pulled body).

/// Daemon-wide state the C callbacks need.
final class ServerContext: Sendable {
    let handler: @Sendable (HTTPRequest) async -> HTTPResponse
    let limits: ServerLimits
    /// Runs handlers on threads of their own, away from the shared pool.
    let executor = HandlerExecutor()
    /// Nil when requests may take any time to arrive.
    let deadlines: ReceiveDeadlines?
    private let stopping = Atomic<Bool>(false)
    private let requestsInFlight = Atomic<Int>(0)

    init(limits: ServerLimits, handler: @escaping @Sendable (HTTPRequest) async -> HTTPResponse) {
        self.limits = limits
        self.handler = handler
        deadlines = ReceiveDeadlines(seconds: limits.requestReceiveTimeoutSeconds)
    }

    /// Requests received and not yet completed (their responses still being sent).
    var openRequests: Int { requestsInFlight.load(ordering: .acquiring) }
    func requestBegan() { requestsInFlight.add(1, ordering: .acquiringAndReleasing) }
    func requestEnded() { requestsInFlight.subtract(1, ordering: .acquiringAndReleasing) }

    /// Set by `stop()`: connection threads stop waiting for handlers.
    var isStopping: Bool {
        get { stopping.load(ordering: .acquiring) }
        set { stopping.store(newValue, ordering: .releasing) }
    }
}

/// Per-request state, touched only by the request's connection thread.
private final class RequestState {
    let client: ClientConnection
    /// Counts this request as open from the first callback to completion.
    private let context: ServerContext
    var body: [UInt8] = []
    /// The body outgrew maxBodyBytes; the rest is discarded.
    var bodyTooLarge = false
    /// Bytes of an oversized body thrown away so far.
    var discardedBytes = 0
    /// A response has been queued; nothing more to do but drain the upload.
    var responded = false

    init(client: ClientConnection, context: ServerContext) {
        self.client = client
        self.context = context
        context.requestBegan()
    }

    deinit { context.requestEnded() }
}

/// A running libmicrohttpd daemon.
final class MHDDaemon: Sendable {
    private struct State {
        var daemon: OpaquePointer?
        /// Listening socket handed back by MHD_quiesce_daemon; ours to close.
        var quiescedSocket: Int32 = -1
    }

    private let context: ServerContext
    private let state: Mutex<State>

    init(listening socket: ListenSocket, context: ServerContext) throws(HTTPServerError) {
        self.context = context
        let limits = context.limits
        var config = CMHDDaemonConfig(
            listen_fd: socket.descriptor,
            ipv6: socket.isIPv6 ? 1 : 0,
            connection_limit: UInt32(clamping: max(1, limits.maxConnections)),
            per_ip_connection_limit: UInt32(clamping: max(0, limits.maxConnectionsPerIP)),
            connection_timeout: UInt32(clamping: max(0, limits.connectionTimeoutSeconds)),
            connection_memory_limit: max(4096, limits.memoryLimitPerConnection),
            access_handler: { cls, connection, url, method, _, uploadData, uploadSize, requestSlot in
                accessHandler(cls, connection, url, method, uploadData, uploadSize, requestSlot)
            },
            access_handler_cls: Unmanaged.passUnretained(context).toOpaque(),
            completed_handler: { cls, connection, requestSlot, termination in
                requestCompleted(cls, connection, requestSlot, termination)
            },
            completed_handler_cls: Unmanaged.passUnretained(context).toOpaque(),
            connection_handler: { cls, connection, _, event in
                connectionNotified(cls, connection, event)
            },
            connection_handler_cls: Unmanaged.passUnretained(context).toOpaque()
        )
        guard let daemon = cmhd_start_daemon(&config) else {
            context.deadlines?.stop()
            throw .daemonStartFailed
        }
        state = Mutex(State(daemon: daemon))
    }

    deinit {
        stop()
    }

    /// MHD_quiesce_daemon, then shut the returned socket down so that new
    /// connections are refused at once instead of waiting in the backlog.
    /// The descriptor itself is closed only after MHD_stop_daemon, as
    /// libmicrohttpd requires (its polling thread may still hold it).
    func stopAccepting() {
        state.withLock { state in
            guard let daemon = state.daemon, state.quiescedSocket < 0 else { return }
            let socket = MHD_quiesce_daemon(daemon)
            if socket >= 0 {
                shutdown(socket, Int32(SHUT_RDWR))
                state.quiescedSocket = socket
            }
        }
    }

    /// Waits until every open request has completed, at most `timeout` seconds.
    func waitUntilIdle(timeout: Double) -> Bool {
        let deadline = ContinuousClock.now + .milliseconds(Int(timeout * 1000))
        while context.openRequests > 0 {
            if ContinuousClock.now >= deadline { return false }
            usleep(10_000)
        }
        return true
    }

    /// Stops the daemon: closes every connection and joins every connection
    /// thread. Handlers still running are cancelled and their answers dropped.
    func stop() {
        state.withLock { state in
            guard let daemon = state.daemon else { return }
            context.isStopping = true
            MHD_stop_daemon(daemon)
            context.deadlines?.stop()
            state.daemon = nil
            if state.quiescedSocket >= 0 {
                close(state.quiescedSocket)
                state.quiescedSocket = -1
            }
        }
    }
}

// MARK: - Access handler

/// libmicrohttpd calls this several times per request: first with the
/// headers only (*req_cls == NULL), then once per piece of body, then once
/// more with *upload_data_size == 0, when the response must be queued.
private func accessHandler(
    _ cls: UnsafeMutableRawPointer?,
    _ connection: OpaquePointer?,
    _ url: UnsafePointer<CChar>?,
    _ method: UnsafePointer<CChar>?,
    _ uploadData: UnsafePointer<CChar>?,
    _ uploadSize: UnsafeMutablePointer<Int>?,
    _ requestSlot: UnsafeMutablePointer<UnsafeMutableRawPointer?>?
) -> MHD_Result {
    guard let cls, let connection, let uploadSize, let requestSlot else { return .NO }
    let server = Unmanaged<ServerContext>.fromOpaque(cls).takeUnretainedValue()

    guard let existing = requestSlot.pointee else {
        // Named so that `top -H`, perf and the tests can tell these threads apart.
        Thread.current.name = ThreadNames.connection
        let state = RequestState(client: ClientConnection(socket: cmhd_connection_fd(connection)), context: server)
        requestSlot.pointee = Unmanaged.passRetained(state).toOpaque()
        if let problem = framingProblem(connection) {
            // The body cannot be told from the next request: answer and close.
            state.responded = true
            server.deadlines?.requestReceived(key(connection))
            let response = HTTPResponse.jsonError(status: problem.status, code: problem.code, message: problem.message,
                                                  headers: [("Connection", "close")])
            return queue(response, on: connection, state: state, limits: server.limits)
        }
        // Refuse an announced oversized body before reading any of it (no
        // 100 Continue is sent either, since a response is already queued).
        if let length = declaredContentLength(connection), length > server.limits.maxBodyBytes {
            state.bodyTooLarge = true
            return respond(on: connection, url: url, method: method, state: state, server: server)
        }
        return .YES
    }
    let state = Unmanaged<RequestState>.fromOpaque(existing).takeUnretainedValue()

    let size = uploadSize.pointee
    if size > 0 {
        uploadSize.pointee = 0  // always consume the piece, even when it is discarded
        return receiveBody(UnsafeRawBufferPointer(start: uploadData, count: size), state: state, server: server)
    }
    guard !state.responded else { return .YES }
    return respond(on: connection, url: url, method: method, state: state, server: server)
}

private func receiveBody(_ piece: UnsafeRawBufferPointer, state: RequestState, server: ServerContext) -> MHD_Result {
    if state.responded { return .YES }
    let maxBody = server.limits.maxBodyBytes
    if state.bodyTooLarge || state.body.count + piece.count > maxBody {
        // libmicrohttpd 0.9.75 refuses MHD_queue_response while a body is
        // being received, so a body without Content-Length that outgrows the
        // limit is discarded to its end and answered then. A client that
        // keeps sending far beyond the limit is cut off instead.
        state.bodyTooLarge = true
        state.body = []
        state.discardedBytes += piece.count
        return state.discardedBytes > max(maxBody, discardAllowance) ? .NO : .YES
    }
    state.body.append(contentsOf: piece)
    return .YES
}

/// Last call (or the first, for an announced oversized body): runs the
/// handler, blocking this connection's thread, and queues its answer.
private func respond(
    on connection: OpaquePointer,
    url: UnsafePointer<CChar>?,
    method: UnsafePointer<CChar>?,
    state: RequestState,
    server: ServerContext
) -> MHD_Result {
    state.responded = true
    server.deadlines?.requestReceived(key(connection))
    let request = HTTPRequest(
        method: method.map { String(cString: $0) } ?? "GET",
        path: url.map { String(cString: $0) } ?? "/",
        query: collectValues(connection, kind: .GET_ARGUMENT_KIND, lowercaseKeys: false, joinRepeats: false),
        headers: collectValues(connection, kind: .HEADER_KIND, lowercaseKeys: true, joinRepeats: true),
        body: state.body,
        bodyLimitExceeded: state.bodyTooLarge,
        remoteAddress: clientAddress(connection),
        client: state.client
    )
    state.body = []
    guard let response = BlockingHandlerCall.run(
        server.handler, request: request, executor: server.executor, shouldAbandon: { server.isStopping }
    ) else {
        return .NO  // server stopping: close the connection without a response
    }
    // The wait for the handler is not client idleness.
    cmhd_restart_idle_timer(connection, UInt32(clamping: max(0, server.limits.connectionTimeoutSeconds)))
    // The unread rest of an oversized body cannot be skipped cheaply;
    // libmicrohttpd honours this header and closes after sending.
    let extraHeaders = state.bodyTooLarge ? [("Connection", "close")] : []
    return queue(response.addingHeaders(extraHeaders), on: connection, state: state, limits: server.limits)
}

/// The request-completed callback: the one place a RequestState is released.
private func requestCompleted(
    _ cls: UnsafeMutableRawPointer?,
    _ connection: OpaquePointer?,
    _ requestSlot: UnsafeMutablePointer<UnsafeMutableRawPointer?>?,
    _ termination: MHD_RequestTerminationCode
) {
    if let cls, let connection {
        Unmanaged<ServerContext>.fromOpaque(cls).takeUnretainedValue().deadlines?.responseSent(key(connection))
    }
    guard let requestSlot, let raw = requestSlot.pointee else { return }
    requestSlot.pointee = nil
    let state = Unmanaged<RequestState>.fromOpaque(raw).takeRetainedValue()
    // A client that hangs up mid-stream shows up as TERMINATED_WITH_ERROR
    // (the failed send), not only as CLIENT_ABORT: any code but OK means the
    // response was not delivered.
    state.client.requestEnded(clientGone: termination != .REQUEST_TERMINATED_COMPLETED_OK)
}

/// The connection-notification callback: starts and ends a connection's receive deadline.
private func connectionNotified(
    _ cls: UnsafeMutableRawPointer?,
    _ connection: OpaquePointer?,
    _ event: MHD_ConnectionNotificationCode
) {
    guard let cls, let connection,
          let deadlines = Unmanaged<ServerContext>.fromOpaque(cls).takeUnretainedValue().deadlines else { return }
    switch event {
    case .CONNECTION_NOTIFY_STARTED: deadlines.connectionStarted(key(connection), socket: cmhd_connection_fd(connection))
    case .CONNECTION_NOTIFY_CLOSED: deadlines.connectionClosed(key(connection))
    default: break
    }
}

/// A connection's identity while it is open.
private func key(_ connection: OpaquePointer) -> UInt {
    UInt(bitPattern: Int(bitPattern: UnsafeRawPointer(connection)))
}

/// Bytes of an oversized body of unknown length that are read and thrown
/// away (or maxBodyBytes, if larger) before the connection is cut off
/// without an answer.
private let discardAllowance = 1 << 20

// MARK: - Reading the request

/// What a request's headers say about where its body ends, checked strictly:
/// where two parts of a chain (a proxy and this server) could read the
/// framing differently, a request could be smuggled inside another's body.
private struct FramingCheck {
    var contentLengths = 0
    var transferCodings: [String] = []
    /// The first header whose value holds a control character. (A NUL byte
    /// never shows here: libmicrohttpd 0.9.75 cuts the value short at it.)
    var controlCharacterIn: String?

    mutating func add(name: String, value: [UInt8]) {
        if name == "content-length" { contentLengths += 1 }
        if name == "transfer-encoding" {
            transferCodings += String(decoding: value, as: UTF8.self).split(separator: ",")
                .map { $0.trimmingCharacters(in: .whitespaces).lowercased() }
        }
        if controlCharacterIn == nil, value.contains(where: { ($0 < 0x20 && $0 != 0x09) || $0 == 0x7F }) {
            controlCharacterIn = name
        }
    }

    /// The status, error code and message for an unsound request; nil if sound.
    var problem: (status: Int, code: String, message: String)? {
        if let name = controlCharacterIn {
            return (400, "bad_header", "the value of header \(name) holds a control character; header values may hold visible characters, spaces and tabs only")
        }
        if contentLengths > 1 {
            return (400, "bad_framing", "Content-Length appears \(contentLengths) times; send it once")
        }
        if contentLengths > 0 && !transferCodings.isEmpty {
            return (400, "bad_framing", "Content-Length and Transfer-Encoding together are ambiguous; send one of them")
        }
        if !transferCodings.isEmpty && transferCodings != ["chunked"] {
            return (501, "unsupported_transfer_encoding", "Transfer-Encoding \(transferCodings.joined(separator: ", ")) is not supported; the only transfer coding accepted is chunked")
        }
        return nil
    }
}

private func framingProblem(_ connection: OpaquePointer) -> (status: Int, code: String, message: String)? {
    var check = FramingCheck()
    withUnsafeMutablePointer(to: &check) { pointer in
        _ = cmhd_visit_headers(connection, { cls, _, key, keySize, value, valueSize in
            guard let cls, let key else { return .YES }
            let check = cls.assumingMemoryBound(to: FramingCheck.self)
            let name = String(decoding: UnsafeRawBufferPointer(start: key, count: keySize), as: UTF8.self).lowercased()
            let bytes = value.map { Array(UnsafeRawBufferPointer(start: $0, count: valueSize)) } ?? []
            check.pointee.add(name: name, value: bytes)
            return .YES
        }, pointer)
    }
    return check.problem
}

private func declaredContentLength(_ connection: OpaquePointer) -> Int? {
    guard let raw = MHD_lookup_connection_value(connection, .HEADER_KIND, "Content-Length") else {
        return nil
    }
    let text = String(cString: raw).filter { $0 != " " && $0 != "\t" }
    // An unparsable or huge value counts as too large rather than as absent.
    return text.isEmpty ? nil : (Int(text) ?? Int.max)
}

private struct ValueCollector {
    var values: [String: String] = [:]
    let lowercaseKeys: Bool
    let joinRepeats: Bool
}

private func collectValues(
    _ connection: OpaquePointer,
    kind: MHD_ValueKind,
    lowercaseKeys: Bool,
    joinRepeats: Bool
) -> [String: String] {
    var collector = ValueCollector(lowercaseKeys: lowercaseKeys, joinRepeats: joinRepeats)
    withUnsafeMutablePointer(to: &collector) { pointer in
        _ = MHD_get_connection_values(connection, kind, { cls, _, key, value in
            guard let cls, let key else { return .YES }
            let collector = cls.assumingMemoryBound(to: ValueCollector.self)
            var name = String(cString: key)
            if collector.pointee.lowercaseKeys { name = name.lowercased() }
            let text = value.map { String(cString: $0) } ?? ""
            if collector.pointee.joinRepeats, let earlier = collector.pointee.values[name] {
                collector.pointee.values[name] = earlier + ", " + text
            } else {
                collector.pointee.values[name] = text
            }
            return .YES
        }, pointer)
    }
    return collector.values
}

private func clientAddress(_ connection: OpaquePointer) -> String {
    var buffer = [CChar](repeating: 0, count: 64)
    guard cmhd_client_address(connection, &buffer, buffer.count) == 0 else { return "" }
    return buffer.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
}

// MARK: - Sending the response

/// Headers libmicrohttpd derives itself; passing them would clash.
private let managedHeaders: Set<String> = ["content-length", "transfer-encoding"]

private func queue(
    _ response: HTTPResponse,
    on connection: OpaquePointer,
    state: RequestState,
    limits: ServerLimits
) -> MHD_Result {
    switch response.body {
    case .bytes(let body):
        let created = body.withUnsafeBytes { bytes in
            MHD_create_response_from_buffer(
                bytes.count, UnsafeMutableRawPointer(mutating: bytes.baseAddress), .RESPMEM_MUST_COPY)
        }
        guard let mhdResponse = created else { return .NO }
        return queue(mhdResponse, status: response.status, headers: response.headers, on: connection)

    case .stream(let producer):
        let writer = ResponseBodyWriter(client: state.client, bufferLimit: limits.maxBufferedStreamBytes,
                                        writeTimeout: .seconds(max(1, limits.writeTimeoutSeconds)))
        // The producer runs exactly once whatever happens below; if the
        // response never goes out, its writes just return false.
        defer { writer.start(producer) }
        return queueStream(.writer(writer), response: response, on: connection, state: state, limits: limits)

    case .pull(let body):
        return queueStream(.pulled(body), response: response, on: connection, state: state, limits: limits)
    }
}

/// Queues a response whose body libmicrohttpd asks for piece by piece (chunked).
private func queueStream(
    _ body: StreamSource.Body,
    response: HTTPResponse,
    on connection: OpaquePointer,
    state: RequestState,
    limits: ServerLimits
) -> MHD_Result {
    // A small send buffer, so that a client that stops reading shows as a
    // stall soon, rather than after the kernel has swallowed a whole generation.
    var sendBuffer = Int32(streamSendBufferBytes)
    setsockopt(cmhd_connection_fd(connection), SOL_SOCKET, SO_SNDBUF, &sendBuffer, socklen_t(MemoryLayout<Int32>.size))
    let source = StreamSource(body: body, client: state.client, connection: connection,
                              idleTimeout: limits.connectionTimeoutSeconds)
    let retained = Unmanaged.passRetained(source)
    guard let mhdResponse = MHD_create_response_from_callback(
        CMHD_SIZE_UNKNOWN,
        streamBlockSize,
        { cls, _, buffer, max in readStream(cls, buffer, max) },
        retained.toOpaque(),
        { cls in releaseStream(cls) }
    ) else {
        retained.release()  // closes a pulled body, undelivered
        state.client.requestEnded(clientGone: true)
        return .NO
    }
    return queue(mhdResponse, status: response.status, headers: response.headers, on: connection)
}

/// SO_SNDBUF of a streaming connection (Linux doubles it for bookkeeping).
private let streamSendBufferBytes = 16 * 1024

/// Preferred size of the pieces asked of a stream (libmicrohttpd may ask
/// for less when its per-connection pool is tight).
private let streamBlockSize = 8 * 1024

/// Adds headers, queues, and drops our reference (the connection keeps its own).
private func queue(
    _ mhdResponse: OpaquePointer,
    status: Int,
    headers: [(String, String)],
    on connection: OpaquePointer
) -> MHD_Result {
    for (name, value) in headers where !managedHeaders.contains(name.lowercased()) {
        _ = MHD_add_response_header(mhdResponse, name, value)
    }
    // libmicrohttpd refuses codes outside 100...999, which would leave the
    // request without any response.
    let code = (100...999).contains(status) ? status : 500
    let result = MHD_queue_response(connection, UInt32(code), mhdResponse)
    MHD_destroy_response(mhdResponse)
    return result
}

/// The content reader's context: where the body comes from, plus what is
/// needed to keep libmicrohttpd's idle timeout from firing while we wait for it.
private final class StreamSource {
    enum Body {
        /// A producer on its own thread writes into a buffer.
        case writer(ResponseBodyWriter)
        /// The connection's thread pulls from the source itself.
        case pulled(any PulledBody)
    }

    let body: Body
    let client: ClientConnection
    /// Valid while this source is in use: only that connection's thread
    /// calls the content reader.
    let connection: OpaquePointer
    let idleTimeout: UInt32
    /// A pulled body returned its end: it was delivered whole.
    var ended = false

    init(body: Body, client: ClientConnection, connection: OpaquePointer, idleTimeout: Int) {
        self.body = body
        self.client = client
        self.connection = connection
        self.idleTimeout = UInt32(clamping: max(0, idleTimeout))
    }

    /// The next piece; never an empty one (see `readStream`).
    func next(maxBytes: Int) -> ResponseBodyWriter.Chunk {
        switch body {
        case .writer(let writer):
            return writer.nextChunk(maxBytes: maxBytes)
        case .pulled(let pulled):
            while true {
                switch pulled.next(maxBytes: maxBytes) {
                case .bytes(let bytes) where !bytes.isEmpty:
                    return .bytes(Array(bytes.prefix(maxBytes)))
                case .bytes, .notYet:
                    // Nothing sent for a while: probe, so that a client gone meanwhile ends it.
                    guard client.isConnected else { return .aborted }
                    // Waiting for the source is not client idleness.
                    cmhd_restart_idle_timer(connection, idleTimeout)
                case .end:
                    ended = true
                    return .end
                case .abort:
                    return .aborted
                }
            }
        }
    }

    deinit {
        if case .pulled(let pulled) = body { pulled.closed(delivered: ended) }
    }
}

/// Content-reader callback: blocks until there is something to send,
/// because returning 0 bytes makes libmicrohttpd call again immediately (a
/// busy loop).
private func readStream(_ cls: UnsafeMutableRawPointer?, _ buffer: UnsafeMutablePointer<CChar>?, _ max: Int) -> Int {
    guard let cls, let buffer, max > 0 else { return CMHD_CONTENT_READER_END_WITH_ERROR }
    let source = Unmanaged<StreamSource>.fromOpaque(cls).takeUnretainedValue()
    let chunk = source.next(maxBytes: max)
    // Time spent waiting for the producer is ours, not the client's: without
    // this, a pause longer than the timeout closes the connection right here.
    cmhd_restart_idle_timer(source.connection, source.idleTimeout)
    switch chunk {
    case .bytes(let bytes):
        bytes.withUnsafeBytes { UnsafeMutableRawPointer(buffer).copyMemory(from: $0.baseAddress!, byteCount: $0.count) }
        return bytes.count
    case .end:
        return CMHD_CONTENT_READER_END_OF_STREAM
    case .aborted:
        return CMHD_CONTENT_READER_END_WITH_ERROR
    }
}

private func releaseStream(_ cls: UnsafeMutableRawPointer?) {
    guard let cls else { return }
    Unmanaged<StreamSource>.fromOpaque(cls).release()
}
