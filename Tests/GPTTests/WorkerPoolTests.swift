import Foundation
import Synchronization
import Testing
@testable import GPT

@Suite struct WorkerPoolTests {
    /// Every chunk of every loop runs exactly once, for loops large and small, back to back.
    @Test(arguments: [1, 2, 3])
    func everyChunkRunsOnce(threads: Int) {
        let pool = WorkerPool(threads: threads)
        let runs = Mutex([Int](repeating: 0, count: 300))
        for round in 0..<2_000 {
            let chunks = [0, 1, 2, 7, 64, 300][round % 6]
            pool.forEachChunk(chunks) { k in runs.withLock { $0[k] += 1 } }
            let counts = runs.withLock { counts in
                defer { counts = Array(repeating: 0, count: 300) }
                return counts
            }
            let expected = (0..<300).map { $0 < chunks ? 1 : 0 }
            #expect(counts == expected, "round \(round), \(chunks) chunks")
            if counts != expected { return }
        }
    }

    /// The helpers really take part: with slow chunks, some run off the caller's thread.
    @Test func helpersTakeChunks() {
        let pool = WorkerPool(threads: 2)
        let caller = Thread.current
        let elsewhere = Atomic<Int>(0)
        for _ in 0..<20 {
            pool.forEachChunk(8) { _ in
                usleep(1_000)
                if Thread.current != caller { elsewhere.add(1, ordering: .relaxed) }
            }
        }
        #expect(elsewhere.load(ordering: .relaxed) > 0)
    }

    /// The loop returns only once every chunk has finished, the helpers' included.
    @Test func returnsAfterTheLastChunkFinishes() {
        let pool = WorkerPool(threads: 2)
        for _ in 0..<10 {
            let finished = Mutex(0)
            pool.forEachChunk(6) { _ in
                usleep(2_000)
                finished.withLock { $0 += 1 }
            }
            #expect(finished.withLock { $0 } == 6)
        }
    }

    /// Several callers at once (tests, or two models): each loop still completes
    /// whole, the later callers running theirs on their own thread.
    @Test func concurrentCallersEachGetTheirLoopsDone() async {
        let pool = WorkerPool(threads: 2)
        let totals = await withTaskGroup(of: Int.self) { group in
            for caller in 0..<4 {
                group.addTask {
                    var total = 0
                    for _ in 0..<500 {
                        let sums = Mutex([Int](repeating: 0, count: 16))
                        pool.forEachChunk(16) { k in sums.withLock { $0[k] += k + caller } }
                        total += sums.withLock { $0.reduce(0, +) }
                    }
                    return total - 500 * 16 * caller
                }
            }
            return await group.reduce(into: []) { $0.append($1) }
        }
        #expect(totals == Array(repeating: 500 * (0..<16).reduce(0, +), count: 4))
    }

    @Test func rangesCoverTheItemsInOrder() {
        let pool = WorkerPool(threads: 2)
        for (count, grain) in [(0, 4), (3, 4), (100, 7), (4096, 32)] {
            let covered = Mutex<[Range<Int>]>([])
            pool.forEachRange(count, grain: grain) { range in covered.withLock { $0.append(range) } }
            let ranges = covered.withLock { $0 }.sorted { $0.lowerBound < $1.lowerBound }
            #expect(ranges.flatMap { Array($0) } == Array(0..<count), "\(count) items")
            #expect(ranges.count <= max(1, count / grain))
        }
    }

    /// A decode loop's chunks: every row once, in order; full chunks first,
    /// the last 2·threads chunks' worth in quarters; one thread keeps whole chunks.
    @Test func taperedChunksCoverTheRowsAndEndFine() {
        for (count, grain, threads) in [(1, 4, 2), (3, 4, 2), (256, 128, 2), (2304, 42, 2), (50257, 42, 3), (100, 7, 1)] {
            let bounds = WorkerPool.taperedChunks(count, grain: grain, threads: threads)
            let sizes = zip(bounds, bounds.dropFirst()).map { $1 - $0 }
            #expect(bounds.first == 0 && bounds.last == count && sizes.allSatisfy { $0 > 0 }, "\(count) rows")
            // Whole chunks, then quarters (or less) covering at least the last 2·threads chunks' worth.
            let quarter = max(1, grain / 4)
            let whole = sizes.prefix { $0 == grain }.count
            let fine = sizes.dropFirst(whole)
            #expect(fine.allSatisfy { $0 <= quarter }, "\(count) rows: \(sizes)")
            #expect(fine.reduce(0, +) >= min(count, threads > 1 ? 2 * threads * grain : 0), "\(count) rows: \(sizes)")
            if threads == 1 { #expect(fine.reduce(0, +) < grain, "one thread: whole chunks") }
        }
    }

    /// A helper that is away while it holds a chunk (here: sleeping, as a
    /// descheduled thread would) costs the caller more than it saves, so the
    /// caller soon runs the loops alone; every chunk still runs exactly once.
    @Test func aHelperThatStallsIsLeftOut() {
        let pool = WorkerPool(threads: 2)
        let caller = Thread.current
        let byHelper = Atomic<Int>(0)
        for _ in 0..<50 {
            let runs = Mutex([Int](repeating: 0, count: 8))
            pool.forEachChunk(8) { k in
                if Thread.current != caller {
                    byHelper.add(1, ordering: .relaxed)
                    usleep(20_000)
                } else {
                    usleep(200)  // long enough for the spinning helper to claim a chunk
                }
                runs.withLock { $0[k] += 1 }
            }
            #expect(runs.withLock { $0 } == Array(repeating: 1, count: 8))
        }
        // Without the judgement the helper claims a chunk in nearly every one of
        // the 50 loops; with it, only in the first and in a few trials between
        // solo spells (of 20, 40, 80 ms ...).
        #expect(byHelper.load(ordering: .relaxed) < 15)
    }
}

@Suite struct HelperPayoffTests {
    let start = ContinuousClock.now

    @Test func helpersThatSaveMoreThanTheyCostStay() {
        var payoff = HelperPayoff()
        for i in 0..<1_000 {  // half the chunks each, a short wait for the last one
            payoff.record(mine: 4, theirs: 4, working: 40e-6, waiting: 5e-6, at: start + .microseconds(50 * i))
        }
        #expect(payoff.soloUntil == nil)
    }

    @Test func aLostTimeSliceSendsTheCallerSolo() {
        var payoff = HelperPayoff()
        for i in 0..<10 { payoff.record(mine: 4, theirs: 4, working: 40e-6, waiting: 5e-6, at: start + .microseconds(50 * i)) }
        let now = start + .milliseconds(1)
        payoff.record(mine: 7, theirs: 1, working: 70e-6, waiting: 4e-3, at: now)  // a helper away for 4 ms
        #expect(payoff.runsAlone(at: now + .milliseconds(19)))
        #expect(!payoff.runsAlone(at: now + .milliseconds(20)))
        #expect(payoff.saved == 0 && payoff.waited == 0)
    }

    /// The caller, away for 8 ms inside one of its own chunks while the
    /// helper ran the rest: that is not what a chunk costs, and alone (one
    /// thread fewer on the cores) the caller would more likely have kept
    /// its core. Taken at face value, the helper's 7 chunks looked like 56 ms
    /// saved, and a busy machine kept its helpers.
    @Test func aTimeSliceTheCallerLostCountsAgainstTheHelpers() {
        var payoff = HelperPayoff()
        for i in 0..<100 { payoff.record(mine: 4, theirs: 4, working: 40e-6, waiting: 5e-6, at: start + .microseconds(50 * i)) }
        let now = start + .milliseconds(10)
        payoff.record(mine: 1, theirs: 7, working: 8e-3, waiting: 0, at: now)
        #expect(payoff.runsAlone(at: now + .milliseconds(1)))
    }

    /// A caller whose chunks take 10 µs, and every fifth loop 45 µs (past
    /// twice their usual, by less than 100 µs in all), lost no time slice:
    /// nothing counts against the helpers. (Counted, it sent the caller solo
    /// within 140 loops.)
    @Test func chunksThatMerelyVaryAreNoSliceLost() {
        var payoff = HelperPayoff()
        for i in 0..<2_000 {
            let perChunk = i % 5 == 4 ? 45e-6 : 10e-6
            payoff.record(mine: 4, theirs: 1, working: 4 * perChunk, waiting: 0, at: start + .microseconds(100 * i))
        }
        #expect(payoff.soloUntil == nil)
    }

    @Test func smallLossesAreNoise() {
        var payoff = HelperPayoff()
        payoff.record(mine: 1, theirs: 1, working: 1e-6, waiting: 100e-6, at: start)
        #expect(payoff.soloUntil == nil)
    }

    /// A trial that fails soon after a spell doubles the next spell (up to a
    /// second); one that fails long after starts again from the shortest.
    @Test func spellsGrowWhileTheMachineStaysBusy() {
        var payoff = HelperPayoff()
        var now = start
        var spells: [Duration] = []
        for _ in 0..<8 {
            payoff.record(mine: 1, theirs: 1, working: 1e-6, waiting: 5e-3, at: now)
            spells.append(payoff.solo)
            now = payoff.soloUntil! + .milliseconds(1)
        }
        #expect(spells == [20, 40, 80, 160, 320, 640, 1_000, 1_000].map { Duration.milliseconds($0) })
        now += .seconds(10)
        payoff.record(mine: 1, theirs: 1, working: 1e-6, waiting: 5e-3, at: now)
        #expect(payoff.solo == .milliseconds(20))
    }
}
