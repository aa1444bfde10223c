import CMicroHTTPD
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
        var aborted = false
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
    /// Each call probes the socket (a non-blocking `poll`), so it detects a
    /// reset connection even when nothing is being sent; a client that only
    /// shut down its sending side still counts as connected (see
    /// `peerHasClosed`). Once false, it stays false.
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

    /// Shuts the socket down, so that the connection's thread, wherever it
    /// waits on it, fails and closes the connection. For a client that stopped
    /// taking its response; a no-op once the request has ended.
    public func abort() {
        state.withLock { state in
            guard state.phase == .open, !state.aborted, socket >= 0 else { return }
            state.aborted = true
            shutdown(socket, Int32(SHUT_RDWR))
        }
    }

    /// True once ``abort()`` shut the socket down.
    var isAborted: Bool {
        state.withLock { $0.aborted }
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

    /// True if the connection failed: reset by the peer, or refused a send.
    ///
    /// A FIN alone is not a hang-up: HTTP lets a client shut down its sending
    /// side once its request is out and still read the answer (some clients
    /// and proxies do). A client that really closed its socket answers the
    /// next bytes sent to it with a reset, which shows here as POLLHUP or
    /// POLLERR; so a streamed response, which sends its headers at once and
    /// then tokens or keep-alive lines, notices within a send. A request whose
    /// answer is not started yet cannot tell the two apart, and goes on.
    private static func peerHasClosed(_ socket: Int32) -> Bool {
        var entry = pollfd(fd: socket, events: 0, revents: 0)  // POLLHUP and POLLERR are always reported
        guard poll(&entry, 1, 0) > 0 else { return false }  // nothing to report, or EINTR: assume still there
        return entry.revents & Int16(POLLHUP | POLLERR | POLLNVAL) != 0
    }
}
