import Foundation
import GPT
import Logging

/// Owns the model, loaded once at startup, and schedules every generation on
/// one serial Dispatch queue: the only place model code runs. A plain class
/// whose shared state sits behind one lock (`condition`), not a Swift actor:
/// the model loop blocks, which an actor's executor must never do.
///
/// Requests wait in a bounded queue for one of `maxActive` slots. Active
/// generations advance together, one token each per turn, so nobody waits for
/// another's whole generation. Their decode steps run as one batched pass
/// (each weight matrix read once for all of them, the same bits as alone), so
/// several clients cost little more than one. A pass over a window (a prompt,
/// or a window that slid) runs at most `prefillChunk` tokens a turn, so a long
/// prompt does not stop the running streams for its whole pass; the window
/// passes of a turn run together as one multi-sequence pass. A generation that asked for
/// `delay_ms` sits out until its next token is due, so the pause never holds
/// the model back. Cancelled jobs (their client left) are dropped before
/// their next token, and so are those that outlive `maxRequestDuration` and
/// streams whose tokens wait untaken for `writeTimeout` (their client stopped
/// reading).
final class GenerationScheduler: @unchecked Sendable {  // mutable state is guarded by `condition`
    let textModel: TextModel
    let maxActive: Int
    let maxQueued: Int
    /// Wall-clock cap on a request, from its arrival to its last token.
    let maxRequestDuration: Duration
    /// How long a stream's tokens may wait for its client to take them.
    let writeTimeout: Duration
    /// Most tokens of one window pass run in a turn.
    let prefillChunk: Int
    private let logger: Logger

    private let queue = DispatchQueue(label: "gpt-server.model")
    private let condition = NSCondition()
    private var waiting: [Job] = []
    private var active: [Slot] = []
    private var stopping = false

    /// An active generation; touched only on the model queue, apart from the list itself.
    private final class Slot {
        let job: Job
        let generator: TokenGenerator
        var due = ContinuousClock.now
        var firstTokenMilliseconds: Double?
        var scoresPosted = false
        let started = ContinuousClock.now
        init(job: Job, generator: TokenGenerator) {
            self.job = job
            self.generator = generator
        }
    }

    init(textModel: TextModel, maxActive: Int, maxQueued: Int, maxRequestDuration: Duration, writeTimeout: Duration,
         prefillChunk: Int, logger: Logger) {
        precondition(prefillChunk >= 1, "a prefill chunk holds at least one token")
        self.prefillChunk = prefillChunk
        self.textModel = textModel
        self.maxActive = maxActive
        self.maxQueued = maxQueued
        self.maxRequestDuration = maxRequestDuration
        self.writeTimeout = writeTimeout
        self.logger = logger
        queue.async { self.run() }
    }

    var config: GPTConfig { textModel.config }

    /// Active and waiting requests right now.
    var load: (active: Int, queued: Int) {
        condition.lock()
        defer { condition.unlock() }
        return (active.count, waiting.count)
    }

    /// Queues a job, or refuses it when every slot and queue place is taken.
    func submit(_ job: Job) throws(APIError) {
        condition.lock()
        defer { condition.unlock() }
        guard !stopping else { throw .shuttingDown }
        guard active.count + waiting.count < maxActive + maxQueued else {
            throw .queueFull(retryAfterSeconds: 1)
        }
        waiting.append(job)
        condition.broadcast()
    }

    /// True once `stop()` was called: the server is draining.
    var isStopping: Bool {
        condition.lock()
        defer { condition.unlock() }
        return stopping
    }

    /// Refuses new jobs; the loop ends once the running ones finish.
    func stop() {
        condition.lock()
        stopping = true
        condition.broadcast()
        condition.unlock()
    }

    /// Cancels every queued and running generation (after a drain timed out):
    /// each ends before its next token, and its client gets a last message
    /// with finish reason `cancelled`. Returns how many there were.
    func cancelAll() -> Int {
        condition.lock()
        defer { condition.unlock() }
        let jobs = waiting + active.map(\.job)
        for job in jobs { job.cancellation.cancel() }
        condition.broadcast()
        return jobs.count
    }

    /// Waits until no job is active or queued, at most `timeout` seconds; true if idle.
    func waitUntilIdle(timeout: TimeInterval) -> Bool {
        let deadline = Date(timeIntervalSinceNow: timeout)
        condition.lock()
        defer { condition.unlock() }
        while !(active.isEmpty && waiting.isEmpty) {
            if !condition.wait(until: deadline) { return active.isEmpty && waiting.isEmpty }
        }
        return true
    }

    // MARK: the model queue

    private func run() {
        while let slots = dueSlots() {
            step(slots)
        }
    }

    /// Admits waiting jobs into free slots, drops cancelled ones, and returns
    /// the active generations whose token is due (or that were cancelled),
    /// waiting as needed; nil once stopped and idle.
    private func dueSlots() -> [Slot]? {
        condition.lock()
        defer { condition.unlock() }
        while true {
            for job in waiting where job.cancellation.isCancelled {
                job.post(.finished(cancelledSummary(job)))
            }
            waiting.removeAll { $0.cancellation.isCancelled }
            while active.count < maxActive, !waiting.isEmpty {
                let job = waiting.removeFirst()
                do {
                    let generator = try TokenGenerator(model: textModel.model, tokenizer: textModel.tokenizer,
                                                       promptTokens: job.promptTokens, settings: job.request.settings,
                                                       cancellation: job.cancellation)
                    active.append(Slot(job: job, generator: generator))
                    job.post(.started)
                } catch {
                    // Requests and defaults are validated before a job is queued, so this
                    // cannot happen; if it does, the client gets an end, never a crash.
                    job.post(.finished(cancelledSummary(job)))
                }
            }
            condition.broadcast()  // waitUntilIdle watchers
            if active.isEmpty {
                if stopping && waiting.isEmpty { return nil }
                condition.wait()
                continue
            }
            let now = ContinuousClock.now
            cancelStuck(now: now)
            let due = active.filter { $0.due <= now || $0.job.cancellation.isCancelled }
            if !due.isEmpty { return due }
            // Every active generation is pausing for delay_ms: sleep until the first is due,
            // but look again every 50 ms for cancelled jobs, whose slots should free at once.
            let earliest = min(active.map(\.due).min()!, now + .milliseconds(50))
            _ = condition.wait(until: Date(timeIntervalSinceNow: (earliest - now) / .seconds(1)))
        }
    }

    /// Cancels the active generations older than `maxRequestDuration` (with a
    /// log line each), and those whose client stopped taking their tokens.
    /// Must hold `condition`.
    private func cancelStuck(now: ContinuousClock.Instant) {
        for slot in active where !slot.job.cancellation.isCancelled {
            if now - slot.job.submitted >= maxRequestDuration {
                slot.job.cancellation.cancel()
                logger.warning("request time limit: generation cancelled", metadata: [
                    "max_request_seconds": "\(maxRequestDuration.components.seconds)",
                    "generated": "\(slot.generator.usage.generatedTokens)",
                ])
            } else if let since = slot.job.eventsWaitingSince, now - since >= writeTimeout {
                slot.job.stall()
            }
        }
    }

    /// One turn for each of `slots`, outside the lock: a chunk of each window
    /// pass (`runWindows`), then every plain decode step in batches of up to
    /// `Model.maxBatch`.
    private func step(_ slots: [Slot]) {
        var decodes: [(slot: Slot, token: Int, state: RunState)] = []
        var windows: [Window] = []
        for slot in slots {
            switch slot.generator.nextStep() {
            case .over: deliver(nil, for: slot)
            case .scoring: deliver(slot.generator.next(), for: slot)  // scores, then the whole first pass
            case .decode(let token, let state): decodes.append((slot, token, state))
            case .window(let tokens, let state):
                windows.append(Window(slot: slot, chunk: Array(tokens.prefix(prefillChunk)), state: state,
                                      isLast: tokens.count <= prefillChunk))
            }
        }
        runWindows(windows)
        for start in stride(from: 0, to: decodes.count, by: Model.maxBatch) {
            let batch = decodes[start ..< min(start + Model.maxBatch, decodes.count)]
            let started = ContinuousClock.now
            let logits = textModel.model.forward(batch: batch.map(\.token), states: batch.map(\.state))
            for (entry, logits) in zip(batch, logits) {
                deliver(entry.slot.generator.complete(logits: logits, started: started), for: entry.slot)
            }
        }
    }

    /// This turn's part of a generation's window pass.
    private struct Window {
        let slot: Slot
        let chunk: [Int]
        let state: RunState
        /// The chunk ends the pass: its logits give the next token.
        let isLast: Bool
    }

    /// Most rows of one multi-sequence window pass (bounds its scratch memory).
    private static let maxWindowRows = 1024

    /// Runs this turn's window chunks. Those longer than `Model.fewTokens`
    /// run together, as one multi-sequence pass per `maxWindowRows`: each
    /// weight matrix is read once for all of them. Their products then round
    /// as sgemm rounds a taller matrix, so a chunk's logits may differ from its
    /// pass alone in the last bits (as chunking itself may). Shorter chunks
    /// run alone on the few-token kernels, the fastest at their size.
    private func runWindows(_ windows: [Window]) {
        let model = textModel.model
        var group: [Window] = []
        func runGroup() {
            guard !group.isEmpty else { return }
            let started = ContinuousClock.now
            let logits = model.forward(segments: group.map { ($0.chunk, $0.state) })
            for (window, logits) in zip(group, logits) where window.isLast {
                deliver(window.slot.generator.complete(logits: logits, started: started), for: window.slot)
            }
            group = []
        }
        for window in windows {
            if window.chunk.count <= Model.fewTokens {
                let started = ContinuousClock.now
                let logits = model.forward(window.chunk, state: window.state)
                if window.isLast { deliver(window.slot.generator.complete(logits: logits, started: started), for: window.slot) }
                continue
            }
            if group.reduce(0, { $0 + $1.chunk.count }) + window.chunk.count > Self.maxWindowRows { runGroup() }
            group.append(window)
        }
        runGroup()
    }

    /// Sends a generated token to its job, or ends the job when there is none.
    private func deliver(_ token: GeneratedToken?, for slot: Slot) {
        if !slot.scoresPosted, let scores = slot.generator.promptScores {
            slot.scoresPosted = true
            slot.job.post(.scored(scores))
        }
        if let token {
            if slot.firstTokenMilliseconds == nil {
                slot.firstTokenMilliseconds = (ContinuousClock.now - slot.job.submitted) / .milliseconds(1)
            }
            slot.due = .now + .milliseconds(slot.job.request.delayMilliseconds)
            slot.job.post(.token(token))
            return
        }
        let generator = slot.generator
        let summary = JobSummary(
            finishReason: generator.finishReason ?? .cancelled, trailingText: generator.trailingText,
            usage: generator.usage, timings: generator.timings, seed: generator.seed,
            queueMilliseconds: (slot.started - slot.job.submitted) / .milliseconds(1),
            timeToFirstTokenMilliseconds: slot.firstTokenMilliseconds, prefilled: true)
        condition.lock()
        active.removeAll { $0 === slot }
        condition.broadcast()
        condition.unlock()
        slot.job.post(.finished(summary))
    }

    private func cancelledSummary(_ job: Job) -> JobSummary {
        JobSummary(finishReason: .cancelled, trailingText: "",
                   usage: GenerationUsage(promptTokens: job.promptTokens.count, generatedTokens: 0),
                   timings: GenerationTimings(), seed: job.request.settings.seed ?? 0,
                   queueMilliseconds: (ContinuousClock.now - job.submitted) / .milliseconds(1),
                   timeToFirstTokenMilliseconds: nil, prefilled: false)
    }
}
