/// The kernels of a one-token (decode) pass, on any subset of their output
/// so that ``WorkerPool`` can spread them over threads. Their plain twins
/// are `matmulReference` and `attentionReference` in Kernels.swift.
extension Kernels {
    /// out[o] = bias[o] + Σᵢ weight[o·IC + i] · inp[i], for o in `rows`.
    ///
    /// Decode is bound by reading the weights, so the loop streams four rows
    /// at a time against one load of the input, with 16-lane fused
    /// multiply-adds into eight independent registers' worth of sums.
    package static func matvec(_ out: UnsafeMutablePointer<Float>, _ inp: UnsafePointer<Float>,
                               _ weight: UnsafePointer<Float>, _ bias: UnsafePointer<Float>?,
                               IC: Int, rows: Range<Int>) {
        let vectorEnd = IC - IC % 16
        var o = rows.lowerBound
        while o + 4 <= rows.upperBound {
            let w0 = weight + o * IC, w1 = w0 + IC, w2 = w1 + IC, w3 = w2 + IC
            var a0 = Floats(), a1 = Floats(), a2 = Floats(), a3 = Floats()
            var i = 0
            while i < vectorEnd {
                let x = load(inp + i)
                a0.addProduct(load(w0 + i), x)
                a1.addProduct(load(w1 + i), x)
                a2.addProduct(load(w2 + i), x)
                a3.addProduct(load(w3 + i), x)
                i += 16
            }
            var s0 = a0.sum(), s1 = a1.sum(), s2 = a2.sum(), s3 = a3.sum()
            while i < IC {
                s0 += w0[i] * inp[i]
                s1 += w1[i] * inp[i]
                s2 += w2[i] * inp[i]
                s3 += w3[i] * inp[i]
                i += 1
            }
            out[o] = s0 + (bias?[o] ?? 0)
            out[o + 1] = s1 + (bias?[o + 1] ?? 0)
            out[o + 2] = s2 + (bias?[o + 2] ?? 0)
            out[o + 3] = s3 + (bias?[o + 3] ?? 0)
            o += 4
        }
        while o < rows.upperBound {
            out[o] = dot(weight + o * IC, inp, count: IC) + (bias?[o] ?? 0)
            o += 1
        }
    }

    /// Attention of one new token (the last of the `keys` cache rows), for
    /// head `h` only: out[h·hs ..< (h+1)·hs] = softmax(q·Kᵀ / √hs) · V.
    /// - q: the token's query row (its first C columns of qkv).
    /// - keys, values: (N, C), the new token's row included.
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
