/// The kernels of a pass over a few tokens (decode, short prompts), on any
/// subset of their output so that ``WorkerPool`` can spread them over
/// threads. Their plain twins are `matmulReference` and `attentionReference`
/// in Kernels.swift.
extension Kernels {
    /// out (T, OC) = inp (T, IC) · weight (OC, IC)ᵀ + bias, for the output
    /// columns o in `rows` only. For a few tokens at a time (decode, short prompts).
    ///
    /// Reading the weights is the cost, so each block of four weight rows is
    /// read from memory once and used for every token while it sits in the
    /// L1 cache: four rows against one load of the input, with 16-lane fused
    /// multiply-adds into eight independent registers' worth of sums.
    package static func matmulFewTokens(_ out: UnsafeMutablePointer<Float>, _ inp: UnsafePointer<Float>,
                                        _ weight: UnsafePointer<Float>, _ bias: UnsafePointer<Float>?,
                                        T: Int, IC: Int, OC: Int, rows: Range<Int>) {
        let vectorEnd = IC - IC % 16
        var o = rows.lowerBound
        while o + 4 <= rows.upperBound {
            let w0 = weight + o * IC, w1 = w0 + IC, w2 = w1 + IC, w3 = w2 + IC
            for t in 0..<T {
                let x = inp + t * IC
                var a0 = Floats(), a1 = Floats(), a2 = Floats(), a3 = Floats()
                var i = 0
                while i < vectorEnd {
                    let v = load(x + i)
                    a0.addProduct(load(w0 + i), v)
                    a1.addProduct(load(w1 + i), v)
                    a2.addProduct(load(w2 + i), v)
                    a3.addProduct(load(w3 + i), v)
                    i += 16
                }
                var s0 = a0.sum(), s1 = a1.sum(), s2 = a2.sum(), s3 = a3.sum()
                while i < IC {
                    s0 += w0[i] * x[i]
                    s1 += w1[i] * x[i]
                    s2 += w2[i] * x[i]
                    s3 += w3[i] * x[i]
                    i += 1
                }
                let y = out + t * OC + o
                y[0] = s0 + (bias?[o] ?? 0)
                y[1] = s1 + (bias?[o + 1] ?? 0)
                y[2] = s2 + (bias?[o + 2] ?? 0)
                y[3] = s3 + (bias?[o + 3] ?? 0)
            }
            o += 4
        }
        while o < rows.upperBound {
            for t in 0..<T {
                out[t * OC + o] = dot(weight + o * IC, inp + t * IC, count: IC) + (bias?[o] ?? 0)
            }
            o += 1
        }
    }

    /// Attention of one token to the first N rows of the cache (itself and
    /// what came before it), for head `h` only:
    /// out[h·hs ..< (h+1)·hs] = softmax(q·Kᵀ / √hs) · V.
    /// - q: the token's query row (its first C columns of qkv).
    /// - keys, values: (≥ N, C), the token's own row at N - 1.
    /// - scores: scratch of N floats, this head's own.
    package static func attendOneToken(_ out: UnsafeMutablePointer<Float>, query q: UnsafePointer<Float>,
                                       keys: UnsafePointer<Float>, values: UnsafePointer<Float>,
                                       scores: UnsafeMutablePointer<Float>, N: Int, C: Int, NH: Int, head h: Int) {
        let hs = C / NH
        let offset = h * hs
        let scale = 1 / Float(hs).squareRoot()
        for j in 0..<N {
            scores[j] = dot(q + offset, keys + j * C + offset, count: hs) * scale
        }
        softmax(scores, count: N, width: N)
        // Σⱼ scores[j] · vⱼ, sixteen channels at a time.
        let o = out + offset
        var i = 0
        while i + 16 <= hs {
            var sum = Floats()
            for j in 0..<N { sum.addProduct(load(values + j * C + offset + i), Floats(repeating: scores[j])) }
            store(sum, o + i)
            i += 16
        }
        while i < hs {
            var sum: Float = 0
            for j in 0..<N { sum += scores[j] * values[j * C + offset + i] }
            o[i] = sum
            i += 1
        }
    }

    /// Σᵢ a[i] · b[i].
    @inline(__always)
    static func dot(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, count: Int) -> Float {
        var sum = Floats()
        var i = 0
        while i + 16 <= count {
            sum.addProduct(load(a + i), load(b + i))
            i += 16
        }
        var total = sum.sum()
        while i < count {
            total += a[i] * b[i]
            i += 1
        }
        return total
    }
}
