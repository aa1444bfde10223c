import Foundation
import GPT
import HTTP

/// Several choices of one request (`n`, batched prompts) as one streamed
/// body, pulled by the connection's thread like ``JobStream``: each choice's
/// chunks as they come, told apart by their index; each choice's own end;
/// then, after the last, the usage of all and the stream's end.
// @unchecked: the mutable state is touched only by the connection's thread
// (PulledBody's contract).
final class ChoicesStream<Encoding: ChoiceStreamEncoding>: PulledBody, @unchecked Sendable {
    /// How long one pull waits on one job before looking at the others and probing the client.
    private static var waitSlice: TimeInterval { 0.02 }

    private let choices: [(job: Job, encoding: Encoding)]
    private let n: Int
    private let client: ClientConnection
    private let pacing: StreamPacing
    private var open: Set<Int>
    private var usage = GenerationUsage()
    private var outbox = StreamOutbox()

    init(_ choices: [(job: Job, encoding: Encoding)], n: Int, client: ClientConnection, pacing: StreamPacing) {
        self.choices = choices
        self.n = n
        self.client = client
        self.pacing = pacing
        open = Set(choices.indices)
    }

    func next(maxBytes: Int) -> PulledPiece {
        outbox.next(maxBytes: maxBytes, client: client, refill: { self.pull(into: &$0) }, cancel: cancelAll)
    }

    /// Every open choice's events since the last pull (waiting a little on
    /// one of them; once under way, until the flush time).
    private func pull(into outbox: inout StreamOutbox) {
        guard let waitOn = open.min() else { return }
        // Taken before this pull's events: the first token goes out at once.
        let deadline = outbox.gatherUntil(flush: pacing.flush)
        if take(into: &outbox, waitingOn: waitOn, for: Self.waitSlice), let deadline {
            while let waitOn = open.min(), deadline > .now {
                take(into: &outbox, gatheredUntil: deadline, on: waitOn)
            }
        }
        if open.isEmpty {
            outbox.pending += choices[0].encoding.end(usage: usage)
            outbox.ended = true
        } else if outbox.pending.isEmpty, let line = choices[0].encoding.keepAlive,
                  choices.allSatisfy({ $0.job.isQueued }), outbox.silent(for: pacing.keepAlive) {
            outbox.pending = line
        }
    }

    /// Encodes the open choices' events, waiting up to `timeout` on one of
    /// them: whether any came.
    private func take(into outbox: inout StreamOutbox, waitingOn waitOn: Int, for timeout: TimeInterval) -> Bool {
        take(into: &outbox) { i in choices[i].job.nextEvents(timeout: i == waitOn ? timeout : 0) }
    }

    /// The same, gathering one of them until `deadline` or its end.
    private func take(into outbox: inout StreamOutbox, gatheredUntil deadline: ContinuousClock.Instant, on waitOn: Int) {
        take(into: &outbox) { i in
            i == waitOn ? choices[i].job.events(gatheredUntil: deadline) : choices[i].job.nextEvents(timeout: 0)
        }
    }

    @discardableResult
    private func take(into outbox: inout StreamOutbox, events: (Int) -> [JobEvent]) -> Bool {
        var came = false
        for i in open.sorted() {
            for event in events(i) {
                came = true
                switch event {
                case .started: continue
                case .scored(let scores): outbox.pending += choices[i].encoding.scored(scores)
                case .token(let token): outbox.add(token: choices[i].encoding.token(token))
                case .finished(let summary):
                    outbox.pending += choices[i].encoding.finish(summary)
                    usage.add(summary.usage, countingPrompt: choices[i].encoding.index % n == 0)
                    open.remove(i)
                }
            }
        }
        return came
    }

    private func cancelAll() {
        for choice in choices { choice.job.cancellation.cancel() }
    }

    /// A response that did not reach its end cancels the generations behind it.
    func closed(delivered: Bool) {
        if !delivered { cancelAll() }
    }
}

extension GenerationUsage {
    /// Adds a choice's usage; a prompt completed n times counts once.
    mutating func add(_ other: GenerationUsage, countingPrompt: Bool) {
        if countingPrompt { promptTokens += other.promptTokens }
        generatedTokens += other.generatedTokens
    }
}
