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
/// another's whole generation. A turn is one multi-sequence pass: every
/// decode step, and the next piece of every pass over a window (a prompt, or
/// a window that slid; as many rows as `WindowPacing` allows), each weight
/// matrix streamed once for all of them and each sequence getting the bits it
/// gets alone. So several clients cost little more than one, and a long
/// prompt slows the running streams down rather than stopping them. A generation that asked for
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
         pacing: WindowPacing = WindowPacing(), logger: Logger) {
        self.textModel = textModel
        self.pacing = pacing
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

    /// One turn for each of `slots`, outside the lock: every decode step and
    /// the next piece of every window pass (or of scoring a prompt) run
    /// together as one multi-sequence pass (`Model.forward(segments:)`, one
    /// per `maxPassRows`), which reads each tile of weights once for all and
    /// gives each sequence the bits it gets alone. While some generations
    /// stream, the pieces take the rows that `pacing` allows; otherwise
    /// they run whole.
    private func step(_ slots: [Slot]) {
        var steps: [(slot: Slot, step: TokenGenerator.Step)] = []
        for slot in slots {
            switch slot.generator.nextStep() {
            case .over: deliver(nil, for: slot)
            case let step: steps.append((slot, step))
            }
        }
        let decodeSteps = steps.filter { if case .decode = $0.step { true } else { false } }.count
        let pieces = steps.count - decodeSteps
        let budget = pacing.rowBudget(withSteps: decodeSteps > 0)
        let share = pieces == 0 ? 0 : max(WindowPacing.minimumRows, budget / pieces)
        var pass: [Segment] = []
        var rows = 0
        for (slot, step) in steps {
            // A piece is asked for again, at the size this turn can afford (asking has no side effect).
            let segment: Segment
            switch step {
            case .decode(let token, let state):
                segment = Segment(slot: slot, tokens: [token], state: state, kind: .step)
            case .window, .score:
                switch slot.generator.nextStep(windowRows: min(share, Self.maxPassRows)) {
                case .window(let piece, let state, let last):
                    segment = Segment(slot: slot, tokens: Array(piece), state: state, kind: .window(last: last))
                case .score(let tokens, let state, let scored):
                    segment = Segment(slot: slot, tokens: tokens, state: state, kind: .score(scored: scored))
                default:
                    continue
                }
            case .over:
                continue
            }
            if rows + segment.tokens.count > Self.maxPassRows {
                run(pass)
                (pass, rows) = ([], 0)
            }
            pass.append(segment)
            rows += segment.tokens.count
        }
        run(pass)
    }

    /// A generation's part of a turn's pass.
    private struct Segment {
        let slot: Slot
        let tokens: [Int]
        let state: RunState
        let kind: Kind

        enum Kind {
            /// A decode step: its logits give the next token.
            case step
            /// A piece of a window pass; the last one's logits give the next token.
            case window(last: Bool)
            /// A piece of scoring the prompt; a `scored` one's logits (every row) give scores.
            case score(scored: Bool)
        }

        var logits: Model.SegmentLogits {
            switch kind {
            case .step, .window(last: true): .last
            case .score(scored: true): .all
            case .window(last: false), .score(scored: false): .none
            }
        }

        var isStep: Bool { if case .step = kind { true } else { false } }
    }

    /// Most rows of one pass (bounds its scratch memory).
    private static let maxPassRows = 1024

    /// Sizes the pieces; touched only on the model queue.
    private var pacing: WindowPacing

    private func run(_ pass: [Segment]) {
        guard !pass.isEmpty else { return }
        let started = ContinuousClock.now
        let logits = textModel.model.forward(segments: pass.map { ($0.tokens, $0.state, $0.logits) })
        let steps = pass.filter(\.isStep).count
        pacing.record(steps: steps, windowRows: pass.filter { !$0.isStep }.map(\.tokens.count).reduce(0, +),
                      seconds: (ContinuousClock.now - started) / .seconds(1))
        for (segment, logits) in zip(pass, logits) {
            let generator = segment.slot.generator
            switch segment.kind {
            case .score:
                generator.completeScore(logits: logits)
            case .step, .window:
                if let logits { deliver(generator.complete(logits: logits, started: started), for: segment.slot) }
            }
        }
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
