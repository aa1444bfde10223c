import CMicroHTTPD
import Foundation
import Glibc
import Synchronization

/// Cuts off connections that take too long to deliver a request.
///
/// libmicrohttpd's own timeout is an idle timeout: every byte received
/// restarts it, so a client sending one header byte a second holds its
/// connection (and its thread) forever, and a few such clients take every
/// connection. libmicrohttpd has no callback while headers arrive, so a
/// watchdog thread here shuts down the socket of any connection whose request
/// is not complete within ``ServerLimits/requestReceiveTimeoutSeconds`` of the
/// connection's start (or of the end of its previous response); libmicrohttpd
/// then sees the socket fail and closes the connection.
final class ReceiveDeadlines: Sendable {
    private struct Entry {
        let socket: Int32
        /// Nil while a request is being answered: only receiving is timed.
        var deadline: ContinuousClock.Instant?
    }

    private let timeout: Duration
    /// Keyed by the connection's address. An entry is removed in libmicrohttpd's
    /// "closed" notification, before the socket is closed, so a socket is never
    /// shut down after its number could have been reused.
    private let entries = Mutex<[UInt: Entry]>([:])
    private let stopped = Atomic<Bool>(false)
    private let cutOffCount = Atomic<Int>(0)

    /// Starts the watchdog; nil `timeout` (0 seconds) means no deadline and no thread.
    init?(seconds: Int) {
        guard seconds > 0 else { return nil }
        timeout = .seconds(seconds)
        Thread.detachNewThread { [self] in
            Thread.current.name = ThreadNames.receiveWatchdog
            while !stopped.load(ordering: .acquiring) {
                usleep(100_000)
                cutOffExpired()
            }
        }
    }

    /// Connections cut off so far.
    var cutOff: Int { cutOffCount.load(ordering: .relaxed) }

    /// Ends the watchdog thread (within 0.1 s).
    func stop() {
        stopped.store(true, ordering: .releasing)
    }

    func connectionStarted(_ key: UInt, socket: Int32) {
        entries.withLock { $0[key] = Entry(socket: socket, deadline: .now + timeout) }
    }

    /// The whole request is in: answering it is not timed here.
    func requestReceived(_ key: UInt) {
        entries.withLock { $0[key]?.deadline = nil }
    }

    /// The response was sent: the next request on this connection has the full time again.
    func responseSent(_ key: UInt) {
        entries.withLock { $0[key]?.deadline = .now + timeout }
    }

    func connectionClosed(_ key: UInt) {
        _ = entries.withLock { $0.removeValue(forKey: key) }
    }

    private func cutOffExpired() {
        let now = ContinuousClock.now
        entries.withLock { entries in
            for (key, entry) in entries {
                guard let deadline = entry.deadline, deadline <= now else { continue }
                shutdown(entry.socket, Int32(SHUT_RDWR))
                entries[key]?.deadline = nil
                cutOffCount.add(1, ordering: .relaxed)
            }
        }
    }
}
