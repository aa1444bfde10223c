import Foundation

/// Runs the async request handler from a thread that must block until it
/// answers: libmicrohttpd's access handler is synchronous, and with one thread
/// per connection (see `MHDBridge.swift`) blocking that thread is harmless.
///
/// The handler runs in a Task; the connection thread waits for its answer in
/// short slices, probing the client in between, and cancels the Task once the
/// client has gone so that a cooperative handler can stop early.
// @unchecked: the mutable state below is only touched under `condition`.
final class BlockingHandlerCall: @unchecked Sendable {
    private let condition = NSCondition()
    private var response: HTTPResponse?
    private var abandoned = false

    /// Calls `handler` with `request` and waits for its response. Returns nil
    /// only if `shouldAbandon` turned true first (the server is stopping); a
    /// response that arrives after that is disposed of (see `dispose`).
    static func run(
        _ handler: @escaping @Sendable (HTTPRequest) async -> HTTPResponse,
        request: HTTPRequest,
        executor: HandlerExecutor,
        shouldAbandon: () -> Bool
    ) -> HTTPResponse? {
        let call = BlockingHandlerCall()
        let task = Task.detached(executorPreference: executor) {
            let response = await handler(request)
            if !call.deliver(response) {
                dispose(response, client: request.client)
            }
        }
        var cancelled = false
        while true {
            if let response = call.waitForResponse(timeout: ResponseBodyWriter.probeInterval) {
                return response
            }
            if !cancelled && !request.client.isConnected {
                task.cancel()
                cancelled = true
            }
            if shouldAbandon() && call.abandon() {
                task.cancel()
                return nil
            }
        }
    }

    /// Keeps the promises that a stream's producer always runs once (a
    /// response nobody will send still runs its producer, whose writes fail)
    /// and that a pulled body is always closed.
    static func dispose(_ response: HTTPResponse, client: ClientConnection) {
        switch response.body {
        case .bytes: break
        case .stream(let producer):
            let writer = ResponseBodyWriter(client: client, bufferLimit: 1)
            writer.finish()
            writer.start(producer)
        case .pull(let body):
            body.closed(delivered: false)
        }
    }

    /// Stores the response; false if the waiter already gave up.
    private func deliver(_ response: HTTPResponse) -> Bool {
        condition.lock()
        defer { condition.unlock() }
        guard !abandoned else { return false }
        self.response = response
        condition.broadcast()
        return true
    }

    private func waitForResponse(timeout: TimeInterval) -> HTTPResponse? {
        condition.lock()
        defer { condition.unlock() }
        if response == nil {
            _ = condition.wait(until: Date(timeIntervalSinceNow: timeout))
        }
        return response
    }

    /// Gives up waiting; false if the response arrived meanwhile.
    private func abandon() -> Bool {
        condition.lock()
        defer { condition.unlock() }
        guard response == nil else { return false }
        abandoned = true
        return true
    }
}

/// Runs handler Tasks on Dispatch threads instead of Swift's shared pool.
///
/// The shared pool has one thread per core (two here); anything else in the
/// process that blocks those threads (a test's socket read, a library's lock)
/// would otherwise stall every request. Handlers here never wait for a free
/// pool thread.
final class HandlerExecutor: TaskExecutor {
    private let queue = DispatchQueue(label: "http.handlers", attributes: .concurrent)

    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        queue.async { job.runSynchronously(on: self.asUnownedTaskExecutor()) }
    }
}
