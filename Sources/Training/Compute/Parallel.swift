import Dispatch
import GPT

/// Splits loops that BLAS does not run across the cores.
enum Parallel {
    /// Workers for the element-wise loops: one per core (this machine has two).
    static let workers = max(1, ComputeThreads.count)

    /// Calls `body` on disjoint ranges covering 0..<count, in parallel when
    /// there is enough work (at least `grain` items per extra worker) to pay
    /// for waking a thread.
    static func forEachChunk(_ count: Int, grain: Int = 4096, _ body: (Range<Int>) -> Void) {
        let chunks = min(workers, count / max(1, grain))
        if chunks <= 1 {
            if count > 0 { body(0..<count) }
            return
        }
        withoutActuallyEscaping(body) { body in
            let shared = UncheckedSendable(body)
            DispatchQueue.concurrentPerform(iterations: chunks) { k in
                shared.value(k * count / chunks..<(k + 1) * count / chunks)
            }
        }
    }

    /// Like `forEachChunk`, with a scratch buffer of `scratchCount` zeroed
    /// floats per chunk; returns the buffers so the caller can combine them
    /// (for example per-thread partial sums of a weight gradient).
    static func forEachChunk(_ count: Int, grain: Int, scratchCount: Int,
                             _ body: (Range<Int>, UnsafeMutablePointer<Float>) -> Void,
                             combine: (UnsafePointer<Float>) -> Void) {
        let chunks = max(1, min(workers, count / max(1, grain)))
        let scratch = UnsafeMutablePointer<Float>.allocate(capacity: chunks * scratchCount)
        defer { scratch.deallocate() }
        scratch.initialize(repeating: 0, count: chunks * scratchCount)
        if chunks == 1 {
            body(0..<count, scratch)
        } else {
            withoutActuallyEscaping(body) { body in
                let shared = UncheckedSendable((body, scratch))
                DispatchQueue.concurrentPerform(iterations: chunks) { k in
                    let (body, scratch) = shared.value
                    body(k * count / chunks..<(k + 1) * count / chunks, scratch + k * scratchCount)
                }
            }
        }
        for k in 0..<chunks { combine(scratch + k * scratchCount) }
    }
}

/// Hands loop bodies that write through raw pointers to the worker threads.
/// Safe because every chunk touches its own rows (or its own scratch) and
/// `concurrentPerform` returns only when all chunks are done.
private struct UncheckedSendable<Value>: @unchecked Sendable {
    let value: Value
    init(_ value: Value) { self.value = value }
}
