import CBLAS
import Foundation
import Synchronization

/// Threads of our own for every product's loop: decode steps (alone or
/// batched), prompts (the packed gemm's tiles) and training.
///
/// A decode pass is some thirty short loops (a few microseconds each on a
/// small model); OpenBLAS's pool would wake and join its workers for every
/// one and keep them spinning between calls, which on two cores starves the
/// HTTP threads that carry the tokens away. Here the work of a loop is cut
/// into chunks that the caller and the helpers *claim* one at a time:
/// - a helper that is late, descheduled or parked simply claims nothing,
///   and the caller does the chunks itself, so nobody waits for a thread
///   that is not running (only for a chunk already claimed);
/// - helpers spin briefly between loops, then park, leaving the cores to
///   other threads when generation pauses.
/// - the caller, once no chunk is left to claim, waits for the chunks still
///   running by blocking, not spinning, so that a helper the OS took away
///   can get the caller's core back;
/// - when such waits cost more than the helpers save (a busy machine), the
///   caller runs its loops alone for a while (HelperPayoff.swift).
/// Every chunk writes its own rows, so results do not depend on which thread
/// ran which chunk: the same bits with one thread or many.
package final class WorkerPool: @unchecked Sendable {
    /// The pool the model uses: ``ComputeThreads/count`` threads in all
    /// (the caller plus helpers), fixed at its first use.
    package static let shared = WorkerPool(threads: ComputeThreads.count)

    /// Threads that work on a loop, the caller included.
    package let threads: Int

    /// The current loop: generation (high 32 bits), chunk count (next 16)
    /// and next unclaimed chunk (low 16). One word, so a claim can check in a
    /// single compare-and-swap that the loop it read is still the current one.
    private let ticket = Atomic<UInt64>(0)
    /// Chunks of the current loop finished.
    private let finished = Atomic<Int>(0)
    /// The current loop's body (chunk, worker). Written by the caller before
    /// it publishes a new ticket, read by a helper only after it claimed a
    /// chunk of that ticket, and not rewritten until every claimed chunk is finished.
    private var body: ((Int, Int) -> Void)?
    /// One caller at a time; another caller meanwhile runs its loops alone.
    private let caller = Mutex<Void>(())
    /// Parking place for idle helpers.
    private let parking = NSCondition()
    private var parked = 0
    /// Where the caller blocks until the helpers' last chunks finish.
    private let finishing = NSCondition()
    /// How long a helper spins for the next loop before parking.
    private static let spinTime: Duration = .microseconds(200)
    /// Whether waking the helpers pays off now (read and written under `caller`).
    private var payoff = HelperPayoff()
    private let clock = ContinuousClock()

    package init(threads: Int) {
        self.threads = max(1, threads)
        // Our threads run OpenBLAS one tile at a time; its own would spin (Gemm.swift).
        openblas_set_num_threads(1)
        for index in 1..<self.threads {
            // Pools live as long as the process. Named from inside: on Linux a
            // name given before start() does not reach the OS thread.
            Thread {
                Thread.current.name = "gpt-worker-\(index)"
                self.helperLoop(worker: index)
            }.start()
        }
    }

    /// Calls `body(k)` once for every k in 0..<chunks, spread over the pool's
    /// threads; returns when all have returned. Chunks must not depend on
    /// each other's order. At most 65,535 chunks.
    package func forEachChunk(_ chunks: Int, _ body: (Int) -> Void) {
        forEachChunk(chunks) { k, _ in body(k) }
    }

    /// Like ``forEachChunk(_:_:)-(_,(Int)->Void)``, also telling each call which
    /// worker runs it (0..<threads): chunks that run at the same time have
    /// different workers, so a chunk may use scratch memory of its worker's own.
    package func forEachChunk(_ chunks: Int, _ body: (_ chunk: Int, _ worker: Int) -> Void) {
        precondition(chunks >= 0 && chunks < 1 << 16, "0..<65536 chunks")
        guard threads > 1, chunks > 1 else {
            for k in 0..<chunks { body(k, 0) }
            return
        }
        let ran: Void? = caller.withLockIfAvailable { _ in
            if payoff.runsAlone(at: clock.now) {
                for k in 0..<chunks { body(k, 0) }
            } else {
                withoutActuallyEscaping(body) { body in runShared(chunks, body) }
            }
        }
        if ran == nil {
            for k in 0..<chunks { body(k, 0) }
        }
    }

    /// Splits `count` items into chunks of about `grain` items and runs
    /// `body` on each chunk's range (see ``forEachChunk(_:_:)``).
    package func forEachRange(_ count: Int, grain: Int, _ body: (Range<Int>) -> Void) {
        let chunks = min(max(1, count / max(1, grain)), (1 << 16) - 1)
        forEachChunk(chunks) { k in body(k * count / chunks..<(k + 1) * count / chunks) }
    }

    /// Like ``forEachRange(_:grain:_:)``, but the last 2·threads chunks'
    /// worth is cut in quarters (``taperedChunks(_:grain:threads:)``), so
    /// that the threads finish a loop close together: a decode loop is
    /// microseconds long, and the wait at its end about half its last chunk.
    package func forEachTaperedRange(_ count: Int, grain: Int, _ body: (Range<Int>) -> Void) {
        let bounds = Self.taperedChunks(count, grain: grain, threads: threads)
        forEachChunk(bounds.count - 1) { k in body(bounds[k]..<bounds[k + 1]) }
    }

    /// Chunk boundaries over 0..<count: chunks of `grain`, then the last
    /// 2·threads chunks' worth (more when count is not a multiple) in quarters.
    static func taperedChunks(_ count: Int, grain: Int, threads: Int) -> [Int] {
        let tail = min(count, threads > 1 ? 2 * threads * grain : 0)
        let whole = (count - tail) / grain * grain  // rows in full chunks
        return Array(stride(from: 0, to: whole, by: grain)) + Array(stride(from: whole, to: count, by: max(1, grain / 4)))
            + [count]
    }

    private func runShared(_ chunks: Int, _ body: @escaping (Int, Int) -> Void) {
        self.body = body
        let generation = (ticket.load(ordering: .relaxed) >> 32) &+ 1
        finished.store(0, ordering: .relaxed)
        ticket.store(generation << 32 | UInt64(chunks) << 16, ordering: .releasing)
        parking.lock()
        if parked > 0 { parking.broadcast() }
        parking.unlock()
        let start = clock.now
        var mine = 0
        while let (chunk, chunks) = claim(generation: generation) {
            body(chunk, 0)
            finish(chunks: chunks, worker: 0)
            mine += 1
        }
        let ownDone = clock.now
        // Chunks still running belong to helpers; a short spin covers the usual
        // case of one finishing now, blocking covers a helper that was descheduled.
        var spins = 0
        while finished.load(ordering: .acquiring) < chunks && spins < 2_000 { spins += 1 }
        if finished.load(ordering: .acquiring) < chunks {
            finishing.lock()
            while finished.load(ordering: .acquiring) < chunks { finishing.wait() }
            finishing.unlock()
        }
        self.body = nil
        let end = clock.now
        payoff.record(mine: mine, theirs: chunks - mine, working: (ownDone - start) / .seconds(1),
                      waiting: (end - ownDone) / .seconds(1), at: end)
    }

    /// Claims the next chunk of loop `generation`: its index and the loop's
    /// chunk count, or nil when that loop has no chunk left (or is over).
    private func claim(generation: UInt64) -> (chunk: Int, chunks: Int)? {
        var current = ticket.load(ordering: .acquiring)
        while true {
            let next = current & 0xFFFF
            let chunks = (current >> 16) & 0xFFFF
            guard current >> 32 == generation, next < chunks else { return nil }
            let (exchanged, original) = ticket.compareExchange(
                expected: current, desired: current + 1, ordering: .acquiringAndReleasing)
            if exchanged { return (Int(next), Int(chunks)) }
            current = original
        }
    }

    /// Counts a claimed chunk as run; a helper that runs the loop's last one wakes the caller.
    private func finish(chunks: Int, worker: Int) {
        let done = finished.add(1, ordering: .acquiringAndReleasing).newValue
        if done == chunks && worker != 0 {
            // Under the lock, so the caller cannot miss it between its check and its wait.
            finishing.lock()
            finishing.signal()
            finishing.unlock()
        }
    }

    private func helperLoop(worker: Int) {
        var seen: UInt64 = 0  // the last generation this helper worked on or found empty
        let clock = ContinuousClock()
        while true {
            var spinUntil = clock.now + Self.spinTime
            var spins = 0
            while ticket.load(ordering: .acquiring) >> 32 == seen {
                spins += 1
                guard spins & 255 == 0 else { continue }
                if clock.now < spinUntil { continue }
                parking.lock()
                parked += 1
                while ticket.load(ordering: .acquiring) >> 32 == seen { parking.wait() }
                parked -= 1
                parking.unlock()
                spinUntil = clock.now + Self.spinTime
            }
            seen = ticket.load(ordering: .acquiring) >> 32
            guard var claimed = claim(generation: seen) else { continue }
            // The body is read once a chunk is claimed and held for the loop's
            // other chunks (read for each, its retain and release hit the
            // counter beside the captures the caller reads), and let go
            // before the last chunk counts as finished: after that the caller
            // may return, and its closure must not have escaped.
            do {
                let body = self.body!
                while true {
                    body(claimed.chunk, worker)
                    guard let next = claim(generation: seen) else { break }
                    finish(chunks: claimed.chunks, worker: worker)
                    claimed = next
                }
            }
            finish(chunks: claimed.chunks, worker: worker)
        }
    }
}
