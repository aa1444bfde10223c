import Glibc
import Synchronization

/// The client end of one request: answers whether the client is still there.
///
/// libmicrohttpd only notices a vanished client when a send fails, so while
/// the server is busy (the handler is thinking, or a stream has nothing to
/// send yet) nobody would notice. ``isConnected`` therefore probes the socket
/// itself, without reading from it.
public final class ClientConnection: Sendable {
    /// A connection with no socket behind it, for requests built by hand
    /// (e.g. in tests); it always reports connected.
    public static let detached = ClientConnection(socket: -1)

    private enum Phase {
        case open
        /// The client hung up, or the request failed before its response was sent.
        case gone
        /// The request finished normally; the socket may already serve another
        /// request, or be closed and its number reused, so it is never probed again.
        case ended
    }

    private struct State {
        var phase = Phase.open
        var goneHandlers: [@Sendable () -> Void] = []
    }

    private let socket: Int32
    // Probing happens under this lock so that `requestEnded` (called on the
    // connection's thread before libmicrohttpd closes the socket) cannot
    // overtake a probe in flight and let it touch a reused descriptor.
    private let state = Mutex(State())

    init(socket: Int32) {
        self.socket = socket
    }

    /// Whether the client is still connected and its request not yet over.
    ///
    /// Each call probes the socket (a non-blocking `poll`, plus a `MSG_PEEK`
    /// when data is pending), so it detects a client that closed its end
    /// even when nothing is being sent. Once false, it stays false.
    public var isConnected: Bool {
        let (connected, handlers) = state.withLock { state -> (Bool, [@Sendable () -> Void]) in
            guard state.phase == .open else { return (false, []) }
            guard socket >= 0, Self.peerHasClosed(socket) else { return (true, []) }
            state.phase = .gone
            defer { state.goneHandlers = [] }
            return (false, state.goneHandlers)
        }
        handlers.forEach { $0() }
        return connected
    }

    /// Registers `handler` to run once when the client is found gone before
    /// its response was fully sent; runs it at once if that already happened.
    ///
    /// The handler runs on whichever thread noticed (often the connection's
    /// own thread while it waits), so it must be quick and must not block.
    public func onDisconnect(_ handler: @escaping @Sendable () -> Void) {
        let runNow = state.withLock { state -> Bool in
            switch state.phase {
            case .open:
                state.goneHandlers.append(handler)
                return false
            case .gone:
                return true
            case .ended:
                return false
            }
        }
        if runNow { handler() }
    }

    /// Called when libmicrohttpd reports the request finished; `clientGone`
    /// tells whether it ended without the response having been delivered.
    func requestEnded(clientGone: Bool) {
        let handlers = state.withLock { state -> [@Sendable () -> Void] in
            guard state.phase == .open else { return [] }
            state.phase = clientGone ? .gone : .ended
            defer { state.goneHandlers = [] }
            return clientGone ? state.goneHandlers : []
        }
        handlers.forEach { $0() }
    }

    /// True if the peer closed or reset the connection. `POLLRDHUP` reports
    /// a received FIN even when unread request bytes are still queued.
    private static func peerHasClosed(_ socket: Int32) -> Bool {
        let hangUp = Int16(POLLHUP | POLLERR | POLLNVAL | pollRDHUP)
        var entry = pollfd(fd: socket, events: Int16(POLLIN | pollRDHUP), revents: 0)
        let ready = poll(&entry, 1, 0)
        if ready <= 0 { return false }  // nothing to report, or EINTR: assume still there
        if entry.revents & hangUp != 0 { return true }
        // Readable: either a pipelined request or end-of-file; peek to tell which.
        var byte: UInt8 = 0
        let received = recv(socket, &byte, 1, Int32(MSG_PEEK | MSG_DONTWAIT))
        if received == 0 { return true }
        if received < 0 { return errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR }
        return false
    }
}

/// Linux's POLLRDHUP (peer shut down its writing half); Glibc's Swift
/// overlay does not export it because it is guarded by _GNU_SOURCE.
private let pollRDHUP: Int32 = 0x2000
