import GPT

/// The element-wise loops of training, on the engine's worker pool (the one
/// that also runs every matrix product), so training has one set of threads.
enum Parallel {
    static var pool: WorkerPool { .shared }

    /// Calls `body` on disjoint ranges covering 0..<count, chunks of about
    /// `grain` items that the pool's threads claim one at a time.
    static func forEachChunk(_ count: Int, grain: Int = 4096, _ body: (Range<Int>) -> Void) {
        pool.forEachRange(count, grain: grain, body)
    }

    /// Like `forEachChunk`, with a scratch buffer of `scratchCount` zeroed
    /// floats per chunk, which `combine` then gets one by one, in order (for
    /// example partial sums of a weight gradient). The chunks depend only on
    /// `count` and `grain`, never on the threads, so neither does the result.
    static func forEachChunk(_ count: Int, grain: Int, scratchCount: Int,
                             _ body: (Range<Int>, UnsafeMutablePointer<Float>) -> Void,
                             combine: (UnsafePointer<Float>) -> Void) {
        let chunks = max(1, min(maxScratchChunks, count / max(1, grain)))
        let scratch = UnsafeMutablePointer<Float>.allocate(capacity: chunks * scratchCount)
        defer { scratch.deallocate() }
        scratch.initialize(repeating: 0, count: chunks * scratchCount)
        pool.forEachChunk(chunks) { k in
            body(k * count / chunks..<(k + 1) * count / chunks, scratch + k * scratchCount)
        }
        for k in 0..<chunks { combine(scratch + k * scratchCount) }
    }

    /// Enough chunks to keep two threads busy when one is held up, few enough
    /// that adding up their scratch stays cheap.
    static let maxScratchChunks = 16
}
