import CKernels
import Foundation
import Synchronization

/// The layers of the forward pass, on raw row-major buffers. Shapes use the
/// dimension letters of `GPTConfig` plus T, the tokens in this pass.
/// Each fast kernel has a plain twin (`…Reference`) that tests hold it equal to.
package enum Kernels {
    // MARK: matmul

    /// out (T, OC) = inp (T, IC) · weight (OC, IC)ᵀ + bias (OC), for training:
    /// OpenBLAS's packed sgemm kernels on tiles of the output that the pool's
    /// threads share (Gemm.swift). (Model's own passes use CKernels: the row
    /// products for decode steps, the packed gemm for prompts.)
    package static func matmul(_ out: UnsafeMutablePointer<Float>, _ inp: UnsafePointer<Float>,
                       _ weight: UnsafePointer<Float>, _ bias: UnsafePointer<Float>?,
                       T: Int, IC: Int, OC: Int, pool: WorkerPool = .shared) {
        if let bias {
            for t in 0..<T { (out + t * OC).update(from: bias, count: OC) }
        }
        pool.sgemm(transposeB: true, M: T, N: OC, K: IC, inp, lda: IC, weight, ldb: IC,
                   beta: bias == nil ? 0 : 1, out, ldc: OC)
    }

    package static func matmulReference(_ out: UnsafeMutablePointer<Float>, _ inp: UnsafePointer<Float>,
                                _ weight: UnsafePointer<Float>, _ bias: UnsafePointer<Float>?,
                                T: Int, IC: Int, OC: Int) {
        for t in 0..<T {
            for o in 0..<OC {
                var sum = bias?[o] ?? 0
                for i in 0..<IC { sum += inp[t * IC + i] * weight[o * IC + i] }
                out[t * OC + o] = sum
            }
        }
    }

    // MARK: layernorm

    /// out (T, C) = (inp - mean) / sqrt(var + 1e-5) * weight + bias, per row.
    /// The sums run sixteen lanes wide (one float chain of C additions was
    /// most of the time of a row); a row's result depends on that row alone.
    package static func layerNorm(_ out: UnsafeMutablePointer<Float>, _ inp: UnsafePointer<Float>,
                          _ weight: UnsafePointer<Float>, _ bias: UnsafePointer<Float>, T: Int, C: Int) {
        let vectorEnd = C / 16 * 16
        for t in 0..<T {
            let x = inp + t * C
            let y = out + t * C
            var sums = Floats()
            for i in stride(from: 0, to: vectorEnd, by: 16) { sums += load(x + i) }
            var mean = sums.sum()
            for i in vectorEnd..<C { mean += x[i] }
            mean /= Float(C)
            let means = Floats(repeating: mean)
            var squares = Floats()
            for i in stride(from: 0, to: vectorEnd, by: 16) {
                let d = load(x + i) - means
                squares.addProduct(d, d)
            }
            var variance = squares.sum()
            for i in vectorEnd..<C { let d = x[i] - mean; variance += d * d }
            variance /= Float(C)
            let rstd = 1 / (variance + 1e-5).squareRoot()
            for i in 0..<C { y[i] = (x[i] - mean) * rstd * weight[i] + bias[i] }
        }
    }

    // MARK: gelu

    /// x = gelu(x), tanh approximation, in place.
    /// Fast because 0.5·x·(1 + tanh u) = x·σ(2u) = x / (1 + e^(-2u)): one vector exp per 16 lanes.
    package static func gelu(_ x: UnsafeMutablePointer<Float>, count: Int) {
        let k: Float = -2 * 0.797_884_56  // -2·sqrt(2/π)
        var i = 0
        while i + 16 <= count {
            let v = load(x + i)
            let u = v * (1 + 0.044715 * v * v)
            store(v / (1 + vectorExp(k * u)), x + i)
            i += 16
        }
        while i < count {
            let v = x[i]
            x[i] = v / (1 + exp(k * v * (1 + 0.044715 * v * v)))
            i += 1
        }
    }

    package static func geluReference(_ x: UnsafeMutablePointer<Float>, count: Int) {
        for i in 0..<count {
            let v = x[i]
            x[i] = 0.5 * v * (1 + tanh(0.797_884_56 * (v + 0.044715 * v * v * v)))
        }
    }

    // MARK: residual

    /// x += y, elementwise.
    package static func add(_ x: UnsafeMutablePointer<Float>, _ y: UnsafePointer<Float>, count: Int) {
        for i in 0..<count { x[i] += y[i] }
    }

    // MARK: softmax

    /// Softmax of the first `count` entries in place; entries count..<width become 0.
    /// Fast because exp runs sixteen lanes at a time.
    package static func softmax(_ x: UnsafeMutablePointer<Float>, count: Int, width: Int) {
        var maximum = -Float.infinity
        for i in 0..<count { maximum = max(maximum, x[i]) }
        var sum: Float = 0
        var i = 0
        let m = Floats(repeating: maximum)
        var sums = Floats()
        while i + 16 <= count {
            let e = vectorExp(load(x + i) - m)
            store(e, x + i)
            sums += e
            i += 16
        }
        sum = sums.sum()
        while i < count {
            x[i] = exp(x[i] - maximum)
            sum += x[i]
            i += 1
        }
        let scale = 1 / sum
        for j in 0..<count { x[j] *= scale }
        (x + count).update(repeating: 0, count: width - count)
    }

    package static func softmaxReference(_ x: UnsafeMutablePointer<Float>, count: Int, width: Int) {
        var maximum = -Float.infinity
        for i in 0..<count { maximum = max(maximum, x[i]) }
        var sum: Float = 0
        for i in 0..<count { x[i] = exp(x[i] - maximum); sum += x[i] }
        for i in 0..<count { x[i] /= sum }
        for i in count..<width { x[i] = 0 }
    }

    // MARK: attention

    /// Rows of queries per chunk of a long pass's attention.
    package static let attentionRows = 32

    /// Causal multi-head attention of T new tokens at positions start..<start+T.
    ///
    /// - out (T, C): each head writes its hs channels.
    /// - qkv (T, 3C): queries are its first C columns.
    /// - keys, values: start+T rows of the cache, the new tokens' already written.
    ///
    /// Each (head, block of 32 queries) is a chunk for the pool: the block's
    /// scores against the keys it can see (Q·Kᵀ), a softmax per row, then
    /// their product with the values, both on CKernels' gpt_gemm_strided
    /// over views of the cache. Every element is one chain of multiply-adds
    /// in order, and a key a row cannot see gets weight 0 (adding nothing), so
    /// a row's result does not depend on the block it falls in, nor on how a
    /// prompt is cut into passes.
    static func attention(_ out: UnsafeMutablePointer<Float>, _ qkv: UnsafePointer<Float>,
                          keys: CacheRows, values: CacheRows,
                          start: Int, T: Int, C: Int, NH: Int, pool: WorkerPool = .shared) {
        let hs = C / NH
        let scale = 1 / Float(hs).squareRoot()
        let blocks = (T + attentionRows - 1) / attentionRows
        let keysSeen = start + T
        // Each worker's room: the block's packed queries, its scores, the scores packed, gemm workspace.
        let queryFloats = gpt_gemm_packed_floats(Int32(attentionRows), Int32(hs))
        let scoreFloats = attentionRows * keysSeen
        let packedScoreFloats = gpt_gemm_packed_floats(Int32(attentionRows), Int32(keysSeen))
        let workspaceFloats = gpt_gemm_scratch_floats()
        let perWorker = queryFloats + scoreFloats + packedScoreFloats + workspaceFloats
        let buffers = UnsafeMutablePointer<Float>.allocate(capacity: pool.threads * perWorker)
        defer { buffers.deallocate() }
        pool.forEachChunk(NH * blocks) { k, worker in
            // The last blocks see the most keys: hand them out first, so that no long chunk is left for the end.
            let (h, reversed) = k.quotientAndRemainder(dividingBy: blocks)
            let first = (blocks - 1 - reversed) * attentionRows
            let R = min(attentionRows, T - first)
            let N = start + first + R  // keys visible to the block's last query
            let queries = buffers + worker * perWorker
            let weights = queries + queryFloats, packedWeights = weights + scoreFloats
            let workspace = packedWeights + packedScoreFloats
            let offset = h * hs
            gpt_gemm_pack(qkv + first * 3 * C + offset, Int32(3 * C), Int32(R), Int32(hs), queries)
            gpt_gemm_strided(queries, Int32(R), Int32(hs), keys.head(h), keys.rowStride, 1, 0, Int32(N), weights,
                             Int32(N), 0, workspace)
            for t in 0..<R {
                let row = weights + t * N
                for j in 0..<N { row[j] *= scale }
                softmax(row, count: start + first + t + 1, width: N)
            }
            gpt_gemm_pack(weights, Int32(N), Int32(R), Int32(N), packedWeights)
            // Values read transposed: W[d][j] = values[j][d].
            gpt_gemm_strided(packedWeights, Int32(R), Int32(N), values.head(h), 1, values.rowStride, 0, Int32(hs),
                             out + first * C + offset, Int32(C), 0, workspace)
        }
    }

    package static func attentionReference(_ out: UnsafeMutablePointer<Float>, _ qkv: UnsafePointer<Float>,
                                   keys: UnsafePointer<Float>, values: UnsafePointer<Float>,
                                   start: Int, T: Int, C: Int, NH: Int) {
        let hs = C / NH
        let scale = 1 / Float(hs).squareRoot()
        var weights = [Float](repeating: 0, count: start + T)
        for t in 0..<T {
            for h in 0..<NH {
                let q = qkv + t * 3 * C + h * hs
                let visible = start + t + 1
                for j in 0..<visible {
                    var dot: Float = 0
                    for i in 0..<hs { dot += q[i] * keys[j * C + h * hs + i] }
                    weights[j] = dot * scale
                }
                weights.withUnsafeMutableBufferPointer { softmaxReference($0.baseAddress!, count: visible, width: visible) }
                for i in 0..<hs {
                    var sum: Float = 0
                    for j in 0..<visible { sum += weights[j] * values[j * C + h * hs + i] }
                    out[t * C + h * hs + i] = sum
                }
            }
        }
    }
}

/// Threads for every product: the size of ``WorkerPool/shared``, which takes
/// it at its first use, so set this before the first pass. OpenBLAS always
/// runs single-threaded, inside the pool's tiles (see Gemm.swift).
public enum ComputeThreads {
    private static let requested = Atomic<Int>(ProcessInfo.processInfo.activeProcessorCount)
    public static var count: Int { requested.load(ordering: .relaxed) }
    public static func set(_ count: Int) { requested.store(max(1, count), ordering: .relaxed) }
}
