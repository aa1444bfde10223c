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
}
