import Foundation
import HTTP

/// A job's events as a streamed body in some encoding, pulled by the
/// connection's thread whenever the socket can take more.
///
/// A token crosses one hand-off: the model thread posts it to the job, and
/// the connection's thread, waiting on the job, wakes and sends it. Nothing
/// is buffered between the job and the socket, so a client that stops
/// reading leaves its tokens waiting in the job, where the scheduler sees
/// them (``Job/eventsWaitingSince``) and ends the generation after
/// `write_timeout_seconds`.
///
/// While nothing comes, the socket is probed (a client gone cancels the job)
/// and, for a queued job, keep-alive lines go out (``StreamPacing``). Once
/// the first token is out, tokens that come soon after a piece wait a few
/// milliseconds to go out together.
// @unchecked: the mutable state is touched only by the connection's thread
// (PulledBody's contract).
final class JobStream<Encoding: StreamEncoding>: PulledBody, @unchecked Sendable {
    /// How long one pull waits for the job before probing the client.
    private static var waitSlice: TimeInterval { 0.1 }

    private let job: Job
    private let encoding: Encoding
    private let client: ClientConnection
    private let pacing: StreamPacing
    private var outbox = StreamOutbox()

    init(_ job: Job, encoding: Encoding, client: ClientConnection, pacing: StreamPacing) {
        self.job = job
        self.encoding = encoding
        self.client = client
        self.pacing = pacing
    }

    func next(maxBytes: Int) -> PulledPiece {
        outbox.next(maxBytes: maxBytes, client: client, refill: { self.pull(into: &$0) }, cancel: job.cancellation.cancel)
    }

    /// Everything that came since the last pull (and, once under way, until
    /// the flush time), encoded in one piece, or a keep-alive line when a
    /// queued job has been silent long enough.
    private func pull(into outbox: inout StreamOutbox) {
        var events = job.nextEvents(timeout: Self.waitSlice)
        if events.isEmpty {
            if let line = encoding.keepAlive, job.isQueued, outbox.silent(for: pacing.keepAlive) {
                outbox.pending = line
            }
            return
        }
        if !events.contains(where: \.isEnd), let deadline = outbox.gatherUntil(flush: pacing.flush) {
            events += job.events(gatheredUntil: deadline)
        }
        for event in events {
            switch event {
            case .started: continue
            case .scored(let scores): outbox.pending += encoding.scored(scores)
            case .token(let token): outbox.add(token: encoding.token(token))
            case .finished(let summary):
                outbox.pending += encoding.final(summary)
                outbox.ended = true
            }
        }
    }

    /// A response that did not reach its end cancels the generation behind it.
    func closed(delivered: Bool) {
        if !delivered { job.cancellation.cancel() }
    }
}
