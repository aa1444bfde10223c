import Foundation

/// Writes the body of a streamed response (``HTTPResponse/stream(status:headers:producer:)``).
///
/// Bytes written are buffered and sent by the connection's thread as HTTP/1.1
/// chunks; each `write` usually becomes one chunk. All methods are thread-safe.
// @unchecked: the mutable state below is only touched under `condition`.
public final class ResponseBodyWriter: @unchecked Sendable {
    /// What the connection thread gets when it asks for more body.
    enum Chunk: Equatable {
        case bytes([UInt8])
        case end
        case aborted
    }

    /// How often a waiting side re-probes the client (seconds).
    static let probeInterval: TimeInterval = 0.05

    private let client: ClientConnection
    private let bufferLimit: Int
    private let writeTimeout: Duration
    private let condition = NSCondition()
    private var pending: [UInt8] = []
    private var finished = false
    private var gone = false
    /// Bytes waited `writeTimeout` without the backlog ever clearing.
    private var stalled = false
    /// Since when bytes have been waiting without a break; nil while none wait.
    /// A backlog that never clears, not only one that never moves, counts:
    /// a client that stops reading still takes a trickle (zero-window probes).
    private var backlogSince: ContinuousClock.Instant?

    init(client: ClientConnection, bufferLimit: Int, writeTimeout: Duration = .seconds(30)) {
        self.client = client
        self.bufferLimit = max(1, bufferLimit)
        self.writeTimeout = writeTimeout
        client.onDisconnect { [weak self] in self?.clientGone() }
    }

    /// Queues `bytes` for sending. Returns false once the client has gone
    /// (or the body was finished): the producer should then stop.
    ///
    /// Blocks while more than ``ServerLimits/maxBufferedStreamBytes`` are
    /// waiting to be sent, until the client takes some or goes away.
    @discardableResult
    public func write(_ bytes: [UInt8]) -> Bool {
        while true {
            // Probe first, outside the lock: a detected hang-up calls back into
            // `clientGone`, which takes the lock.
            guard client.isConnected, !hasStalled else { return false }
            condition.lock()
            if gone || finished {
                condition.unlock()
                return false
            }
            if pending.count < bufferLimit {
                if pending.isEmpty { backlogSince = .now }
                pending.append(contentsOf: bytes)
                condition.unlock()
                // After unlocking, so that the woken connection thread does not at once block on our lock.
                condition.broadcast()
                return true
            }
            _ = condition.wait(until: Date(timeIntervalSinceNow: Self.probeInterval))
            condition.unlock()
        }
    }

    /// Queues the UTF-8 bytes of `text`; see the byte version.
    @discardableResult
    public func write(_ text: String) -> Bool {
        write(Array(text.utf8))
    }

    /// Ends the body (the final zero-length chunk follows what is buffered).
    /// Later writes return false. Called automatically when the producer returns.
    public func finish() {
        condition.lock()
        finished = true
        condition.broadcast()
        condition.unlock()
    }

    /// Whether the client is still there and taking what is sent; probes the
    /// socket, so it notices a hang-up even while nothing is being sent.
    public var isClientConnected: Bool {
        client.isConnected && !hasStalled
    }

    /// True once bytes have waited ``ServerLimits/writeTimeoutSeconds`` without
    /// the backlog clearing once: the client stopped reading. The connection is
    /// then shut down and every later write fails.
    public var hasStalled: Bool {
        condition.lock()
        if !stalled && !gone, let since = backlogSince, ContinuousClock.now - since >= writeTimeout {
            stalled = true
            gone = true
            pending = []
            condition.broadcast()
        }
        let (result, abort) = (stalled, stalled && !client.isAborted)
        condition.unlock()
        // Outside the lock: the connection thread, blocked sending, sees the
        // socket fail and closes the connection.
        if abort { client.abort() }
        return result
    }

    /// Registers `handler` to run once if the client goes away before the
    /// body is complete (see ``ClientConnection/onDisconnect(_:)``). While the
    /// producer is silent the connection thread probes every 50 ms, so this
    /// fires promptly even if the producer is blocked elsewhere.
    public func onClientGone(_ handler: @escaping @Sendable () -> Void) {
        client.onDisconnect(handler)
    }

    /// Runs `producer` on a thread of its own, then finishes the body.
    func start(_ producer: @escaping @Sendable (ResponseBodyWriter) -> Void) {
        Thread.detachNewThread { [self] in
            Thread.current.name = ThreadNames.producer
            producer(self)
            finish()
        }
    }

    /// The next piece of body for the connection thread, at most `maxBytes`.
    ///
    /// Waits until there is something to return, re-probing the client while
    /// idle. It never returns an empty chunk: libmicrohttpd would call again
    /// at once, spinning a core until the producer writes.
    func nextChunk(maxBytes: Int) -> Chunk {
        while true {
            condition.lock()
            if let chunk = takeChunk(maxBytes: maxBytes) {
                condition.unlock()
                return chunk
            }
            _ = condition.wait(until: Date(timeIntervalSinceNow: Self.probeInterval))
            let idle = pending.isEmpty && !finished && !gone
            condition.unlock()
            if idle && !client.isConnected { return .aborted }
        }
    }

    /// Must hold `condition`.
    private func takeChunk(maxBytes: Int) -> Chunk? {
        if !pending.isEmpty {
            let count = min(maxBytes, pending.count)
            let chunk = Array(pending.prefix(count))
            pending.removeFirst(count)
            if pending.isEmpty { backlogSince = nil }
            condition.broadcast()  // wake a writer blocked on a full buffer
            return .bytes(chunk)
        }
        if finished { return .end }
        if gone { return .aborted }
        return nil
    }

    private func clientGone() {
        condition.lock()
        gone = true
        pending = []
        condition.broadcast()
        condition.unlock()
    }
}
