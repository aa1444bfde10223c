import Foundation
import GPT

/// How a generation ended, with its numbers: the last thing a client receives.
struct JobSummary: Sendable {
    var finishReason: FinishReason
    /// Held bytes of an unfinished character, flushed at the end (usually empty).
    var trailingText: String
    var usage: GenerationUsage
    var timings: GenerationTimings
    var seed: UInt64
    var queueMilliseconds: Double
    var timeToFirstTokenMilliseconds: Double?
    /// The prompt went through the model (false for a request dropped while queued).
    var prefilled: Bool
}

/// What the model thread tells the side that answers the client.
enum JobEvent: Sendable {
    /// Left the queue: prefill begins.
    case started
    /// The prompt's tokens scored (nil for the first), before any token; only when asked for (`echo`).
    case scored([TokenLogprob?])
    case token(GeneratedToken)
    case finished(JobSummary)

    /// Whether this is the job's last event.
    var isEnd: Bool {
        if case .finished = self { true } else { false }
    }
}

/// Everything a job produced, for answers that are not streamed.
struct JobResult: Sendable {
    var summary: JobSummary
    var tokens: [GeneratedToken]
    /// The generated text, trailing text included.
    var text: String
    var promptScores: [TokenLogprob?]?
}

/// One request's generation, shared by the HTTP side (which waits for events)
/// and the model thread (which produces them). Thread-safe.
final class Job: @unchecked Sendable {  // mutable state is guarded by `condition`
    let request: GenerateRequest
    let promptTokens: [Int]
    let cancellation = CancellationFlag()
    let submitted = ContinuousClock.now

    private let condition = NSCondition()
    /// Kept for streamed jobs only: a whole answer needs just the end.
    private var events: [JobEvent] = []
    /// Since when the oldest event not yet taken has waited; nil while none waits.
    private var untakenSince: ContinuousClock.Instant?
    private var stallHandlers: [@Sendable () -> Void] = []
    private var finishHandlers: [@Sendable (JobResult) -> Void] = []
    private var result: JobResult?
    private var tokens: [GeneratedToken] = []
    private var promptScores: [TokenLogprob?]?
    private var text = ""
    private var queued = true
    /// Set while the stream's reader gathers (``events(gatheredUntil:)``): it
    /// wants to be woken by the end only, not by every token.
    private var wakeForEndOnly = false

    init(request: GenerateRequest, promptTokens: [Int]) {
        self.request = request
        self.promptTokens = promptTokens
    }

    // MARK: model thread side

    func post(_ event: JobEvent) {
        var handlers: [@Sendable (JobResult) -> Void] = []
        var finished: JobResult?
        condition.lock()
        switch event {
        case .started: queued = false
        case .scored(let scores): promptScores = scores
        case .token(let token): tokens.append(token); text += token.text
        case .finished(let final):
            text += final.trailingText
            finished = JobResult(summary: final, tokens: tokens, text: text, promptScores: promptScores)
            result = finished
            handlers = finishHandlers
            finishHandlers = []
        }
        if request.stream {
            if events.isEmpty { untakenSince = .now }
            events.append(event)
        }
        let wake = !wakeForEndOnly || finished != nil
        condition.unlock()
        // After unlocking, so that the woken reader does not at once block on our lock.
        if wake { condition.broadcast() }
        if let finished {
            for handler in handlers { handler(finished) }
        }
    }

    // MARK: HTTP side

    /// Still waiting for a generation slot.
    var isQueued: Bool {
        condition.lock()
        defer { condition.unlock() }
        return queued
    }

    /// Every event not yet taken, oldest first, waiting up to `timeout`
    /// seconds for one; empty if none came. Taking them all at once lets a
    /// reader that fell behind catch up with one write instead of one per token.
    func nextEvents(timeout: TimeInterval) -> [JobEvent] {
        condition.lock()
        defer { condition.unlock() }
        if events.isEmpty { _ = condition.wait(until: Date(timeIntervalSinceNow: timeout)) }
        return takeEvents()
    }

    /// Every event not yet taken at `deadline`, or at the job's end if that
    /// comes first. Tokens meanwhile do not wake the reader: a stream that
    /// gathers its tokens costs a wake-up per piece, not per token.
    func events(gatheredUntil deadline: ContinuousClock.Instant) -> [JobEvent] {
        condition.lock()
        defer { condition.unlock() }
        wakeForEndOnly = true
        while result == nil, case let left = deadline - .now, left > .zero,
              condition.wait(until: Date(timeIntervalSinceNow: left / .seconds(1))) {}
        wakeForEndOnly = false
        return takeEvents()
    }

    /// Every event not yet taken, now taken (under the lock).
    private func takeEvents() -> [JobEvent] {
        defer {
            events = []
            untakenSince = nil
        }
        return events
    }

    /// Since when events of this streamed job have waited for its client to
    /// take them (nil when none wait). A client that stops reading leaves
    /// them waiting: its connection's thread only takes events when the
    /// socket can take bytes.
    var eventsWaitingSince: ContinuousClock.Instant? {
        condition.lock()
        defer { condition.unlock() }
        return untakenSince
    }

    /// Calls `handler` once if the job is ended because its client stopped reading.
    func onStall(_ handler: @escaping @Sendable () -> Void) {
        condition.lock()
        stallHandlers.append(handler)
        condition.unlock()
    }

    /// Cancels the job because its client stopped reading, and tells those who asked.
    func stall() {
        cancellation.cancel()
        condition.lock()
        let handlers = stallHandlers
        stallHandlers = []
        condition.unlock()
        for handler in handlers { handler() }
    }

    /// Calls `handler` once with everything the job produced when it ends
    /// (at once if it already has).
    func onFinish(_ handler: @escaping @Sendable (JobResult) -> Void) {
        condition.lock()
        guard let result else {
            finishHandlers.append(handler)
            condition.unlock()
            return
        }
        condition.unlock()
        handler(result)
    }

    /// Waits for the end without blocking a thread; cancelling the task cancels the job.
    func result() async -> JobResult {
        await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                onFinish { result in continuation.resume(returning: result) }
            }
        } onCancel: {
            cancellation.cancel()
        }
    }
}
