import CBLAS
import Foundation

/// The layers of the forward pass, on raw row-major buffers. Shapes use the
/// dimension letters of `GPTConfig` plus T, the tokens in this pass.
/// Each fast kernel has a plain twin (`…Reference`) that tests hold it equal to.
package enum Kernels {
    // MARK: matmul

    /// out (T, OC) = inp (T, IC) · weight (OC, IC)ᵀ + bias (OC).
    /// Fast because OpenBLAS's sgemm streams the weights once per call with
    /// both cores. (Model uses `matmulFewTokens` on its worker pool for short passes.)
    package static func matmul(_ out: UnsafeMutablePointer<Float>, _ inp: UnsafePointer<Float>,
                       _ weight: UnsafePointer<Float>, _ bias: UnsafePointer<Float>?,
                       T: Int, IC: Int, OC: Int) {
        if let bias {
            for t in 0..<T { (out + t * OC).update(from: bias, count: OC) }
        }
        let beta: Float = bias == nil ? 0 : 1
        if T == 1 {
            cblas_sgemv(CblasRowMajor, CblasNoTrans, Int32(OC), Int32(IC), 1, weight, Int32(IC), inp, 1, beta, out, 1)
        } else {
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Int32(T), Int32(OC), Int32(IC),
                        1, inp, Int32(IC), weight, Int32(IC), beta, out, Int32(OC))
        }
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
    package static func layerNorm(_ out: UnsafeMutablePointer<Float>, _ inp: UnsafePointer<Float>,
                          _ weight: UnsafePointer<Float>, _ bias: UnsafePointer<Float>, T: Int, C: Int) {
        for t in 0..<T {
            let x = inp + t * C
            let y = out + t * C
            var mean: Float = 0
            for i in 0..<C { mean += x[i] }
            mean /= Float(C)
            var variance: Float = 0
            for i in 0..<C { let d = x[i] - mean; variance += d * d }
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

    /// Causal multi-head attention of T new tokens at positions start..<start+T.
    ///
    /// - out (T, C): each head writes its hs channels.
    /// - qkv (T, 3C): queries are its first C columns.
    /// - keys, values (start+T, C): the cache, new tokens' rows already written.
    /// - scores: scratch of at least T * (start+T) floats.
    ///
    /// Fast because each head is two BLAS products over strided views of the
    /// cache: Q·Kᵀ, then softmax(scores)·V.
    package static func attention(_ out: UnsafeMutablePointer<Float>, _ qkv: UnsafePointer<Float>,
                          keys: UnsafePointer<Float>, values: UnsafePointer<Float>,
                          scores: UnsafeMutablePointer<Float>, start: Int, T: Int, C: Int, NH: Int) {
        let hs = C / NH
        let N = start + T  // keys visible to the last token
        let scale = 1 / Float(hs).squareRoot()
        for h in 0..<NH {
            let offset = h * hs
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Int32(T), Int32(N), Int32(hs),
                        scale, qkv + offset, Int32(3 * C), keys + offset, Int32(C), 0, scores, Int32(N))
            for t in 0..<T {
                softmax(scores + t * N, count: start + t + 1, width: N)
            }
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(T), Int32(hs), Int32(N),
                        1, scores, Int32(N), values + offset, Int32(C), 0, out + offset, Int32(C))
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

/// Threads for the forward pass: OpenBLAS's process-wide pool (prompts) and
/// ``WorkerPool/shared`` (single tokens), which takes its size from here at
/// its first use, so set this before the first pass.
public enum ComputeThreads {
    public static var count: Int { Int(openblas_get_num_threads()) }
    public static func set(_ count: Int) { openblas_set_num_threads(Int32(max(1, count))) }
}
