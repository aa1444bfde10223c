import CKernels
import Foundation
import Testing
@testable import GPT

/// Each fast kernel against its plain twin, on shapes that are not multiples of the vector width.
@Suite struct KernelTests {
    var random = Xoshiro256StarStar(seed: 7)

    mutating func values(_ count: Int, scale: Float = 1) -> [Float] {
        (0..<count).map { _ in scale * random.nextGaussian() }
    }

    func maxDifference(_ a: [Float], _ b: [Float]) -> Float {
        zip(a, b).map { abs($0 - $1) }.max() ?? 0
    }

    @Test(arguments: [(1, 35, 17), (1, 768, 129), (5, 35, 17), (64, 48, 144)])
    mutating func matmulMatchesPlainLoops(shape: (Int, Int, Int)) {
        let (T, IC, OC) = shape
        let input = values(T * IC), weight = values(OC * IC), bias = values(OC)
        for useBias in [true, false] {
            var fast = [Float](repeating: .nan, count: T * OC)
            var plain = fast
            bias.withUnsafeBufferPointer { b in
                let biasPointer = useBias ? b.baseAddress : nil
                Kernels.matmul(&fast, input, weight, biasPointer, T: T, IC: IC, OC: OC)
                Kernels.matmulReference(&plain, input, weight, biasPointer, T: T, IC: IC, OC: OC)
            }
            #expect(maxDifference(fast, plain) < 1e-3 * Float(IC).squareRoot())
        }
    }

    @Test mutating func geluMatchesTanhFormula() {
        var fast = values(1000, scale: 4) + [0, -0, 30, -30, 100, -100, 9.5, -9.5]
        var plain = fast
        Kernels.gelu(&fast, count: fast.count)
        Kernels.geluReference(&plain, count: plain.count)
        for (f, p) in zip(fast, plain) {
            #expect(abs(f - p) <= 1e-6 * max(1, abs(p)), "gelu: \(f) vs \(p)")
        }
    }

    @Test func vectorExpIsAccurate() {
        let inputs = stride(from: -87.0 as Float, through: 88, by: 0.0173).map { $0 }
        var i = 0
        while i + 16 <= inputs.count {
            let chunk = Floats(inputs[i..<i + 16])
            let result = vectorExp(chunk)
            for lane in 0..<16 {
                let expected = Foundation.exp(Double(chunk[lane]))
                #expect(abs(Double(result[lane]) - expected) <= 3e-7 * expected, "exp(\(chunk[lane]))")
            }
            i += 16
        }
    }

    @Test(arguments: [1, 5, 16, 33, 100])
    mutating func softmaxMatchesPlainLoops(count: Int) {
        var fast = values(count + 3, scale: 5)
        var plain = fast
        Kernels.softmax(&fast, count: count, width: count + 3)
        Kernels.softmaxReference(&plain, count: count, width: count + 3)
        #expect(maxDifference(fast, plain) < 1e-6)
        #expect(fast[count...].allSatisfy { $0 == 0 })
        #expect(abs(fast.reduce(0, +) - 1) < 1e-5)
    }

    /// Prefill onto an existing cache: new tokens after 4 cached, 5 heads of 7
    /// channels; 70 tokens make three blocks of queries, spread over the pool.
    @Test(arguments: [(3, 1), (70, 1), (70, 2), (70, 3)])
    mutating func attentionMatchesPlainLoops(T: Int, threads: Int) {
        let (start, C, NH) = (4, 35, 5)
        let pool = WorkerPool(threads: threads)
        let qkv = values(T * 3 * C), keys = values((start + T) * C), cachedValues = values((start + T) * C)
        var plain = [Float](repeating: .nan, count: T * C)
        Kernels.attentionReference(&plain, qkv, keys: keys, values: cachedValues, start: start, T: T, C: C, NH: NH)
        for headsApart in [false, true] {
            var fast = [Float](repeating: .nan, count: T * C)
            withCacheRows(keys, cachedValues, rows: start + T, C: C, NH: NH, headsApart: headsApart) { keys, values in
                Kernels.attention(&fast, qkv, keys: keys, values: values, start: start, T: T, C: C, NH: NH, pool: pool)
            }
            #expect(maxDifference(fast, plain) < 1e-5, "heads apart: \(headsApart)")
        }
    }

    /// `keys` and `values` (rows × C) as the cache's views: rows whole, or
    /// each head's rows side by side as ``RunState`` keeps them.
    func withCacheRows(_ keys: [Float], _ values: [Float], rows: Int, C: Int, NH: Int, headsApart: Bool,
                       _ body: (CacheRows, CacheRows) -> Void) {
        let hs = C / NH
        func layout(_ rowsWhole: [Float]) -> [Float] {
            guard headsApart else { return rowsWhole }
            var apart: [Float] = []
            for h in 0..<NH {
                for j in 0..<rows {
                    let first = j * C + h * hs
                    apart += rowsWhole[first..<first + hs]
                }
            }
            return apart
        }
        var k = layout(keys), v = layout(values)
        k.withUnsafeMutableBufferPointer { k in
            v.withUnsafeMutableBufferPointer { v in
                let (headStride, rowStride) = headsApart ? (rows * hs, hs) : (hs, C)
                body(CacheRows(base: k.baseAddress!, headStride: headStride, rowStride: rowStride),
                     CacheRows(base: v.baseAddress!, headStride: headStride, rowStride: rowStride))
            }
        }
    }

    /// A new token attending to the cache, head by head; heads of 7, 32 and 40 channels.
    @Test(arguments: [(35, 5, 9), (128, 4, 1), (120, 3, 30)])
    mutating func oneTokenAttentionMatchesPlainLoops(shape: (Int, Int, Int)) {
        let (C, NH, N) = shape
        let qkv = values(3 * C), keys = values(N * C), cachedValues = values(N * C)
        var plain = [Float](repeating: .nan, count: C)
        Kernels.attentionReference(&plain, qkv, keys: keys, values: cachedValues, start: N - 1, T: 1, C: C, NH: NH)
        for headsApart in [false, true] {
            var fast = [Float](repeating: .nan, count: C)
            var scores = [Float](repeating: .nan, count: N)
            withCacheRows(keys, cachedValues, rows: N, C: C, NH: NH, headsApart: headsApart) { keys, values in
                for h in (0..<NH).reversed() {
                    Kernels.attendOneToken(&fast, query: qkv, keys: keys, values: values, scores: &scores,
                                           N: N, C: C, NH: NH, head: h)
                }
            }
            #expect(maxDifference(fast, plain) < 1e-5, "heads apart: \(headsApart)")
        }
    }

    /// A step's attention kernels on every instruction set against float64
    /// sums: heads of 7 (scalar tail only), 12, 40 (a 32-channel block, an
    /// 8-channel block) and 64 channels; 1 to 9 keys (groups of 4 and the
    /// partial group) and 130; keys and values in rows wider than a head.
    @Test(arguments: [7, 12, 40, 64])
    mutating func stepAttentionKernelsMatchDoubleSums(hs: Int) {
        let stride = 3 * hs + 5
        for N in [1, 2, 3, 4, 5, 9, 130] {
            let q = values(hs), keys = values(N * stride), mixing = values(N), valueRows = values(N * stride)
            let scale: Float = 0.125
            var expectedScores = [Double](repeating: 0, count: N)
            var expectedMix = [Double](repeating: 0, count: hs)
            for j in 0..<N {
                for i in 0..<hs {
                    expectedScores[j] += Double(q[i]) * Double(keys[j * stride + hs + i])
                    expectedMix[i] += Double(mixing[j]) * Double(valueRows[j * stride + hs + i])
                }
                expectedScores[j] *= Double(scale)
            }
            for isa in WeightKernelTests.instructionSets {
                var scores = [Float](repeating: .nan, count: N + 1)
                var mixed = [Float](repeating: .nan, count: hs + 1)
                keys.withUnsafeBufferPointer { k in
                    gpt_attention_scores_isa(isa, q, k.baseAddress! + hs, stride, Int32(N), Int32(hs), scale, &scores)
                }
                valueRows.withUnsafeBufferPointer { v in
                    gpt_attention_mix_isa(isa, mixing, v.baseAddress! + hs, stride, Int32(N), Int32(hs), &mixed)
                }
                let tolerance = 1e-5 * Double(hs).squareRoot()
                for j in 0..<N {
                    #expect(abs(Double(scores[j]) - expectedScores[j]) < tolerance, "isa \(isa) hs \(hs) N \(N) score \(j)")
                }
                #expect(scores[N].isNaN, "isa \(isa): wrote past the scores")
                for i in 0..<hs {
                    #expect(abs(Double(mixed[i]) - expectedMix[i]) < 1e-5 * Double(N).squareRoot(),
                            "isa \(isa) hs \(hs) N \(N) channel \(i)")
                }
                #expect(mixed[hs].isNaN, "isa \(isa): wrote past the head")
            }
        }
    }

    @Test mutating func layerNormNormalisesEachRow() {
        let (T, C) = (3, 35)
        let input = values(T * C, scale: 3).enumerated().map { $0.element + Float($0.offset % 5) }
        let ones = [Float](repeating: 1, count: C), zeros = [Float](repeating: 0, count: C)
        var out = [Float](repeating: 0, count: T * C)
        Kernels.layerNorm(&out, input, ones, zeros, T: T, C: C)
        for t in 0..<T {
            let row = out[t * C ..< (t + 1) * C].map(Double.init)
            let mean = row.reduce(0, +) / Double(C)
            let variance = row.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(C)
            #expect(abs(mean) < 1e-5)
            #expect(abs(variance - 1) < 1e-3)
        }
    }
}
