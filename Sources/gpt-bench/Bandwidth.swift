import Foundation
import GPT

/// The machine's memory read bandwidth: a streaming sum over a buffer far
/// larger than the caches, on the same worker pool as the model, so that
/// decode speed can be given as a fraction of what the memory can deliver.
enum Bandwidth {
    /// Bytes per second of the best of `passes` reads of a `megabytes` buffer.
    static func measure(megabytes: Int = 1024, passes: Int = 3) -> Double {
        let count = megabytes << 18  // floats
        let buffer = UnsafeMutablePointer<Float>.allocate(capacity: count)
        defer { buffer.deallocate() }
        buffer.initialize(repeating: 1, count: count)  // every page faulted in before timing
        let pool = WorkerPool.shared
        let chunks = 4096
        let sums = UnsafeMutablePointer<Float>.allocate(capacity: chunks)
        defer { sums.deallocate() }
        var best = 0.0
        let clock = ContinuousClock()
        for _ in 0..<passes {
            let start = clock.now
            pool.forEachChunk(chunks) { k in
                let range = k * count / chunks..<(k + 1) * count / chunks
                // Four independent sums, so the adds keep up with the loads.
                var a = SIMD16<Float>(), b = SIMD16<Float>(), c = SIMD16<Float>(), d = SIMD16<Float>()
                let raw = UnsafeRawPointer(buffer + range.lowerBound)
                var i = 0
                while i + 64 <= range.count {
                    a += raw.loadUnaligned(fromByteOffset: 4 * i, as: SIMD16<Float>.self)
                    b += raw.loadUnaligned(fromByteOffset: 4 * (i + 16), as: SIMD16<Float>.self)
                    c += raw.loadUnaligned(fromByteOffset: 4 * (i + 32), as: SIMD16<Float>.self)
                    d += raw.loadUnaligned(fromByteOffset: 4 * (i + 48), as: SIMD16<Float>.self)
                    i += 64
                }
                sums[k] = (a + b + c + d).sum()
            }
            let seconds = (clock.now - start) / .seconds(1)
            best = max(best, Double(count * 4) / seconds)
        }
        // The sums are read, so the loads cannot be left out.
        precondition((0..<chunks).reduce(0) { $0 + sums[$1] } > 0)
        return best
    }
}
